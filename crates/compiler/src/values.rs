//! Values: literals, lists, struct tuples, constant references and embeds, evaluated against an
//! expected type and encoded exactly as the reference encodes them (section 11).

use rustc_hash::FxHashMap as HashMap;
use std::rc::Rc;

use crate::ast::{Expr, ExprKind, Param};
use crate::compiler::{Compiler, Ctx, InheritFrom, Kind, NodeIdx, Phase, Res, MAX_VALUE_WORDS};
use crate::diag::Span;
use crate::model::{AnyPtr, Body, FieldKind, FieldOut, ListObj, OType, OValue, Obj, StructObj};

/// A value before it is checked against the expected type (11.2).
enum Raw<'e> {
    Void,
    Bool(bool),
    Int(i128),
    Float(f64),
    Text(Vec<u8>),
    Data(Vec<u8>),
    /// An enumerant of the expected enum type.
    Enumerant(OType, OValue),
    /// A constant: a value that already has a type.
    Typed(OType, OValue),
    List(&'e [Expr]),
    Tuple(&'e [Param]),
}

/// Struct layout facts needed to encode a value of a struct type (one per struct or group,
/// shared by every value of that type).
pub(crate) struct ScopeInfo {
    fields: Vec<FieldOut>,
    by_name: HashMap<String, usize>,
    discriminant_offset: u32,
}

impl ScopeInfo {
    fn field(&self, name: &str) -> Option<&FieldOut> {
        self.by_name.get(name).and_then(|&i| self.fields.get(i))
    }
}

const MAX_VALUE_DEPTH: u32 = 64;

impl<'a> Compiler<'a> {
    /// Evaluates `e` as a value of type `ty`; errors are reported and give the type's zero value.
    pub(crate) fn eval_value(&mut self, e: &'a Expr, ty: &OType, ctx: &Ctx) -> OValue {
        self.value_at_depth(e, ty, ctx, 0)
            .unwrap_or_else(|| OValue::zero_of(ty))
    }

    fn value_at_depth(&mut self, e: &'a Expr, ty: &OType, ctx: &Ctx, depth: u32) -> Option<OValue> {
        if depth > MAX_VALUE_DEPTH {
            self.error(ctx.file, e.span, "Value is nested too deeply.");
            return None;
        }
        if let OType::AnyPointer(AnyPtr::Param { .. } | AnyPtr::ImplicitMethodParam { .. }) = ty {
            self.error(ctx.file, e.span, "Cannot interpret value because the type is a generic type parameter which is not yet bound. We don't know what type to expect here.");
            return None;
        }
        if let ExprKind::Embed(path) = &e.kind {
            return self.embed_value(e, path, ty, ctx);
        }
        let raw = self.raw_value(e, ty, ctx)?;
        match self.fit(&raw, ty, ctx, depth, e.span)? {
            Some(v) => Some(v),
            None => {
                if let Some(v) = self.first_field(&raw, ty, ctx, depth, e.span)? {
                    return Some(v);
                }
                let name = self.type_name(ty);
                self.error(ctx.file, e.span, format!("Type mismatch; expected {name}."));
                None
            }
        }
    }

    fn raw_value(&mut self, e: &'a Expr, hint: &OType, ctx: &Ctx) -> Option<Raw<'a>> {
        Some(match &e.kind {
            ExprKind::PositiveInt(v) => Raw::Int(i128::from(*v)),
            ExprKind::NegativeInt(m) => {
                if *m > 1u64 << 63 {
                    self.error(ctx.file, e.span, "Integer is too big to be negative.");
                    return None;
                }
                Raw::Int(-i128::from(*m))
            }
            ExprKind::Float(f) => Raw::Float(*f),
            ExprKind::String(s) => Raw::Text(s.clone()),
            ExprKind::Binary(b) => Raw::Data(b.clone()),
            ExprKind::List(items) => Raw::List(items),
            ExprKind::Tuple(params) => Raw::Tuple(params),
            ExprKind::RelativeName(n) => {
                if let OType::Enum(id, _) = hint {
                    if let Some(ord) = self.enumerant(*id, &n.text) {
                        return Some(Raw::Enumerant(hint.clone(), OValue::Enum(ord)));
                    }
                } else {
                    match n.text.as_str() {
                        "void" => return Some(Raw::Void),
                        "true" => return Some(Raw::Bool(true)),
                        "false" => return Some(Raw::Bool(false)),
                        "inf" => return Some(Raw::Float(f64::INFINITY)),
                        "nan" => return Some(Raw::Float(f64::NAN)),
                        _ => {}
                    }
                }
                self.const_ref(e, ctx, true)?
            }
            _ => self.const_ref(e, ctx, false)?,
        })
    }

    /// The ordinal of enumerant `name` of the enum with this id.
    fn enumerant(&self, enum_id: u64, name: &str) -> Option<u16> {
        let n = *self.by_id.get(&enum_id)?;
        self.nodes[n]
            .decl?
            .members
            .iter()
            .find(|d| d.name.text == name)
            .and_then(|d| d.ordinal.map(|o| o.value))
    }

    /// 11.4: a reference to a constant.
    fn const_ref(&mut self, e: &'a Expr, ctx: &Ctx, bare: bool) -> Option<Raw<'a>> {
        let r = self.resolve(e, ctx)?;
        let n = match r {
            Res::Decl(n, _) if self.nodes[n].kind == Kind::Const => n,
            _ => {
                self.error(
                    ctx.file,
                    e.span,
                    format!("'{e}' does not refer to a constant."),
                );
                return None;
            }
        };
        if bare {
            let parent = self.nodes[n].parent;
            match parent {
                Some(p)
                    if self.nodes[p].kind != Kind::File
                        && matches!(self.nodes[p].phase, Phase::Structure | Phase::Values) =>
                {
                    self.recursion_error(p);
                }
                _ => {
                    let scope = parent.map_or(String::new(), |p| {
                        let node = &self.nodes[p];
                        if node.kind == Kind::File {
                            String::new()
                        } else {
                            node.display_name[node.prefix_len as usize..].to_string()
                        }
                    });
                    self.error(ctx.file, e.span, format!("Constant names must be qualified to avoid confusion.  Please replace '{e}' with '{scope}.{e}', if that's what you intended."));
                }
            }
        }
        if !self.ensure_done(n) {
            return None;
        }
        let (ty, value) = match self.nodes[n]
            .out
            .as_ref()
            .and_then(|o| o.first())
            .map(|o| &o.body)
        {
            Some(Body::Const { ty, value }) => (ty.clone(), value.clone()),
            _ => return None,
        };
        // A constant nested in a generic is seen with its enclosing parameters unbound, as the
        // reference loads it: they read as AnyPointer, and `inherit` scopes of its type become
        // empty ones (so `const k :Inner` fits the field `inner` of a `Gen` value, not a field
        // `:Inner` declared in Gen).
        let ty = if self.nodes[n].is_generic {
            let outside = self.unbound_chain(n);
            self.substitute(&ty, &outside)
        } else {
            ty
        };
        // Every use copies the constant's value: count it against the budget.
        let words = value.to_obj().flatten().map_or(0, |o| obj_words(&o));
        if !self.charge(words, n) {
            return None;
        }
        Some(Raw::Typed(ty, value))
    }

    /// Checks a raw value against a type. `Some(None)` is a mismatch (not yet reported).
    fn fit(
        &mut self,
        raw: &Raw<'a>,
        ty: &OType,
        ctx: &Ctx,
        depth: u32,
        span: Span,
    ) -> Option<Option<OValue>> {
        let v = match (raw, ty) {
            (Raw::Void, OType::Void) => OValue::Void,
            (Raw::Bool(b), OType::Bool) => OValue::Bool(*b),
            (Raw::Int(i), _) if is_numeric(ty) => return Some(self.fit_int(*i, ty, ctx, span)),
            (Raw::Float(f), OType::Float32) => OValue::Float32((*f as f32).to_bits()),
            (Raw::Float(f), OType::Float64) => OValue::Float64(f.to_bits()),
            (Raw::Text(t), OType::Text) => OValue::Text(Some(t.clone())),
            (Raw::Text(t) | Raw::Data(t), OType::Data) => OValue::Data(Some(t.clone())),
            (Raw::List(items), OType::List(elem)) => {
                OValue::List(Some(self.list_value(items, elem, ctx, depth)))
            }
            (Raw::Tuple(params), OType::Struct(id, _)) => {
                let obj = self.struct_value(*id, ty, params, ctx, depth)?;
                OValue::Struct(Some(Obj::Struct(obj)))
            }
            (Raw::Typed(t, v), _) => return Some(self.fit_typed(t, v, ty, ctx, span, true)),
            (Raw::Enumerant(t, v), _) => return Some(self.fit_typed(t, v, ty, ctx, span, false)),
            _ => return Some(None),
        };
        Some(Some(v))
    }

    fn fit_typed(
        &mut self,
        t: &OType,
        v: &OValue,
        ty: &OType,
        ctx: &Ctx,
        span: Span,
        from_const: bool,
    ) -> Option<OValue> {
        if is_numeric(t) && is_numeric(ty) {
            let raw = match v {
                OValue::Int8(x) => Raw::Int(i128::from(*x)),
                OValue::Int16(x) => Raw::Int(i128::from(*x)),
                OValue::Int32(x) => Raw::Int(i128::from(*x)),
                OValue::Int64(x) => Raw::Int(i128::from(*x)),
                OValue::UInt8(x) => Raw::Int(i128::from(*x)),
                OValue::UInt16(x) => Raw::Int(i128::from(*x)),
                OValue::UInt32(x) => Raw::Int(i128::from(*x)),
                OValue::UInt64(x) => Raw::Int(i128::from(*x)),
                OValue::Float32(b) => Raw::Float(f64::from(f32::from_bits(*b))),
                OValue::Float64(b) => Raw::Float(f64::from_bits(*b)),
                _ => return None,
            };
            return match (&raw, ty) {
                (Raw::Int(i), _) => self.fit_int(*i, ty, ctx, span),
                (Raw::Float(f), OType::Float32) => Some(OValue::Float32((*f as f32).to_bits())),
                (Raw::Float(f), OType::Float64) => Some(OValue::Float64(f.to_bits())),
                _ => None,
            };
        }
        let same_kind = std::mem::discriminant(t) == std::mem::discriminant(ty);
        match ty {
            OType::Void | OType::Bool | OType::Text | OType::Data if same_kind => Some(v.clone()),
            OType::List(_) if t == ty => Some(v.clone()),
            // The reference accepts enumerant names but never a constant of enum type.
            OType::Enum(..) if !from_const => Some(v.clone()),
            OType::Struct(..) if t == ty => Some(v.clone()),
            OType::AnyPointer(kind) => {
                // A type variable is only reached here through the first-field rule (values of a
                // variable's type are refused earlier); there it takes what AnyPointer takes.
                let any = matches!(
                    kind,
                    AnyPtr::AnyKind | AnyPtr::Param { .. } | AnyPtr::ImplicitMethodParam { .. }
                );
                let ok = match t {
                    OType::List(_) => any || *kind == AnyPtr::List,
                    OType::Struct(..) => any || *kind == AnyPtr::Struct,
                    OType::AnyPointer(k) => k == kind,
                    _ => false,
                };
                if ok {
                    v.to_obj().map(OValue::AnyPointer)
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    fn fit_int(&mut self, i: i128, ty: &OType, ctx: &Ctx, span: Span) -> Option<OValue> {
        let range = |lo: i128, hi: i128| i >= lo && i <= hi;
        let v = match ty {
            OType::Int8 if range(i8::MIN.into(), i8::MAX.into()) => OValue::Int8(i as i8),
            OType::Int16 if range(i16::MIN.into(), i16::MAX.into()) => OValue::Int16(i as i16),
            OType::Int32 if range(i32::MIN.into(), i32::MAX.into()) => OValue::Int32(i as i32),
            OType::Int64 if range(i64::MIN.into(), i64::MAX.into()) => OValue::Int64(i as i64),
            OType::UInt8 if range(0, u8::MAX.into()) => OValue::UInt8(i as u8),
            OType::UInt16 if range(0, u16::MAX.into()) => OValue::UInt16(i as u16),
            OType::UInt32 if range(0, u32::MAX.into()) => OValue::UInt32(i as u32),
            OType::UInt64 if range(0, u64::MAX.into()) => OValue::UInt64(i as u64),
            OType::Float32 => OValue::Float32((i as f64 as f32).to_bits()),
            OType::Float64 => OValue::Float64((i as f64).to_bits()),
            _ if is_numeric(ty) => {
                self.error(ctx.file, span, "Integer value out of range.");
                OValue::zero_of(ty)
            }
            _ => return None,
        };
        Some(v)
    }

    /// 11.2 first-field rule: a value that fits the first field of the expected struct.
    fn first_field(
        &mut self,
        raw: &Raw<'a>,
        ty: &OType,
        ctx: &Ctx,
        depth: u32,
        span: Span,
    ) -> Option<Option<OValue>> {
        let OType::Struct(id, _) = ty else {
            return Some(None);
        };
        if !takes_first_field(raw) {
            return Some(None);
        }
        let Some(info) = self.scope_info(*id, *id) else {
            return Some(None);
        };
        let Some(first) = info.fields.first().cloned() else {
            return Some(None);
        };
        let FieldKind::Slot { ty: fty, .. } = &first.kind else {
            return Some(None);
        };
        let fty = self.field_type_in(ty, fty, ctx);
        if matches!((raw, &fty), (Raw::Text(_), OType::Data)) {
            return Some(None);
        }
        let v = match self.fit(raw, &fty, ctx, depth + 1, span)? {
            Some(v) => v,
            None => return Some(None),
        };
        let mut obj = self.empty_struct(*id)?;
        write_field(&mut obj, &first, &info, &v);
        Some(Some(OValue::Struct(Some(Obj::Struct(obj)))))
    }

    /// A field's type with the generic parameters of the struct type `owner` substituted (11.3):
    /// the owner's brand binds them; its `inherit` scopes, and those of the field's own brand,
    /// stand for the levels of the context the value is written in.
    fn field_type_in(&mut self, owner: &OType, fty: &OType, ctx: &Ctx) -> OType {
        let OType::Struct(id, brand) = owner else {
            return fty.clone();
        };
        let Some(&n) = self.by_id.get(id) else {
            return fty.clone();
        };
        if brand.is_none() && !self.nodes[n].is_generic {
            return fty.clone();
        }
        match self.rebuild_decl(n, brand.as_ref(), Some(&ctx.chain), InheritFrom::Value) {
            Res::Decl(_, chain) => self.substitute(fty, &chain),
            _ => fty.clone(),
        }
    }

    /// Fields and discriminant offset of a struct (or one of its groups) by id.
    fn scope_info(&mut self, struct_id: u64, scope_id: u64) -> Option<Rc<ScopeInfo>> {
        if let Some(info) = self.scope_cache.get(&scope_id) {
            return Some(info.clone());
        }
        let n = *self.by_id.get(&struct_id)?;
        if !self.ensure_structure(n) {
            return None;
        }
        let outs = self.nodes[n].out.as_ref()?;
        let out = outs.iter().find(|o| o.id == scope_id)?;
        let info = match &out.body {
            Body::Struct(s) => Rc::new(ScopeInfo {
                by_name: s
                    .fields
                    .iter()
                    .enumerate()
                    .map(|(i, f)| (f.name.clone(), i))
                    .collect(),
                fields: s.fields.clone(),
                discriminant_offset: s.discriminant_offset,
            }),
            _ => return None,
        };
        self.scope_cache.insert(scope_id, info.clone());
        Some(info)
    }

    fn empty_struct(&mut self, struct_id: u64) -> Option<StructObj> {
        let n = *self.by_id.get(&struct_id)?;
        let (dw, pc) = match &self.nodes[n].out.as_ref()?.first()?.body {
            Body::Struct(s) => (usize::from(s.data_word_count), usize::from(s.pointer_count)),
            _ => return None,
        };
        if !self.charge((dw + pc) as u64, n) {
            return None;
        }
        Some(StructObj {
            data: vec![0; dw * 8],
            ptrs: vec![None; pc],
        })
    }

    /// Accounts for value data about to be built; false (with one error) past the budget.
    fn charge(&mut self, words: u64, at: NodeIdx) -> bool {
        self.value_words = self.value_words.saturating_add(words);
        if self.value_words <= MAX_VALUE_WORDS {
            return true;
        }
        if self.value_words.saturating_sub(words) <= MAX_VALUE_WORDS {
            let (file, span) = self.name_location(at);
            self.error(
                file,
                span,
                "Values in this schema are too large (more than 512 MiB in total).",
            );
        }
        false
    }

    fn struct_value(
        &mut self,
        id: u64,
        ty: &OType,
        params: &'a [Param],
        ctx: &Ctx,
        depth: u32,
    ) -> Option<StructObj> {
        let info = self.scope_info(id, id)?;
        let mut obj = self.empty_struct(id)?;
        self.fill_scope(&mut obj, id, ty, &info, params, ctx, depth);
        Some(obj)
    }

    fn fill_scope(
        &mut self,
        obj: &mut StructObj,
        struct_id: u64,
        ty: &OType,
        info: &ScopeInfo,
        params: &'a [Param],
        ctx: &Ctx,
        depth: u32,
    ) {
        for p in params {
            let Some(name) = &p.name else {
                self.error(ctx.file, p.value.span, "Missing field name.");
                continue;
            };
            let Some(field) = info.field(&name.text) else {
                self.error(
                    ctx.file,
                    name.span,
                    format!("Struct has no field named '{}'.", name.text),
                );
                continue;
            };
            match &field.kind {
                FieldKind::Slot { ty: fty, .. } => {
                    let fty = self.field_type_in(ty, fty, ctx);
                    let Some(v) = self.value_at_depth(&p.value, &fty, ctx, depth + 1) else {
                        set_discriminant(obj, field, info);
                        continue;
                    };
                    write_field(obj, field, info, &v);
                }
                FieldKind::Group { type_id } => {
                    set_discriminant(obj, field, info);
                    let Some(ginfo) = self.scope_info(struct_id, *type_id) else {
                        continue;
                    };
                    if let ExprKind::Tuple(inner) = &p.value.kind {
                        self.fill_scope(obj, struct_id, ty, &ginfo, inner, ctx, depth + 1);
                        continue;
                    }
                    let group_ty = OType::Struct(*type_id, None);
                    let Some(raw) = self.raw_value(&p.value, &group_ty, ctx) else {
                        continue;
                    };
                    if !takes_first_field(&raw) {
                        let name = self.group_name(struct_id, *type_id);
                        self.error(
                            ctx.file,
                            p.value.span,
                            format!("Type mismatch; expected {name}."),
                        );
                        continue;
                    }
                    let first = ginfo.fields.first().cloned();
                    let fitted = match &first {
                        Some(
                            f @ FieldOut {
                                kind: FieldKind::Slot { ty: fty, .. },
                                ..
                            },
                        ) => {
                            let fty = self.field_type_in(ty, fty, ctx);
                            if matches!((&raw, &fty), (Raw::Text(_), OType::Data)) {
                                None
                            } else {
                                self.fit(&raw, &fty, ctx, depth + 1, p.value.span)
                                    .flatten()
                                    .map(|v| (f.clone(), v))
                            }
                        }
                        _ => None,
                    };
                    match fitted {
                        Some((f, v)) => write_field(obj, &f, &ginfo, &v),
                        None => {
                            self.error(ctx.file, p.value.span, "Type mismatch; expected group.");
                        }
                    }
                }
            }
        }
    }

    fn list_value(&mut self, items: &'a [Expr], elem: &OType, ctx: &Ctx, depth: u32) -> Obj {
        if !self.charge(items.len() as u64 / 8 + 1, ctx.scope) {
            return Obj::List(ListObj::Void(0));
        }
        let mut values = Vec::with_capacity(items.len());
        for item in items {
            let v = self
                .value_at_depth(item, elem, ctx, depth + 1)
                .unwrap_or_else(|| OValue::zero_of(elem));
            values.push(v);
        }
        use crate::model::DataWidth;
        Obj::List(match elem.width() {
            DataWidth::Void => ListObj::Void(values.len() as u32),
            DataWidth::Bit => ListObj::Bits(
                values
                    .iter()
                    .map(|v| matches!(v, OValue::Bool(true)))
                    .collect(),
            ),
            DataWidth::Byte | DataWidth::Two | DataWidth::Four | DataWidth::Eight => {
                let width = match elem.width() {
                    DataWidth::Byte => 1,
                    DataWidth::Two => 2,
                    DataWidth::Four => 4,
                    _ => 8,
                };
                let mut data = Vec::new();
                for v in &values {
                    let mut b = v.data_bytes().unwrap_or_default();
                    b.resize(width, 0);
                    data.extend_from_slice(&b);
                }
                ListObj::Bytes {
                    width: width as u8,
                    data,
                }
            }
            DataWidth::Pointer => match elem {
                OType::Struct(id, _) => {
                    let empty = self.empty_struct(*id).unwrap_or_default();
                    let elems = values
                        .into_iter()
                        .map(|v| match v {
                            OValue::Struct(Some(Obj::Struct(mut s))) => {
                                s.data.resize(empty.data.len(), 0);
                                s.ptrs.resize(empty.ptrs.len(), None);
                                s
                            }
                            _ => empty.clone(),
                        })
                        .collect();
                    ListObj::Structs {
                        data_words: (empty.data.len() / 8) as u16,
                        ptr_count: empty.ptrs.len() as u16,
                        elems,
                    }
                }
                _ => ListObj::Pointers(values.iter().map(|v| v.to_obj().flatten()).collect()),
            },
        })
    }

    /// 11.5: `embed "path"` as Text, Data or a struct message.
    fn embed_value(
        &mut self,
        e: &'a Expr,
        path: &crate::ast::StringLit,
        ty: &OType,
        ctx: &Ctx,
    ) -> Option<OValue> {
        let spec = String::from_utf8_lossy(&path.value).into_owned();
        let file = &self.src.files[ctx.file];
        let bytes = self
            .loader
            .resolve(&file.root, &file.name, &spec)
            .map(|l| l.text);
        let Some(bytes) = bytes else {
            self.error(
                ctx.file,
                path.span,
                format!("Couldn't read file for embed: {spec}"),
            );
            return None;
        };
        match ty {
            OType::Text => Some(OValue::Text(Some(bytes))),
            OType::Data => Some(OValue::Data(Some(bytes))),
            OType::Struct(..) => match crate::wire::decode_root(&bytes) {
                Some(obj) => Some(OValue::Struct(Some(obj))),
                None => {
                    self.error(
                        ctx.file,
                        e.span,
                        "Embedded file is not a valid Cap'n Proto message.",
                    );
                    None
                }
            },
            _ => {
                self.error(
                    ctx.file,
                    e.span,
                    "Embeds can only be used when Text, Data, or a struct is expected.",
                );
                None
            }
        }
    }

    /// The type's name as quoted in "Type mismatch" errors.
    pub(crate) fn type_name(&self, ty: &OType) -> String {
        match ty {
            OType::Void => "Void".into(),
            OType::Bool => "Bool".into(),
            OType::Int8 => "Int8".into(),
            OType::Int16 => "Int16".into(),
            OType::Int32 => "Int32".into(),
            OType::Int64 => "Int64".into(),
            OType::UInt8 => "UInt8".into(),
            OType::UInt16 => "UInt16".into(),
            OType::UInt32 => "UInt32".into(),
            OType::UInt64 => "UInt64".into(),
            OType::Float32 => "Float32".into(),
            OType::Float64 => "Float64".into(),
            OType::Text => "Text".into(),
            OType::Data => "Data".into(),
            OType::List(e) => format!("List({})", self.type_name(e)),
            OType::AnyPointer(_) => "AnyPointer".into(),
            OType::Enum(id, _) | OType::Struct(id, _) | OType::Interface(id, _) => {
                match self.by_id.get(id) {
                    Some(&n) => self.unqualified_name(n),
                    None => "?".into(),
                }
            }
        }
    }

    /// The unqualified name of group `group_id` of struct `struct_id`, for mismatch errors.
    fn group_name(&self, struct_id: u64, group_id: u64) -> String {
        let outs = self
            .by_id
            .get(&struct_id)
            .and_then(|&n| self.nodes[n].out.as_ref());
        outs.and_then(|outs| outs.iter().find(|o| o.id == group_id))
            .and_then(|o| {
                o.display_name
                    .get(o.display_name_prefix_length as usize..)
                    .map(str::to_string)
            })
            .unwrap_or_else(|| "group".into())
    }

    fn unqualified_name(&self, n: NodeIdx) -> String {
        let node = &self.nodes[n];
        node.display_name
            .get(node.prefix_len as usize..)
            .unwrap_or("")
            .to_string()
    }
}

/// Whether a raw value that does not fit a struct type may still initialize its first field
/// (11.2): list and data literals are checked against the expected type alone, as the reference
/// does.
fn takes_first_field(raw: &Raw<'_>) -> bool {
    !matches!(raw, Raw::List(_) | Raw::Data(_))
}

/// Size of an object tree in words, for the value budget.
fn obj_words(o: &Obj) -> u64 {
    let ptrs = |ps: &[Option<Obj>]| -> u64 { ps.iter().flatten().map(obj_words).sum() };
    match o {
        Obj::Struct(s) => (s.data.len() / 8 + s.ptrs.len()) as u64 + ptrs(&s.ptrs),
        Obj::List(ListObj::Void(_)) => 1,
        Obj::List(ListObj::Bits(b)) => (b.len() / 64 + 1) as u64,
        Obj::List(ListObj::Bytes { data, .. }) => (data.len() / 8 + 1) as u64,
        Obj::List(ListObj::Pointers(p)) => p.len() as u64 + ptrs(p),
        Obj::List(ListObj::Structs { elems, .. }) => {
            elems
                .iter()
                .map(|e| (e.data.len() / 8 + e.ptrs.len()) as u64 + ptrs(&e.ptrs))
                .sum::<u64>()
                + 1
        }
    }
}

fn is_numeric(t: &OType) -> bool {
    matches!(
        t,
        OType::Int8
            | OType::Int16
            | OType::Int32
            | OType::Int64
            | OType::UInt8
            | OType::UInt16
            | OType::UInt32
            | OType::UInt64
            | OType::Float32
            | OType::Float64
    )
}

fn set_discriminant(obj: &mut StructObj, field: &FieldOut, info: &ScopeInfo) {
    if field.discriminant_value == 0xffff {
        return;
    }
    let at = info.discriminant_offset as usize * 2;
    if let Some(slot) = obj.data.get_mut(at..at + 2) {
        slot.copy_from_slice(&field.discriminant_value.to_le_bytes());
    }
}

/// Stores a field's value into a struct, XOR-ed with its default, and sets its union discriminant.
fn write_field(obj: &mut StructObj, field: &FieldOut, info: &ScopeInfo, v: &OValue) {
    set_discriminant(obj, field, info);
    let FieldKind::Slot {
        offset,
        default,
        ty,
        ..
    } = &field.kind
    else {
        return;
    };
    let offset = *offset as usize;
    if let OValue::Bool(b) = v {
        let d = matches!(default, OValue::Bool(true));
        let (byte, bit) = (offset / 8, offset % 8);
        if let Some(slot) = obj.data.get_mut(byte) {
            if *b != d {
                *slot |= 1 << bit;
            } else {
                *slot &= !(1 << bit);
            }
        }
        return;
    }
    if let Some(bytes) = v.data_bytes() {
        let dbytes = default.data_bytes().unwrap_or_default();
        let w = bytes.len();
        let at = offset * w;
        if let Some(slot) = obj.data.get_mut(at..at + w) {
            for (i, s) in slot.iter_mut().enumerate() {
                *s = bytes[i] ^ dbytes.get(i).copied().unwrap_or(0);
            }
        }
        return;
    }
    if ty.is_pointer() {
        if let Some(p) = obj.ptrs.get_mut(offset) {
            *p = v.to_obj().flatten();
        }
    }
}
