//! Tests of struct layout against the vectors of SCHEMA-COMPILER.md 6.8 and A.2, using a tiny
//! test-only reader of struct bodies written in `.capnp` syntax.

use super::holes::HoleSet;
use super::*;
use crate::ast::{DeclKind, Expr, ExprKind, Name, Ordinal};

/// Reads the members of `struct X { … }` bodies: fields `n @N :Type;`, groups
/// `n :group {…}`, unions `union {…}` / `n [@N!] :union {…}` and nested
/// `struct N {…}`. Spans are byte ranges into the text, as the parser makes them.
struct Reader<'s> {
    src: &'s str,
    pos: usize,
}

impl<'s> Reader<'s> {
    fn skip_ws(&mut self) {
        while self.pos < self.src.len() && self.src.as_bytes()[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> u8 {
        self.skip_ws();
        self.src.as_bytes().get(self.pos).copied().unwrap_or(0)
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == c {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) {
        assert!(self.eat(c), "expected {:?} at {}", c as char, self.pos);
    }

    fn word(&mut self) -> (String, Span) {
        self.skip_ws();
        let start = self.pos;
        while self.pos < self.src.len() && self.src.as_bytes()[self.pos].is_ascii_alphanumeric() {
            self.pos += 1;
        }
        assert!(self.pos > start, "expected a word at {start}");
        (
            self.src[start..self.pos].to_owned(),
            Span::new(start, self.pos),
        )
    }

    fn block(&mut self) -> Vec<Decl> {
        self.expect(b'{');
        let mut decls = Vec::new();
        while !self.eat(b'}') {
            decls.push(self.decl());
        }
        decls
    }

    fn decl(&mut self) -> Decl {
        self.skip_ws();
        let start = self.pos;
        let (word, word_span) = self.word();
        let mut decl = Decl {
            kind: DeclKind::Group,
            name: Name {
                text: word.as_str().into(),
                span: word_span,
            },
            id: None,
            ordinal: None,
            annotations: Vec::new(),
            doc: None,
            span: Span::default(),
            members: Vec::new(),
        };
        if word == "union" {
            decl.kind = DeclKind::Union;
            decl.name.text.clear();
            decl.members = self.block();
        } else if word == "struct" {
            decl.kind = DeclKind::Struct { params: Vec::new() };
            decl.name = self.word_name();
            decl.members = self.block();
        } else {
            if self.eat(b'@') {
                let (digits, span) = self.word();
                let value = digits.parse().expect("ordinal");
                decl.ordinal = Some(Ordinal { value, span });
                self.eat(b'!');
            }
            self.expect(b':');
            let (ty, ty_span) = self.word();
            match ty.as_str() {
                "group" => decl.members = self.block(),
                "union" => {
                    decl.kind = DeclKind::Union;
                    decl.members = self.block();
                }
                _ => {
                    if self.eat(b'(') {
                        self.word();
                        self.expect(b')');
                    }
                    let name = Name {
                        text: ty.into(),
                        span: ty_span,
                    };
                    decl.kind = DeclKind::Field {
                        ty: Expr {
                            kind: ExprKind::RelativeName(name),
                            span: ty_span,
                        },
                        default: None,
                    };
                    self.expect(b';');
                }
            }
        }
        decl.span = Span::new(start, self.pos);
        decl
    }

    fn word_name(&mut self) -> Name {
        let (text, span) = self.word();
        Name {
            text: text.into(),
            span,
        }
    }
}

/// The top-level declarations of `src`.
pub(super) fn read(src: &str) -> Vec<Decl> {
    let mut r = Reader { src, pos: 0 };
    let mut decls = Vec::new();
    while r.peek() != 0 {
        decls.push(r.decl());
    }
    decls
}

pub(super) fn size_of_type(decl: &Decl) -> SizeClass {
    let DeclKind::Field { ty, .. } = &decl.kind else {
        panic!("size_of called on a non-field");
    };
    let ExprKind::RelativeName(name) = &ty.kind else {
        panic!("unexpected type expression");
    };
    match name.text.as_str() {
        "Void" => SizeClass::Void,
        "Bool" => SizeClass::Data(0),
        "Int8" | "UInt8" => SizeClass::Data(3),
        "Int16" | "UInt16" => SizeClass::Data(4),
        "Int32" | "UInt32" | "Float32" => SizeClass::Data(5),
        "Int64" | "UInt64" | "Float64" => SizeClass::Data(6),
        _ => SizeClass::Pointer,
    }
}

/// Lays out the first struct of `decls`, recording the order of `size_of` calls.
fn lay(decls: &[Decl]) -> (StructLayout<'_>, Vec<String>) {
    let mut calls = Vec::new();
    let layout = layout_struct(&decls[0].members, &mut |d: &Decl| {
        calls.push(d.name.text.to_string());
        size_of_type(d)
    });
    (layout, calls)
}

/// One line per field: `name coN [dN] (offN | gN) [@N]`.
fn show(scope: &ScopeLayout<'_>) -> Vec<String> {
    scope
        .fields
        .iter()
        .map(|f| {
            let mut s = format!("{} co{}", f.decl.name.text, f.code_order);
            if f.discriminant_value != NO_DISCRIMINANT {
                s += &format!(" d{}", f.discriminant_value);
            }
            match f.kind {
                FieldLayoutKind::Slot { offset } => s += &format!(" off{offset}"),
                FieldLayoutKind::Group { group } => s += &format!(" g{group}"),
            }
            if let Some(o) = f.explicit_ordinal {
                s += &format!(" @{o}");
            }
            s
        })
        .collect()
}

fn group<'l, 'a>(layout: &'l StructLayout<'a>, name: &str) -> &'l GroupLayout<'a> {
    layout
        .groups
        .iter()
        .find(|g| g.decl.name.text == name)
        .unwrap_or_else(|| panic!("no group {name}"))
}

/// Errors as `(text under the span, message)`.
fn errors<'s>(src: &'s str, layout: &StructLayout<'_>) -> Vec<(&'s str, String)> {
    layout
        .errors
        .iter()
        .map(|(span, msg)| (&src[span.start as usize..span.end as usize], msg.clone()))
        .collect()
}

// ---- hole set ----

#[test]
fn hole_set_take_splits_larger_holes() {
    let mut h = HoleSet::from_slots([0, 0, 1, 0, 0, 0]);
    // A 1-bit request splits the 4-bit hole 1 (bits 4..8) into 2-bit halves.
    assert_eq!(h.take(0), Some(4));
    assert_eq!(h.slots(), [5, 3, 0, 0, 0, 0]);
    assert_eq!(h.take(0), Some(5));
    assert_eq!(h.take(1), Some(3));
    assert_eq!(h.take(0), None);
    assert_eq!(h.slots(), [0; 6]);
}

#[test]
fn hole_set_take_prefers_exact_fit() {
    let mut h = HoleSet::from_slots([0, 0, 0, 3, 5, 0]);
    assert_eq!(h.take(3), Some(3));
    assert_eq!(h.slots(), [0, 0, 0, 0, 5, 0]);
    assert_eq!(h.take(6), None);
}

#[test]
fn hole_set_fill_after_and_limit() {
    let mut h = HoleSet::default();
    h.fill_after(0, 1, 6);
    assert_eq!(h.slots(), [1, 1, 1, 1, 1, 1]);
    let mut h = HoleSet::default();
    // A byte at word 2 (byte 16): the rest of word 2 is free.
    h.fill_after(3, 17, 6);
    assert_eq!(h.slots(), [0, 0, 0, 17, 9, 5]);
    let mut h = HoleSet::default();
    h.fill_after(1, 3, 4);
    assert_eq!(h.slots(), [0, 3, 2, 1, 0, 0]);
}

#[test]
fn hole_set_grow() {
    let mut h = HoleSet::from_slots([0, 0, 0, 1, 1, 1]);
    // Byte 0 can become 32 bits (bytes 1 and 2..3 are free) …
    assert!(h.grow(3, 0, 2));
    assert_eq!(h.slots(), [0, 0, 0, 0, 0, 1]);
    // … but not 128 bits, and failure leaves the set untouched.
    assert!(!h.grow(5, 0, 2));
    assert_eq!(h.slots(), [0, 0, 0, 0, 0, 1]);
    assert!(!h.grow(3, 2, 1));
    assert!(h.grow(4, 7, 0));
}

#[test]
fn hole_set_smallest_free() {
    let h = HoleSet::from_slots([0, 7, 0, 0, 3, 0]);
    assert_eq!(h.smallest_free(0), Some(1));
    assert_eq!(h.smallest_free(2), Some(4));
    assert_eq!(h.smallest_free(5), None);
}

// ---- 6.8 vectors ----

#[test]
fn tv_l1_packing_primitives() {
    let src = "struct L1 {
      a @0 :Bool;   b @1 :Int8;    c @2 :Int16;  d @3 :Int32;  e @4 :Int64;
      f @5 :Bool;   g @6 :UInt8;   h @7 :Float32; i @8 :Text;  j @9 :Void;
      k @10 :List(Int32);  l @11 :UInt16;  m @12 :Float64;  n @13 :Bool;
    }";
    let decls = read(src);
    let (l, calls) = lay(&decls);
    assert_eq!((l.data_word_count, l.pointer_count), (4, 2));
    let offsets: Vec<u32> = l
        .root
        .fields
        .iter()
        .map(|f| match f.kind {
            FieldLayoutKind::Slot { offset } => offset,
            FieldLayoutKind::Group { .. } => u32::MAX,
        })
        .collect();
    assert_eq!(offsets, [0, 1, 1, 1, 1, 1, 16, 5, 0, 0, 1, 9, 3, 2]);
    assert_eq!(calls.join(""), "abcdefghijklmn");
    assert!(l.errors.is_empty());
    assert!(!l.ordinals_out_of_order);
    assert_eq!(
        (l.root.discriminant_count, l.root.discriminant_offset),
        (0, 0)
    );
    assert!(l
        .root
        .fields
        .iter()
        .all(|f| f.discriminant_value == NO_DISCRIMINANT));
}

#[test]
fn tv_l2_hole_reuse() {
    let src = "struct L2 {
      a @0 :UInt64; b @1 :Bool; c @2 :UInt64; d @3 :UInt32;
      e @4 :UInt16; f @5 :UInt8; g @6 :Bool; h @7 :Bool; i @8 :UInt8;
    }";
    let decls = read(src);
    let (l, _) = lay(&decls);
    assert_eq!((l.data_word_count, l.pointer_count), (4, 0));
    assert_eq!(
        show(&l.root).join("; "),
        "a co0 off0 @0; b co1 off64 @1; c co2 off2 @2; d co3 off3 @3; e co4 off5 @4; \
         f co5 off9 @5; g co6 off65 @6; h co7 off66 @7; i co8 off24 @8"
    );
}

