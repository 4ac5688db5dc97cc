//! The JSON codec, compatible with the reference's `capnp::JsonCodec` with
//! `handleByAnnotation` (what `capnp convert` uses): `/capnp/compat/json.capnp` annotations
//! (`$Json.name`, `$Json.flatten`, `$Json.discriminator`, `$Json.base64`, `$Json.hex`),
//! 64-bit integers as strings, `"NaN"`/`"Infinity"`, Data as arrays of numbers, enums by name.

mod annotations;
mod tree;
mod value;

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::error::{Error, Result};
use crate::list::{ListBuilder, ListReader};
use crate::schema::{FieldKind, Registry, StructSchema, Type};
use crate::struct_::{StructBuilder, StructReader};
use crate::value::{ListValue, SetValue, StructValue, Value};
use annotations::{Blob, Discriminator};
use tree::{Json, Out};

/// Nesting deeper than this is an error (the reference's default `maxNestingDepth` is 64;
/// ours is larger but still bounds recursion).
const MAX_DEPTH: u32 = 1000;
const RED_ZONE: usize = 64 * 1024;
const STACK_GROWTH: usize = 1024 * 1024;

/// Options of a decode.
#[derive(Clone, Copy, Debug, Default)]
pub struct DecodeOptions {
    /// Fail on object members naming no field (the reference ignores them by default).
    pub reject_unknown_fields: bool,
}

fn failed(path: &str, message: impl std::fmt::Display) -> Error {
    let at = if path.is_empty() { "$" } else { path };
    Error::Capnp(capnp::Error::failed(format!("JSON at {at}: {message}")))
}

/// What a JSON member name means to a struct (the reference's `FieldNameInfo`).
#[derive(Clone, Debug)]
enum NameKind {
    Normal(usize),
    /// A member of the flattened struct or group field `index`, its name after `prefix_len`.
    Flattened {
        index: usize,
        prefix_len: usize,
    },
    UnionTag,
    /// A member of a flattened union variant: parsed once the tag has been seen.
    FlattenedFromUnion {
        prefix_len: usize,
    },
    UnionValue,
}

#[derive(Debug)]
struct FieldInfo {
    name: String,
    name_for_discriminant: String,
    flatten: Option<(Rc<Handler>, String)>,
    blob: Blob,
}

/// How one struct type is written and read (the reference's `AnnotatedHandler`).
#[derive(Debug)]
struct Handler {
    schema: Arc<StructSchema>,
    fields: Vec<FieldInfo>,
    by_name: FxHashMap<String, NameKind>,
    tag_values: FxHashMap<String, usize>,
    tag_name: Option<String>,
}

/// A JSON codec over one registry; handlers are built once per struct type.
pub struct JsonCodec {
    registry: Arc<Registry>,
    handlers: RefCell<FxHashMap<u64, Rc<Handler>>>,
    loading: RefCell<HashSet<u64>>,
    enums: RefCell<FxHashMap<u64, Rc<Vec<String>>>>,
    pretty: bool,
    options: DecodeOptions,
    /// Whether the json.capnp annotations apply (`handleByAnnotation`); `capnp eval` has none.
    annotated: bool,
}

impl std::fmt::Debug for JsonCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JsonCodec")
    }
}

/// A struct's JSON text (one line when `pretty` is false).
pub fn struct_to_json(r: &StructReader, pretty: bool) -> Result<Vec<u8>> {
    let mut codec = JsonCodec::new(r.registry().clone());
    codec.set_pretty(pretty);
    codec.encode(r)
}

/// Fills `b` from one JSON object.
pub fn json_to_struct(text: &[u8], b: &StructBuilder, options: DecodeOptions) -> Result<()> {
    let mut codec = JsonCodec::new(b.registry().clone());
    codec.options = options;
    codec.decode(text, b)
}

