//! The runtime schema registry: compiled `schema.capnp` nodes turned once into immutable tables.

use std::sync::{Arc, RwLock};

use capnp::message::ReaderOptions;
use capnp::private::layout::{ElementSize, StructSize};
use capnp::serialize::OwnedSegments;
use capnp::Word;
use capnp_compiler::schema_capnp::{code_generator_request, field, node, type_, value};

use crate::error::{Error, Result};
use crate::raw::pointer_to_default_words;

mod placeholder;

/// The type of a slot or list element. Generic parameters are `AnyPointer` (brands are ignored).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Type {
    Void,
    Bool,
    Int8,
    Int16,
    Int32,
    Int64,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    Float32,
    Float64,
    Text,
    Data,
    List(Box<Type>),
    Enum(u64),
    Struct(u64),
    Interface(u64),
    AnyPointer,
}

impl Type {
    /// Whether values of this type are typed by a schema node (a struct, enum or interface,
    /// or lists of them): such values go only where the same registry's node types them.
    pub fn has_node(&self) -> bool {
        match self {
            Type::Struct(_) | Type::Enum(_) | Type::Interface(_) => true,
            Type::List(inner) => inner.has_node(),
            _ => false,
        }
    }

    /// Whether values of this type live in the pointer section.
    pub fn is_pointer(&self) -> bool {
        matches!(
            self,
            Type::Text
                | Type::Data
                | Type::List(_)
                | Type::Struct(_)
                | Type::Interface(_)
                | Type::AnyPointer
        )
    }

    /// `Some(true)` for Text, `Some(false)` for Data, `None` for any other type.
    pub fn blob_kind(&self) -> Option<bool> {
        match self {
            Type::Text => Some(true),
            Type::Data => Some(false),
            _ => None,
        }
    }

    /// Size in bits of a data-section value (0 for Void and pointers).
    pub(crate) fn data_bits(&self) -> u32 {
        match self {
            Type::Bool => 1,
            Type::Int8 | Type::UInt8 => 8,
            Type::Int16 | Type::UInt16 | Type::Enum(_) => 16,
            Type::Int32 | Type::UInt32 | Type::Float32 => 32,
            Type::Int64 | Type::UInt64 | Type::Float64 => 64,
            _ => 0,
        }
    }

    /// The element size of a list of this type (`InlineComposite` for structs).
    pub(crate) fn list_element_size(&self) -> ElementSize {
        match self {
            Type::Void => ElementSize::Void,
            Type::Bool => ElementSize::Bit,
            Type::Int8 | Type::UInt8 => ElementSize::Byte,
            Type::Int16 | Type::UInt16 | Type::Enum(_) => ElementSize::TwoBytes,
            Type::Int32 | Type::UInt32 | Type::Float32 => ElementSize::FourBytes,
            Type::Int64 | Type::UInt64 | Type::Float64 => ElementSize::EightBytes,
            Type::Struct(_) => ElementSize::InlineComposite,
            _ => ElementSize::Pointer,
        }
    }
}

/// A slot's default: the XOR mask of a data value, or the words of a pointer value.
#[derive(Clone, Debug)]
pub enum DefaultValue {
    /// Bits of the default, zero-extended (the wire stores `value ^ default`).
    Bits(u64),
    /// A non-null pointer default, as a flat message whose first word is the root pointer.
    Pointer(Arc<Vec<Word>>),
    /// Null pointer or no default.
    None,
}

#[derive(Clone, Debug)]
pub enum FieldKind {
    /// `offset` is in units of the type's size (bits for Bool), or the pointer index.
    Slot {
        offset: u32,
        ty: Type,
        default: DefaultValue,
        had_explicit_default: bool,
    },
    Group {
        id: u64,
    },
}

#[derive(Clone, Debug)]
pub struct Field {
    pub name: String,
    /// Position in the node's field list.
    pub index: u16,
    /// The union discriminant value when the field is a union member.
    pub discriminant: Option<u16>,
    pub kind: FieldKind,
    /// The schema of a struct-typed slot (or a group, or the elements of a struct-list
    /// slot: one field has one of these), once looked up: reads of the field skip the
    /// registry's lock. Not counted (recursive types would make a cycle): it names the
    /// registry that holds it (`list/lent.rs`, `RegistrySchema`).
    pub(crate) target: std::sync::OnceLock<crate::list::lent::RegistrySchema>,
    /// The host's own objects for this field's values (the Python binding's enum objects).
    pub host: HostCache,
}

