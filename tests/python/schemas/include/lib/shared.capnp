@0xf3b7c9e2d1a4ac03;
struct Shared { value @0 :Int32; }
