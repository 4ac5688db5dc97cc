@0x86c366a91393f3f8;
# The result type of streaming methods (`-> stream`).

$import "/capnp/c++.capnp".namespace("capnp");

struct StreamResult @0x995f9a3377c0b16e {}
