//! Compiled node contents, kept as plain Rust values until the request is assembled:
//! types, brands, values (with pointer values as object trees in wire layout) and nodes.

/// A `schema.Type`.
#[derive(Clone, Debug, PartialEq)]
pub enum OType {
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
    List(Box<OType>),
    Enum(u64, Option<OBrand>),
    Struct(u64, Option<OBrand>),
    Interface(u64, Option<OBrand>),
    AnyPointer(AnyPtr),
}

/// The kinds of `Type.anyPointer`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnyPtr {
    AnyKind,
    Struct,
    List,
    Capability,
    Param { scope_id: u64, index: u16 },
    ImplicitMethodParam { index: u16 },
}

/// A `schema.Brand`: scopes innermost first. `scopes: None` is a null scope list.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct OBrand {
    pub scopes: Option<Vec<OScope>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OScope {
    pub scope_id: u64,
    pub kind: OScopeKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum OScopeKind {
    Bind(Vec<OType>),
    Inherit,
    /// Never written: only the types of values carry it (`FrameState::Empty`), so that type
    /// comparisons tell such a scope from a missing one.
    Empty,
}

/// Size of a data field or list element, for layout and encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataWidth {
    Void,
    Bit,
    Byte,
    Two,
    Four,
    Eight,
    Pointer,
}

impl OType {
    pub fn width(&self) -> DataWidth {
        match self {
            OType::Void => DataWidth::Void,
            OType::Bool => DataWidth::Bit,
            OType::Int8 | OType::UInt8 => DataWidth::Byte,
            OType::Int16 | OType::UInt16 | OType::Enum(..) => DataWidth::Two,
            OType::Int32 | OType::UInt32 | OType::Float32 => DataWidth::Four,
            OType::Int64 | OType::UInt64 | OType::Float64 => DataWidth::Eight,
            _ => DataWidth::Pointer,
        }
    }

    pub fn is_pointer(&self) -> bool {
        self.width() == DataWidth::Pointer
    }
}

/// An object in wire layout: what a pointer value points to.
#[derive(Clone, Debug, PartialEq)]
pub enum Obj {
    Struct(StructObj),
    List(ListObj),
}

/// A struct object; `data.len()` is a multiple of 8.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct StructObj {
    pub data: Vec<u8>,
    pub ptrs: Vec<Option<Obj>>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ListObj {
    Void(u32),
    Bits(Vec<bool>),
    /// Elements of 1, 2, 4 or 8 bytes, little-endian, concatenated. Text (with its NUL) and Data too.
    Bytes {
        width: u8,
        data: Vec<u8>,
    },
    Pointers(Vec<Option<Obj>>),
    Structs {
        data_words: u16,
        ptr_count: u16,
        elems: Vec<StructObj>,
    },
}

impl Obj {
    pub fn text(bytes: &[u8]) -> Obj {
        let mut data = bytes.to_vec();
        data.push(0);
        Obj::List(ListObj::Bytes { width: 1, data })
    }

    pub fn data(bytes: &[u8]) -> Obj {
        Obj::List(ListObj::Bytes {
            width: 1,
            data: bytes.to_vec(),
        })
    }
}

/// A `schema.Value`.
#[derive(Clone, Debug, PartialEq)]
pub enum OValue {
    Void,
    Bool(bool),
    Int8(i8),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    UInt8(u8),
    UInt16(u16),
    UInt32(u32),
    UInt64(u64),
    Float32(u32),
    Float64(u64),
    /// Bytes without the NUL; None = null pointer.
    Text(Option<Vec<u8>>),
    Data(Option<Vec<u8>>),
    List(Option<Obj>),
    Enum(u16),
    Struct(Option<Obj>),
    Interface,
    AnyPointer(Option<Obj>),
}

impl OValue {
    /// The value used when none is written (11.1).
    pub fn zero_of(ty: &OType) -> OValue {
        match ty {
            OType::Void => OValue::Void,
            OType::Bool => OValue::Bool(false),
            OType::Int8 => OValue::Int8(0),
            OType::Int16 => OValue::Int16(0),
            OType::Int32 => OValue::Int32(0),
            OType::Int64 => OValue::Int64(0),
            OType::UInt8 => OValue::UInt8(0),
            OType::UInt16 => OValue::UInt16(0),
            OType::UInt32 => OValue::UInt32(0),
            OType::UInt64 => OValue::UInt64(0),
            OType::Float32 => OValue::Float32(0),
            OType::Float64 => OValue::Float64(0),
            OType::Text => OValue::Text(None),
            OType::Data => OValue::Data(None),
            OType::List(_) => OValue::List(None),
            OType::Enum(..) => OValue::Enum(0),
            OType::Struct(..) => OValue::Struct(None),
            OType::Interface(..) => OValue::Interface,
            OType::AnyPointer(_) => OValue::AnyPointer(None),
        }
    }

