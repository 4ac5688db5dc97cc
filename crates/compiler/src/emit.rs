//! Request assembly: the traversal that decides which nodes are emitted and in which order
//! (13.3), source info (13.6), requested files with imports and identifiers (13.4, 13.5), and
//! writing everything with the generated `schema_capnp` builders.

use rustc_hash::{FxHashMap, FxHashSet};

use crate::ast::{Decl, DeclKind, Expr, ExprKind, ParamList};
use crate::compiler::{with_stack, Compiler, NodeIdx};
use crate::model::{
    encode_pointer_value, encode_segment, AnyPtr, Body, FieldKind, ListObj, NodeOut, OAnnotation,
    OBrand, OScopeKind, OType, OValue, Obj, StructObj,
};
use crate::schema_capnp::{brand, code_generator_request, node, type_, value};
use crate::translate::STREAM_RESULT_ID;
use capnp::private::layout::{PointerBuilder, PrimitiveElement, StructSize};
use capnp::traits::FromPointerBuilder;
use capnp::{any_pointer_list, primitive_list};

const NODE: u32 = 1;
const PARENTS: u32 = 2;
const CHILDREN: u32 = 4;
const DEPS: u32 = 1 << 15;
const DEP_PARENTS: u32 = 2 << 15;
const E0: u32 = NODE | CHILDREN | DEPS | DEP_PARENTS;

/// A `Node.SourceInfo` to be written.
struct SourceInfoOut {
    id: u64,
    doc: Option<Vec<u8>>,
    range: (u32, u32),
    members: Option<Vec<Option<Vec<u8>>>>,
}

pub(crate) struct Traversal {
    emitted: Vec<u64>,
    emitted_set: FxHashSet<u64>,
    loaded: FxHashSet<u64>,
    seen: FxHashMap<NodeIdx, u32>,
    /// Where each group / param struct id lives: (owning node, index in its outputs).
    aux_owner: FxHashMap<u64, (NodeIdx, usize)>,
    infos: FxHashMap<u64, SourceInfoOut>,
    info_done: FxHashSet<NodeIdx>,
    param_info: Option<SourceInfoOut>,
    /// Whether a loaded node referenced StreamResult, making the reference substitute its
    /// built-in copy of that node (13.3).
    stream_result_substituted: bool,
}

impl Traversal {
    pub(crate) fn new() -> Self {
        Traversal {
            emitted: Vec::new(),
            emitted_set: FxHashSet::default(),
            loaded: FxHashSet::default(),
            seen: FxHashMap::default(),
            aux_owner: FxHashMap::default(),
            infos: FxHashMap::default(),
            info_done: FxHashSet::default(),
            param_info: None,
            stream_result_substituted: false,
        }
    }

    fn touch(&mut self, id: u64) {
        if self.emitted_set.insert(id) {
            self.emitted.push(id);
        }
    }
}