#[test]
fn tv_u1_unnamed_union_mixed_members() {
    let src = "struct U1 {
      a @0 :UInt16;
      union {
        b @1 :UInt8;
        c @2 :UInt64;
        d @3 :Void;
        e @4 :Text;
      }
      f @5 :UInt32;
      g @6 :Text;
    }";
    let decls = read(src);
    let (l, _) = lay(&decls);
    assert_eq!((l.data_word_count, l.pointer_count), (3, 2));
    assert_eq!(
        (l.root.discriminant_count, l.root.discriminant_offset),
        (4, 2)
    );
    assert_eq!(
        show(&l.root),
        [
            "a co0 off0 @0",
            "b co1 d0 off2 @1",
            "c co2 d1 off1 @2",
            "d co3 d2 off0 @3",
            "e co4 d3 off0 @4",
            "f co5 off4 @5",
            "g co6 off1 @6",
        ]
    );
    assert!(l.groups.is_empty());
    assert!(l.errors.is_empty());
}

#[test]
fn tv_u2_union_of_groups() {
    let src = "struct Shape {
      area @0 :Float64;
      union {
        circle :group { radius @1 :Float64; }
        rectangle :group { width @2 :Float64; height @3 :Float64; }
        triangle :group { a @4 :Float32; b @5 :Float32; c @6 :Float32; tag @7 :Text; }
      }
      color @8 :UInt8;
    }";
    let decls = read(src);
    let (l, _) = lay(&decls);
    assert_eq!((l.data_word_count, l.pointer_count), (4, 1));
    assert_eq!(
        (l.root.discriminant_count, l.root.discriminant_offset),
        (3, 8)
    );
    assert_eq!(
        show(&l.root),
        [
            "area co0 off0 @0",
            "circle co1 d0 g0",
            "rectangle co2 d1 g1",
            "triangle co3 d2 g2",
            "color co4 off18 @8",
        ]
    );
    let names: Vec<(&str, Option<usize>, u16)> = l
        .groups
        .iter()
        .map(|g| (g.decl.name.text.as_str(), g.parent, g.index))
        .collect();
    assert_eq!(
        names,
        [
            ("circle", None, 1),
            ("rectangle", None, 2),
            ("triangle", None, 3)
        ]
    );
    assert_eq!(show(&l.groups[0].scope), ["radius co0 off1 @1"]);
    assert_eq!(
        show(&l.groups[1].scope),
        ["width co0 off1 @2", "height co1 off3 @3"]
    );
    assert_eq!(
        show(&l.groups[2].scope),
        [
            "a co0 off2 @4",
            "b co1 off3 @5",
            "c co2 off6 @6",
            "tag co3 off0 @7"
        ]
    );
    for g in &l.groups {
        assert_eq!(
            (g.scope.discriminant_count, g.scope.discriminant_offset),
            (0, 0)
        );
    }
}