/// Splits a stream of concatenated JSON objects into the byte ranges of each.
pub fn split_stream(text: &[u8]) -> Vec<std::result::Result<std::ops::Range<usize>, String>> {
    let mut out = Vec::new();
    let mut stream =
        serde_json::Deserializer::from_slice(text).into_iter::<serde::de::IgnoredAny>();
    let mut start = 0;
    loop {
        // Skip whitespace so ranges start at the value.
        while start < text.len() && text[start].is_ascii_whitespace() {
            start += 1;
        }
        match stream.next() {
            None => break,
            Some(Ok(_)) => {
                let end = stream.byte_offset();
                out.push(Ok(start..end));
                start = end;
            }
            Some(Err(e)) => {
                out.push(Err(e.to_string()));
                break;
            }
        }
    }
    out
}

impl JsonCodec {
    pub fn new(registry: Arc<Registry>) -> Self {
        JsonCodec {
            registry,
            handlers: RefCell::default(),
            loading: RefCell::default(),
            enums: RefCell::default(),
            pretty: false,
            options: DecodeOptions::default(),
            annotated: true,
        }
    }

    /// Whether the json.capnp annotations apply (on by default, as the reference's
    /// `handleByAnnotation`); off, names and encodings are the plain ones.
    pub fn set_annotated(&mut self, annotated: bool) {
        self.annotated = annotated;
    }

    pub fn set_pretty(&mut self, pretty: bool) {
        self.pretty = pretty;
    }

    pub fn set_options(&mut self, options: DecodeOptions) {
        self.options = options;
    }

    /// The JSON text of a struct.
    pub fn encode(&self, r: &StructReader) -> Result<Vec<u8>> {
        let v = self.encode_struct(r, 0)?;
        Ok(if self.pretty {
            let mut multiline = false;
            tree::write_pretty(&v, 0, &mut multiline, false)
        } else {
            let mut out = Vec::new();
            tree::write_compact(&mut out, &v);
            out
        })
    }

    /// Parses one JSON value (an object) and fills `b` from it.
    pub fn decode(&self, text: &[u8], b: &StructBuilder) -> Result<()> {
        let v: Json = serde_json::from_slice(text)
            .map_err(|e| Error::Capnp(capnp::Error::failed(format!("invalid JSON: {e}"))))?;
        let mut path = String::new();
        let Json::Object(fields) = &v else {
            return Err(failed(
                &path,
                format!("expected an object, got {}", v.kind()),
            ));
        };
        let h = self.handler(b.schema().id, None, None)?;
        self.decode_object(&h, fields, b, &mut path, 0)
    }

    // ---- handlers ----

    fn handler(
        &self,
        id: u64,
        discriminator: Option<Discriminator>,
        union_decl_name: Option<&str>,
    ) -> Result<Rc<Handler>> {
        if let Some(h) = self.handlers.borrow().get(&id) {
            return Ok(h.clone());
        }
        if !self.loading.borrow_mut().insert(id) {
            let schema = self.registry.get_struct(id)?;
            return Err(Error::InvalidSchema(format!(
                "cyclic JSON flattening detected: {}",
                schema.display_name
            )));
        }
        let built = self.build_handler(id, discriminator, union_decl_name);
        self.loading.borrow_mut().remove(&id);
        let h = Rc::new(built?);
        self.handlers.borrow_mut().insert(id, h.clone());
        Ok(h)
    }