impl Compiler<'_> {
    /// Traverses one requested file with the eagerness of the compile command.
    pub(crate) fn traverse_requested(&mut self, t: &mut Traversal, file_node: NodeIdx) {
        t.seen.clear();
        self.traverse(t, file_node, E0);
    }

    fn outs(&self, n: NodeIdx) -> &[NodeOut] {
        self.nodes[n].out.as_deref().unwrap_or(&[])
    }

    fn load(&mut self, t: &mut Traversal, n: NodeIdx) {
        self.ensure_done(n);
        let count = self.outs(n).len();
        for i in 1..count {
            let id = self.outs(n)[i].id;
            t.aux_owner.insert(id, (n, i));
            self.load_one(t, n, i);
        }
        if count > 0 {
            self.load_one(t, n, 0);
        }
    }

    fn load_one(&mut self, t: &mut Traversal, n: NodeIdx, i: usize) {
        let id = self.outs(n)[i].id;
        if !t.loaded.insert(id) {
            return;
        }
        let out = &self.outs(n)[i];
        let mut refs = Vec::new();
        match &out.body {
            Body::Struct(s) => {
                for f in &s.fields {
                    match &f.kind {
                        FieldKind::Slot { ty, .. } => type_refs(ty, &mut refs),
                        FieldKind::Group { type_id } => refs.push(*type_id),
                    }
                }
                if s.is_group {
                    refs.push(out.scope_id);
                }
            }
            Body::Interface {
                methods,
                superclasses,
            } => {
                for sc in superclasses {
                    refs.push(sc.id);
                    brand_refs(sc.brand.as_ref(), &mut refs);
                }
                for m in methods {
                    refs.push(m.param_struct_type);
                    brand_refs(m.param_brand.as_ref(), &mut refs);
                    refs.push(m.result_struct_type);
                    brand_refs(m.result_brand.as_ref(), &mut refs);
                }
            }
            Body::Const { ty, .. } | Body::Annotation { ty, .. } => type_refs(ty, &mut refs),
            Body::File | Body::Enum(_) => {}
        }
        for r in refs {
            t.stream_result_substituted |= r == STREAM_RESULT_ID;
            t.touch(r);
        }
        t.touch(id);
    }

    fn traverse(&mut self, t: &mut Traversal, n: NodeIdx, e: u32) {
        let seen = t.seen.entry(n).or_insert(0);
        if *seen & e == e {
            return;
        }
        *seen |= e;
        if !self.enter(n) {
            return;
        }
        with_stack(|| self.traverse_inner(t, n, e));
        self.leave();
    }

    fn traverse_inner(&mut self, t: &mut Traversal, n: NodeIdx, e: u32) {
        self.load(t, n);
        if e >= DEPS {
            let e2 = (e & !(DEPS - 1)) | (e >> 15);
            let count = self.outs(n).len();
            for i in 0..count {
                self.deps(t, n, i, e2);
            }
        }
        self.collect_source_info(t, n);
        if e & PARENTS != 0 {
            if let Some(p) = self.nodes[n].parent {
                self.traverse(t, p, e);
            }
        }
        if e & CHILDREN != 0 {
            self.expand(n);
            let children = self.nodes[n]
                .members
                .as_ref()
                .map(|m| m.children.clone())
                .unwrap_or_default();
            for c in children {
                self.traverse(t, c, e);
            }
            self.eval_aliases_of(n);
        }
    }

    fn traverse_id(&mut self, t: &mut Traversal, id: u64, e: u32) {
        if let Some(&n) = self.by_id.get(&id) {
            self.traverse(t, n, e);
        }
    }

    fn deps(&mut self, t: &mut Traversal, n: NodeIdx, i: usize, e: u32) {
        let ids = self.dep_ids(n, i);
        for id in ids {
            self.traverse_id(t, id, e);
        }
    }

    /// The declarations a node depends on, in the order the reference traverses them.
    fn dep_ids(&self, n: NodeIdx, i: usize) -> Vec<u64> {
        let out = &self.outs(n)[i];
        let mut ids: Vec<u64> = Vec::new();
        match &out.body {
            Body::Struct(s) => {
                for f in &s.fields {
                    if let FieldKind::Slot { ty, .. } = &f.kind {
                        type_refs(ty, &mut ids);
                    }
                    annotation_refs(f.annotations.as_deref(), &mut ids);
                }
            }
            Body::Enum(es) => {
                for en in es {
                    annotation_refs(en.annotations.as_deref(), &mut ids);
                }
            }
            Body::Interface {
                methods,
                superclasses,
            } => {
                for sc in superclasses {
                    ids.push(sc.id);
                    brand_refs(sc.brand.as_ref(), &mut ids);
                }
                for m in methods {
                    let generated = |id: u64| self.outs(n).iter().skip(1).any(|o| o.id == id);
                    if !generated(m.param_struct_type) {
                        ids.push(m.param_struct_type);
                    }
                    brand_refs(m.param_brand.as_ref(), &mut ids);
                    if !generated(m.result_struct_type) {
                        ids.push(m.result_struct_type);
                    }
                    brand_refs(m.result_brand.as_ref(), &mut ids);
                    annotation_refs(m.annotations.as_deref(), &mut ids);
                }
            }
            Body::Const { ty, .. } | Body::Annotation { ty, .. } => type_refs(ty, &mut ids),
            Body::File => {}
        }
        annotation_refs(out.annotations.as_deref(), &mut ids);
        ids
    }

    fn collect_source_info(&mut self, t: &mut Traversal, n: NodeIdx) {
        if !t.info_done.insert(n) {
            return;
        }
        let is_interface = matches!(
            self.outs(n).first().map(|o| &o.body),
            Some(Body::Interface { .. })
        );
        for (i, out) in self.outs(n).iter().enumerate() {
            if i > 0 && is_interface {
                if t.param_info.is_none() {
                    let members = match &out.body {
                        Body::Struct(s) if !s.fields.is_empty() => Some(vec![None; s.fields.len()]),
                        _ => None,
                    };
                    t.param_info = Some(SourceInfoOut {
                        id: 0,
                        doc: None,
                        range: (0, 0),
                        members,
                    });
                }
                continue;
            }
            let members = match &out.body {
                Body::Struct(s) if s.fields.is_empty() => None,
                Body::Struct(s) => Some(s.fields.iter().map(|f| f.doc.clone()).collect()),
                Body::Enum(es) => Some(es.iter().map(|e| e.doc.clone()).collect()),
                Body::Interface { methods, .. } => {
                    Some(methods.iter().map(|m| m.doc.clone()).collect())
                }
                _ => None,
            };
            t.infos.insert(
                out.id,
                SourceInfoOut {
                    id: out.id,
                    doc: out.doc.clone(),
                    range: out.source_range,
                    members,
                },
            );
        }
    }

    /// Where an emitted id's output node lives: (owning node, index in its outputs).
    fn out_location(&mut self, t: &Traversal, id: u64) -> Option<(NodeIdx, usize)> {
        if let Some(&location) = t.aux_owner.get(&id) {
            return Some(location);
        }
        let n = *self.by_id.get(&id)?;
        self.ensure_done(n);
        Some((n, 0))
    }

    /// Writes the request. `requested` are file indexes in command-line order.
    pub(crate) fn build_request(
        &mut self,
        t: &Traversal,
        requested: &[usize],
    ) -> capnp::message::Builder<capnp::message::HeapAllocator> {
        // About 600 bytes per node: one segment instead of a chain of growing ones.
        let words = (t.emitted.len() as u32).saturating_mul(96).max(1024);
        let mut message = capnp::message::Builder::new(
            capnp::message::HeapAllocator::new().first_segment_words(words),
        );
        // Everything is translated first (which also records the identifiers of the
        // requested files), so the nodes can then be written from references.
        let locations: Vec<(NodeIdx, usize)> = t
            .emitted
            .iter()
            .filter_map(|&id| self.out_location(t, id))
            .collect();
        let files: Vec<RequestedOut> = requested.iter().map(|&f| self.requested_file(f)).collect();
        let outs: Vec<&NodeOut> = locations
            .iter()
            .filter_map(|&(n, i)| self.outs(n).get(i))
            .collect();
        let mut infos: Vec<&SourceInfoOut> = Vec::new();
        for id in &t.emitted {
            if let Some(info) = t.infos.get(id) {
                infos.push(info);
            }
        }
        if let Some(p) = &t.param_info {
            infos.push(p);
        }
        {
            let mut req = message.init_root::<code_generator_request::Builder>();
            {
                let mut v = req.reborrow().init_capnp_version();
                v.set_major(1);
                v.set_minor(3);
                v.set_micro(0);
            }
            let mut nodes = req.reborrow().init_nodes(outs.len() as u32);
            for (i, out) in outs.iter().enumerate() {
                let mut b = nodes.reborrow().get(i as u32);
                write_node(b.reborrow(), out);
                if out.id == STREAM_RESULT_ID && t.stream_result_substituted {
                    b.set_start_byte(0);
                    b.set_end_byte(0);
                }
            }
            let mut si = req.reborrow().init_source_info(infos.len() as u32);
            for (i, info) in infos.iter().enumerate() {
                let mut b = si.reborrow().get(i as u32);
                b.set_id(info.id);
                if let Some(d) = &info.doc {
                    b.set_doc_comment(capnp::text::Reader(d));
                }
                b.set_start_byte(info.range.0);
                b.set_end_byte(info.range.1);
                if let Some(members) = &info.members {
                    let mut ml = b.init_members(members.len() as u32);
                    for (j, m) in members.iter().enumerate() {
                        if let Some(d) = m {
                            ml.reborrow()
                                .get(j as u32)
                                .set_doc_comment(capnp::text::Reader(d));
                        }
                    }
                }
            }
            let mut rf = req.init_requested_files(files.len() as u32);
            for (i, f) in files.iter().enumerate() {
                let mut b = rf.reborrow().get(i as u32);
                b.set_id(f.id);
                b.set_filename(capnp::text::Reader(f.name.as_bytes()));
                let mut imports = b.reborrow().init_imports(f.imports.len() as u32);
                for (j, (name, id)) in f.imports.iter().enumerate() {
                    let mut imp = imports.reborrow().get(j as u32);
                    imp.set_id(*id);
                    imp.set_name(capnp::text::Reader(name));
                }
                let mut idents = b
                    .init_file_source_info()
                    .init_identifiers(f.identifiers.len() as u32);
                for (j, (start, end, id)) in f.identifiers.iter().enumerate() {
                    let mut ident = idents.reborrow().get(j as u32);
                    ident.set_start_byte(*start);
                    ident.set_end_byte(*end);
                    ident.set_type_id(*id);
                }
            }
        }
        message
    }

    fn requested_file(&mut self, f: usize) -> RequestedOut {
        let node = self.file_node(f);
        let mut specs: Vec<Vec<u8>> = Vec::new();
        let ast = &self.src.files[f].ast;
        for app in &ast.annotations {
            scan_imports(&app.name, &mut specs);
        }
        for d in &ast.decls {
            scan_decl_imports(d, &mut specs);
        }
        specs.sort();
        specs.dedup();
        let imports = specs
            .into_iter()
            .filter_map(|s| {
                let target = if s.as_slice() == b"/capnp/stream.capnp" {
                    self.stream_file
                        .or_else(|| self.src.files[f].imports.get(&s).copied().flatten())
                } else {
                    self.src.files[f].imports.get(&s).copied().flatten()
                }?;
                let n = self.file_node(target);
                Some((s, self.nodes[n].id))
            })
            .collect();
        let identifiers = self
            .identifiers
            .iter()
            .filter(|(file, ..)| *file == f)
            .map(|&(_, s, e, id)| (s, e, id))
            .collect();
        RequestedOut {
            id: self.nodes[node].id,
            name: self.src.files[f].name.clone(),
            imports,
            identifiers,
        }
    }
}

