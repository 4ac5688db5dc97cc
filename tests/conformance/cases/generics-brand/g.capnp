@0xd5a2c5c3a0b9e8f1;
struct Map(K, V) {
  entries @0 :List(Entry);            # Entry: [Map inherit]
  struct Entry {
    key @0 :K;                        # anyPointer.parameter {Map, 0}
    value @1 :V;                      # anyPointer.parameter {Map, 1}
    a @2 :Map;                        # no brand (Map unbound)
    b @3 :Map(K, V);                  # [Map bind (param{Map,0}, param{Map,1})]
    c @4 :Entry;                      # [Map inherit]
    d @5 :Map(Text, Text).Entry;      # [Map bind (text, text)]
    f @6 : .Map.Entry;                # no brand (reached through the file)
  }
  e2 @1 :Entry;                       # [Map inherit]
  m2 @2 :Map(V, K);                   # [Map bind (param{Map,1}, param{Map,0})]
  inner @3 :Inner(Text);              # [Inner bind (text), Map inherit]
  struct Inner(X) { x @0 :X; k @1 :K; }   # x: param{Inner,0}; k: param{Map,0}
}
struct User {
  a @0 :Map(Text, Data);              # [Map bind (text, data)]
  b @1 :Map(Text, Data).Entry;        # [Map bind (text, data)]
  c @2 :Map;                          # no brand
  d @3 :Map(Text, List(User)).Inner(AnyPointer);
                                      # [Inner bind (anyKind), Map bind (text, list(User))]
}
