@0xe0a1b2c3d4e5f622;
struct Leaf { v @0 :Text; struct NotUsed {} }
annotation used(*) :Text;
struct Annotated $used("x") {}