struct RequestedOut {
    id: u64,
    name: String,
    imports: Vec<(Vec<u8>, u64)>,
    identifiers: Vec<(u32, u32, u64)>,
}

fn type_refs(t: &OType, out: &mut Vec<u64>) {
    match t {
        OType::Struct(id, b) | OType::Enum(id, b) | OType::Interface(id, b) => {
            out.push(*id);
            brand_refs(b.as_ref(), out);
        }
        OType::List(e) => type_refs(e, out),
        _ => {}
    }
}

fn brand_refs(b: Option<&OBrand>, out: &mut Vec<u64>) {
    for s in b.and_then(|b| b.scopes.as_deref()).unwrap_or(&[]) {
        if let OScopeKind::Bind(types) = &s.kind {
            for t in types {
                type_refs(t, out);
            }
        }
    }
}

fn annotation_refs(anns: Option<&[OAnnotation]>, out: &mut Vec<u64>) {
    for a in anns.unwrap_or(&[]) {
        out.push(a.id);
    }
}

/// Collects `import "…"` strings inside an expression.
fn scan_imports(e: &Expr, out: &mut Vec<Vec<u8>>) {
    match &e.kind {
        ExprKind::Import(s) => out.push(s.value.clone()),
        ExprKind::Member(base, _) => scan_imports(base, out),
        ExprKind::Application(f, params) => {
            scan_imports(f, out);
            for p in params {
                scan_imports(&p.value, out);
            }
        }
        ExprKind::List(items) => items.iter().for_each(|i| scan_imports(i, out)),
        ExprKind::Tuple(params) => params.iter().for_each(|p| scan_imports(&p.value, out)),
        _ => {}
    }
}