    fn build_handler(
        &self,
        id: u64,
        discriminator: Option<Discriminator>,
        union_decl_name: Option<&str>,
    ) -> Result<Handler> {
        let schema = self.registry.get_struct(id)?;
        let annos = match annotations::of_struct(&self.registry, id) {
            Ok(_) if !self.annotated => annotations::StructAnnotations::default(),
            Ok(a) => a,
            Err(Error::UnknownSchema { .. }) => annotations::StructAnnotations::default(),
            Err(e) => return Err(e),
        };
        let discriminator = discriminator.or(annos.discriminator.clone());
        let mut by_name: FxHashMap<String, NameKind> = FxHashMap::default();
        let mut tag_name = None;
        if let Some(d) = &discriminator {
            tag_name = d.name.clone().or(union_decl_name.map(str::to_string));
            if let Some(t) = &tag_name {
                by_name.insert(t.clone(), NameKind::UnionTag);
            }
            if let Some(v) = &d.value_name {
                by_name.insert(v.clone(), NameKind::UnionValue);
            }
        }
        let mut fields = Vec::with_capacity(schema.fields.len());
        let mut tag_values = FxHashMap::default();
        for (index, field) in schema.fields.iter().enumerate() {
            let fa = annos.fields.get(index).cloned().unwrap_or_default();
            let name = fa.name.clone().unwrap_or_else(|| field.name.clone());
            let struct_id = match &field.kind {
                FieldKind::Group { id } => Some(*id),
                FieldKind::Slot {
                    ty: Type::Struct(id),
                    ..
                } => Some(*id),
                _ => None,
            };
            if fa.flatten.is_some() && struct_id.is_none() {
                return Err(Error::InvalidSchema(format!(
                    "only struct types can be flattened: {}.{}",
                    schema.display_name, field.name
                )));
            }
            if fa.blob != Blob::Array
                && !matches!(&field.kind, FieldKind::Slot { ty: Type::Data, .. })
            {
                return Err(Error::InvalidSchema(format!(
                    "only Data can be marked for base64 or hex encoding: {}.{}",
                    schema.display_name, field.name
                )));
            }
            let mut flatten = None;
            match (&field.kind, struct_id) {
                (FieldKind::Group { .. }, Some(gid)) => {
                    let decl = fa.flatten.as_ref().map(|_| field.name.as_str());
                    let sub = self.handler(gid, fa.discriminator.clone(), decl)?;
                    if let Some(prefix) = &fa.flatten {
                        flatten = Some((sub, prefix.clone()));
                    }
                }
                (_, Some(sid)) => {
                    if let Some(prefix) = &fa.flatten {
                        flatten = Some((self.handler(sid, None, None)?, prefix.clone()));
                    }
                }
                _ => {}
            }
            let is_union_member = field.discriminant.is_some();
            if let Some((sub, prefix)) = &flatten {
                for key in sub.by_name.keys() {
                    let full = format!("{prefix}{key}");
                    let kind = if is_union_member {
                        NameKind::FlattenedFromUnion {
                            prefix_len: prefix.len(),
                        }
                    } else {
                        NameKind::Flattened {
                            index,
                            prefix_len: prefix.len(),
                        }
                    };
                    match by_name.get(&full) {
                        Some(NameKind::FlattenedFromUnion { .. })
                            if matches!(kind, NameKind::FlattenedFromUnion { .. }) => {}
                        Some(_) => {
                            return Err(Error::InvalidSchema(format!(
                                "flattened members have the same name and are not mutually \
                                 exclusive: {full} in {}",
                                schema.display_name
                            )));
                        }
                        None => {}
                    }
                    by_name.insert(full, kind);
                }
            }
            let name_for_discriminant = name.clone();
            let mut name = name;
            if flatten.is_none() {
                let mut with_value_name = false;
                if is_union_member {
                    if let Some(v) = discriminator.as_ref().and_then(|d| d.value_name.as_ref()) {
                        name = v.clone();
                        with_value_name = true;
                    }
                }
                if !with_value_name {
                    by_name.insert(name.clone(), NameKind::Normal(index));
                }
            }
            if is_union_member {
                tag_values.insert(name_for_discriminant.clone(), index);
            }
            fields.push(FieldInfo {
                name,
                name_for_discriminant,
                flatten,
                blob: fa.blob,
            });
        }
        Ok(Handler {
            schema,
            fields,
            by_name,
            tag_values,
            tag_name,
        })
    }

    fn enum_names(&self, id: u64) -> Result<Rc<Vec<String>>> {
        if let Some(n) = self.enums.borrow().get(&id) {
            return Ok(n.clone());
        }
        let names = Rc::new(if self.annotated {
            annotations::enum_names(&self.registry, id)?
        } else {
            self.registry.get_enum(id)?.enumerants.clone()
        });
        self.enums.borrow_mut().insert(id, names.clone());
        Ok(names)
    }

    // ---- encoding ----

