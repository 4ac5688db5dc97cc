@0xa184c7885cdaf2a1;
# Network-specific types for RPC between exactly two parties.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("capnp::rpc::twoparty");

enum Side {
  server @0;
  client @1;
}

struct VatId {
  side @0 :Side;
}

struct ProvisionId {
  joinId @0 :UInt32;
}

struct RecipientId {}

struct ThirdPartyCapId {}

struct JoinKeyPart {
  joinId @0 :UInt32;
  partCount @1 :UInt16;
  partNum @2 :UInt16;
}

struct JoinResult {
  joinId @0 :UInt32;
  succeeded @1 :Bool;
  cap @2 :Capability;
}