impl Field {
    /// The struct schema this field's value has (struct slot or group; for a list of
    /// structs, its elements' schema: a field's type names one struct), from `registry` the
    /// first time, then from the field itself.
    pub(crate) fn target_struct(&self, registry: &Registry, id: u64) -> Result<Arc<StructSchema>> {
        Ok(self.target_ref(registry, id)?.counted())
    }

    /// As [`target_struct`](Self::target_struct), without counting a reference when the
    /// schema is `registry`'s (the field's kept target): valid while `registry` lives.
    #[inline]
    pub(crate) fn target_ref<'r>(
        &self,
        registry: &'r Registry,
        id: u64,
    ) -> Result<crate::list::lent::SchemaRef<'r>> {
        use crate::list::lent::SchemaRef;
        if let Some(kept) = self.target.get().and_then(|t| t.of(registry)) {
            return Ok(kept);
        }
        let s = registry.get_struct(id)?;
        // A SchemaLoader's registry may answer with a placeholder that a later load replaces.
        if !registry.uses_placeholders() {
            // `s` is one of the registry's own schemas (no placeholders: found in its map).
            let _ = self
                .target
                .set(crate::list::lent::RegistrySchema::new(&s, registry));
        }
        Ok(SchemaRef::Counted(s))
    }
}

#[derive(Clone, Debug)]
pub struct UnionInfo {
    /// Offset of the discriminant, in 16-bit units.
    pub discriminant_offset: u32,
    /// Field index for each discriminant value (None where no member has that value).
    pub members: Vec<Option<usize>>,
    /// The host's own objects for this union (the Python binding's `which` results).
    pub host: HostCache,
}

/// A value the host (the Python binding) keeps with a schema, made on first use and then
/// read without a lock or a map lookup; this crate never looks inside. A clone starts empty.
#[derive(Default)]
pub struct HostCache(std::sync::OnceLock<Box<dyn std::any::Any + Send + Sync>>);

impl HostCache {
    /// The cached value, made by `init` the first time. `None` when a value of another type
    /// was stored first (one host type per cache).
    pub fn get_or_init<T: std::any::Any + Send + Sync>(
        &self,
        init: impl FnOnce() -> T,
    ) -> Option<&T> {
        self.0.get_or_init(|| Box::new(init())).downcast_ref()
    }
}

impl HostCache {
    /// The cached value, if one of type `T` was made.
    #[inline]
    pub fn get<T: std::any::Any + Send + Sync>(&self) -> Option<&T> {
        self.0.get()?.downcast_ref()
    }
}

impl Clone for HostCache {
    fn clone(&self) -> Self {
        HostCache::default()
    }
}

impl std::fmt::Debug for HostCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HostCache")
    }
}

#[derive(Debug)]
pub struct StructSchema {
    pub id: u64,
    pub display_name: String,
    pub data_words: u16,
    pub ptr_count: u16,
    pub is_group: bool,
    pub fields: Vec<Field>,
    pub by_name: rustc_hash::FxHashMap<String, usize>,
    pub union: Option<UnionInfo>,
    /// Fields outside the union, in schema order.
    pub non_union_fields: Vec<usize>,
    /// The host's own objects for this struct (the Python binding's field names).
    pub host: HostCache,
}

impl StructSchema {
    pub(crate) fn size(&self) -> StructSize {
        StructSize {
            data: self.data_words,
            pointers: self.ptr_count,
        }
    }

    pub fn field(&self, name: &str) -> Result<&Field> {
        self.by_name
            .get(name)
            .and_then(|&i| self.fields.get(i))
            .ok_or_else(|| Error::NoSuchField {
                name: name.to_string(),
            })
    }
}

#[derive(Debug)]
pub struct EnumSchema {
    pub id: u64,
    pub display_name: String,
    pub enumerants: Vec<String>,
}