    fn encode_struct(&self, r: &StructReader, depth: u32) -> Result<Out> {
        if r.schema().id == value::JSON_VALUE {
            return value::encode(r, depth);
        }
        let depth = check_depth(depth)?;
        stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || {
            let h = self.handler(r.schema().id, None, None)?;
            let mut out = Vec::new();
            self.gather(&h, r, "", &mut out, depth)?;
            Ok(Out::Object(out))
        })
    }

    fn gather(
        &self,
        h: &Handler,
        r: &StructReader,
        prefix: &str,
        out: &mut Vec<(Vec<u8>, Out)>,
        depth: u32,
    ) -> Result<()> {
        let name = |n: &str| -> Vec<u8> {
            let mut v = Vec::with_capacity(prefix.len() + n.len());
            v.extend_from_slice(prefix.as_bytes());
            v.extend_from_slice(n.as_bytes());
            v
        };
        for &i in &h.schema.non_union_fields {
            let Some(info) = h.fields.get(i) else {
                continue;
            };
            if !r.has_by_index(i)? {
                continue;
            }
            if let Some((sub, more)) = &info.flatten {
                let child = struct_of(r.get_by_index(i)?)?;
                self.gather(sub, &child, &format!("{prefix}{more}"), out, depth)?;
            } else {
                let v = self.encode_field(h, r, i, depth)?;
                out.push((name(&info.name), v));
            }
        }
        if h.schema.union.is_some() {
            if let Ok((_, i)) = r.which_field() {
                let Some(info) = h.fields.get(i) else {
                    return Ok(());
                };
                if let Some(tag) = &h.tag_name {
                    out.push((
                        name(tag),
                        Out::String(info.name_for_discriminant.clone().into_bytes()),
                    ));
                }
                if let Some((sub, more)) = &info.flatten {
                    let child = struct_of(r.get_by_index(i)?)?;
                    self.gather(sub, &child, &format!("{prefix}{more}"), out, depth)?;
                } else {
                    let is_void = matches!(
                        h.schema.fields.get(i).map(|f| &f.kind),
                        Some(FieldKind::Slot { ty: Type::Void, .. })
                    );
                    if !(is_void && h.tag_name.is_some()) {
                        let v = self.encode_field(h, r, i, depth)?;
                        out.push((name(&info.name), v));
                    }
                }
            }
        }
        Ok(())
    }

    fn encode_field(&self, h: &Handler, r: &StructReader, i: usize, depth: u32) -> Result<Out> {
        let field = h.schema.fields.get(i).ok_or(Error::TypeMismatch)?;
        let v = r.get_by_index(i)?;
        let blob = h.fields.get(i).map_or(Blob::Array, |f| f.blob);
        match (&v, blob) {
            (Value::Data(d), Blob::Base64) => return Ok(Out::String(tree::encode_base64(d))),
            (Value::Data(d), Blob::Hex) => return Ok(Out::String(tree::encode_hex(d))),
            _ => {}
        }
        let ty = match &field.kind {
            FieldKind::Slot { ty, .. } => ty.clone(),
            FieldKind::Group { id } => Type::Struct(*id),
        };
        self.encode_value(v, &ty, depth)
    }

    fn encode_value(&self, v: Value, ty: &Type, depth: u32) -> Result<Out> {
        Ok(match v {
            Value::Void => Out::Null,
            Value::Bool(b) => Out::Bool(b),
            Value::Int(i) => match ty {
                Type::Int64 => Out::String(i.to_string().into_bytes()),
                _ => Out::Number(i as f64),
            },
            Value::UInt(u) => match ty {
                Type::UInt64 => Out::String(u.to_string().into_bytes()),
                _ => Out::Number(u as f64),
            },
            Value::Float(f) => {
                if f.is_nan() {
                    Out::String(b"NaN".to_vec())
                } else if f == f64::INFINITY {
                    Out::String(b"Infinity".to_vec())
                } else if f == f64::NEG_INFINITY {
                    Out::String(b"-Infinity".to_vec())
                } else {
                    Out::Number(f)
                }
            }
            Value::Text(t) => Out::String(t),
            Value::Data(d) => {
                Out::Array(d.into_iter().map(|b| Out::Number(f64::from(b))).collect())
            }
            Value::Enum(n) => {
                let names = match ty {
                    Type::Enum(id) => Some(self.enum_names(*id)?),
                    _ => None,
                };
                match names.as_ref().and_then(|n2| n2.get(usize::from(n))) {
                    Some(name) => Out::String(name.clone().into_bytes()),
                    None => Out::Number(f64::from(n)),
                }
            }
            Value::Struct(s) => self.encode_struct(&struct_reader(s), depth)?,
            Value::List(l) => self.encode_list(&list_reader(l), depth)?,
            Value::AnyPointer(_) => {
                return Err(Error::Capnp(capnp::Error::failed(
                    "don't know how to JSON-encode AnyPointer".into(),
                )))
            }
            Value::Capability(_) => {
                return Err(Error::Capnp(capnp::Error::failed(
                    "don't know how to JSON-encode capabilities".into(),
                )))
            }
        })
    }

    fn encode_list(&self, l: &ListReader, depth: u32) -> Result<Out> {
        let depth = check_depth(depth)?;
        stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || {
            let len = l.len()?;
            let elem = l.element_type().clone();
            let mut items = Vec::with_capacity(len.min(1 << 16) as usize);
            for i in 0..len {
                items.push(self.encode_value(l.get(i64::from(i))?, &elem, depth)?);
            }
            Ok(Out::Array(items))
        })
    }

    // ---- decoding ----

    fn decode_object(
        &self,
        h: &Handler,
        fields: &[(String, Json)],
        b: &StructBuilder,
        path: &mut String,
        depth: u32,
    ) -> Result<()> {
        let depth = check_depth(depth)?;
        stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || {
            let mut seen: HashSet<Vec<usize>> = HashSet::new();
            let mut retries: Vec<&(String, Json)> = Vec::new();
            for f in fields {
                if !self.decode_member(h, &f.0, &f.1, b, &mut seen, &mut Vec::new(), path, depth)? {
                    retries.push(f);
                }
            }
            while !retries.is_empty() {
                let before = retries.len();
                let mut again = Vec::new();
                for f in retries {
                    if !self.decode_member(
                        h,
                        &f.0,
                        &f.1,
                        b,
                        &mut seen,
                        &mut Vec::new(),
                        path,
                        depth,
                    )? {
                        again.push(f);
                    }
                }
                if again.len() == before {
                    break;
                }
                retries = again;
            }
            Ok(())
        })
    }

    /// Decodes one member; `false` when it must wait for its union's tag. `hops` names the
    /// flattened field chain from the object's struct, which identifies a union instance.
    fn decode_member(
        &self,
        h: &Handler,
        name: &str,
        value: &Json,
        b: &StructBuilder,
        seen: &mut HashSet<Vec<usize>>,
        hops: &mut Vec<usize>,
        path: &mut String,
        depth: u32,
    ) -> Result<bool> {
        let Some(kind) = h.by_name.get(name) else {
            if self.options.reject_unknown_fields {
                return Err(failed(path, format!("unknown field {name:?}")));
            }
            return Ok(true);
        };
        match kind {
            NameKind::Normal(i) => {
                let len = path.len();
                push_name(path, name);
                let r = self.decode_field(h, b, *i, value, path, depth);
                path.truncate(len);
                r?;
                Ok(true)
            }
            NameKind::Flattened { index, prefix_len } => {
                let (sub, _) = h
                    .fields
                    .get(*index)
                    .and_then(|f| f.flatten.as_ref())
                    .ok_or(Error::TypeMismatch)?;
                let child = struct_builder_of(b.get_by_index(*index)?)?;
                hops.push(*index);
                let rest = name.get(*prefix_len..).unwrap_or_default();
                let r = self.decode_member(sub, rest, value, &child, seen, hops, path, depth);
                hops.pop();
                r
            }
            NameKind::UnionTag => {
                let Json::String(tag) = value else {
                    let len = path.len();
                    push_name(path, name);
                    let e = failed(path, format!("expected a string, got {}", value.kind()));
                    path.truncate(len);
                    return Err(e);
                };
                if let Some(&i) = h.tag_values.get(tag.as_str()) {
                    b.clear_by_index(i)?;
                    seen.insert(union_key(hops, h));
                }
                Ok(true)
            }
            NameKind::FlattenedFromUnion { prefix_len } => {
                if !seen.contains(&union_key(hops, h)) {
                    return Ok(false);
                }
                let (_, i) = b.which_field()?;
                let (sub, _) = h
                    .fields
                    .get(i)
                    .and_then(|f| f.flatten.as_ref())
                    .ok_or(Error::TypeMismatch)?;
                let child = struct_builder_of(b.get_by_index(i)?)?;
                hops.push(i);
                let rest = name.get(*prefix_len..).unwrap_or_default();
                let r = self.decode_member(sub, rest, value, &child, seen, hops, path, depth);
                hops.pop();
                r
            }
            NameKind::UnionValue => {
                if !seen.contains(&union_key(hops, h)) {
                    return Ok(false);
                }
                let (_, i) = b.which_field()?;
                let len = path.len();
                push_name(path, name);
                let r = self.decode_field(h, b, i, value, path, depth);
                path.truncate(len);
                r?;
                Ok(true)
            }
        }
    }

    fn decode_field(
        &self,
        h: &Handler,
        b: &StructBuilder,
        i: usize,
        value: &Json,
        path: &mut String,
        depth: u32,
    ) -> Result<()> {
        let field = h.schema.fields.get(i).ok_or(Error::TypeMismatch)?;
        let blob = h.fields.get(i).map_or(Blob::Array, |f| f.blob);
        let ty = match &field.kind {
            FieldKind::Group { id } => {
                let Json::Object(members) = value else {
                    return Err(failed(
                        path,
                        format!("expected an object, got {}", value.kind()),
                    ));
                };
                let g = struct_builder_of(b.init_by_index(i, None)?)?;
                let gh = self.handler(*id, None, None)?;
                return self.decode_object(&gh, members, &g, path, depth);
            }
            FieldKind::Slot { ty, .. } => ty,
        };
        let at = |e: Error| located(path, e);
        match ty {
            Type::Data if blob != Blob::Array => {
                let Json::String(s) = value else {
                    return Err(failed(
                        path,
                        format!("expected a string, got {}", value.kind()),
                    ));
                };
                let bytes = match blob {
                    Blob::Hex => tree::decode_hex(s),
                    _ => tree::decode_base64(s),
                }
                .map_err(|m| failed(path, m))?;
                b.set_by_index(i, SetValue::Bytes(&bytes)).map_err(at)
            }
            Type::List(elem) => match value {
                Json::Array(items) => {
                    let len = list_len(items, path)?;
                    let l = list_builder_of(b.init_by_index(i, Some(len))?)?;
                    self.decode_list(&l, elem, items, path, depth)
                }
                Json::Null => b.clear_by_index(i),
                _ => Err(failed(
                    path,
                    format!("expected an array, got {}", value.kind()),
                )),
            },
            Type::Struct(value::JSON_VALUE) => {
                let s = struct_builder_of(b.init_by_index(i, None)?)?;
                value::decode(value, &s, depth).map_err(at)
            }
            Type::Struct(id) => match value {
                Json::Object(members) => {
                    let s = struct_builder_of(b.init_by_index(i, None)?)?;
                    let sh = self.handler(*id, None, None)?;
                    self.decode_object(&sh, members, &s, path, depth)
                }
                _ => Err(failed(
                    path,
                    format!("expected an object, got {}", value.kind()),
                )),
            },
            _ => {
                let mut scratch = Vec::new();
                let v = self.scalar(ty, value, path, &mut scratch)?;
                b.set_by_index(i, v).map_err(at)
            }
        }
    }

    fn decode_list(
        &self,
        l: &ListBuilder,
        elem: &Type,
        items: &[Json],
        path: &mut String,
        depth: u32,
    ) -> Result<()> {
        let depth = check_depth(depth)?;
        stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || {
            for (k, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{k}]"));
                let r = self.decode_element(l, k as i64, elem, item, path, depth);
                path.truncate(len);
                r?;
            }
            Ok(())
        })
    }

    fn decode_element(
        &self,
        l: &ListBuilder,
        k: i64,
        elem: &Type,
        item: &Json,
        path: &mut String,
        depth: u32,
    ) -> Result<()> {
        match elem {
            Type::Struct(value::JSON_VALUE) => {
                let s = struct_builder_of(l.get(k)?)?;
                value::decode(item, &s, depth).map_err(|e| located(path, e))
            }
            Type::Struct(id) => match item {
                Json::Object(members) => {
                    let s = struct_builder_of(l.get(k)?)?;
                    let sh = self.handler(*id, None, None)?;
                    self.decode_object(&sh, members, &s, path, depth)
                }
                _ => Err(failed(
                    path,
                    format!("expected an object, got {}", item.kind()),
                )),
            },
            Type::List(inner) => match item {
                Json::Array(items) => {
                    let len = list_len(items, path)?;
                    let sub = list_builder_of(l.init(k, len)?)?;
                    self.decode_list(&sub, inner, items, path, depth)
                }
                Json::Null => Ok(()),
                _ => Err(failed(
                    path,
                    format!("expected an array, got {}", item.kind()),
                )),
            },
            _ => {
                let mut scratch = Vec::new();
                let v = self.scalar(elem, item, path, &mut scratch)?;
                l.set(k, v).map_err(|e| located(path, e))
            }
        }
    }

    /// A JSON value as what to write into a field or element of the non-struct, non-list
    /// type `ty`; Data bytes are collected into `scratch`.
    fn scalar<'a>(
        &self,
        ty: &Type,
        value: &'a Json,
        path: &str,
        scratch: &'a mut Vec<u8>,
    ) -> Result<SetValue<'a>> {
        let wrong = |what: &str| failed(path, format!("expected {what}, got {}", value.kind()));
        Ok(match ty {
            Type::Void => SetValue::Void,
            Type::Bool => match value {
                Json::Bool(b) => SetValue::Bool(*b),
                _ => return Err(wrong("a boolean")),
            },
            Type::Int8 | Type::Int16 | Type::Int32 | Type::Int64 => match value {
                Json::Number(n) => SetValue::Float(*n),
                Json::String(s) => SetValue::Int(parse_int(s, true).map_err(|m| failed(path, m))?),
                _ => return Err(wrong("an integer")),
            },
            Type::UInt8 | Type::UInt16 | Type::UInt32 | Type::UInt64 => match value {
                Json::Number(n) => SetValue::Float(*n),
                Json::String(s) => SetValue::Int(parse_int(s, false).map_err(|m| failed(path, m))?),
                _ => return Err(wrong("an integer")),
            },
            Type::Float32 | Type::Float64 => match value {
                Json::Null => SetValue::Float(f64::NAN),
                Json::Number(n) => SetValue::Float(*n),
                Json::String(s) => SetValue::Float(parse_float(s).map_err(|m| failed(path, m))?),
                _ => return Err(wrong("a number")),
            },
            Type::Text => match value {
                Json::String(s) => SetValue::Str(s),
                _ => return Err(wrong("a string")),
            },
            Type::Data => match value {
                Json::Array(items) => {
                    for (k, item) in items.iter().enumerate() {
                        match item {
                            Json::Number(n) if n.fract() == 0.0 && (0.0..=255.0).contains(n) => {
                                scratch.push(*n as u8);
                            }
                            _ => {
                                return Err(failed(
                                    &format!("{path}[{k}]"),
                                    "Number in byte array is not an integer in [0, 255]",
                                ))
                            }
                        }
                    }
                    SetValue::Bytes(scratch)
                }
                _ => return Err(wrong("an array of bytes")),
            },
            Type::Enum(id) => match value {
                Json::String(s) => {
                    let names = self.enum_names(*id)?;
                    match names.iter().position(|n| n == s) {
                        Some(p) => SetValue::Int(p as i128),
                        None => return Err(failed(path, format!("invalid enum value {s:?}"))),
                    }
                }
                // As the reference: the number is cast to 16 bits.
                Json::Number(n) => SetValue::Int(i128::from(*n as i64 as u16)),
                _ => return Err(wrong("an enumerant name")),
            },
            Type::AnyPointer => {
                return Err(failed(path, "don't know how to JSON-decode AnyPointer"));
            }
            Type::Interface(_) => {
                return Err(failed(path, "don't know how to JSON-decode capabilities"));
            }
            Type::Struct(_) | Type::List(_) => return Err(wrong("a struct or list")),
        })
    }
}

