@0xe0a1b2c3d4e5f632;
struct A {}
