@0xe0a1b2c3d4e5f625;
struct Inner { x @0 :Int32; }