#[test]
fn tv_u3_widening_a_union_slot() {
    let src = "struct Exp {
      u :union {
        a @0 :UInt8;
        b @2 :UInt16;
        c @3 :UInt32;
      }
      x @1 :UInt8;
      y @4 :Bool;
    }";
    let decls = read(src);
    let (l, _) = lay(&decls);
    assert_eq!((l.data_word_count, l.pointer_count), (2, 0));
    assert_eq!(
        show(&l.root),
        ["u co0 g0", "x co1 off1 @1", "y co2 off64 @4"]
    );
    let u = group(&l, "u");
    assert_eq!((u.parent, u.index), (None, 0));
    assert_eq!(
        (u.scope.discriminant_count, u.scope.discriminant_offset),
        (3, 1)
    );
    assert_eq!(
        show(&u.scope),
        ["a co0 d0 off0 @0", "b co1 d1 off2 @2", "c co2 d2 off1 @3"]
    );
}

#[test]
fn tv_u4_retroactive_union() {
    let src = "struct Retro {
      a @0 :UInt32;
      u @2! :union { old @1 :UInt64; new @3 :Text; }
      b @4 :UInt16;
    }";
    let decls = read(src);
    let (l, _) = lay(&decls);
    assert_eq!((l.data_word_count, l.pointer_count), (2, 1));
    assert_eq!(
        show(&l.root),
        ["a co0 off0 @0", "u co1 g0 @2", "b co2 off3 @4"]
    );
    let u = group(&l, "u");
    assert_eq!(
        (u.scope.discriminant_count, u.scope.discriminant_offset),
        (2, 2)
    );
    assert_eq!(show(&u.scope), ["old co0 d0 off1 @1", "new co1 d1 off0 @3"]);
    assert!(l.errors.is_empty());
    assert!(!l.ordinals_out_of_order);
}

