@0xe0a1b2c3d4e5f607;
struct Thing { struct Sub { s @0 :Text; } x @0 :Int32; }
struct Other { y @0 :Float32; }
enum Color { red @0; green @1; }
const answer :Int32 = 42;
annotation tag(field) :Text;
