@0xcee289231eab1867;
# eval: the client sends an arithmetic expression tree, the server evaluates it.

enum Op {
  add @0;
  sub @1;
  mul @2;
  div @3;
  mod @4;
}

struct Expr {
  op @0 :Op;
  left :union {
    leftValue @1 :Int32;
    leftExpr @2 :Expr;
  }
  right :union {
    rightValue @3 :Int32;
    rightExpr @4 :Expr;
  }
}

struct Result {
  value @0 :Int32;
}
