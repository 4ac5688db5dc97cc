@0xe0a1b2c3d4e5f616;
const k2 :Int32 = 12;
