//! Values crossing the API (`Value` out, `SetValue` in) and their conversion to and from
//! data-section bits, with pycapnp's range and kind checks.

use capnp::private::layout::{
    ListBuilder, ListReader, PrimitiveElement, StructBuilder, StructReader,
};

use crate::any_pointer::{AnyPointerBuilder, AnyPointerReader};
use crate::error::{Error, Result};
use crate::list::{ListBuilder as DynListBuilder, ListReader as DynListReader};
use crate::message::Shape;
use crate::schema::{Registry, Type};
use crate::struct_::{StructBuilder as DynStructBuilder, StructReader as DynStructReader};

/// A value read from a field or list element.
#[derive(Clone, Debug)]
pub enum Value {
    Void,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    /// Raw Text bytes (without the NUL); the binding decodes them strictly as UTF-8.
    Text(Vec<u8>),
    Data(Vec<u8>),
    /// Enum ordinal; the enum's schema is the field's or list's element type.
    Enum(u16),
    Struct(StructValue),
    List(ListValue),
    AnyPointer(AnyPointerValue),
    /// An interface pointer: the token in the message's cap table (`cap.rs`).
    Capability(crate::cap::CapValue),
}

#[derive(Clone, Debug)]
pub enum StructValue {
    Reader(DynStructReader),
    Builder(DynStructBuilder),
}

#[derive(Clone, Debug)]
pub enum ListValue {
    Reader(DynListReader),
    Builder(DynListBuilder),
}

#[derive(Clone, Debug)]
pub enum AnyPointerValue {
    Reader(AnyPointerReader),
    Builder(AnyPointerBuilder),
}

/// A number to write into a primitive field (`StructBuilder::set_number_by_index`): the
/// common case of `SetValue`, without its 128-bit integer.
#[derive(Clone, Copy, Debug)]
pub enum Number {
    Bool(bool),
    Int(i64),
    /// Above `i64::MAX` (smaller values are `Int`).
    UInt(u64),
    Float(f64),
}

/// The bits `encode_data` gives `v` in a field of type `ty`, for the pairs it accepts the
/// same way (a number in range of an integer, float, enum or Bool field); `None` for every
/// other pair, which the caller hands to `encode_data` (its conversions and errors).
#[inline]
pub(crate) fn number_bits(ty: &Type, v: Number) -> Option<u64> {
    // Two's complement bits, truncated to the field's width (as `ranged`).
    let signed =
        |i: i64, min: i64, max: i64, m: u64| (min..=max).contains(&i).then_some(i as u64 & m);
    let unsigned = |i: i64, max: i64| (0..=max).contains(&i).then_some(i as u64);
    match (ty, v) {
        (Type::Bool, Number::Bool(b)) => Some(u64::from(b)),
        (Type::Int8, Number::Int(i)) => signed(i, i8::MIN.into(), i8::MAX.into(), 0xff),
        (Type::Int16, Number::Int(i)) => signed(i, i16::MIN.into(), i16::MAX.into(), 0xffff),
        (Type::Int32, Number::Int(i)) => signed(i, i32::MIN.into(), i32::MAX.into(), 0xffff_ffff),
        (Type::Int64, Number::Int(i)) => Some(i as u64),
        (Type::UInt8, Number::Int(i)) => unsigned(i, u8::MAX.into()),
        (Type::UInt16, Number::Int(i)) => unsigned(i, u16::MAX.into()),
        (Type::UInt32, Number::Int(i)) => unsigned(i, u32::MAX.into()),
        (Type::UInt64, Number::Int(i)) => unsigned(i, i64::MAX),
        (Type::UInt64, Number::UInt(u)) => Some(u),
        (Type::Enum(_), Number::Int(i)) => u16::try_from(i).ok().map(u64::from),
        // `float`: an int converts as `i as f64` (rounded to nearest, as from i128).
        (Type::Float32, Number::Float(f)) => Some(u64::from((f as f32).to_bits())),
        (Type::Float32, Number::Int(i)) => Some(u64::from((i as f64 as f32).to_bits())),
        (Type::Float64, Number::Float(f)) => Some(f.to_bits()),
        (Type::Float64, Number::Int(i)) => Some((i as f64).to_bits()),
        _ => None,
    }
}

