@0xe0a1b2c3d4e5f634;
struct Good {}
struct bad_name { X @0 :Int32; }
const Upper :Int32 = 1;