/// 13.4: the places whose imports are listed in `RequestedFile.imports`.
fn scan_decl_imports(d: &Decl, out: &mut Vec<Vec<u8>>) {
    for a in &d.annotations {
        scan_imports(&a.name, out);
    }
    match &d.kind {
        DeclKind::Using { target } => scan_imports(target, out),
        DeclKind::Const { ty, .. } | DeclKind::Field { ty, .. } => scan_imports(ty, out),
        DeclKind::Interface { extends, .. } => extends.iter().for_each(|e| scan_imports(e, out)),
        DeclKind::Method {
            params, results, ..
        } => {
            for list in std::iter::once(params).chain(results.iter()) {
                match list {
                    ParamList::Inline { params, .. } => {
                        for p in params {
                            scan_imports(&p.ty, out);
                            for a in &p.annotations {
                                scan_imports(&a.name, out);
                            }
                        }
                    }
                    ParamList::Type(e) => scan_imports(e, out),
                    ParamList::Stream(_) => out.push(b"/capnp/stream.capnp".to_vec()),
                }
            }
        }
        _ => {}
    }
    for m in &d.members {
        scan_decl_imports(m, out);
    }
}

fn write_node(mut b: node::Builder<'_>, out: &NodeOut) {
    b.set_id(out.id);
    b.set_display_name(capnp::text::Reader(out.display_name.as_bytes()));
    b.set_display_name_prefix_length(out.display_name_prefix_length);
    b.set_scope_id(out.scope_id);
    b.set_is_generic(out.is_generic);
    b.set_start_byte(out.start_byte);
    b.set_end_byte(out.end_byte);
    if let Some(nested) = &out.nested_nodes {
        let mut l = b.reborrow().init_nested_nodes(nested.len() as u32);
        for (i, (name, id)) in nested.iter().enumerate() {
            let mut nn = l.reborrow().get(i as u32);
            nn.set_name(capnp::text::Reader(name.as_bytes()));
            nn.set_id(*id);
        }
    }
    if let Some(anns) = &out.annotations {
        write_annotations(b.reborrow().init_annotations(anns.len() as u32), anns);
    }
    if let Some(params) = &out.parameters {
        let mut l = b.reborrow().init_parameters(params.len() as u32);
        for (i, p) in params.iter().enumerate() {
            l.reborrow()
                .get(i as u32)
                .set_name(capnp::text::Reader(p.as_bytes()));
        }
    }
    match &out.body {
        Body::File => b.set_file(()),
        Body::Struct(s) => {
            let mut sb = b.init_struct();
            sb.set_data_word_count(s.data_word_count);
            sb.set_pointer_count(s.pointer_count);
            sb.set_preferred_list_encoding(crate::schema_capnp::ElementSize::InlineComposite);
            sb.set_is_group(s.is_group);
            sb.set_discriminant_count(s.discriminant_count);
            sb.set_discriminant_offset(s.discriminant_offset);
            if !s.fields.is_empty() {
                let mut fl = sb.init_fields(s.fields.len() as u32);
                for (i, f) in s.fields.iter().enumerate() {
                    let mut fb = fl.reborrow().get(i as u32);
                    fb.set_name(capnp::text::Reader(f.name.as_bytes()));
                    fb.set_code_order(f.code_order);
                    fb.set_discriminant_value(f.discriminant_value);
                    if let Some(anns) = &f.annotations {
                        write_annotations(fb.reborrow().init_annotations(anns.len() as u32), anns);
                    }
                    match f.explicit_ordinal {
                        Some(o) => fb.reborrow().init_ordinal().set_explicit(o),
                        None => fb.reborrow().init_ordinal().set_implicit(()),
                    }
                    match &f.kind {
                        FieldKind::Slot {
                            offset,
                            ty,
                            default,
                            had_explicit_default,
                        } => {
                            let mut slot = fb.init_slot();
                            slot.set_offset(*offset);
                            write_type(slot.reborrow().init_type(), ty);
                            set_value(&mut slot, default);
                            slot.set_had_explicit_default(*had_explicit_default);
                        }
                        FieldKind::Group { type_id } => fb.init_group().set_type_id(*type_id),
                    }
                }
            }
        }
        Body::Enum(es) => {
            let mut l = b.init_enum().init_enumerants(es.len() as u32);
            for (i, e) in es.iter().enumerate() {
                let mut eb = l.reborrow().get(i as u32);
                eb.set_name(capnp::text::Reader(e.name.as_bytes()));
                eb.set_code_order(e.code_order);
                if let Some(anns) = &e.annotations {
                    write_annotations(eb.init_annotations(anns.len() as u32), anns);
                }
            }
        }
        Body::Interface {
            methods,
            superclasses,
        } => {
            let mut ib = b.init_interface();
            {
                let mut ml = ib.reborrow().init_methods(methods.len() as u32);
                for (i, m) in methods.iter().enumerate() {
                    let mut mb = ml.reborrow().get(i as u32);
                    mb.set_name(capnp::text::Reader(m.name.as_bytes()));
                    mb.set_code_order(m.code_order);
                    let mut ip = mb
                        .reborrow()
                        .init_implicit_parameters(m.implicit_parameters.len() as u32);
                    for (j, p) in m.implicit_parameters.iter().enumerate() {
                        ip.reborrow()
                            .get(j as u32)
                            .set_name(capnp::text::Reader(p.as_bytes()));
                    }
                    mb.set_param_struct_type(m.param_struct_type);
                    if let Some(br) = &m.param_brand {
                        write_brand(mb.reborrow().init_param_brand(), br);
                    }
                    mb.set_result_struct_type(m.result_struct_type);
                    if let Some(br) = &m.result_brand {
                        write_brand(mb.reborrow().init_result_brand(), br);
                    }
                    if let Some(anns) = &m.annotations {
                        write_annotations(mb.init_annotations(anns.len() as u32), anns);
                    }
                }
            }
            let mut sl = ib.init_superclasses(superclasses.len() as u32);
            for (i, s) in superclasses.iter().enumerate() {
                let mut sb = sl.reborrow().get(i as u32);
                sb.set_id(s.id);
                if let Some(br) = &s.brand {
                    write_brand(sb.init_brand(), br);
                }
            }
        }
        Body::Const { ty, value } => {
            let mut cb = b.init_const();
            write_type(cb.reborrow().init_type(), ty);
            set_value(&mut cb, value);
        }
        Body::Annotation { ty, targets } => {
            let mut ab = b.init_annotation();
            write_type(ab.reborrow().init_type(), ty);
            let bit = |i: u16| targets & (1 << i) != 0;
            ab.set_targets_file(bit(0));
            ab.set_targets_const(bit(1));
            ab.set_targets_enum(bit(2));
            ab.set_targets_enumerant(bit(3));
            ab.set_targets_struct(bit(4));
            ab.set_targets_field(bit(5));
            ab.set_targets_union(bit(6));
            ab.set_targets_group(bit(7));
            ab.set_targets_interface(bit(8));
            ab.set_targets_method(bit(9));
            ab.set_targets_param(bit(10));
            ab.set_targets_annotation(bit(11));
        }
    }
}

