@0xe0a1b2c3d4e5f614;
struct FThing { t @0 :Text; }
