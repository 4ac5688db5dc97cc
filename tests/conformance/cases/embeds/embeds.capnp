@0xe0a1b2c3d4e5f60b;
using M = import "msgschema.capnp";
const text :Text = embed "files/text.txt";
const data :Data = embed "files/data.bin";
const textAsData :Data = embed "files/text.txt";
const empty :Text = embed "files/empty.txt";
const point :M.Point = embed "files/point.bin";
const pointAny :AnyPointer = .point;
struct Holder {
  t @0 :Text = embed "files/text.txt";
  d @1 :Data = embed "files/data.bin";
  p @2 :M.Point = embed "files/point.bin";
}
annotation doc(*) :Text;
struct Annotated $doc(embed "files/text.txt") {}
