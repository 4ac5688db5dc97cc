@0xe0a1b2c3d4e5f627;
struct Y {}