#[test]
fn tv_u5_void_only_union() {
    let src = "struct VoidUnion {
      union { a @0 :Void; b @1 :Void; }
      c @2 :Bool;
    }";
    let decls = read(src);
    let (l, _) = lay(&decls);
    assert_eq!((l.data_word_count, l.pointer_count), (1, 0));
    assert_eq!(
        (l.root.discriminant_count, l.root.discriminant_offset),
        (2, 0)
    );
    assert_eq!(
        show(&l.root),
        ["a co0 d0 off0 @0", "b co1 d1 off0 @1", "c co2 off16 @2"]
    );
}

#[test]
fn tv_u6_nested_unions_and_groups() {
    let src = "struct Nest {
      outer :union {
        p @0 :UInt32;
        inner :union { q @1 :UInt8; r @2 :UInt64; }
        g :group { s @3 :UInt16; t @4 :Bool; }
      }
      z @5 :UInt16;
    }";
    let decls = read(src);
    let (l, _) = lay(&decls);
    assert_eq!((l.data_word_count, l.pointer_count), (2, 0));
    assert_eq!(show(&l.root), ["outer co0 g0", "z co1 off3 @5"]);
    let order: Vec<(&str, Option<usize>, u16)> = l
        .groups
        .iter()
        .map(|g| (g.decl.name.text.as_str(), g.parent, g.index))
        .collect();
    assert_eq!(
        order,
        [("outer", None, 0), ("inner", Some(0), 1), ("g", Some(0), 2)]
    );
    let outer = &l.groups[0].scope;
    assert_eq!(
        (outer.discriminant_count, outer.discriminant_offset),
        (3, 2)
    );
    assert_eq!(
        show(outer),
        ["p co0 d0 off0 @0", "inner co1 d1 g1", "g co2 d2 g2"]
    );
    let inner = &l.groups[1].scope;
    assert_eq!(
        (inner.discriminant_count, inner.discriminant_offset),
        (2, 1)
    );
    assert_eq!(show(inner), ["q co0 d0 off0 @1", "r co1 d1 off1 @2"]);
    let g = &l.groups[2].scope;
    assert_eq!((g.discriminant_count, g.discriminant_offset), (0, 0));
    assert_eq!(show(g), ["s co0 off0 @3", "t co1 off16 @4"]);
    assert!(l.errors.is_empty());
}