fn check_depth(depth: u32) -> Result<u32> {
    if depth >= MAX_DEPTH {
        return Err(Error::Capnp(capnp::Error::failed(
            "Message is too deeply-nested or contains cycles".into(),
        )));
    }
    Ok(depth + 1)
}

fn push_name(path: &mut String, name: &str) {
    if path.is_empty() {
        path.push('$');
    }
    path.push('.');
    path.push_str(name);
}

/// Prefixes a failure of the layer below with the JSON path.
fn located(path: &str, e: Error) -> Error {
    failed(path, e)
}

fn union_key(hops: &[usize], h: &Handler) -> Vec<usize> {
    let mut k = hops.to_vec();
    k.push(h.schema.id as usize);
    k
}

fn list_len(items: &[Json], path: &str) -> Result<u32> {
    u32::try_from(items.len()).map_err(|_| failed(path, "list too long"))
}

/// An integer from a string, as the reference's `parseAs<int64_t>`/`parseAs<uint64_t>`
/// (`strtoll`: leading spaces, a sign, `0x` hex).
fn parse_int(s: &str, signed: bool) -> std::result::Result<i128, String> {
    let bad = || format!("string does not contain a valid number: {s:?}");
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (radix, digits) = match t.get(..2) {
        Some("0x" | "0X") => (16, &t[2..]),
        _ => (10, t),
    };
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let mag = u128::from_str_radix(digits, radix).map_err(|_| bad())?;
    let out_of_range = || format!("value out of range: {s:?}");
    if signed {
        let v = i128::try_from(mag).map_err(|_| out_of_range())?;
        let v = if neg { -v } else { v };
        if v < i128::from(i64::MIN) || v > i128::from(i64::MAX) {
            return Err(out_of_range());
        }
        Ok(v)
    } else {
        if neg || mag > u128::from(u64::MAX) {
            return Err(out_of_range());
        }
        Ok(mag as i128)
    }
}