fn write_annotations(
    mut l: capnp::struct_list::Builder<'_, crate::schema_capnp::annotation::Owned>,
    anns: &[OAnnotation],
) {
    for (i, a) in anns.iter().enumerate() {
        let mut ab = l.reborrow().get(i as u32);
        ab.set_id(a.id);
        write_brand(ab.reborrow().init_brand(), &a.brand);
        set_value(&mut ab, &a.value);
    }
}

fn write_brand(b: brand::Builder<'_>, br: &OBrand) {
    let Some(scopes) = &br.scopes else {
        return;
    };
    let mut l = b.init_scopes(scopes.len() as u32);
    for (i, s) in scopes.iter().enumerate() {
        let mut sb = l.reborrow().get(i as u32);
        sb.set_scope_id(s.scope_id);
        match &s.kind {
            // Empty scopes exist only in the types of values, which are not written.
            OScopeKind::Inherit | OScopeKind::Empty => sb.set_inherit(()),
            OScopeKind::Bind(types) => {
                let mut bl = sb.init_bind(types.len() as u32);
                for (j, t) in types.iter().enumerate() {
                    write_type(bl.reborrow().get(j as u32).init_type(), t);
                }
            }
        }
    }
}

fn write_type(mut b: type_::Builder<'_>, t: &OType) {
    match t {
        OType::Void => b.set_void(()),
        OType::Bool => b.set_bool(()),
        OType::Int8 => b.set_int8(()),
        OType::Int16 => b.set_int16(()),
        OType::Int32 => b.set_int32(()),
        OType::Int64 => b.set_int64(()),
        OType::UInt8 => b.set_uint8(()),
        OType::UInt16 => b.set_uint16(()),
        OType::UInt32 => b.set_uint32(()),
        OType::UInt64 => b.set_uint64(()),
        OType::Float32 => b.set_float32(()),
        OType::Float64 => b.set_float64(()),
        OType::Text => b.set_text(()),
        OType::Data => b.set_data(()),
        OType::List(e) => write_type(b.init_list().init_element_type(), e),
        OType::Enum(id, br) => {
            let mut eb = b.init_enum();
            eb.set_type_id(*id);
            if let Some(br) = br {
                write_brand(eb.init_brand(), br);
            }
        }
        OType::Struct(id, br) => {
            let mut sb = b.init_struct();
            sb.set_type_id(*id);
            if let Some(br) = br {
                write_brand(sb.init_brand(), br);
            }
        }
        OType::Interface(id, br) => {
            let mut ib = b.init_interface();
            ib.set_type_id(*id);
            if let Some(br) = br {
                write_brand(ib.init_brand(), br);
            }
        }
        OType::AnyPointer(k) => {
            let ab = b.init_any_pointer();
            match k {
                AnyPtr::AnyKind => ab.init_unconstrained().set_any_kind(()),
                AnyPtr::Struct => ab.init_unconstrained().set_struct(()),
                AnyPtr::List => ab.init_unconstrained().set_list(()),
                AnyPtr::Capability => ab.init_unconstrained().set_capability(()),
                AnyPtr::Param { scope_id, index } => {
                    let mut p = ab.init_parameter();
                    p.set_scope_id(*scope_id);
                    p.set_parameter_index(*index);
                }
                AnyPtr::ImplicitMethodParam { index } => {
                    ab.init_implicit_method_parameter()
                        .set_parameter_index(*index);
                }
            }
        }
    }
}