#[test]
fn tv_u7_orders() {
    let src = "struct Order {
      g :group { b @1 :Int32; a @0 :Int32; }
      c @2 :Int32;
      struct Inner {}
      union { d @4 :Int32; e @3 :Int32; }
    }";
    let decls = read(src);
    let (l, calls) = lay(&decls);
    assert_eq!((l.data_word_count, l.pointer_count), (3, 0));
    assert_eq!(
        (l.root.discriminant_count, l.root.discriminant_offset),
        (2, 8)
    );
    assert_eq!(
        show(&l.root),
        [
            "g co0 g0",
            "c co1 off2 @2",
            "e co3 d0 off3 @3",
            "d co2 d1 off3 @4"
        ]
    );
    assert_eq!((l.groups[0].parent, l.groups[0].index), (None, 0));
    assert_eq!(show(&l.groups[0].scope), ["a co1 off0 @0", "b co0 off1 @1"]);
    // Types are compiled in ordinal order.
    assert_eq!(calls, ["a", "b", "c", "e", "d"]);
}

// ---- A.2 and errors ----

#[test]
fn a2_named_union_ordinal_out_of_order() {
    let src = "struct S {
      u @2! :union { a @0 :Int32; b @3 :Int32; }
      c @1 :Int32;
    }";
    let decls = read(src);
    let (l, _) = lay(&decls);
    assert!(l.ordinals_out_of_order);
    assert!(l.errors.is_empty());
    assert_eq!(show(&l.root), ["u co0 g0 @2", "c co1 off1 @1"]);
}

#[test]
fn a2_issue_344_is_an_error_on_the_field() {
    let src = "struct Bad {
      u :union {
        v :union {
          a @1 :Bool;
          b @2 :UInt8;
        }
        p @0 :Data;
      }
    }";
    let decls = read(src);
    let (l, _) = lay(&decls);
    assert_eq!(
        errors(src, &l),
        [("b @2 :UInt8;", ISSUE_344_MESSAGE.to_owned())]
    );
}

#[test]
fn a2_retroactive_union_error() {
    let src = "struct S { u @2! :union { a @0 :Int32; b @1 :Int32; } }";
    let decls = read(src);
    let (l, _) = lay(&decls);
    assert_eq!(
        errors(src, &l),
        [(
            "2",
            "Union ordinal, if specified, must be greater than no more than one of its member \
             ordinals (i.e. there can only be one field retroactively unionized)."
                .to_owned()
        )]
    );
}

#[test]
fn structural_errors() {
    let src = "struct Foo { union { a @0 :Int32; } }";
    let decls = read(src);
    let (l, _) = lay(&decls);
    assert_eq!(
        errors(src, &l),
        [(
            "union { a @0 :Int32; }",
            "Union must have at least two members.".to_owned()
        )]
    );

    let src = "struct Foo { g :group { } }";
    let decls = read(src);
    let (l, _) = lay(&decls);
    assert_eq!(
        errors(src, &l),
        [(
            "g :group { }",
            "Group must have at least one member.".to_owned()
        )]
    );
    assert_eq!(show(&l.root), ["g co0 g0"]);
    assert_eq!(l.groups.len(), 1);

    let src = "struct Foo { u :union { a @0 :Int32; union { b @1 :Int32; c @2 :Int32; } } }";
    let decls = read(src);
    let (l, calls) = lay(&decls);
    assert_eq!(
        errors(src, &l),
        [(
            "union { b @1 :Int32; c @2 :Int32; }",
            "Unions cannot contain unnamed unions.".to_owned()
        )]
    );
    // The inner union is skipped entirely.
    assert_eq!(calls, ["a"]);
    assert_eq!(show(&l.groups[0].scope), ["a co0 d0 off0 @0"]);
}

