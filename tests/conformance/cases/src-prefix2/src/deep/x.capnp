@0xe0a1b2c3d4e5f626;
# --src-prefix given as a separate argument, twice, the longer one matching.
using Y = import "y.capnp";
struct X { y @0 :Y.Y; }
