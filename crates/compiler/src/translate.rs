//! Translation of each node into its `schema.Node` form, in two phases: structure (layout, types,
//! primitive defaults) and values (pointer defaults, constants, annotations) — sections 6, 9, 10, 12.

use rustc_hash::FxHashMap;
use std::rc::Rc;

use crate::ast::{self, target, AnnotationApp, Decl, DeclKind, ExprKind, ParamDecl, ParamList};
use crate::compiler::{with_stack, Compiler, Ctx, ImplicitMode, Kind, Member, NodeIdx, Phase, Res};
use crate::diag::Span;
use crate::ids;
use crate::layout::{self, FieldLayoutKind, OrdinalChecker, SizeClass};
use crate::model::{
    Body, EnumerantOut, FieldKind, FieldOut, MethodOut, NodeOut, OAnnotation, OBrand, OType,
    OValue, StructOut, SuperclassOut,
};

/// Fixed id of `stream.capnp:StreamResult`, the result type of streaming methods.
pub(crate) const STREAM_RESULT_ID: u64 = 0x995f9a3377c0b16e;

/// The implicit result list of a method written without `->`.
static EMPTY_PARAMS: ParamList = ParamList::Inline {
    params: Vec::new(),
    span: Span { start: 0, end: 0 },
};

/// What the values phase needs to find again after the structure phase.
pub(crate) enum Pending<'a> {
    /// Per output node (the struct, then its groups), the declaration of each field.
    Struct(Vec<Vec<&'a Decl>>),
    Enum(Vec<&'a Decl>),
    /// Methods in ordinal order, and for each generated param struct: (aux index, its params).
    Interface {
        methods: Vec<&'a Decl>,
        lists: Vec<(usize, &'a [ParamDecl])>,
    },
    None,
}

fn size_class(t: Option<&OType>) -> SizeClass {
    use crate::model::DataWidth;
    match t.map(OType::width) {
        None | Some(DataWidth::Void) => SizeClass::Void,
        Some(DataWidth::Bit) => SizeClass::Data(0),
        Some(DataWidth::Byte) => SizeClass::Data(3),
        Some(DataWidth::Two) => SizeClass::Data(4),
        Some(DataWidth::Four) => SizeClass::Data(5),
        Some(DataWidth::Eight) => SizeClass::Data(6),
        Some(DataWidth::Pointer) => SizeClass::Pointer,
    }
}

fn decl_key(d: &Decl) -> usize {
    d as *const Decl as usize
}

impl<'a> Compiler<'a> {
    /// Runs the structure phase of a node once; false if it is already in progress (recursion).
    pub(crate) fn ensure_structure(&mut self, n: NodeIdx) -> bool {
        match self.nodes[n].phase {
            Phase::NotStarted => {
                if !self.enter(n) {
                    return false;
                }
                self.nodes[n].phase = Phase::Structure;
                with_stack(|| self.structure(n));
                self.nodes[n].phase = Phase::StructureDone;
                self.leave();
                true
            }
            Phase::Structure => {
                self.recursion_error(n);
                false
            }
            _ => true,
        }
    }

    /// Translates a node completely; false on recursion.
    pub(crate) fn ensure_done(&mut self, n: NodeIdx) -> bool {
        if !self.ensure_structure(n) {
            return false;
        }
        match self.nodes[n].phase {
            Phase::StructureDone => {
                if !self.enter(n) {
                    return false;
                }
                self.nodes[n].phase = Phase::Values;
                with_stack(|| self.values(n));
                self.nodes[n].phase = Phase::Done;
                self.leave();
                true
            }
            Phase::Values => {
                self.recursion_error(n);
                false
            }
            _ => true,
        }
    }

    pub(crate) fn recursion_error(&mut self, n: NodeIdx) {
        let (file, span) = self.name_location(n);
        self.error(file, span, "Declaration recursively depends on itself.");
    }

    fn base_out(&self, n: NodeIdx, body: Body) -> NodeOut {
        let node = &self.nodes[n];
        let scope_id = node.parent.map_or(0, |p| self.nodes[p].id);
        let (start, end) = node.decl.map_or((0, 0), |d| (d.span.start, d.span.end));
        let nested = node.members.as_ref().map(|m| {
            m.children
                .iter()
                .map(|&c| {
                    let name = self.nodes[c]
                        .decl
                        .map_or(String::new(), |d| d.name.text.to_string());
                    (name, self.nodes[c].id)
                })
                .collect()
        });
        NodeOut {
            id: node.id,
            display_name: node.display_name.clone(),
            display_name_prefix_length: node.prefix_len,
            scope_id,
            nested_nodes: nested,
            annotations: None,
            parameters: if node.params.is_empty() {
                None
            } else {
                Some(node.params.clone())
            },
            is_generic: node.is_generic,
            start_byte: start,
            end_byte: end,
            body,
            doc: match node.decl {
                Some(d) => d.doc.clone(),
                None => self.src.files[node.file].ast.doc.clone(),
            },
            source_range: (start, end),
        }
    }

    fn structure(&mut self, n: NodeIdx) {
        self.expand(n);
        let kind = self.nodes[n].kind;
        let decls = self.decls_of(n);
        let file = self.nodes[n].file;
        if kind != Kind::Const && kind != Kind::Annotation {
            self.check_scope(file, decls, kind);
        }
        let (outs, pending) = match kind {
            Kind::File => {
                let mut out = self.base_out(n, Body::File);
                out.start_byte = 0;
                out.end_byte = 0;
                out.source_range = (0, 0);
                (vec![out], Pending::None)
            }
            Kind::Struct => self.structure_struct(n),
            Kind::Enum => self.structure_enum(n),
            Kind::Interface => self.structure_interface(n),
            Kind::Const => {
                let ctx = self.ctx(n);
                let ty = match self.nodes[n].decl.map(|d| &d.kind) {
                    Some(DeclKind::Const { ty, .. }) => self.compile_type(ty, &ctx),
                    _ => None,
                };
                let ty = ty.unwrap_or(OType::Void);
                let value = OValue::zero_of(&ty);
                (
                    vec![self.base_out(n, Body::Const { ty, value })],
                    Pending::None,
                )
            }
            Kind::Annotation => {
                let ctx = self.ctx(n);
                let (ty, targets) = match self.nodes[n].decl.map(|d| &d.kind) {
                    Some(DeclKind::Annotation { ty, targets }) => {
                        (self.compile_type(ty, &ctx), *targets)
                    }
                    _ => (None, 0),
                };
                let mut out = self.base_out(
                    n,
                    Body::Annotation {
                        ty: ty.unwrap_or(OType::Void),
                        targets,
                    },
                );
                out.start_byte = 0;
                out.end_byte = 0;
                (vec![out], Pending::None)
            }
        };
        self.nodes[n].out = Some(outs);
        self.pending.insert(n, pending);
    }

    /// Naming rules, duplicate names and placement checks for the members of a scope (2.5, 4.1, 4.2).
    fn check_scope(&mut self, file: usize, decls: &'a [Decl], kind: Kind) {
        let mut names: FxHashMap<&'a str, Span> = FxHashMap::default();
        let mut unnamed: Option<Span> = None;
        let nested_ok = matches!(kind, Kind::File | Kind::Struct | Kind::Interface);
        self.check_decls(file, decls, &mut names, &mut unnamed, nested_ok);
    }

    fn check_decls(
        &mut self,
        file: usize,
        decls: &'a [Decl],
        names: &mut FxHashMap<&'a str, Span>,
        unnamed: &mut Option<Span>,
        nested_ok: bool,
    ) {
        for d in decls {
            match &d.kind {
                DeclKind::Union if d.name.text.is_empty() => {
                    if let Some(prev) = *unnamed {
                        self.error(
                            file,
                            d.name.span,
                            "An unnamed union is already defined in this scope.",
                        );
                        self.error(file, prev, "Previously defined here.");
                    } else {
                        *unnamed = Some(d.name.span);
                    }
                    let mut inner_unnamed = None;
                    self.check_decls(file, &d.members, names, &mut inner_unnamed, false);
                }
                DeclKind::Group | DeclKind::Union => {
                    self.check_name(file, d, false);
                    self.note_name(file, d, names);
                    let mut inner = FxHashMap::default();
                    let mut inner_unnamed = None;
                    self.check_decls(file, &d.members, &mut inner, &mut inner_unnamed, false);
                }
                DeclKind::Struct { .. }
                | DeclKind::Enum
                | DeclKind::Interface { .. }
                | DeclKind::Const { .. }
                | DeclKind::Annotation { .. }
                | DeclKind::Using { .. } => {
                    if !nested_ok {
                        self.error(
                            file,
                            d.span,
                            "This kind of declaration doesn't belong here.",
                        );
                        continue;
                    }
                    let is_type = match &d.kind {
                        DeclKind::Struct { .. } | DeclKind::Enum | DeclKind::Interface { .. } => {
                            true
                        }
                        DeclKind::Using { target } => !using_target_is_lower(target),
                        _ => false,
                    };
                    self.check_name(file, d, is_type);
                    self.note_name(file, d, names);
                }
                DeclKind::Field { .. } | DeclKind::Enumerant | DeclKind::Method { .. } => {
                    self.check_name(file, d, false);
                    self.note_name(file, d, names);
                }
            }
        }
    }

    fn check_name(&mut self, file: usize, d: &Decl, is_type: bool) {
        let text = &d.name.text;
        let first = text.bytes().next().unwrap_or(b'a');
        if is_type && !first.is_ascii_uppercase() {
            self.error(
                file,
                d.name.span,
                "Type names must begin with a capital letter.",
            );
        } else if !is_type && !first.is_ascii_lowercase() {
            self.error(
                file,
                d.name.span,
                "Non-type names must begin with a lower-case letter.",
            );
        }
        if text.contains('_') {
            self.error(file, d.name.span, "Cap'n Proto declaration names should use camelCase and must not contain underscores. (Code generators may convert names to the appropriate style for the target language.)");
        }
    }

    fn note_name(&mut self, file: usize, d: &'a Decl, names: &mut FxHashMap<&'a str, Span>) {
        if let Some(prev) = names.get(d.name.text.as_str()) {
            let prev = *prev;
            self.error(
                file,
                d.name.span,
                format!("'{}' is already defined in this scope.", d.name.text),
            );
            self.error(
                file,
                prev,
                format!("'{}' previously defined here.", d.name.text),
            );
        } else {
            names.insert(&d.name.text, d.name.span);
        }
    }

    fn structure_struct(&mut self, n: NodeIdx) -> (Vec<NodeOut>, Pending<'a>) {
        let decl = self.nodes[n].decl.expect("struct nodes have declarations");
        let ctx = self.ctx(n);
        let file = ctx.file;
        let mut types: FxHashMap<usize, Option<OType>> = FxHashMap::default();
        let lay = {
            let mut size_of = |d: &'a Decl| -> SizeClass {
                let t = match &d.kind {
                    DeclKind::Field { ty, .. } => self.compile_type(ty, &ctx),
                    _ => None,
                };
                let class = size_class(t.as_ref());
                types.insert(decl_key(d), t);
                class
            };
            layout::layout_struct(&decl.members, &mut size_of)
        };
        for (span, msg) in &lay.errors {
            self.error(file, *span, msg.clone());
        }
        if lay.ordinals_out_of_order && !self.had_errors() {
            self.error(
                file,
                decl.name.span,
                "Internal compiler bug: Bootstrap schema failed validation: fields were not ordered by ordinal",
            );
        }
        let struct_id = self.nodes[n].id;
        let mut group_ids: Vec<u64> = Vec::with_capacity(lay.groups.len());
        for g in &lay.groups {
            let parent_id = match g.parent {
                None => struct_id,
                Some(p) => group_ids.get(p).copied().unwrap_or(struct_id),
            };
            group_ids.push(ids::group_id(parent_id, g.index));
        }
        let mut field_decls = Vec::new();
        let mut main = self.base_out(n, Body::File);
        let fields = self.scope_fields(&lay.root.fields, &group_ids, &mut types, &ctx);
        field_decls.push(lay.root.fields.iter().map(|f| f.decl).collect());
        main.body = Body::Struct(StructOut {
            data_word_count: lay.data_word_count,
            pointer_count: lay.pointer_count,
            is_group: false,
            discriminant_count: lay.root.discriminant_count,
            discriminant_offset: lay.root.discriminant_offset,
            fields,
        });
        let mut outs = vec![main];
        let mut display_names: Vec<String> = Vec::new();
        for (i, g) in lay.groups.iter().enumerate() {
            let (parent_id, parent_name) = match g.parent {
                None => (struct_id, self.nodes[n].display_name.clone()),
                Some(p) => (
                    group_ids.get(p).copied().unwrap_or(struct_id),
                    display_names.get(p).cloned().unwrap_or_default(),
                ),
            };
            let display_name = format!("{parent_name}.{}", g.decl.name.text);
            display_names.push(display_name.clone());
            let fields = self.scope_fields(&g.scope.fields, &group_ids, &mut types, &ctx);
            field_decls.push(g.scope.fields.iter().map(|f| f.decl).collect());
            outs.push(NodeOut {
                id: group_ids[i],
                display_name_prefix_length: parent_name.len() as u32 + 1,
                display_name,
                scope_id: parent_id,
                nested_nodes: None,
                annotations: None,
                parameters: None,
                is_generic: self.nodes[n].is_generic,
                start_byte: 0,
                end_byte: 0,
                body: Body::Struct(StructOut {
                    data_word_count: lay.data_word_count,
                    pointer_count: lay.pointer_count,
                    is_group: true,
                    discriminant_count: g.scope.discriminant_count,
                    discriminant_offset: g.scope.discriminant_offset,
                    fields,
                }),
                doc: g.decl.doc.clone(),
                source_range: (0, 0),
            });
        }
        (outs, Pending::Struct(field_decls))
    }

    fn scope_fields(
        &mut self,
        fields: &[layout::FieldLayout<'a>],
        group_ids: &[u64],
        types: &mut FxHashMap<usize, Option<OType>>,
        ctx: &Ctx,
    ) -> Vec<FieldOut> {
        let mut out = Vec::with_capacity(fields.len());
        for f in fields {
            let kind = match f.kind {
                FieldLayoutKind::Group { group } => FieldKind::Group {
                    type_id: group_ids.get(group).copied().unwrap_or(0),
                },
                FieldLayoutKind::Slot { offset } => {
                    let ty = types
                        .remove(&decl_key(f.decl))
                        .flatten()
                        .unwrap_or(OType::Void);
                    let (default, had) = match &f.decl.kind {
                        DeclKind::Field {
                            default: Some(e), ..
                        } => {
                            // Pointer defaults wait for the values phase (self-referential types).
                            let v = if ty.is_pointer() {
                                OValue::zero_of(&ty)
                            } else {
                                self.eval_value(e, &ty, ctx)
                            };
                            (v, true)
                        }
                        _ => (OValue::zero_of(&ty), false),
                    };
                    FieldKind::Slot {
                        offset,
                        ty,
                        default,
                        had_explicit_default: had,
                    }
                }
            };
            out.push(FieldOut {
                name: f.decl.name.text.to_string(),
                code_order: f.code_order,
                annotations: None,
                discriminant_value: f.discriminant_value,
                kind,
                explicit_ordinal: f.explicit_ordinal,
                doc: f.decl.doc.clone(),
            });
        }
        out
    }

    fn structure_enum(&mut self, n: NodeIdx) -> (Vec<NodeOut>, Pending<'a>) {
        let decls = self.decls_of(n);
        let file = self.nodes[n].file;
        let mut enumerants: Vec<(usize, &'a Decl)> = decls
            .iter()
            .filter(|d| matches!(d.kind, DeclKind::Enumerant))
            .enumerate()
            .collect();
        enumerants.sort_by_key(|(_, d)| d.ordinal.map_or(u16::MAX, |o| o.value));
        let mut checker = OrdinalChecker::new();
        let mut errors = Vec::new();
        for (_, d) in &enumerants {
            if let Some(o) = d.ordinal {
                checker.check(o, &mut errors);
            }
        }
        for (span, msg) in errors {
            self.error(file, span, msg);
        }
        let outs: Vec<EnumerantOut> = enumerants
            .iter()
            .map(|(i, d)| EnumerantOut {
                name: d.name.text.to_string(),
                code_order: *i as u16,
                annotations: None,
                doc: d.doc.clone(),
            })
            .collect();
        let mut out = self.base_out(n, Body::Enum(outs));
        out.nested_nodes = Some(Vec::new());
        (
            vec![out],
            Pending::Enum(enumerants.into_iter().map(|(_, d)| d).collect()),
        )
    }

    fn structure_interface(&mut self, n: NodeIdx) -> (Vec<NodeOut>, Pending<'a>) {
        let decl = self.nodes[n]
            .decl
            .expect("interface nodes have declarations");
        let ctx = self.ctx(n);
        let file = ctx.file;
        let mut superclasses = Vec::new();
        if let DeclKind::Interface { extends, .. } = &decl.kind {
            for e in extends {
                let sc = match self.resolve(e, &ctx) {
                    Some(Res::Decl(d, chain)) if self.nodes[d].kind == Kind::Interface => {
                        SuperclassOut {
                            id: self.nodes[d].id,
                            brand: self.brand_of(&chain),
                        }
                    }
                    Some(Res::Var(_)) => {
                        self.error(file, e.span, format!("'{e}' is an unbound generic parameter. Currently we don't support extending these."));
                        SuperclassOut { id: 0, brand: None }
                    }
                    Some(_) => {
                        self.error(file, e.span, format!("'{e}' is not an interface."));
                        SuperclassOut { id: 0, brand: None }
                    }
                    None => SuperclassOut { id: 0, brand: None },
                };
                superclasses.push(sc);
            }
        }
        let mut methods: Vec<(usize, &'a Decl)> = decl
            .members
            .iter()
            .filter(|d| matches!(d.kind, DeclKind::Method { .. }))
            .enumerate()
            .collect();
        methods.sort_by_key(|(_, d)| d.ordinal.map_or(u16::MAX, |o| o.value));
        let mut checker = OrdinalChecker::new();
        let mut errors = Vec::new();
        for (_, d) in &methods {
            if let Some(o) = d.ordinal {
                checker.check(o, &mut errors);
            }
        }
        for (span, msg) in errors {
            self.error(file, span, msg);
        }
        let mut aux = Vec::new();
        let mut lists = Vec::new();
        let mut method_outs = Vec::new();
        for (code_order, m) in &methods {
            let DeclKind::Method {
                implicit_params,
                params,
                results,
            } = &m.kind
            else {
                continue;
            };
            let ordinal = m.ordinal.map_or(0, |o| o.value);
            let implicit: Rc<Vec<String>> =
                Rc::new(implicit_params.iter().map(|p| p.text.to_string()).collect());
            let (param_type, param_brand) = self.method_list(
                n, m, params, false, ordinal, &implicit, &mut aux, &mut lists,
            );
            let results_list = results.as_ref().unwrap_or(&EMPTY_PARAMS);
            let (result_type, result_brand) = self.method_list(
                n,
                m,
                results_list,
                true,
                ordinal,
                &implicit,
                &mut aux,
                &mut lists,
            );
            method_outs.push(MethodOut {
                name: m.name.text.to_string(),
                code_order: *code_order as u16,
                implicit_parameters: implicit.to_vec(),
                param_struct_type: param_type,
                param_brand,
                result_struct_type: result_type,
                result_brand,
                annotations: None,
                doc: m.doc.clone(),
            });
        }
        let main = self.base_out(
            n,
            Body::Interface {
                methods: method_outs,
                superclasses,
            },
        );
        let mut outs = vec![main];
        outs.extend(aux);
        (
            outs,
            Pending::Interface {
                methods: methods.into_iter().map(|(_, d)| d).collect(),
                lists,
            },
        )
    }

    /// One parameter or result list of a method: a generated struct, a struct type, or `stream`.
    fn method_list(
        &mut self,
        n: NodeIdx,
        m: &'a Decl,
        list: &'a ParamList,
        is_results: bool,
        ordinal: u16,
        implicit: &Rc<Vec<String>>,
        aux: &mut Vec<NodeOut>,
        lists: &mut Vec<(usize, &'a [ParamDecl])>,
    ) -> (u64, Option<OBrand>) {
        let file = self.nodes[n].file;
        match list {
            ParamList::Stream(span) => {
                if !is_results {
                    self.error(
                        file,
                        *span,
                        "'stream' can only appear after '->', not before.",
                    );
                    return (0, None);
                }
                match self.stream_file {
                    None => self.error(file, *span, "A method declaration uses streaming, but '/capnp/stream.capnp' is not found in the import path. This is a standard file that should always be installed with the Cap'n Proto compiler."),
                    Some(f) => {
                        let fnode = self.file_node(f);
                        self.expand(fnode);
                        let has = self.nodes[fnode].members.as_ref().is_some_and(|m| matches!(m.by_name.get("StreamResult"), Some(Member::Node(_))));
                        if !has {
                            self.error(file, *span, "The version of '/capnp/stream.capnp' found in your import path does not appear to be the official one; it is missing the declaration of StreamResult.");
                        }
                    }
                }
                (STREAM_RESULT_ID, None)
            }
            ParamList::Type(e) => {
                let mut ctx = self.ctx(n);
                ctx.implicit = Some((implicit.clone(), ImplicitMode::Method));
                match self.resolve(e, &ctx) {
                    Some(Res::Decl(d, chain)) if self.nodes[d].kind == Kind::Struct => {
                        (self.nodes[d].id, self.brand_of(&chain))
                    }
                    Some(Res::Var(_)) => {
                        self.error(file, e.span, "Cannot use generic parameter as whole input or output of a method. Instead, use a parameter/result list containing a field with this type.");
                        (0, None)
                    }
                    Some(_) => {
                        self.error(file, e.span, format!("'{e}' is not a struct type."));
                        (0, None)
                    }
                    None => (0, None),
                }
            }
            ParamList::Inline { params, .. } => {
                let iface = &self.nodes[n];
                let id = ids::param_struct_id(iface.id, ordinal, is_results);
                let suffix = if is_results { "$Results" } else { "$Params" };
                let display_name = format!("{}.{}{}", iface.display_name, m.name.text, suffix);
                let prefix = iface.display_name.len() as u32 + 1;
                let is_generic = iface.is_generic || !implicit.is_empty();
                let mut ctx = self.ctx(n);
                ctx.implicit = Some((implicit.clone(), ImplicitMode::ParamStruct(id)));
                let mut types = Vec::new();
                let mut seen: FxHashMap<&str, ()> = FxHashMap::default();
                let mut duplicate = None;
                for p in params {
                    if seen.insert(p.name.text.as_str(), ()).is_some() && duplicate.is_none() {
                        duplicate = Some(p.name.text.clone());
                    }
                    types.push(self.compile_type(&p.ty, &ctx));
                }
                if let Some(name) = duplicate {
                    if !self.had_errors() {
                        let (f, span) = self.name_location(n);
                        self.error(f, span, format!("Internal compiler bug: Bootstrap schema failed validation: duplicate name {name}"));
                    }
                }
                let sizes: Vec<SizeClass> = types.iter().map(|t| size_class(t.as_ref())).collect();
                let lay = layout::layout_params(&sizes);
                let fields = params
                    .iter()
                    .zip(types)
                    .enumerate()
                    .map(|(i, (p, ty))| {
                        let ty = ty.unwrap_or(OType::Void);
                        FieldOut {
                            name: p.name.text.to_string(),
                            code_order: i as u16,
                            annotations: None,
                            discriminant_value: 0xffff,
                            kind: FieldKind::Slot {
                                offset: lay.offsets.get(i).copied().unwrap_or(0),
                                default: OValue::zero_of(&ty),
                                ty,
                                had_explicit_default: p.default.is_some(),
                            },
                            explicit_ordinal: Some(i as u16),
                            doc: None,
                        }
                    })
                    .collect();
                lists.push((aux.len() + 1, params.as_slice()));
                aux.push(NodeOut {
                    id,
                    display_name,
                    display_name_prefix_length: prefix,
                    scope_id: 0,
                    nested_nodes: None,
                    annotations: None,
                    parameters: if implicit.is_empty() {
                        None
                    } else {
                        Some(implicit.to_vec())
                    },
                    is_generic,
                    start_byte: 0,
                    end_byte: 0,
                    body: Body::Struct(StructOut {
                        data_word_count: lay.data_word_count,
                        pointer_count: lay.pointer_count,
                        is_group: false,
                        discriminant_count: 0,
                        discriminant_offset: 0,
                        fields,
                    }),
                    doc: None,
                    source_range: (0, 0),
                });
                let chain = self.context_chain(n);
                (id, self.brand_of(&chain))
            }
        }
    }

    fn values(&mut self, n: NodeIdx) {
        let kind = self.nodes[n].kind;
        let ctx = self.ctx(n);
        let pending = self.pending.remove(&n).unwrap_or(Pending::None);
        let (node_apps, node_target): (&'a [AnnotationApp], u16) = match self.nodes[n].decl {
            Some(d) => (
                &d.annotations,
                match kind {
                    Kind::Struct => target::STRUCT,
                    Kind::Enum => target::ENUM,
                    Kind::Interface => target::INTERFACE,
                    Kind::Const => target::CONST,
                    _ => target::ANNOTATION,
                },
            ),
            None => (
                &self.src.files[self.nodes[n].file].ast.annotations,
                target::FILE,
            ),
        };
        match pending {
            Pending::Struct(field_decls) => {
                for (o, decls) in field_decls.iter().enumerate() {
                    for (i, d) in decls.iter().enumerate() {
                        let tgt = match &d.kind {
                            DeclKind::Group => target::GROUP,
                            DeclKind::Union => target::UNION,
                            _ => target::FIELD,
                        };
                        let anns = self.compile_annotations(&d.annotations, tgt, &ctx);
                        let default = match &d.kind {
                            DeclKind::Field {
                                default: Some(e), ..
                            } => Some(e),
                            _ => None,
                        };
                        let ty = self.field_type(n, o, i);
                        let value = match (default, ty) {
                            (Some(e), Some(ty)) if ty.is_pointer() => {
                                Some(self.eval_value(e, &ty, &ctx))
                            }
                            _ => None,
                        };
                        if let Some(f) = self.field_mut(n, o, i) {
                            f.annotations = anns;
                            if let (Some(v), FieldKind::Slot { default, .. }) = (value, &mut f.kind)
                            {
                                *default = v;
                            }
                        }
                    }
                }
            }
            Pending::Enum(decls) => {
                for (i, d) in decls.iter().enumerate() {
                    let anns = self.compile_annotations(&d.annotations, target::ENUMERANT, &ctx);
                    if let Some(Body::Enum(e)) = self.out_body_mut(n, 0) {
                        if let Some(en) = e.get_mut(i) {
                            en.annotations = anns;
                        }
                    }
                }
            }
            Pending::Interface { methods, lists } => {
                for (i, m) in methods.iter().enumerate() {
                    let anns = self.compile_annotations(&m.annotations, target::METHOD, &ctx);
                    if let Some(Body::Interface { methods, .. }) = self.out_body_mut(n, 0) {
                        if let Some(mo) = methods.get_mut(i) {
                            mo.annotations = anns;
                        }
                    }
                }
                for (o, params) in lists {
                    for (i, p) in params.iter().enumerate() {
                        let anns = self.compile_annotations(&p.annotations, target::PARAM, &ctx);
                        let ty = self.field_type(n, o, i);
                        let value = match (&p.default, ty) {
                            (Some(e), Some(ty)) => Some(self.param_default(e, &ty, &ctx)),
                            _ => None,
                        };
                        if let Some(f) = self.field_mut(n, o, i) {
                            f.annotations = anns;
                            if let (Some(v), FieldKind::Slot { default, .. }) = (value, &mut f.kind)
                            {
                                *default = v;
                            }
                        }
                    }
                }
            }
            Pending::None => {}
        }
        if kind == Kind::Const {
            if let Some(DeclKind::Const { value, .. }) = self.nodes[n].decl.map(|d| &d.kind) {
                let ty = match self.out_body_mut(n, 0) {
                    Some(Body::Const { ty, .. }) => ty.clone(),
                    _ => OType::Void,
                };
                let v = self.eval_value(value, &ty, &ctx);
                if let Some(Body::Const { value, .. }) = self.out_body_mut(n, 0) {
                    *value = v;
                }
            }
        }
        let anns = self.compile_annotations(node_apps, node_target, &ctx);
        if let Some(out) = self.nodes[n].out.as_mut().and_then(|o| o.first_mut()) {
            out.annotations = anns;
        }
    }

    fn param_default(&mut self, e: &'a ast::Expr, ty: &OType, ctx: &Ctx) -> OValue {
        if let ExprKind::RelativeName(name) = &e.kind {
            if name.text == "null" {
                if !ty.is_pointer() {
                    self.error(
                        ctx.file,
                        name.span,
                        "Only pointer parameters can declare their default as 'null'.",
                    );
                }
                return OValue::zero_of(ty);
            }
        }
        self.eval_value(e, ty, ctx)
    }

    fn out_body_mut(&mut self, n: NodeIdx, o: usize) -> Option<&mut Body> {
        self.nodes[n]
            .out
            .as_mut()
            .and_then(|outs| outs.get_mut(o))
            .map(|out| &mut out.body)
    }

    fn field_mut(&mut self, n: NodeIdx, o: usize, i: usize) -> Option<&mut FieldOut> {
        match self.out_body_mut(n, o)? {
            Body::Struct(s) => s.fields.get_mut(i),
            _ => None,
        }
    }

    fn field_type(&mut self, n: NodeIdx, o: usize, i: usize) -> Option<OType> {
        match &self.field_mut(n, o, i)?.kind {
            FieldKind::Slot { ty, .. } => Some(ty.clone()),
            FieldKind::Group { .. } => None,
        }
    }

    /// 12.2: compiles annotation applications for a declaration of kind `tgt`.
    pub(crate) fn compile_annotations(
        &mut self,
        apps: &'a [AnnotationApp],
        tgt: u16,
        ctx: &Ctx,
    ) -> Option<Vec<OAnnotation>> {
        if apps.is_empty() {
            return None;
        }
        let mut out = Vec::with_capacity(apps.len());
        for app in apps {
            let Some(r) = self.resolve(&app.name, ctx) else {
                continue;
            };
            let Res::Decl(d, chain) = r else {
                self.error(
                    ctx.file,
                    app.name.span,
                    format!("'{}' is not an annotation.", app.name),
                );
                continue;
            };
            let targets = match self.nodes[d].decl.map(|decl| &decl.kind) {
                Some(DeclKind::Annotation { targets, .. }) => *targets,
                _ => {
                    self.error(
                        ctx.file,
                        app.name.span,
                        format!("'{}' is not an annotation.", app.name),
                    );
                    continue;
                }
            };
            if targets & tgt == 0 {
                self.error(
                    ctx.file,
                    app.name.span,
                    format!(
                        "'{}' cannot be applied to this kind of declaration.",
                        app.name
                    ),
                );
            }
            self.ensure_structure(d);
            let ty = match self.nodes[d]
                .out
                .as_ref()
                .and_then(|o| o.first())
                .map(|o| &o.body)
            {
                Some(Body::Annotation { ty, .. }) => ty.clone(),
                _ => OType::Void,
            };
            let ty = self.substitute(&ty, &chain);
            let value = match &app.value {
                None => {
                    if ty != OType::Void {
                        self.error(
                            ctx.file,
                            app.name.span,
                            format!("'{}' requires a value.", app.name),
                        );
                    }
                    OValue::zero_of(&ty)
                }
                // `$a()` has no location of its own: the reference reports a mismatch at 1:1.
                Some(v)
                    if matches!(&v.kind, ExprKind::Tuple(p) if p.is_empty())
                        && !matches!(ty, OType::Struct(..)) =>
                {
                    let name = self.type_name(&ty);
                    self.error(
                        ctx.file,
                        Span::at(0),
                        format!("Type mismatch; expected {name}."),
                    );
                    OValue::zero_of(&ty)
                }
                Some(v) => self.eval_value(v, &ty, ctx),
            };
            let brand = self.brand_of(&chain).unwrap_or_default();
            out.push(OAnnotation {
                id: self.nodes[d].id,
                brand,
                value,
            });
        }
        Some(out)
    }
}

/// For `using X = a.b;`: whether the target's final name starts with a lower-case letter.
fn using_target_is_lower(e: &ast::Expr) -> bool {
    let name = match &e.kind {
        ExprKind::Member(_, n) | ExprKind::RelativeName(n) | ExprKind::AbsoluteName(n) => {
            Some(&n.text)
        }
        ExprKind::Application(f, _) => return using_target_is_lower(f),
        _ => None,
    };
    name.and_then(|n| n.bytes().next())
        .is_some_and(|b| b.is_ascii_lowercase())
}
