@0xe0a1b2c3d4e5f610;
# Imports: relative, `..`, absolute through -I, two spellings of one file,
# imports used only in values or in annotation declarations.
using B = import "a/b.capnp";
using B2 = import "a/../a/b.capnp";            # second spelling of the same file
using Ext = import "/ext/e.capnp";
using import "c.capnp".CThing;

struct Main {
  b @0 :B.BThing;
  b2 @1 :B2.BThing;
  e @2 :Ext.EThing;
  c @3 :CThing;
  direct @4 :import "/ext2/f.capnp".FThing;
  k @5 :Int32 = import "values-only.capnp".k;   # import used only in a value
}
const fromValue :Int32 = import "values-only2.capnp".k2;
annotation typed(*) :import "ann-type.capnp".AnnType;   # only in an annotation declaration type
struct Annotated $typed(x = 1) $import "ann-name.capnp".mark {}
