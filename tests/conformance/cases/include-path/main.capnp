@0xe1f0a2b3c4d5e6f7;
# Imports through the include path and relative to the importing file.

using Lib = import "/lib/lib.capnp";
using import "sub/other.capnp".Other;

struct Main {
  thing @0 :Lib.Thing;
  other @1 :Other;
  list @2 :List(Lib.Thing) = [(n = 1), (n = 2)];
}