/// Encodes a `schema.Value` as a raw struct, so that a null pointer member stays null.
fn value_obj(v: &OValue) -> Obj {
    let (disc, payload): (u16, Option<(usize, Vec<u8>)>) = match v {
        OValue::Void => (0, None),
        OValue::Bool(b) => (1, Some((2, vec![u8::from(*b)]))),
        OValue::Int8(_) => (2, Some((2, v.data_bytes().unwrap_or_default()))),
        OValue::Int16(_) => (3, Some((2, v.data_bytes().unwrap_or_default()))),
        OValue::Int32(_) => (4, Some((4, v.data_bytes().unwrap_or_default()))),
        OValue::Int64(_) => (5, Some((8, v.data_bytes().unwrap_or_default()))),
        OValue::UInt8(_) => (6, Some((2, v.data_bytes().unwrap_or_default()))),
        OValue::UInt16(_) => (7, Some((2, v.data_bytes().unwrap_or_default()))),
        OValue::UInt32(_) => (8, Some((4, v.data_bytes().unwrap_or_default()))),
        OValue::UInt64(_) => (9, Some((8, v.data_bytes().unwrap_or_default()))),
        OValue::Float32(_) => (10, Some((4, v.data_bytes().unwrap_or_default()))),
        OValue::Float64(_) => (11, Some((8, v.data_bytes().unwrap_or_default()))),
        OValue::Text(_) => (12, None),
        OValue::Data(_) => (13, None),
        OValue::List(_) => (14, None),
        OValue::Enum(_) => (15, Some((2, v.data_bytes().unwrap_or_default()))),
        OValue::Struct(_) => (16, None),
        OValue::Interface => (17, None),
        OValue::AnyPointer(_) => (18, None),
    };
    let mut data = vec![0u8; 16];
    data[..2].copy_from_slice(&disc.to_le_bytes());
    if let Some((at, bytes)) = payload {
        data[at..at + bytes.len()].copy_from_slice(&bytes);
    }
    Obj::Struct(StructObj {
        data,
        ptrs: vec![v.to_obj().flatten()],
    })
}

