@0xe0a1b2c3d4e5f611;
using C = import "../c.capnp";
using E = import "/ext/e.capnp";
struct BThing { c @0 :C.CThing; e @1 :E.EThing; }
