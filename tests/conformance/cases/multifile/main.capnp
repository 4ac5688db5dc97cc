@0xa1b2c3d4e5f60718;
using Cxx = import "/capnp/c++.capnp";
using L = import "/lib/lib.capnp";
using S = import "sub/s.capnp";
$Cxx.namespace("foo");
struct M {
  a @0 :S.T;
  b @1 :L.Lib.Inner;
  c @2 :import "sub/s.capnp".U;
  d @3 :Int32 = .S.k;
}
const mc :Int32 = import "sub/s.capnp".k;