    /// The little-endian bytes of a data value (bools handled separately), for struct encoding.
    pub fn data_bytes(&self) -> Option<Vec<u8>> {
        Some(match self {
            OValue::Int8(v) => v.to_le_bytes().to_vec(),
            OValue::Int16(v) => v.to_le_bytes().to_vec(),
            OValue::Int32(v) => v.to_le_bytes().to_vec(),
            OValue::Int64(v) => v.to_le_bytes().to_vec(),
            OValue::UInt8(v) => v.to_le_bytes().to_vec(),
            OValue::UInt16(v) | OValue::Enum(v) => v.to_le_bytes().to_vec(),
            OValue::UInt32(v) | OValue::Float32(v) => v.to_le_bytes().to_vec(),
            OValue::UInt64(v) | OValue::Float64(v) => v.to_le_bytes().to_vec(),
            _ => return None,
        })
    }

    /// The object a pointer value points to, if it is a pointer value.
    pub fn to_obj(&self) -> Option<Option<Obj>> {
        Some(match self {
            OValue::Text(t) => t.as_deref().map(Obj::text),
            OValue::Data(d) => d.as_deref().map(Obj::data),
            OValue::List(o) | OValue::Struct(o) | OValue::AnyPointer(o) => o.clone(),
            _ => return None,
        })
    }
}

/// An annotation application as stored in a node, field, enumerant or method.
#[derive(Clone, Debug, PartialEq)]
pub struct OAnnotation {
    pub id: u64,
    pub brand: OBrand,
    pub value: OValue,
}

