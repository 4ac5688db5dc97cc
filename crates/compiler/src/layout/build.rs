//! The walk of a struct body (6.4), the ordinal queue and registration (6.5) and the finishing steps
//! that turn the member tree into a [`StructLayout`].

use super::alloc::{AllocId, Allocators};
use super::{
    place, truncate_u16, FieldLayout, FieldLayoutKind, GroupLayout, OrdinalChecker, ScopeLayout,
    SizeClass, StructLayout, ISSUE_344_MESSAGE, NO_DISCRIMINANT,
};
use crate::ast::{Decl, DeclKind};
use crate::diag::Span;

/// A field, group or named union found by the walk.
#[derive(Debug)]
struct Member<'a> {
    decl: &'a Decl,
    /// The field scope whose `fields` list the member joins.
    scope: usize,
    code_order: u16,
    /// Directly in a union (named or unnamed), so it gets a discriminant value.
    in_union: bool,
    what: What,
    /// Position in the scope's list, once registered.
    index: Option<u16>,
    discriminant_value: u16,
    explicit_ordinal: Option<u16>,
    offset: u32,
}

#[derive(Clone, Copy, Debug)]
enum What {
    Field(AllocId),
    /// A group or named union owning scope `.0`.
    Scope(usize),
}

/// A field scope. Scope 0 is the struct; the others are created in pre-order,
/// so scope `s` is group `s - 1` of the output.
#[derive(Debug, Default)]
struct Scope<'a> {
    /// The group or named-union member owning this scope; None for the struct.
    owner: Option<usize>,
    /// Registered members, in list order.
    fields: Vec<usize>,
    /// Union members already given a discriminant value.
    union_count: u16,
    /// The scope's union allocator and the union statement it came from.
    union: Option<(usize, &'a Decl)>,
}

#[derive(Debug, Default)]
pub(super) struct Builder<'a> {
    members: Vec<Member<'a>>,
    scopes: Vec<Scope<'a>>,
    allocs: Allocators,
    /// `(ordinal, member)` in walk order; sorted stably before processing.
    queue: Vec<(u16, usize)>,
    errors: Vec<(Span, String)>,
}

