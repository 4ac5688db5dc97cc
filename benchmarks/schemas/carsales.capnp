@0x9e0354fecec0aed0;
# carsales: the client sends a parking lot of cars, the server answers with their total value.

enum Paint {
  black @0;
  white @1;
  red @2;
  green @3;
  blue @4;
  silver @5;
  orange @6;
}

struct Tire {
  rimInches @0 :UInt16;
  pressure @1 :Float32;
  winter @2 :Bool;
}

struct Motor {
  power @0 :UInt16;
  cylinders @1 :UInt8;
  displacement @2 :UInt32;
  petrol @3 :Bool;
  battery @4 :Bool;
}

struct Car {
  brand @0 :Text;
  model @1 :Text;
  paint @2 :Paint;
  seats @3 :UInt8;
  doors @4 :UInt8;
  tires @5 :List(Tire);
  length @6 :UInt16;
  width @7 :UInt16;
  height @8 :UInt16;
  mass @9 :UInt32;
  motor @10 :Motor;
  tankLiters @11 :Float32;
  tankLevel @12 :Float32;
  powerWindows @13 :Bool;
  powerSteering @14 :Bool;
  cruiseControl @15 :Bool;
  cupHolders @16 :UInt8;
  navigation @17 :Bool;
}

struct ParkingLot {
  cars @0 :List(Car);
}

struct LotValue {
  total @0 :UInt64;
}