impl EnumSchema {
    pub fn ordinal(&self, name: &str) -> Result<u16> {
        self.enumerants
            .iter()
            .position(|e| e == name)
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| Error::NoSuchEnumerant {
                name: name.to_string(),
            })
    }
}

#[derive(Debug)]
pub struct InterfaceSchema {
    pub id: u64,
    pub display_name: String,
    pub methods: Vec<String>,
}

/// Where a node's bytes live: request number, node number in `nodes`.
#[derive(Clone, Copy, Debug)]
struct NodeLoc {
    request: usize,
    node: u32,
}

#[derive(Default)]
struct Inner {
    structs: rustc_hash::FxHashMap<u64, Arc<StructSchema>>,
    enums: rustc_hash::FxHashMap<u64, Arc<EnumSchema>>,
    interfaces: rustc_hash::FxHashMap<u64, Arc<InterfaceSchema>>,
    nodes: rustc_hash::FxHashMap<u64, NodeLoc>,
    requests: Vec<Arc<capnp::message::Reader<OwnedSegments>>>,
}

/// All schemas known to one parser. Shared by every message handle (`Arc<Registry>`);
/// adding requests later is allowed and never changes a schema already added. A schema in
/// its maps stays there until the registry drops (nothing is ever removed or replaced).
pub struct Registry {
    /// This registry's number, never given to another one in this process (fields name the
    /// registry their kept target belongs to by it: `list/lent.rs`, `RegistrySchema`).
    pub(crate) uid: u64,
    inner: RwLock<Inner>,
    /// Unknown struct and enum ids resolve to empty placeholders (a `SchemaLoader`'s
    /// registry, whose nodes may refer to nodes not loaded yet), instead of failing.
    placeholders: std::sync::atomic::AtomicBool,
}

impl Default for Registry {
    fn default() -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Registry {
            uid: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            inner: RwLock::default(),
            placeholders: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Registry")
    }
}

impl Registry {
    /// Whether a struct of type `id` can hold no capability: none of the fields it reaches
    /// (through structs, groups and lists) is an interface or an AnyPointer. `false` when a
    /// type is unknown, or unknown ids read as placeholders.
    pub fn struct_holds_no_caps(&self, id: u64) -> bool {
        fn ty_ok(r: &Registry, ty: &Type, seen: &mut Vec<u64>) -> bool {
            match ty {
                Type::Interface(_) | Type::AnyPointer => false,
                Type::List(inner) => ty_ok(r, inner, seen),
                Type::Struct(id) => struct_ok(r, *id, seen),
                _ => true,
            }
        }
        fn struct_ok(r: &Registry, id: u64, seen: &mut Vec<u64>) -> bool {
            if seen.contains(&id) {
                return true;
            }
            seen.push(id);
            let Ok(schema) = r.get_struct(id) else {
                return false;
            };
            schema.fields.iter().all(|f| match &f.kind {
                FieldKind::Slot { ty, .. } => ty_ok(r, ty, seen),
                FieldKind::Group { id } => struct_ok(r, *id, seen),
            })
        }
        // A registry that hands out placeholders for missing ids cannot tell: a node loaded
        // later may add capabilities.
        !self.uses_placeholders() && struct_ok(self, id, &mut Vec::new())
    }

    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        // A panic while holding the lock cannot leave half-added nodes visible
        // (tables are inserted after they are complete), so poisoning is ignored.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Struct `id` when it was added (never a placeholder): what it returns stays the
    /// registry's schema of `id` for good, so callers may keep it.
    pub fn find_struct(&self, id: u64) -> Option<Arc<StructSchema>> {
        self.read().structs.get(&id).cloned()
    }

    pub fn get_struct(&self, id: u64) -> Result<Arc<StructSchema>> {
        let inner = self.read();
        match inner.structs.get(&id) {
            Some(s) => Ok(s.clone()),
            None if self.uses_placeholders() => Ok(placeholder::struct_schema(&inner, id)),
            None => Err(Error::UnknownSchema { id }),
        }
    }

    pub fn get_enum(&self, id: u64) -> Result<Arc<EnumSchema>> {
        let inner = self.read();
        match inner.enums.get(&id) {
            Some(e) => Ok(e.clone()),
            None if self.uses_placeholders() => Ok(placeholder::enum_schema(id)),
            None => Err(Error::UnknownSchema { id }),
        }
    }

