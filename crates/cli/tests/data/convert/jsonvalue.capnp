@0xc1e0a5c3d2f4a6b9;
# Fields of json.capnp's Value, which the JSON codec writes as the JSON it holds.

using Json = import "/capnp/compat/json.capnp";

struct W {
  v @0 :Json.Value;
  l @1 :List(Json.Value);
  n @2 :Int32;
  root @3 :Json.Value;
  field @4 :Json.Value.Field;
  call @5 :Json.Value.Call;
}