/// A float from a string, as `strtod` reads it (`NaN`, `Infinity`, exponents).
fn parse_float(s: &str) -> std::result::Result<f64, String> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    t.parse::<f64>()
        .map_err(|_| format!("string does not contain a valid number: {s:?}"))
}

fn struct_of(v: Value) -> Result<StructReader> {
    match v {
        Value::Struct(s) => Ok(struct_reader(s)),
        _ => Err(Error::TypeMismatch),
    }
}

fn struct_reader(s: StructValue) -> StructReader {
    match s {
        StructValue::Reader(r) => r,
        StructValue::Builder(b) => b.as_reader(),
    }
}

fn list_reader(l: ListValue) -> ListReader {
    match l {
        ListValue::Reader(r) => r,
        ListValue::Builder(b) => b.as_reader(),
    }
}

fn struct_builder_of(v: Value) -> Result<StructBuilder> {
    match v {
        Value::Struct(StructValue::Builder(b)) => Ok(b),
        _ => Err(Error::TypeMismatch),
    }
}

fn list_builder_of(v: Value) -> Result<ListBuilder> {
    match v {
        Value::List(ListValue::Builder(l)) => Ok(l),
        _ => Err(Error::TypeMismatch),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_from_strings() {
        assert_eq!(parse_int(" 12", true), Ok(12));
        assert_eq!(parse_int("0x10", true), Ok(16));
        assert_eq!(
            parse_int("-9223372036854775808", true),
            Ok(i128::from(i64::MIN))
        );
        assert!(parse_int("9223372036854775808", true).is_err());
        assert_eq!(
            parse_int("18446744073709551615", false),
            Ok(i128::from(u64::MAX))
        );
        assert!(parse_int("-1", false).is_err());
        assert!(parse_int("abc", true).is_err());
        assert!(parse_int("", true).is_err());
    }

    #[test]
    fn floats_from_strings() {
        assert!(parse_float("NaN").is_ok_and(f64::is_nan));
        assert_eq!(parse_float("-Infinity"), Ok(f64::NEG_INFINITY));
        assert_eq!(parse_float("1e3"), Ok(1000.0));
        assert!(parse_float("x").is_err());
    }
}