    pub fn get_interface(&self, id: u64) -> Result<Arc<InterfaceSchema>> {
        self.read()
            .interfaces
            .get(&id)
            .cloned()
            .ok_or(Error::UnknownSchema { id })
    }

    /// Calls `f` with the node's `schema.capnp` reader (for `schema.node`).
    pub fn with_node<R>(&self, id: u64, f: impl FnOnce(node::Reader<'_>) -> R) -> Result<R> {
        let (message, loc) = {
            let inner = self.read();
            let loc = *inner.nodes.get(&id).ok_or(Error::UnknownSchema { id })?;
            let message = inner
                .requests
                .get(loc.request)
                .cloned()
                .ok_or(Error::UnknownSchema { id })?;
            (message, loc)
        };
        let request = message.get_root::<code_generator_request::Reader<'_>>()?;
        let nodes = request.get_nodes()?;
        let n = nodes.try_get(loc.node).ok_or(Error::UnknownSchema { id })?;
        Ok(f(n))
    }

    /// Adds every node of a serialized `CodeGeneratorRequest` (stream framing).
    /// Nodes already known (same id) are kept as they were. Returns the ids added.
    pub fn add_request(&self, bytes: &[u8]) -> Result<Vec<u64>> {
        let mut options = ReaderOptions::new();
        options.traversal_limit_in_words(None);
        let message = Arc::new(capnp::serialize::read_message(&mut &bytes[..], options)?);
        let request = message.get_root::<code_generator_request::Reader<'_>>()?;
        let nodes = request.get_nodes()?;

        let mut structs = Vec::new();
        let mut enums = Vec::new();
        let mut interfaces = Vec::new();
        let mut locs = Vec::new();
        for (i, n) in nodes.iter().enumerate() {
            let id = n.get_id();
            let display_name = n.get_display_name()?.to_string().map_err(invalid)?;
            locs.push((id, i as u32));
            match n.which().map_err(|e| Error::InvalidSchema(e.to_string()))? {
                node::Struct(s) => structs.push(Arc::new(build_struct(id, display_name, s)?)),
                node::Enum(e) => {
                    let mut enumerants = Vec::new();
                    for en in e.get_enumerants()? {
                        enumerants.push(en.get_name()?.to_string().map_err(invalid)?);
                    }
                    enums.push(Arc::new(EnumSchema {
                        id,
                        display_name,
                        enumerants,
                    }));
                }
                node::Interface(itf) => {
                    let mut methods = Vec::new();
                    for m in itf.get_methods()? {
                        methods.push(m.get_name()?.to_string().map_err(invalid)?);
                    }
                    interfaces.push(Arc::new(InterfaceSchema {
                        id,
                        display_name,
                        methods,
                    }));
                }
                _ => {}
            }
        }

        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let request_index = inner.requests.len();
        inner.requests.push(message);
        let mut added = Vec::new();
        for (id, node) in locs {
            if let std::collections::hash_map::Entry::Vacant(v) = inner.nodes.entry(id) {
                v.insert(NodeLoc {
                    request: request_index,
                    node,
                });
                added.push(id);
            }
        }
        for s in structs {
            inner.structs.entry(s.id).or_insert(s);
        }
        for e in enums {
            inner.enums.entry(e.id).or_insert(e);
        }
        for i in interfaces {
            inner.interfaces.entry(i.id).or_insert(i);
        }
        Ok(added)
    }

    /// Looks a name up among nodes' display names (handy in tests: `"foo.capnp:Person"`).
    pub fn find_by_display_name(&self, name: &str) -> Option<u64> {
        let inner = self.read();
        inner
            .structs
            .values()
            .map(|s| (s.id, s.display_name.as_str()))
            .chain(
                inner
                    .enums
                    .values()
                    .map(|e| (e.id, e.display_name.as_str())),
            )
            .chain(
                inner
                    .interfaces
                    .values()
                    .map(|i| (i.id, i.display_name.as_str())),
            )
            .find(|(_, n)| *n == name)
            .map(|(id, _)| id)
    }
}

fn invalid(e: impl std::fmt::Display) -> Error {
    Error::InvalidSchema(e.to_string())
}

fn build_struct(
    id: u64,
    display_name: String,
    s: node::struct_::Reader<'_>,
) -> Result<StructSchema> {
    let data_words = s.get_data_word_count();
    let ptr_count = s.get_pointer_count();
    let data_bits = u64::from(data_words) * 64;
    let field_readers = s.get_fields()?;
    let count = field_readers.len() as usize;
    let mut fields = Vec::with_capacity(count);
    let mut by_name =
        rustc_hash::FxHashMap::with_capacity_and_hasher(count, rustc_hash::FxBuildHasher);
    let mut non_union_fields = Vec::new();
    let mut members: Vec<Option<usize>> = Vec::new();
    let discriminant_count = s.get_discriminant_count();
    if discriminant_count > 0 {
        members.resize(usize::from(discriminant_count), None);
        let offset = u64::from(s.get_discriminant_offset());
        if (offset + 1) * 16 > data_bits {
            return Err(invalid("union discriminant outside the data section"));
        }
    }
    for (i, f) in field_readers.iter().enumerate() {
        let name = f.get_name()?.to_string().map_err(invalid)?;
        let index = u16::try_from(i).map_err(invalid)?;
        let discriminant = match f.get_discriminant_value() {
            field::NO_DISCRIMINANT => None,
            d => Some(d),
        };
        let kind = match f.which().map_err(invalid)? {
            field::Slot(slot) => {
                let ty = build_type(slot.get_type()?, 0)?;
                let offset = slot.get_offset();
                if ty.is_pointer() {
                    if offset >= u32::from(ptr_count) {
                        return Err(invalid(format!(
                            "field {name}: pointer offset out of range"
                        )));
                    }
                } else if (u64::from(offset) + 1) * u64::from(ty.data_bits()) > data_bits {
                    return Err(invalid(format!("field {name}: data offset out of range")));
                }
                let default = build_default(&ty, slot.get_default_value()?)?;
                FieldKind::Slot {
                    offset,
                    ty,
                    default,
                    had_explicit_default: slot.get_had_explicit_default(),
                }
            }
            field::Group(g) => FieldKind::Group {
                id: g.get_type_id(),
            },
        };
        match discriminant {
            Some(d) => match members.get_mut(usize::from(d)) {
                Some(slot) => *slot = Some(fields.len()),
                None => return Err(invalid(format!("field {name}: discriminant out of range"))),
            },
            None => non_union_fields.push(fields.len()),
        }
        by_name.insert(name.clone(), fields.len());
        fields.push(Field {
            target: std::sync::OnceLock::new(),
            host: HostCache::default(),
            name,
            index,
            discriminant,
            kind,
        });
    }
    let union = (discriminant_count > 0).then(|| UnionInfo {
        discriminant_offset: s.get_discriminant_offset(),
        members,
        host: HostCache::default(),
    });
    Ok(StructSchema {
        id,
        display_name,
        data_words,
        ptr_count,
        is_group: s.get_is_group(),
        fields,
        by_name,
        union,
        non_union_fields,
        host: HostCache::default(),
    })
}

/// Nesting of `List(List(...))` is bounded so a hostile request cannot recurse without end.
const MAX_TYPE_DEPTH: u32 = 64;

pub(crate) fn build_type(t: type_::Reader<'_>, depth: u32) -> Result<Type> {
    if depth > MAX_TYPE_DEPTH {
        return Err(invalid("list type nested too deeply"));
    }
    Ok(match t.which().map_err(invalid)? {
        type_::Void(()) => Type::Void,
        type_::Bool(()) => Type::Bool,
        type_::Int8(()) => Type::Int8,
        type_::Int16(()) => Type::Int16,
        type_::Int32(()) => Type::Int32,
        type_::Int64(()) => Type::Int64,
        type_::Uint8(()) => Type::UInt8,
        type_::Uint16(()) => Type::UInt16,
        type_::Uint32(()) => Type::UInt32,
        type_::Uint64(()) => Type::UInt64,
        type_::Float32(()) => Type::Float32,
        type_::Float64(()) => Type::Float64,
        type_::Text(()) => Type::Text,
        type_::Data(()) => Type::Data,
        type_::List(l) => Type::List(Box::new(build_type(l.get_element_type()?, depth + 1)?)),
        type_::Enum(e) => Type::Enum(e.get_type_id()),
        type_::Struct(s) => Type::Struct(s.get_type_id()),
        type_::Interface(i) => Type::Interface(i.get_type_id()),
        type_::AnyPointer(_) => Type::AnyPointer,
    })
}

fn build_default(ty: &Type, v: value::Reader<'_>) -> Result<DefaultValue> {
    let bits = |b: u64| Ok(DefaultValue::Bits(b));
    match v.which().map_err(invalid)? {
        value::Void(()) => bits(0),
        value::Bool(b) => bits(u64::from(b)),
        value::Int8(x) => bits(u64::from(x as u8)),
        value::Int16(x) => bits(u64::from(x as u16)),
        value::Int32(x) => bits(u64::from(x as u32)),
        value::Int64(x) => bits(x as u64),
        value::Uint8(x) => bits(u64::from(x)),
        value::Uint16(x) => bits(u64::from(x)),
        value::Uint32(x) => bits(u64::from(x)),
        value::Uint64(x) => bits(x),
        value::Float32(x) => bits(u64::from(x.to_bits())),
        value::Float64(x) => bits(x.to_bits()),
        value::Enum(x) => bits(u64::from(x)),
        value::Interface(()) => Ok(DefaultValue::None),
        value::Text(_)
        | value::Data(_)
        | value::List(_)
        | value::Struct(_)
        | value::AnyPointer(_) => {
            if !ty.is_pointer() {
                return Err(invalid("pointer default for a data field"));
            }
            // Every pointer variant shares the value's single pointer slot, so reading it
            // as AnyPointer covers them all.
            let ptr = match v.which().map_err(invalid)? {
                value::List(p) | value::Struct(p) | value::AnyPointer(p) => p,
                value::Text(_) | value::Data(_) => return text_or_data_default(v),
                _ => return Ok(DefaultValue::None),
            };
            Ok(match pointer_to_default_words(ptr)? {
                Some(w) => DefaultValue::Pointer(Arc::new(w)),
                None => DefaultValue::None,
            })
        }
    }
}

fn text_or_data_default(v: value::Reader<'_>) -> Result<DefaultValue> {
    // Rebuild the default from its bytes: the value struct's generated reader does not
    // expose the raw pointer of Text/Data variants.
    // One segment of the value's own size (the root pointer, the bytes and a NUL), not the
    // default 8 KiB zeroed for every default of a large schema.
    let sized = |len: usize| {
        let words = u32::try_from(len / 8 + 2).unwrap_or(u32::MAX);
        capnp::message::Builder::new(
            capnp::message::HeapAllocator::new().first_segment_words(words),
        )
    };
    let message = match v.which().map_err(invalid)? {
        value::Text(t) => {
            let t = t?;
            if t.is_empty() {
                return Ok(DefaultValue::None);
            }
            let mut message = sized(t.len());
            message.set_root::<capnp::text::Owned>(t)?;
            message
        }
        value::Data(d) => {
            let d = d?;
            if d.is_empty() {
                return Ok(DefaultValue::None);
            }
            let mut message = sized(d.len());
            message.set_root::<capnp::data::Owned>(d)?;
            message
        }
        _ => return Ok(DefaultValue::None),
    };
    let root = message.get_root_as_reader::<capnp::any_pointer::Reader<'_>>()?;
    Ok(match pointer_to_default_words(root)? {
        Some(w) => DefaultValue::Pointer(Arc::new(w)),
        None => DefaultValue::None,
    })
}

/// Whether schemas of registry `a` type values where `b`'s do: one registry per parser, and
/// as the reference compares schemas by identity, a struct of one parser does not go into
/// another parser's field even when both loaded the same file (pycapnp's "Value type
/// mismatch").
pub(crate) fn same_registry(a: &Arc<Registry>, b: &Arc<Registry>) -> bool {
    Arc::ptr_eq(a, b)
}
