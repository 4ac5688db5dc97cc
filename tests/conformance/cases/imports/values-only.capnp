@0xe0a1b2c3d4e5f615;
const k :Int32 = 11;