/// A value to write, classified by what the caller holds (as pycapnp dispatches on the
/// Python type), not by the destination type.
#[derive(Clone, Copy, Debug)]
pub enum SetValue<'a> {
    /// `None`: Void only.
    Void,
    Bool(bool),
    /// Any integer up to 128 bits; range-checked against the destination.
    Int(i128),
    Float(f64),
    /// A `str`: Text, Data (UTF-8), enum (by name), AnyPointer (as Text).
    Str(&'a str),
    /// `bytes` or a buffer: Data, Text (raw bytes), AnyPointer (as Data).
    Bytes(&'a [u8]),
    /// A `_DynamicEnum`: only into the same enum type, of the same registry (one parser's
    /// enum is not another's, as for structs: `schema::same_registry`).
    Enum {
        id: u64,
        ordinal: u16,
        schema: &'a crate::schema::EnumSchema,
    },
    /// Deep copy of a struct of the destination's type.
    Struct(&'a DynStructReader),
    /// Deep copy of a list with the destination's element type.
    List(&'a DynListReader),
    /// Deep copy of an AnyPointer's content (into AnyPointer, or a struct/list slot).
    AnyPointer(&'a AnyPointerReader),
    /// A capability token, into an interface-typed (or AnyPointer) slot.
    Capability(&'a crate::cap::Cap),
}

/// capnp's limit on the elements of one list and on the words of one struct list: its layout
/// code panics beyond it (after allocating), so sizes are checked before.
const MAX_LIST: u64 = (1 << 29) - 1;

fn too_large() -> Error {
    Error::Capnp(capnp::Error::failed(
        "Lists are limited to 2**29 elements".into(),
    ))
}

/// Checks a list of `count` elements read as `shape` against capnp's limits.
pub(crate) fn check_list_size(shape: Shape, count: u32) -> Result<()> {
    let count = u64::from(count);
    let words = match shape {
        Shape::StructList(sz) => count * (u64::from(sz.data) + u64::from(sz.pointers)),
        _ => 0,
    };
    if count > MAX_LIST || words > MAX_LIST {
        return Err(too_large());
    }
    Ok(())
}

/// Checks a Text (`with_nul`) or Data blob of `len` bytes against capnp's limit.
pub(crate) fn check_blob_size(len: usize, with_nul: bool) -> Result<()> {
    if len as u64 + u64::from(with_nul) > MAX_LIST {
        return Err(too_large());
    }
    Ok(())
}

fn out_of_range(v: impl std::fmt::Display) -> Error {
    Error::OutOfRange {
        value: v.to_string(),
    }
}

/// An integral value from an int or an integral float; `Bool` is a kind mismatch.
fn integral(v: &SetValue<'_>) -> Result<i128> {
    match *v {
        SetValue::Int(i) => Ok(i),
        SetValue::Float(f) => {
            if f.is_finite() && f.fract() == 0.0 && f.abs() < 1.8e38 {
                Ok(f as i128)
            } else {
                Err(out_of_range(f))
            }
        }
        _ => Err(Error::TypeMismatch),
    }
}

fn ranged(v: &SetValue<'_>, min: i128, max: i128) -> Result<u64> {
    let i = integral(v)?;
    if i < min || i > max {
        return Err(out_of_range(i));
    }
    // Two's complement bits of the value, truncated by the caller to the field width.
    Ok(i as i64 as u64)
}

/// Encodes a data-section value (or list element) as bits, zero-extended to 64.
pub(crate) fn encode_data(ty: &Type, v: &SetValue<'_>, registry: &Registry) -> Result<u64> {
    Ok(match ty {
        Type::Void => match v {
            SetValue::Void => 0,
            _ => return Err(Error::TypeMismatch),
        },
        Type::Bool => match v {
            SetValue::Bool(b) => u64::from(*b),
            _ => return Err(Error::TypeMismatch),
        },
        Type::Int8 => ranged(v, i8::MIN.into(), i8::MAX.into())? & 0xff,
        Type::Int16 => ranged(v, i16::MIN.into(), i16::MAX.into())? & 0xffff,
        Type::Int32 => ranged(v, i32::MIN.into(), i32::MAX.into())? & 0xffff_ffff,
        Type::Int64 => ranged(v, i64::MIN.into(), i64::MAX.into())?,
        Type::UInt8 => ranged(v, 0, u8::MAX.into())?,
        Type::UInt16 => ranged(v, 0, u16::MAX.into())?,
        Type::UInt32 => ranged(v, 0, u32::MAX.into())?,
        Type::UInt64 => {
            let i = integral(v)?;
            u64::try_from(i).map_err(|_| out_of_range(i))?
        }
        Type::Float32 => u64::from((float(v)? as f32).to_bits()),
        Type::Float64 => float(v)?.to_bits(),
        Type::Enum(id) => match *v {
            SetValue::Int(i) => u64::from(u16::try_from(i).map_err(|_| out_of_range(i))?),
            SetValue::Str(name) => u64::from(registry.get_enum(*id)?.ordinal(name)?),
            SetValue::Enum {
                id: other,
                ordinal,
                schema,
            } if other == *id && same_enum(registry, *id, schema)? => u64::from(ordinal),
            _ => return Err(Error::TypeMismatch),
        },
        _ => return Err(Error::TypeMismatch),
    })
}

/// Whether `schema` is `registry`'s enum `id` itself (a SchemaLoader's registry makes
/// placeholders per lookup, so there only the id is compared).
fn same_enum(registry: &Registry, id: u64, schema: &crate::schema::EnumSchema) -> Result<bool> {
    if registry.uses_placeholders() {
        return Ok(true);
    }
    Ok(std::ptr::eq(&*registry.get_enum(id)?, schema))
}

fn float(v: &SetValue<'_>) -> Result<f64> {
    match *v {
        SetValue::Int(i) => Ok(i as f64),
        SetValue::Float(f) => Ok(f),
        _ => Err(Error::TypeMismatch),
    }
}

/// Turns raw bits (already un-XORed) into a value of `ty`.
pub(crate) fn decode_data(ty: &Type, bits: u64) -> Value {
    crate::struct_::PrimKind::of(ty).map_or(Value::Void, |k| Value::from(k.decode(bits)))
}

/// Raw bits of a struct's data slot (`offset` in units of the type's width).
pub(crate) fn read_struct_bits(s: &StructReader<'_>, ty: &Type, offset: u32) -> u64 {
    let o = offset as usize;
    match ty.data_bits() {
        1 => u64::from(s.get_bool_field(o)),
        8 => u64::from(s.get_data_field::<u8>(o)),
        16 => u64::from(s.get_data_field::<u16>(o)),
        32 => u64::from(s.get_data_field::<u32>(o)),
        64 => s.get_data_field::<u64>(o),
        _ => 0,
    }
}

/// Writes raw bits into a data slot. The schema's offsets were checked against its size
/// and builder structs are always upgraded to that size, so the write is in bounds.
pub(crate) fn write_struct_bits(s: &StructBuilder<'_>, ty: &Type, offset: u32, bits: u64) {
    let o = offset as usize;
    match ty.data_bits() {
        1 => s.set_bool_field(o, bits & 1 != 0),
        8 => s.set_data_field::<u8>(o, bits as u8),
        16 => s.set_data_field::<u16>(o, bits as u16),
        32 => s.set_data_field::<u32>(o, bits as u32),
        64 => s.set_data_field::<u64>(o, bits),
        _ => {}
    }
}

/// Raw bits of a primitive list element; the caller checked `i < len`.
pub(crate) fn read_list_bits(l: &ListReader<'_>, ty: &Type, i: u32) -> u64 {
    match ty.data_bits() {
        1 => u64::from(<bool as PrimitiveElement>::get(l, i)),
        8 => u64::from(<u8 as PrimitiveElement>::get(l, i)),
        16 => u64::from(<u16 as PrimitiveElement>::get(l, i)),
        32 => u64::from(<u32 as PrimitiveElement>::get(l, i)),
        64 => <u64 as PrimitiveElement>::get(l, i),
        _ => 0,
    }
}

pub(crate) fn read_list_builder_bits(l: &ListBuilder<'_>, ty: &Type, i: u32) -> u64 {
    match ty.data_bits() {
        1 => u64::from(<bool as PrimitiveElement>::get_from_builder(l, i)),
        8 => u64::from(<u8 as PrimitiveElement>::get_from_builder(l, i)),
        16 => u64::from(<u16 as PrimitiveElement>::get_from_builder(l, i)),
        32 => u64::from(<u32 as PrimitiveElement>::get_from_builder(l, i)),
        64 => <u64 as PrimitiveElement>::get_from_builder(l, i),
        _ => 0,
    }
}

#[inline]
pub(crate) fn write_list_bits(l: &ListBuilder<'_>, ty: &Type, i: u32, bits: u64) {
    match ty.data_bits() {
        1 => <bool as PrimitiveElement>::set(l, i, bits & 1 != 0),
        8 => <u8 as PrimitiveElement>::set(l, i, bits as u8),
        16 => <u16 as PrimitiveElement>::set(l, i, bits as u16),
        32 => <u32 as PrimitiveElement>::set(l, i, bits as u32),
        64 => <u64 as PrimitiveElement>::set(l, i, bits),
        _ => {}
    }
}

pub(crate) fn list_shape(elem: &Type, registry: &Registry) -> Result<Shape> {
    Ok(match elem {
        Type::Struct(id) => Shape::StructList(registry.get_struct(*id)?.size()),
        t if t.is_pointer() => Shape::PtrList,
        t => Shape::PrimList(t.list_element_size()),
    })
}