#[test]
fn any_declaration_counts_as_a_member() {
    // Other declarations are rejected elsewhere; here they only satisfy the count.
    let src = "struct Foo { u :union { a @0 :Int32; struct X {} } g :group { struct Y {} } }";
    let decls = read(src);
    let (l, _) = lay(&decls);
    assert!(l.errors.is_empty());
    assert_eq!(show(&l.root), ["u co0 g0", "g co1 g1"]);
}

/// Byte position of the ordinal in the first occurrence of `field @N`.
fn ordinal_at(src: &str, field: &str) -> usize {
    src.find(field).map_or(usize::MAX, |p| p + field.len() - 1)
}

#[test]
fn duplicate_and_skipped_ordinals() {
    let src = "struct Foo { a @0 :Int32; b @0 :Int32; c @1 :Int32; d @1 :Int32; e @5 :Int32; \
               f @2 :Int32; }";
    let decls = read(src);
    let (l, _) = lay(&decls);
    let dup = || "Duplicate ordinal number.".to_owned();
    assert_eq!(
        errors(src, &l),
        [
            ("0", dup()),
            ("0", "Ordinal @0 originally used here.".to_owned()),
            ("1", dup()),
            ("1", "Ordinal @1 originally used here.".to_owned()),
            (
                "5",
                "Skipped ordinal @3.  Ordinals must be sequential with no holes.".to_owned()
            ),
        ]
    );
    // The spans point at the right tokens: b's, a's, d's and c's ordinals.
    let starts: Vec<usize> = l.errors.iter().map(|(s, _)| s.start as usize).collect();
    assert_eq!(
        starts[..4],
        [
            ordinal_at(src, "b @0"),
            ordinal_at(src, "a @0"),
            ordinal_at(src, "d @1"),
            ordinal_at(src, "c @1")
        ]
    );
    // Duplicates still get laid out, in ordinal order.
    assert_eq!(
        show(&l.root),
        [
            "a co0 off0 @0",
            "b co1 off1 @0",
            "c co2 off2 @1",
            "d co3 off3 @1",
            "f co5 off4 @2",
            "e co4 off5 @5"
        ]
    );
}

#[test]
fn ordinal_checker_reports_original_once() {
    let ord = |value, at| Ordinal {
        value,
        span: Span::at(at),
    };
    let mut errs = Vec::new();
    let mut c = OrdinalChecker::new();
    for (v, at) in [(0, 0), (0, 1), (0, 2), (1, 3), (3, 4), (3, 5)] {
        c.check(ord(v, at), &mut errs);
    }
    let got: Vec<(u32, &str)> = errs.iter().map(|(s, m)| (s.start, m.as_str())).collect();
    assert_eq!(
        got,
        [
            (1, "Duplicate ordinal number."),
            (0, "Ordinal @0 originally used here."),
            (2, "Duplicate ordinal number."),
            (
                4,
                "Skipped ordinal @2.  Ordinals must be sequential with no holes."
            ),
            // After a skip the last accepted ordinal (@1) is the one quoted.
            (5, "Duplicate ordinal number."),
            (3, "Ordinal @1 originally used here."),
        ]
    );
}

#[test]
fn params_are_laid_out_in_list_order() {
    let p = layout_params(&[SizeClass::Data(5), SizeClass::Pointer]);
    assert_eq!(
        p,
        ParamLayout {
            data_word_count: 1,
            pointer_count: 1,
            offsets: vec![0, 0]
        }
    );
    let p = layout_params(&[
        SizeClass::Data(0),
        SizeClass::Void,
        SizeClass::Data(6),
        SizeClass::Data(0),
    ]);
    assert_eq!((p.data_word_count, p.pointer_count), (2, 0));
    assert_eq!(p.offsets, [0, 0, 1, 1]);
    assert_eq!(layout_params(&[]), ParamLayout::default());
}

#[test]
fn pathological_input_does_not_panic() {
    // Deep nesting of named unions and groups, oversized sizes, no ordinals.
    let mut src = String::from("struct S { ");
    for i in 0..40 {
        src += &format!("u{i} :union {{ f{i} @{i} :UInt64; g{i} :group {{ ");
    }
    src += "x @99 :Bool; y :Int8;";
    for _ in 0..40 {
        src += " } }";
    }
    src += " }";
    let decls = read(&src);
    let l = layout_struct(&decls[0].members, &mut |_| SizeClass::Data(200));
    assert_eq!(l.groups.len(), 80);
    assert!(l.data_word_count > 0);
}
