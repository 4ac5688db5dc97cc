@0xe2a6b8d1c0f39b02;

using Contacts = import "contacts.capnp";
using Lib = import "/lib/shared.capnp";
using import "sub/helper.capnp".Helper;

struct Card {
  who @0 :Contacts.Contact;
  shared @1 :Lib.Shared;
  helper @2 :Helper;
}
