@0xa5e9f1c4b3d6ce05;
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("demo");
using Schema = import "/capnp/schema.capnp";
struct Holder { node @0 :Schema.Node; }
