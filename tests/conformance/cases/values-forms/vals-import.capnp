@0xe0a1b2c3d4e5f609;
const imported :Int32 = -5;