/// A struct with a `Value` member: a slot's default, a constant, an annotation.
trait HasValue {
    fn init_value(&mut self) -> value::Builder<'_>;
    fn copy_value(&mut self, r: value::Reader<'_>) -> capnp::Result<()>;
}

impl HasValue for crate::schema_capnp::field::slot::Builder<'_> {
    fn init_value(&mut self) -> value::Builder<'_> {
        self.reborrow().init_default_value()
    }
    fn copy_value(&mut self, r: value::Reader<'_>) -> capnp::Result<()> {
        self.set_default_value(r)
    }
}

impl HasValue for node::const_::Builder<'_> {
    fn init_value(&mut self) -> value::Builder<'_> {
        self.reborrow().init_value()
    }
    fn copy_value(&mut self, r: value::Reader<'_>) -> capnp::Result<()> {
        self.set_value(r)
    }
}

impl HasValue for crate::schema_capnp::annotation::Builder<'_> {
    fn init_value(&mut self) -> value::Builder<'_> {
        self.reborrow().init_value()
    }
    fn copy_value(&mut self, r: value::Reader<'_>) -> capnp::Result<()> {
        self.set_value(r)
    }
}

/// Writes a value. Primitives use the generated setters; pointer values are encoded as a raw
/// `Value` struct and copied, which keeps null pointers null and struct sizes exact.
fn set_value(target: &mut impl HasValue, v: &OValue) {
    {
        let mut b = target.init_value();
        match v {
            OValue::Void => return b.set_void(()),
            OValue::Bool(x) => return b.set_bool(*x),
            OValue::Int8(x) => return b.set_int8(*x),
            OValue::Int16(x) => return b.set_int16(*x),
            OValue::Int32(x) => return b.set_int32(*x),
            OValue::Int64(x) => return b.set_int64(*x),
            OValue::UInt8(x) => return b.set_uint8(*x),
            OValue::UInt16(x) => return b.set_uint16(*x),
            OValue::UInt32(x) => return b.set_uint32(*x),
            OValue::UInt64(x) => return b.set_uint64(*x),
            OValue::Float32(x) => return b.set_float32(f32::from_bits(*x)),
            OValue::Float64(x) => return b.set_float64(f64::from_bits(*x)),
            OValue::Enum(x) => return b.set_enum(*x),
            OValue::Interface => return b.set_interface(()),
            OValue::Text(Some(t)) => return b.set_text(capnp::text::Reader(t)),
            OValue::Data(Some(d)) => return b.set_data(d),
            _ => {}
        }
    }
    // A list, struct or AnyPointer value is encoded from the object it holds (not a copy).
    let held = match v {
        OValue::List(Some(o)) => Some((14, o)),
        OValue::Struct(Some(o)) => Some((16, o)),
        OValue::AnyPointer(Some(o)) => Some((18, o)),
        _ => None,
    };
    if let Some((disc, obj)) = held {
        if writes_directly(obj, 0) {
            let b = target.init_value();
            let field = match disc {
                14 => b.init_list(),
                16 => b.init_struct(),
                _ => b.init_any_pointer(),
            };
            write_obj(field.init_as::<RawPointer<'_>>().0, obj);
        } else {
            let segment = word_segment(&encode_pointer_value(disc, obj).words);
            copy_from_segment(target, &segment);
        }
        return;
    }
    // A null Text/Data/List/Struct/AnyPointer value has one of five encodings: encode each once.
    if v.to_obj().is_some_and(|o| o.is_none()) {
        let disc = value_discriminant(v);
        NULL_VALUES.with(|cache| {
            let mut cache = cache.borrow_mut();
            let segment = cache
                .entry(disc)
                .or_insert_with(|| word_segment(&encode_segment(&value_obj(v)).words));
            copy_from_segment(target, segment);
        });
        return;
    }
    let segment = word_segment(&encode_segment(&value_obj(v)).words);
    copy_from_segment(target, &segment);
}

/// The pointer slot of a builder, taken as it is (`any_pointer::Builder::init_as`).
struct RawPointer<'a>(PointerBuilder<'a>);

impl<'a> FromPointerBuilder<'a> for RawPointer<'a> {
    fn init_pointer(builder: PointerBuilder<'a>, _length: u32) -> Self {
        RawPointer(builder)
    }
    fn get_from_pointer(
        builder: PointerBuilder<'a>,
        _default: Option<&'a [capnp::Word]>,
    ) -> capnp::Result<Self> {
        Ok(RawPointer(builder))
    }
}

