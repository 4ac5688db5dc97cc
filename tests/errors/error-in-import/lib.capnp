@0xe0a1b2c3d4e5f631;
struct Used { a @0 :Nope; b @2 :Int32; }
struct Unused { c @0 :AlsoNope; }
