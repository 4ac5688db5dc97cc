@0xe0a1b2c3d4e5f636;
struct Good {}
struct Unused { a @0 Int32; }
