@0xe0a1b2c3d4e5f603;  # file doc comment on the id line
# continues here

# Not a doc comment: comments before a declaration are never attached.
struct S {  # S early
  f @0 :Int32;  # f same line
  # f next line

  # stray, separated by a blank line
  g @1 :Text;
  # g only below

  h @2 :Bool;

  # h has no doc (blank line between)
  grp :group {
    # grp early on the next line
    x @3 :Int8;  # x doc
  }
  un :union {  # un early
    y @4 :Void;
    z @5 :Void;
  }  # un late is consumed but ignored
  union {
    p @6 :Int16;  # p doc
    q @7 :Int16;
  }
  struct Inner {
  }  # Inner late
  # Inner late 2
  enum Color {  # Color doc
    red @0;  # red doc
    green @1;
    blue @2;
      # blue doc indented deeper
  }
}  # S late (ignored)

interface Svc {  # Svc doc
  call @0 (a :Int32) -> ();  # call doc
  # call doc 2
  other @1 ();
  # other doc
}

const c :Int32 = 5;  #c doc without space
annotation note(*) :Text;  # note doc
using Alias = S;  # alias doc (aliases are not nodes)

struct NoDoc {
}

enum Empty {
}
# Empty late

struct TabDoc {	#	tab after hash
	a @0 :Int32;	# tab before comment
}
