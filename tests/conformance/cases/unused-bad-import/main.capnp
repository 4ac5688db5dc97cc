@0xe0a1b2c3d4e5f62b;
# The imported file holds semantically broken declarations that nothing
# uses: they are never compiled, so no error is reported.
using Bad = import "bad.capnp";
struct Main { ok @0 :Bad.Good; }