#[derive(Clone, Debug, PartialEq)]
pub enum FieldKind {
    Slot {
        offset: u32,
        ty: OType,
        default: OValue,
        had_explicit_default: bool,
    },
    Group {
        type_id: u64,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct FieldOut {
    pub name: String,
    pub code_order: u16,
    pub annotations: Option<Vec<OAnnotation>>,
    pub discriminant_value: u16,
    pub kind: FieldKind,
    /// None = `ordinal.implicit`.
    pub explicit_ordinal: Option<u16>,
    pub doc: Option<Vec<u8>>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct StructOut {
    pub data_word_count: u16,
    pub pointer_count: u16,
    pub is_group: bool,
    pub discriminant_count: u16,
    pub discriminant_offset: u32,
    pub fields: Vec<FieldOut>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EnumerantOut {
    pub name: String,
    pub code_order: u16,
    pub annotations: Option<Vec<OAnnotation>>,
    pub doc: Option<Vec<u8>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MethodOut {
    pub name: String,
    pub code_order: u16,
    pub implicit_parameters: Vec<String>,
    pub param_struct_type: u64,
    pub param_brand: Option<OBrand>,
    pub result_struct_type: u64,
    pub result_brand: Option<OBrand>,
    pub annotations: Option<Vec<OAnnotation>>,
    pub doc: Option<Vec<u8>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SuperclassOut {
    pub id: u64,
    pub brand: Option<OBrand>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    File,
    Struct(StructOut),
    Enum(Vec<EnumerantOut>),
    Interface {
        methods: Vec<MethodOut>,
        superclasses: Vec<SuperclassOut>,
    },
    Const {
        ty: OType,
        value: OValue,
    },
    Annotation {
        ty: OType,
        targets: u16,
    },
}

/// Everything needed to write one `schema.Node` and its source info.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeOut {
    pub id: u64,
    pub display_name: String,
    pub display_name_prefix_length: u32,
    pub scope_id: u64,
    pub nested_nodes: Option<Vec<(String, u64)>>,
    pub annotations: Option<Vec<OAnnotation>>,
    pub parameters: Option<Vec<String>>,
    pub is_generic: bool,
    pub start_byte: u32,
    pub end_byte: u32,
    pub body: Body,
    pub doc: Option<Vec<u8>>,
    /// Byte range recorded in source info (differs from start/end for some kinds).
    pub source_range: (u32, u32),
}

/// Encodes an object as a single-segment message (stream framing) whose root points to it.
pub fn encode_message(obj: &Obj) -> Vec<u8> {
    let w = encode_segment(obj);
    let mut out = Vec::with_capacity(8 + w.words.len() * 8);
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(w.words.len() as u32).to_le_bytes());
    for word in &w.words {
        out.extend_from_slice(&word.to_le_bytes());
    }
    out
}

/// Encodes an object as the words of one segment whose first word points to it.
pub fn encode_segment(obj: &Obj) -> WireWriter {
    let mut w = WireWriter { words: vec![0] };
    w.write_pointer(0, obj);
    w
}

/// A `Value` struct whose pointer member is `obj` (discriminant `disc`) as a one-segment
/// message: what `encode_segment` makes of that struct, without building it as an `Obj`.
pub fn encode_pointer_value(disc: u16, obj: &Obj) -> WireWriter {
    let mut w = WireWriter { words: vec![0] };
    // The root struct: two data words (the discriminant first), one pointer.
    let target = w.alloc(3);
    w.words[0] = WireWriter::offset_bits(0, target) | (2 << 32) | (1 << 48);
    w.words[target] = u64::from(disc);
    w.write_pointer(target + 2, obj);
    w
}

pub struct WireWriter {
    pub words: Vec<u64>,
}

impl WireWriter {
    fn alloc(&mut self, n: usize) -> usize {
        let at = self.words.len();
        self.words.resize(at + n, 0);
        at
    }

    fn offset_bits(pointer_at: usize, target: usize) -> u64 {
        let off = target as i64 - pointer_at as i64 - 1;
        ((off as u64) & 0x3fff_ffff) << 2
    }

    fn write_data(&mut self, at: usize, bytes: &[u8]) {
        for (i, chunk) in bytes.chunks(8).enumerate() {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.words[at + i] = u64::from_le_bytes(word);
        }
    }

    fn write_struct_body(&mut self, at: usize, data_words: usize, s: &StructObj) {
        let data_len = s.data.len().min(data_words * 8);
        self.write_data(at, &s.data[..data_len]);
        for (i, p) in s.ptrs.iter().enumerate() {
            if let Some(obj) = p {
                self.write_pointer(at + data_words + i, obj);
            }
        }
    }

    fn write_pointer(&mut self, at: usize, obj: &Obj) {
        match obj {
            Obj::Struct(s) => {
                let dw = s.data.len().div_ceil(8);
                let pc = s.ptrs.len();
                let target = self.alloc(dw + pc);
                self.words[at] =
                    Self::offset_bits(at, target) | ((dw as u64) << 32) | ((pc as u64) << 48);
                self.write_struct_body(target, dw, s);
            }
            Obj::List(l) => self.write_list(at, l),
        }
    }

    fn write_list(&mut self, at: usize, l: &ListObj) {
        let (size_code, count, body_words) = match l {
            ListObj::Void(n) => (0u64, *n as u64, 0usize),
            ListObj::Bits(b) => (1, b.len() as u64, b.len().div_ceil(64)),
            ListObj::Bytes { width, data } => {
                let code = match width {
                    1 => 2,
                    2 => 3,
                    4 => 4,
                    _ => 5,
                };
                let n = data.len() / usize::from((*width).max(1));
                (code, n as u64, data.len().div_ceil(8))
            }
            ListObj::Pointers(p) => (6, p.len() as u64, p.len()),
            ListObj::Structs {
                data_words,
                ptr_count,
                elems,
            } => {
                let per = usize::from(*data_words) + usize::from(*ptr_count);
                (7, (per * elems.len()) as u64, per * elems.len() + 1)
            }
        };
        let target = self.alloc(body_words);
        self.words[at] = Self::offset_bits(at, target) | 1 | (size_code << 32) | (count << 35);
        match l {
            ListObj::Void(_) => {}
            ListObj::Bits(bits) => {
                for (i, b) in bits.iter().enumerate() {
                    if *b {
                        self.words[target + i / 64] |= 1 << (i % 64);
                    }
                }
            }
            ListObj::Bytes { data, .. } => self.write_data(target, data),
            ListObj::Pointers(ptrs) => {
                for (i, p) in ptrs.iter().enumerate() {
                    if let Some(obj) = p {
                        self.write_pointer(target + i, obj);
                    }
                }
            }
            ListObj::Structs {
                data_words,
                ptr_count,
                elems,
            } => {
                let dw = usize::from(*data_words);
                let per = dw + usize::from(*ptr_count);
                self.words[target] = ((elems.len() as u64 & 0x3fff_ffff) << 2)
                    | (u64::from(*data_words) << 32)
                    | (u64::from(*ptr_count) << 48);
                for (i, e) in elems.iter().enumerate() {
                    self.write_struct_body(target + 1 + i * per, dw, e);
                }
            }
        }
    }
}
