@0xe0a1b2c3d4e5f638;
# lib.capnp imports a file that does not exist, through an alias nothing uses:
# the import is never resolved, so no error is reported.
using L = import "lib.capnp";
struct Main { l @0 :L.Good; }