/// Whether `write_obj` can write `obj`: every object but lists of structs (capnp's public
/// builders reach the elements of a struct list only through a type of fixed size), within
/// capnp's size fields and nesting.
fn writes_directly(obj: &Obj, depth: usize) -> bool {
    if depth > crate::lexer::MAX_DEPTH {
        return false;
    }
    let each = |ptrs: &[Option<Obj>]| ptrs.iter().flatten().all(|o| writes_directly(o, depth + 1));
    match obj {
        Obj::Struct(s) => {
            u16::try_from(s.data.len().div_ceil(8)).is_ok()
                && u16::try_from(s.ptrs.len()).is_ok()
                && each(&s.ptrs)
        }
        Obj::List(l) => match l {
            ListObj::Void(n) => *n < 1 << 29,
            ListObj::Bits(b) => b.len() < 1 << 29,
            ListObj::Bytes { width, data } => {
                matches!(width, 1 | 2 | 4 | 8) && data.len() / usize::from(*width) < 1 << 29
            }
            ListObj::Pointers(p) => p.len() < 1 << 29 && each(p),
            ListObj::Structs { .. } => false,
        },
    }
}

/// Writes `obj` at `pointer` as `encode_segment` lays it out (what `copy_from_segment` then
/// copied), without the intermediate message. `writes_directly(obj)` holds.
fn write_obj(pointer: PointerBuilder<'_>, obj: &Obj) {
    match obj {
        Obj::Struct(s) => {
            let size = StructSize {
                data: u16::try_from(s.data.len().div_ceil(8)).unwrap_or(0),
                pointers: u16::try_from(s.ptrs.len()).unwrap_or(0),
            };
            let mut b = pointer.init_struct(size);
            for (i, chunk) in s.data.chunks(8).enumerate() {
                let mut word = [0u8; 8];
                word[..chunk.len()].copy_from_slice(chunk);
                b.set_data_field::<u64>(i, u64::from_le_bytes(word));
            }
            for (i, p) in s.ptrs.iter().enumerate() {
                if let Some(o) = p {
                    write_obj(b.reborrow().get_pointer_field(i), o);
                }
            }
        }
        Obj::List(l) => write_list(pointer, l),
    }
}

fn write_list(pointer: PointerBuilder<'_>, l: &ListObj) {
    fn elements<'a, T: PrimitiveElement>(
        pointer: PointerBuilder<'a>,
        values: impl ExactSizeIterator<Item = T>,
    ) {
        let count = u32::try_from(values.len()).unwrap_or(0);
        let mut list = primitive_list::Builder::<T>::init_pointer(pointer, count);
        for (i, v) in (0..count).zip(values) {
            list.set(i, v);
        }
    }
    match l {
        ListObj::Void(n) => {
            primitive_list::Builder::<()>::init_pointer(pointer, *n);
        }
        ListObj::Bits(bits) => elements(pointer, bits.iter().copied()),
        ListObj::Bytes { width, data } => match width {
            1 => elements(pointer, data.iter().copied()),
            2 => elements(
                pointer,
                data.chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]])),
            ),
            4 => elements(
                pointer,
                data.chunks_exact(4)
                    .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            ),
            _ => elements(
                pointer,
                data.chunks_exact(8)
                    .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])),
            ),
        },
        ListObj::Pointers(ptrs) => {
            let count = u32::try_from(ptrs.len()).unwrap_or(0);
            let mut list = any_pointer_list::Builder::init_pointer(pointer, count);
            for (i, p) in (0..count).zip(ptrs) {
                if let Some(o) = p {
                    write_obj(list.reborrow().get(i).init_as::<RawPointer<'_>>().0, o);
                }
            }
        }
        // Never reached: `writes_directly` leaves struct lists to `copy_from_segment`.
        ListObj::Structs { .. } => {}
    }
}

thread_local! {
    /// Encoded null pointer values by `Value` discriminant.
    static NULL_VALUES: std::cell::RefCell<FxHashMap<u16, Vec<capnp::Word>>> =
        std::cell::RefCell::new(FxHashMap::default());
}

fn value_discriminant(v: &OValue) -> u16 {
    match value_obj(v) {
        Obj::Struct(s) => u16::from_le_bytes([s.data[0], s.data[1]]),
        Obj::List(_) => 0,
    }
}

/// Words in capnp's aligned representation, for reading in place.
fn word_segment(words: &[u64]) -> Vec<capnp::Word> {
    let mut segment = capnp::Word::allocate_zeroed_vec(words.len());
    for (dst, word) in segment.iter_mut().zip(words) {
        let b = word.to_le_bytes();
        *dst = capnp::word(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]);
    }
    segment
}

/// Copies the `Value` at the root of a one-segment message into the target.
fn copy_from_segment(target: &mut impl HasValue, segment: &[capnp::Word]) {
    let segments = [capnp::Word::words_to_bytes(segment)];
    let reader = capnp::message::Reader::new(
        capnp::message::SegmentArray::new(&segments),
        capnp::message::ReaderOptions::new(),
    );
    if let Ok(root) = reader.get_root::<value::Reader<'_>>() {
        let _ = target.copy_value(root);
    }
}
