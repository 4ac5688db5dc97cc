@0xe0a1b2c3d4e5f617;
struct AnnType { x @0 :Int32; }
