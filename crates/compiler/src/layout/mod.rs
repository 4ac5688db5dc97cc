//! Struct layout: field lists, code order, discriminants and offsets (SCHEMA-COMPILER.md section 6).
//!
//! [`layout_struct`] walks a struct body once to build the member tree and the
//! ordinal queue (6.4), then processes the queue (6.5), placing each field with
//! the allocators of 6.7 as its type is compiled by the caller.

mod alloc;
mod build;
#[cfg(test)]
mod differential;
mod holes;
mod ordinal;
#[cfg(test)]
mod tests;

use crate::ast::Decl;
use crate::diag::Span;

use alloc::{AllocId, Allocators};
use build::Builder;
pub use ordinal::OrdinalChecker;

/// The issue-344 text of 6.7; the reference aborts with it, we report it.
pub const ISSUE_344_MESSAGE: &str = "Bad news: Cap'n Proto 0.5.x and previous contained a bug \
which would cause this schema to be compiled incorrectly. Please see: \
https://github.com/capnproto/capnproto/issues/344";

/// `discriminantValue` of a field that is not a union member.
pub const NO_DISCRIMINANT: u16 = 0xffff;

/// How much space a field's type takes (6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SizeClass {
    Void,
    /// `2^lg` bits: 0 = 1 bit (Bool) … 6 = 64 bits. Larger values count as 6.
    Data(u8),
    Pointer,
}

/// The layout of one struct: what its node and its group nodes need.
#[derive(Clone, Debug)]
pub struct StructLayout<'a> {
    pub data_word_count: u16,
    pub pointer_count: u16,
    /// The struct's own `fields` list and unnamed-union info.
    pub root: ScopeLayout<'a>,
    /// Group and named-union nodes, in pre-order (6.4).
    pub groups: Vec<GroupLayout<'a>>,
    /// Structural, ordinal, retroactive-union and issue-344 errors, in the
    /// order the reference finds them.
    pub errors: Vec<(Span, String)>,
    /// Some `fields` list is not in increasing explicit-ordinal order (the
    /// reference's validator failure of 6.5/14.5). The caller reports it, on
    /// the struct's name, only if no other error was reported.
    pub ordinals_out_of_order: bool,
}

/// One field scope: the struct itself, a group or a named union.
#[derive(Clone, Debug, Default)]
pub struct ScopeLayout<'a> {
    /// In output order (ordered by the smallest ordinal inside each member).
    pub fields: Vec<FieldLayout<'a>>,
    pub discriminant_count: u16,
    /// In 16-bit units; 0 when the scope has no union.
    pub discriminant_offset: u32,
}

/// One entry of a `fields` list.
#[derive(Clone, Debug)]
pub struct FieldLayout<'a> {
    /// The field, group or named-union declaration.
    pub decl: &'a Decl,
    pub code_order: u16,
    /// [`NO_DISCRIMINANT`] outside unions.
    pub discriminant_value: u16,
    /// `ordinal.explicit`; None means `ordinal.implicit`.
    pub explicit_ordinal: Option<u16>,
    pub kind: FieldLayoutKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldLayoutKind {
    /// A slot field; `offset` is in units of its size (0 for void).
    Slot { offset: u32 },
    /// A group or named union: an index into [`StructLayout::groups`].
    Group { group: usize },
}

/// A group or named-union node.
#[derive(Clone, Debug)]
pub struct GroupLayout<'a> {
    pub decl: &'a Decl,
    /// The enclosing group (index into [`StructLayout::groups`]), None for the struct.
    pub parent: Option<usize>,
    /// Position of this group's entry in the parent's `fields`: the group id's input.
    pub index: u16,
    pub scope: ScopeLayout<'a>,
}

/// The layout of a method's parameter or result struct (10.2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParamLayout {
    pub data_word_count: u16,
    pub pointer_count: u16,
    /// One per parameter, in list order, in units of its size.
    pub offsets: Vec<u32>,
}

/// Lays out a struct body. `size_of` is called once per field, in the order
/// fields are placed (ordinal order, step 3 of 6.5), so the caller can compile
/// each field's type at that moment.
pub fn layout_struct<'a>(
    members: &'a [Decl],
    size_of: &mut dyn FnMut(&'a Decl) -> SizeClass,
) -> StructLayout<'a> {
    Builder::new(members).run(size_of)
}

/// Lays out a parameter or result struct: the fields get ordinals 0, 1, 2…
/// in list order, so they are placed in that order, with no ordinal checks.
pub fn layout_params(sizes: &[SizeClass]) -> ParamLayout {
    let mut allocs = Allocators::new();
    let offsets = sizes
        .iter()
        .map(|&size| place(&mut allocs, AllocId::Top, size))
        .collect();
    ParamLayout {
        data_word_count: truncate_u16(allocs.data_words()),
        pointer_count: truncate_u16(allocs.pointers()),
        offsets,
    }
}

/// Places one field with allocator `id` and returns its offset.
fn place(allocs: &mut Allocators, id: AllocId, size: SizeClass) -> u32 {
    match size {
        SizeClass::Void => {
            allocs.note_void(id);
            0
        }
        SizeClass::Data(lg) => allocs.alloc_data(id, lg),
        SizeClass::Pointer => allocs.alloc_pointer(id),
    }
}

/// Node sizes are UInt16 in `schema.capnp`; the reference stores them with a
/// plain narrowing conversion.
fn truncate_u16(v: u32) -> u16 {
    (v & 0xffff) as u16
}