impl<'a> Builder<'a> {
    /// A builder for the struct whose body is `members`.
    pub(super) fn new(members: &'a [Decl]) -> Builder<'a> {
        let mut b = Builder::default();
        b.scopes.push(Scope::default());
        b.walk_top_or_group(members, 0, AllocId::Top);
        b
    }

    /// Places the fields in ordinal order and finishes every scope.
    pub(super) fn run(
        mut self,
        size_of: &mut dyn FnMut(&'a Decl) -> SizeClass,
    ) -> StructLayout<'a> {
        self.process_queue(size_of);
        self.finish()
    }

    fn error(&mut self, span: Span, message: &str) {
        self.errors.push((span, message.to_owned()));
    }

    fn add_member(
        &mut self,
        decl: &'a Decl,
        scope: usize,
        code_order: &mut u16,
        in_union: bool,
        what: What,
    ) -> usize {
        self.members.push(Member {
            decl,
            scope,
            code_order: *code_order,
            in_union,
            what,
            index: None,
            discriminant_value: NO_DISCRIMINANT,
            explicit_ordinal: None,
            offset: 0,
        });
        *code_order = code_order.wrapping_add(1);
        self.members.len() - 1
    }

    /// Creates the scope of a group or named union (owned by the member about
    /// to be added) and returns its index.
    fn add_scope(&mut self) -> usize {
        self.scopes.push(Scope {
            owner: Some(self.members.len()),
            ..Scope::default()
        });
        self.scopes.len() - 1
    }

    fn enqueue_field(&mut self, decl: &'a Decl, member: usize) {
        // A field always has an ordinal in a well-formed tree; without one it
        // is only registered at the end and never placed.
        if let Some(ord) = decl.ordinal {
            self.queue.push((ord.value, member));
        }
    }

    /// The members of the struct or of a group, all using allocator `alloc`.
    fn walk_top_or_group(&mut self, decls: &'a [Decl], scope: usize, alloc: AllocId) {
        let mut code_order = 0u16;
        for decl in decls {
            match decl.kind {
                DeclKind::Field { .. } => {
                    let m =
                        self.add_member(decl, scope, &mut code_order, false, What::Field(alloc));
                    self.enqueue_field(decl, m);
                }
                DeclKind::Union => {
                    let union = self.allocs.new_union(alloc);
                    if decl.name.text.is_empty() {
                        // An unnamed union's members join this scope's list and
                        // its code order sequence.
                        self.scopes[scope].union = Some((union, decl));
                        self.walk_union(decl, scope, union, &mut code_order);
                    } else {
                        let inner = self.add_scope();
                        self.scopes[inner].union = Some((union, decl));
                        let m = self.add_member(
                            decl,
                            scope,
                            &mut code_order,
                            false,
                            What::Scope(inner),
                        );
                        self.walk_union(decl, inner, union, &mut 0);
                        if let Some(ord) = decl.ordinal {
                            self.queue.push((ord.value, m));
                        }
                    }
                }
                DeclKind::Group => {
                    let inner = self.add_scope();
                    self.add_member(decl, scope, &mut code_order, false, What::Scope(inner));
                    // Groups are transparent to layout: same allocator.
                    self.walk_group(decl, inner, alloc);
                }
                _ => {}
            }
        }
    }

    fn walk_group(&mut self, decl: &'a Decl, scope: usize, alloc: AllocId) {
        if decl.members.is_empty() {
            self.error(decl.span, "Group must have at least one member.");
        }
        self.walk_top_or_group(&decl.members, scope, alloc);
    }

    /// The members of a union whose entries go to `scope`'s list.
    fn walk_union(&mut self, decl: &'a Decl, scope: usize, union: usize, code_order: &mut u16) {
        if decl.members.len() < 2 {
            self.error(decl.span, "Union must have at least two members.");
        }
        for member in &decl.members {
            match member.kind {
                DeclKind::Field { .. } => {
                    let alloc = self.allocs.new_member(union);
                    let m = self.add_member(member, scope, code_order, true, What::Field(alloc));
                    self.enqueue_field(member, m);
                }
                DeclKind::Union if member.name.text.is_empty() => {
                    self.error(member.span, "Unions cannot contain unnamed unions.");
                }
                DeclKind::Union => {
                    let alloc = self.allocs.new_member(union);
                    let nested = self.allocs.new_union(alloc);
                    let inner = self.add_scope();
                    self.scopes[inner].union = Some((nested, member));
                    let m = self.add_member(member, scope, code_order, true, What::Scope(inner));
                    self.walk_union(member, inner, nested, &mut 0);
                    // After all of the union's own entries (6.4).
                    if let Some(ord) = member.ordinal {
                        self.queue.push((ord.value, m));
                    }
                }
                DeclKind::Group => {
                    let alloc = self.allocs.new_member(union);
                    let inner = self.add_scope();
                    self.add_member(member, scope, code_order, true, What::Scope(inner));
                    self.walk_group(member, inner, alloc);
                }
                _ => {}
            }
        }
    }

    /// Appends member `m` to its scope's list, registering the scope's own
    /// member first; at most once per member.
    fn register(&mut self, m: usize) {
        if self.members[m].index.is_some() {
            return;
        }
        let scope = self.members[m].scope;
        if let Some(owner) = self.scopes[scope].owner {
            self.register(owner);
        }
        let s = &mut self.scopes[scope];
        let index = truncate_u16(u32::try_from(s.fields.len()).unwrap_or(u32::MAX));
        s.fields.push(m);
        let discriminant_value = if self.members[m].in_union {
            let d = s.union_count;
            s.union_count = d.wrapping_add(1);
            d
        } else {
            NO_DISCRIMINANT
        };
        let member = &mut self.members[m];
        member.index = Some(index);
        member.discriminant_value = discriminant_value;
    }

    /// Reports the issue-344 condition, if the last allocation hit it, on `span`.
    fn check_issue_344(&mut self, span: Span) {
        if self.allocs.take_issue_344() {
            self.error(span, ISSUE_344_MESSAGE);
        }
    }

    fn process_queue(&mut self, size_of: &mut dyn FnMut(&'a Decl) -> SizeClass) {
        let mut queue = std::mem::take(&mut self.queue);
        queue.sort_by_key(|&(ord, _)| ord);
        let mut checker = OrdinalChecker::new();
        for (ord, m) in queue {
            let decl = self.members[m].decl;
            if let Some(o) = decl.ordinal {
                checker.check(o, &mut self.errors);
            }
            self.register(m);
            self.members[m].explicit_ordinal = Some(ord);
            match self.members[m].what {
                What::Field(alloc) => {
                    let size = size_of(decl);
                    self.members[m].offset = place(&mut self.allocs, alloc, size);
                    self.check_issue_344(decl.span);
                }
                What::Scope(scope) => {
                    let Some((union, _)) = self.scopes[scope].union else {
                        continue;
                    };
                    if !self.allocs.ensure_discriminant(union) {
                        let span = decl.ordinal.map_or(decl.span, |o| o.span);
                        self.error(
                            span,
                            "Union ordinal, if specified, must be greater than no more than one \
                             of its member ordinals (i.e. there can only be one field \
                             retroactively unionized).",
                        );
                    }
                    self.check_issue_344(decl.span);
                }
            }
        }
    }

    /// Allocates a scope's discriminant if needed and returns (count, offset).
    fn finish_union(&mut self, scope: usize) -> (u16, u32) {
        let Some((union, decl)) = self.scopes[scope].union else {
            return (0, 0);
        };
        self.allocs.ensure_discriminant(union);
        self.check_issue_344(decl.span);
        let offset = self.allocs.discriminant(union).unwrap_or(0);
        (self.scopes[scope].union_count, offset)
    }

    fn finish(mut self) -> StructLayout<'a> {
        // Steps 5 and 6: the root first, then every member in pre-order.
        let mut discriminants = vec![(0u16, 0u32); self.scopes.len()];
        discriminants[0] = self.finish_union(0);
        for m in 0..self.members.len() {
            if let What::Scope(scope) = self.members[m].what {
                discriminants[scope] = self.finish_union(scope);
            }
            self.register(m);
        }

        let scope_layout = |b: &Builder<'a>, scope: usize| {
            let fields = b.scopes[scope]
                .fields
                .iter()
                .map(|&m| {
                    let member = &b.members[m];
                    FieldLayout {
                        decl: member.decl,
                        code_order: member.code_order,
                        discriminant_value: member.discriminant_value,
                        explicit_ordinal: member.explicit_ordinal,
                        kind: match member.what {
                            What::Field(_) => FieldLayoutKind::Slot {
                                offset: member.offset,
                            },
                            What::Scope(s) => FieldLayoutKind::Group { group: s - 1 },
                        },
                    }
                })
                .collect();
            let (discriminant_count, discriminant_offset) = discriminants[scope];
            ScopeLayout {
                fields,
                discriminant_count,
                discriminant_offset,
            }
        };

        let root = scope_layout(&self, 0);
        let groups = (1..self.scopes.len())
            .filter_map(|scope| {
                let owner = &self.members[self.scopes[scope].owner?];
                Some(GroupLayout {
                    decl: owner.decl,
                    parent: owner.scope.checked_sub(1),
                    index: owner.index.unwrap_or(0),
                    scope: scope_layout(&self, scope),
                })
            })
            .collect();
        let ordinals_out_of_order = self.scopes.iter().any(|s| {
            let mut next = 0u32;
            s.fields
                .iter()
                .any(|&m| match self.members[m].explicit_ordinal {
                    Some(o) if u32::from(o) < next => true,
                    Some(o) => {
                        next = u32::from(o) + 1;
                        false
                    }
                    None => false,
                })
        });
        StructLayout {
            data_word_count: truncate_u16(self.allocs.data_words()),
            pointer_count: truncate_u16(self.allocs.pointers()),
            root,
            groups,
            errors: self.errors,
            ordinals_out_of_order,
        }
    }
}
