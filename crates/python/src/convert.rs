//! Values between Python and the dynamic layer: reading (API.md 3.2), writing with pycapnp's
//! dispatch on the Python type (3.3), and `to_dict`/`from_dict` (3.8).

use capnp_dynamic::{
    AnyPointerValue, Field, FieldKind, ListBuilder, ListReader, ListValue, Number, SetValue,
    StructBuilder, StructReader, StructSchema, StructValue, Type, Value,
};
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyUnicodeDecodeError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use pyo3::IntoPyObjectExt;

use crate::any_pointer::{PyObjectBuilder, PyObjectReader};
use crate::enum_::PyEnum;
use crate::error::{MsgError, MsgResult};
use crate::exceptions::plain_kj_exception;
use crate::list::{PyListBuilder, PyListReader};
use crate::registry::PyRegistry;
use crate::struct_::{PyStructBuilder, PyStructReader};

/// Deepest struct/list nesting `to_dict` follows (readers are limited earlier by the message's
/// nesting limit; this bounds builders).
const MAX_DICT_DEPTH: usize = 256;

/// The type of a slot field (`None` for groups).
pub(crate) fn slot_type(field: &Field) -> Option<&Type> {
    match &field.kind {
        FieldKind::Slot { ty, .. } => Some(ty),
        FieldKind::Group { .. } => None,
    }
}

/// Text bytes as `str`, for a caller that may hold a message's lock: it makes only a `str`
/// (no collection can start, so no Python code runs); invalid UTF-8 comes back copied, for
/// `text_to_py` to raise once the lock is released.
pub(crate) fn str_under_lock(py: Python<'_>, bytes: &[u8]) -> Result<Py<PyAny>, Vec<u8>> {
    match crate::ffi::str_from_utf8(py, bytes) {
        Ok(s) => Ok(s.into_any().unbind()),
        Err(_) => Err(bytes.to_vec()),
    }
}

/// Text bytes as `str`, decoded strictly.
pub(crate) fn text_to_py(py: Python<'_>, bytes: &[u8]) -> MsgResult<Py<PyAny>> {
    match crate::ffi::str_from_utf8(py, bytes) {
        Ok(s) => Ok(s.into_any().unbind()),
        Err(e) => {
            Err(PyErr::from_value(PyUnicodeDecodeError::new_utf8(py, bytes, e)?.into_any()).into())
        }
    }
}

/// The raw bits of a Bool or number of type `ty` as the Python object `value_to_py` makes of
/// its `Value` (`decode_data`'s decoding), without the `Value`.
pub(crate) fn scalar_to_py(py: Python<'_>, ty: &Type, bits: u64) -> PyResult<Py<PyAny>> {
    // (Callers pass Bool and number types only; anything else would be `None`.)
    Ok(crate::ffi::scalar_object(py, ty, bits)?.unwrap_or_else(|| py.None()))
}

/// A read value as a Python object; `ty` is the field's or element's type (enums need it).
pub(crate) fn value_to_py(
    py: Python<'_>,
    value: Value,
    ty: Option<&Type>,
    registry: &Py<PyRegistry>,
) -> MsgResult<Py<PyAny>> {
    Ok(match value {
        Value::Void => py.None(),
        Value::Bool(b) => b.into_py_any(py)?,
        Value::Int(i) => i.into_py_any(py)?,
        Value::UInt(u) => u.into_py_any(py)?,
        Value::Float(f) => f.into_py_any(py)?,
        Value::Text(t) => text_to_py(py, &t)?,
        Value::Data(d) => crate::ffi::bytes_copy(py, &d)?.into_any().unbind(),
        Value::Enum(raw) => {
            let Some(Type::Enum(id)) = ty else {
                return Ok(raw.into_py_any(py)?);
            };
            let schema = registry.get().inner.get_enum(*id)?;
            Py::new(py, PyEnum::new(schema, raw))?.into_any()
        }
        Value::Struct(StructValue::Builder(b)) => {
            PyStructBuilder::wrap(py, b, registry.clone_ref(py))?.into_any()
        }
        Value::Struct(StructValue::Reader(r)) => {
            PyStructReader::wrap(py, r, registry.clone_ref(py))?.into_any()
        }
        Value::List(ListValue::Builder(l)) => crate::lean_object::new_object(
            py,
            PyListBuilder {
                inner: l,
                registry: registry.clone_ref(py),
                keep: None,
            },
        )?
        .into_any(),
        Value::List(ListValue::Reader(l)) => crate::lean_object::new_object(
            py,
            PyListReader {
                inner: l,
                registry: registry.clone_ref(py),
                keep: None,
            },
        )?
        .into_any(),
        Value::AnyPointer(AnyPointerValue::Reader(r)) => Py::new(
            py,
            PyObjectReader {
                inner: r,
                registry: Some(registry.clone_ref(py)),
            },
        )?
        .into_any(),
        Value::AnyPointer(AnyPointerValue::Builder(b)) => Py::new(
            py,
            PyObjectBuilder {
                inner: b,
                registry: Some(registry.clone_ref(py)),
            },
        )?
        .into_any(),
        Value::Capability(v) => {
            let cap = crate::rpc::cap_value_to_py(py, v)?;
            let id = match ty {
                Some(Type::Interface(id)) => Some(*id),
                _ => None,
            };
            let factory = CAP_FACTORY
                .get(py)
                .ok_or_else(|| crate::any_pointer::capability_unsupported(py))?;
            factory.call1(py, (registry.clone_ref(py), id, cap))?
        }
    })
}

fn unsupported(py: Python<'_>, field: &str, value: &Bound<'_, PyAny>) -> MsgError {
    let shown = value.str().map(|s| s.to_string()).unwrap_or_default();
    let ty = value
        .get_type()
        .str()
        .map(|s| s.to_string())
        .unwrap_or_default();
    MsgError::Python(plain_kj_exception(
        py,
        &format!(
            "Tried to set field: '{field}' with a value of: '{shown}' which is an unsupported type: '{ty}'"
        ),
    ))
}

/// Calls `f` with `value` classified as pycapnp classifies it (bool before int, ...).
pub(crate) fn with_set_value<R>(
    value: &Bound<'_, PyAny>,
    field: &str,
    f: impl FnOnce(SetValue<'_>) -> MsgResult<R>,
) -> MsgResult<R> {
    let py = value.py();
    if value.is_none() {
        return f(SetValue::Void);
    }
    if let Ok(b) = value.cast::<PyBool>() {
        return f(SetValue::Bool(b.is_true()));
    }
    if let Ok(int) = value.cast::<PyInt>() {
        // Most ints fit 64 bits, whose conversion is much cheaper than i128's.
        if let Some(i) = plain_int(int) {
            return f(SetValue::Int(i));
        }
        let too_big = || PyOverflowError::new_err("int too big to convert to a 64-bit value");
        let i: i128 = value.extract().map_err(|_| too_big())?;
        if i < i128::from(i64::MIN) || i > i128::from(u64::MAX) {
            return Err(too_big().into());
        }
        return f(SetValue::Int(i));
    }
    if let Ok(x) = value.cast::<PyFloat>() {
        return f(SetValue::Float(x.value()));
    }
    if let Ok(b) = value.cast::<PyBytes>() {
        return f(SetValue::Bytes(b.as_bytes()));
    }
    if let Ok(s) = value.cast::<PyString>() {
        return f(SetValue::Str(crate::ffi::str_text(s)?));
    }
    if let Ok(b) = value.cast::<PyStructBuilder>() {
        let r = b.get().inner.as_reader();
        return f(SetValue::Struct(&r));
    }
    if let Ok(r) = value.cast::<PyStructReader>() {
        return f(SetValue::Struct(&r.get().inner));
    }
    if let Ok(l) = value.cast::<PyListBuilder>() {
        let r = l.get().inner.as_reader();
        return f(SetValue::List(&r));
    }
    if let Ok(l) = value.cast::<PyListReader>() {
        return f(SetValue::List(&l.get().inner));
    }
    if let Ok(a) = value.cast::<PyObjectReader>() {
        return f(SetValue::AnyPointer(&a.get().inner));
    }
    if let Ok(a) = value.cast::<PyObjectBuilder>() {
        let r = a.get().inner.as_reader();
        return f(SetValue::AnyPointer(&r));
    }
    if let Ok(e) = value.cast::<PyEnum>() {
        let e = e.get();
        return f(SetValue::Enum {
            id: e.type_id(),
            ordinal: e.raw(),
            schema: e.schema(),
        });
    }
    if let Ok(cap) = value.cast::<crate::rpc::PyCap>() {
        return f(SetValue::Capability(&cap.get().cap));
    }
    // Clients and server objects (`_DynamicCapabilityClient`, `_DynamicCapabilityServer`)
    // turn themselves into a capability of the current loop.
    if let Ok(as_cap) = value.getattr(pyo3::intern!(py, "_as_cap")) {
        let cap = as_cap.call0()?;
        let cap = cap.cast::<crate::rpc::PyCap>().map_err(PyErr::from)?;
        return f(SetValue::Capability(&cap.get().cap));
    }
    if !value.is_instance_of::<PyDict>() && !value.is_instance_of::<PyList>() {
        if let Ok(buf) = pyo3::buffer::PyBuffer::<u8>::get(value) {
            let bytes = buf.to_vec(py)?;
            return f(SetValue::Bytes(&bytes));
        }
    }
    Err(unsupported(py, field, value))
}

/// The items of a Python `list` or `tuple` (other iterables are unsupported, as in pycapnp).
fn sequence_items<'py>(value: &Bound<'py, PyAny>) -> Option<Vec<Bound<'py, PyAny>>> {
    if let Ok(l) = value.cast::<PyList>() {
        return Some(l.iter().collect());
    }
    if let Ok(t) = value.cast::<PyTuple>() {
        return Some(t.iter().collect());
    }
    None
}

fn len_u32(n: usize) -> MsgResult<u32> {
    u32::try_from(n).map_err(|_| {
        MsgError::Dynamic(capnp_dynamic::Error::OutOfRange {
            value: n.to_string(),
        })
    })
}

/// Sets field `index` of `builder` from any Python value (lists re-initialise the field,
/// dicts merge into the struct).
/// `set_field` for plain values (`None`, bool, int, float, str, bytes: its first step);
/// `None` for any other value.
pub(crate) fn set_plain_field(
    builder: &StructBuilder,
    index: usize,
    value: &Bound<'_, PyAny>,
) -> Option<MsgResult<()>> {
    // A number into a primitive field it fits: written without building a `SetValue`.
    if let Some(n) = number(value) {
        // Without the message lock when nothing else can touch the message.
        // (The proof, a temporary, is dropped at the end of the statement.)
        let set = builder.set_number_by_index_excluded(
            crate::ffi::excluded(value.py()).as_ref(),
            index,
            n,
        );
        match set {
            Ok(true) => return Some(Ok(())),
            Ok(false) => {}
            Err(e) => return Some(Err(e.into())),
        }
    }
    // An enum field written by name from a literal: its ordinal found by the name object,
    // then written as a number (without the registry and the name comparisons).
    if let Ok(name) = value.cast_exact::<PyString>() {
        if let Some(ordinal) = enum_ordinal_of_name(builder, index, name) {
            let set = builder.set_number_by_index_excluded(
                crate::ffi::excluded(value.py()).as_ref(),
                index,
                Number::Int(i64::from(ordinal)),
            );
            match set {
                Ok(true) => return Some(Ok(())),
                Ok(false) => {}
                Err(e) => return Some(Err(e.into())),
            }
        }
    }
    plain_set_value(value).map(|v| Ok(builder.set_by_index(index, v)?))
}

/// `enum_::ordinal_of_name` for field `index` of `builder`'s struct when it is an enum slot.
#[inline]
fn enum_ordinal_of_name(
    builder: &StructBuilder,
    index: usize,
    name: &Bound<'_, PyString>,
) -> Option<u16> {
    let field = builder.schema().fields.get(index)?;
    let capnp_dynamic::FieldKind::Slot {
        ty: Type::Enum(id), ..
    } = &field.kind
    else {
        return None;
    };
    crate::enum_::ordinal_of_name(name.py(), field, *id, builder.registry(), name)
}

/// A `bool`, an `int` that fits 64 bits (signed or not) or a `float` as a `Number`; `None`
/// for anything else.
#[inline(always)]
fn number(value: &Bound<'_, PyAny>) -> Option<Number> {
    if let Ok(i) = value.cast::<PyInt>() {
        if let Ok(b) = value.cast::<PyBool>() {
            return Some(Number::Bool(b.is_true()));
        }
        return match crate::ffi::int_as_i64(i) {
            Some(v) => Some(Number::Int(v)),
            None => crate::ffi::int_as_u64(i).map(Number::UInt),
        };
    }
    if let Ok(x) = value.cast_exact::<PyFloat>() {
        return Some(Number::Float(x.value()));
    }
    // `bytes` and `str` (flag tests) before the subclass test of `float`, which walks the
    // value's MRO: no class is both.
    if value.is_instance_of::<PyBytes>() || value.is_instance_of::<PyString>() {
        return None;
    }
    value
        .cast::<PyFloat>()
        .ok()
        .map(|x| Number::Float(x.value()))
}

/// `set_field`'s struct copy when it goes straight from the source's message
/// (`StructBuilder::set_struct_direct`): the value a struct reader or builder (exactly our
/// classes). `None`, nothing written, for any other value or copy, which `set_field` then
/// does. Drops no `Py` (the builder's lean attribute slot calls it): the builder's reader
/// view is plain Rust, and the copy makes no snapshot and no cap table.
pub(crate) fn set_struct_direct(
    builder: &StructBuilder,
    index: usize,
    value: &Bound<'_, PyAny>,
) -> Option<MsgResult<()>> {
    let done = if let Ok(r) = value.cast_exact::<PyStructReader>() {
        builder.set_struct_direct(index, &r.get().inner)
    } else if let Ok(b) = value.cast_exact::<PyStructBuilder>() {
        builder.set_struct_direct(index, &b.get().inner.as_reader())
    } else {
        return None;
    };
    match done {
        Ok(true) => Some(Ok(())),
        Ok(false) => None,
        Err(e) => Some(Err(e.into())),
    }
}

pub(crate) fn set_field(
    builder: &StructBuilder,
    registry: &Py<PyRegistry>,
    index: usize,
    value: &Bound<'_, PyAny>,
) -> MsgResult<()> {
    // A struct reader or builder (exactly our classes: no subclass test walks the MRO) is
    // a copy; `with_set_value` below would find it the same, after every other kind.
    if let Ok(r) = value.cast_exact::<PyStructReader>() {
        return Ok(builder.set_by_index(index, SetValue::Struct(&r.get().inner))?);
    }
    if let Ok(b) = value.cast_exact::<PyStructBuilder>() {
        let r = b.get().inner.as_reader();
        return Ok(builder.set_by_index(index, SetValue::Struct(&r))?);
    }
    // Plain scalars (the usual case) go straight to the write.
    if let Some(done) = set_plain_field(builder, index, value) {
        return done;
    }
    let Some(field) = builder.schema().fields.get(index) else {
        return Err(capnp_dynamic::Error::NoSuchField {
            name: format!("#{index}"),
        }
        .into());
    };
    if let Ok(d) = value.cast::<PyDict>() {
        return match builder.get_by_index(index)? {
            Value::Struct(StructValue::Builder(sb)) => from_dict(&sb, registry, d),
            _ => Err(capnp_dynamic::Error::TypeMismatch.into()),
        };
    }
    if let Some(done) = set_number_list(builder, index, value) {
        return done;
    }
    if let Some(items) = sequence_items(value) {
        if !matches!(slot_type(field), Some(Type::List(_))) {
            return Err(capnp_dynamic::Error::TypeMismatch.into());
        }
        let Value::List(ListValue::Builder(list)) =
            builder.init_by_index(index, Some(len_u32(items.len())?))?
        else {
            return Err(capnp_dynamic::Error::TypeMismatch.into());
        };
        return set_elements(&list, registry, &items);
    }
    with_set_value(value, &field.name, |v| Ok(builder.set_by_index(index, v)?))
}

/// A `list` or `tuple` of plain numbers into a list field of numbers or Bool, written
/// in one step (`StructBuilder::set_number_list_by_index`); `None` (nothing written) for any
/// other value or field, and for items that step does not take as they are: the general
/// path then converts them or reports the error, as before.
pub(crate) fn set_number_list(
    builder: &StructBuilder,
    index: usize,
    value: &Bound<'_, PyAny>,
) -> Option<MsgResult<()>> {
    let field = builder.schema().fields.get(index)?;
    match slot_type(field) {
        Some(Type::List(elem)) if !elem.is_pointer() && !matches!(**elem, Type::Enum(_)) => {}
        _ => return None,
    }
    // Short lists (the usual case) are read into the stack, longer ones into a vector sized
    // at once.
    let mut stack = [Number::Int(0); 32];
    let mut heap = Vec::new();
    let numbers: &[Number] = if let Ok(l) = value.cast::<PyList>() {
        numbers_of(l.len(), l.iter(), &mut stack, &mut heap)?
    } else if let Ok(t) = value.cast::<PyTuple>() {
        numbers_of(t.len(), t.iter(), &mut stack, &mut heap)?
    } else {
        return None;
    };
    match builder.set_number_list_by_index(index, numbers) {
        Ok(true) => Some(Ok(())),
        Ok(false) => None,
        Err(e) => Some(Err(e.into())),
    }
}

/// The `number` of each of `len` items, in `stack` when they fit (else in `heap`); `None`
/// when one is not a number. A list that changes length meanwhile gives what its iterator
/// gave (PyO3's iterators check the length at each step).
fn numbers_of<'a, 'py>(
    len: usize,
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    stack: &'a mut [Number],
    heap: &'a mut Vec<Number>,
) -> Option<&'a [Number]> {
    if len <= stack.len() {
        let mut n = 0;
        for (slot, item) in stack.iter_mut().zip(items) {
            *slot = number(&item)?;
            n += 1;
        }
        return stack.get(..n);
    }
    heap.reserve_exact(len);
    for item in items {
        heap.push(number(&item)?);
    }
    Some(heap)
}

/// An `int` that fits 64 bits, signed or not (the range of every integer field), read
/// without raising; `None` beyond (the caller's general path reports it).
fn plain_int(i: &Bound<'_, PyInt>) -> Option<i128> {
    match crate::ffi::int_as_i64(i) {
        Some(v) => Some(i128::from(v)),
        // Above i64::MAX, UInt64 values are common (hashes, ids); below i64::MIN is out of
        // every range anyway.
        None => crate::ffi::int_as_u64(i).map(i128::from),
    }
}

/// The `SetValue` of the plain scalars a list assignment usually holds (`None`, bool, int,
/// float, str, bytes); `None` for anything else, which takes the element-by-element path.
pub(crate) fn plain_set_value<'a>(value: &'a Bound<'_, PyAny>) -> Option<SetValue<'a>> {
    if value.is_none() {
        return Some(SetValue::Void);
    }
    if let Ok(b) = value.cast::<PyBool>() {
        return Some(SetValue::Bool(b.is_true()));
    }
    if let Ok(i) = value.cast::<PyInt>() {
        return plain_int(i).map(SetValue::Int);
    }
    // `bytes` and `str` (flag tests) before `float` (a subclass test walking the MRO): no
    // class is two of them.
    if let Ok(b) = value.cast::<PyBytes>() {
        return Some(SetValue::Bytes(b.as_bytes()));
    }
    if let Ok(s) = value.cast::<PyString>() {
        return crate::ffi::str_text(s).ok().map(SetValue::Str);
    }
    if let Ok(x) = value.cast::<PyFloat>() {
        return Some(SetValue::Float(x.value()));
    }
    None
}

fn set_elements(
    list: &ListBuilder,
    registry: &Py<PyRegistry>,
    items: &[Bound<'_, PyAny>],
) -> MsgResult<()> {
    // All plain scalars: written in one pass under one lock. (Collected into a vector sized
    // at once: `collect` into an `Option<Vec>` cannot know the length and grows it.)
    let mut values = Vec::with_capacity(items.len());
    for item in items {
        match plain_set_value(item) {
            Some(v) => values.push(v),
            None => break,
        }
    }
    if values.len() == items.len() {
        return Ok(list.set_all(&values)?);
    }
    for (i, item) in items.iter().enumerate() {
        set_element(list, registry, i as i64, item)?;
    }
    Ok(())
}

/// Sets element `index` of a list from any Python value.
pub(crate) fn set_element(
    list: &ListBuilder,
    registry: &Py<PyRegistry>,
    index: i64,
    value: &Bound<'_, PyAny>,
) -> MsgResult<()> {
    if let Ok(d) = value.cast::<PyDict>() {
        return match list.get(index)? {
            Value::Struct(StructValue::Builder(sb)) => from_dict(&sb, registry, d),
            _ => Err(capnp_dynamic::Error::TypeMismatch.into()),
        };
    }
    if let Some(items) = sequence_items(value) {
        if !matches!(list.element_type(), Type::List(_)) {
            return Err(capnp_dynamic::Error::TypeMismatch.into());
        }
        let Value::List(ListValue::Builder(inner)) = list.init(index, len_u32(items.len())?)?
        else {
            return Err(capnp_dynamic::Error::TypeMismatch.into());
        };
        return set_elements(&inner, registry, &items);
    }
    with_set_value(value, "<list element>", |v| Ok(list.set(index, v)?))
}

/// `builder.from_dict(d)` (API.md 3.8).
pub(crate) fn from_dict(
    builder: &StructBuilder,
    registry: &Py<PyRegistry>,
    d: &Bound<'_, PyDict>,
) -> MsgResult<()> {
    from_items(builder, registry, d.py(), d.iter())
}

/// [`from_dict`] over `(name, value)` pairs in order: a dict's items, or the keyword
/// arguments of a vector call (`new_message(**fields)`) without a dict made for them.
pub(crate) fn from_items<'py>(
    builder: &StructBuilder,
    registry: &Py<PyRegistry>,
    py: Python<'py>,
    items: impl Iterator<Item = (Bound<'py, PyAny>, Bound<'py, PyAny>)>,
) -> MsgResult<()> {
    let schema = builder.schema();
    let names = field_names(py, schema);
    let which = pyo3::intern!(py, "which");
    // The field after the last one set: a dict written in declaration order (as `to_dict`
    // writes them) names it next, and its key is then the interned name itself.
    let mut next = 0;
    for (key, value) in items {
        // Keys are nearly always `str` already: no `str()` call for them.
        let key = match key.cast_into::<PyString>() {
            Ok(s) => s,
            Err(e) => e.into_inner().str()?,
        };
        let index = match names.get(next) {
            Some(name) if key.is(name) && !key.is(which) => next,
            _ => {
                let name = key.to_str()?;
                if name == "which" {
                    continue;
                }
                let Some(&index) = schema.by_name.get(name) else {
                    return Err(capnp_dynamic::Error::NoSuchField {
                        name: name.to_string(),
                    }
                    .into());
                };
                index
            }
        };
        next = index + 1;
        let is_data = schema
            .fields
            .get(index)
            .and_then(slot_type)
            .is_some_and(|t| *t == Type::Data);
        let value = if is_data && value.is_instance_of::<PyString>() {
            py.import("base64")?.call_method1("b64decode", (value,))?
        } else {
            value
        };
        match set_field(builder, registry, index, &value) {
            Err(e) if e.is_not_in_union() => {
                builder.init_by_index(index, None)?;
                set_field(builder, registry, index, &value)?;
            }
            other => other?,
        }
    }
    Ok(())
}

/// A struct's field names as interned Python strings, in field order (`to_dict`'s keys).
type FieldNames = Vec<Py<PyString>>;

fn make_field_names(py: Python<'_>, schema: &StructSchema) -> FieldNames {
    schema
        .fields
        .iter()
        .map(|f| PyString::intern(py, &f.name).unbind())
        .collect()
}

/// A struct's field names: kept with its schema, or made for this use.
enum Names<'a> {
    Kept(&'a [Py<PyString>]),
    Made(FieldNames),
}

impl std::ops::Deref for Names<'_> {
    type Target = [Py<PyString>];
    fn deref(&self) -> &[Py<PyString>] {
        match self {
            Names::Kept(names) => names,
            Names::Made(names) => names,
        }
    }
}

/// [`FieldNames`] kept with the schema (`StructSchema::host`), so a struct's `to_dict` finds
/// them without a lock or a map; made for this use only if that cache held something else.
fn field_names<'a>(py: Python<'_>, schema: &'a StructSchema) -> Names<'a> {
    if let Some(names) = schema.host.get::<FieldNames>() {
        return Names::Kept(names);
    }
    // Made before entering the cell: interning may run Python code (a collection), which
    // may let another thread in, and that thread must not wait on the cell holding the GIL.
    let names = make_field_names(py, schema);
    match schema.host.get_or_init(|| names) {
        Some(names) => Names::Kept(names.as_slice()),
        None => Names::Made(make_field_names(py, schema)),
    }
}

/// Options of `to_dict`.
#[derive(Clone, Copy)]
pub(crate) struct DictOptions {
    /// The struct is a builder: AnyPointer values come back as builders.
    pub(crate) builder: bool,
    pub(crate) verbose: bool,
    pub(crate) ordered: bool,
    pub(crate) base64: bool,
}

/// Walks a struct for `to_dict`. `null_chain` holds the struct types being expanded from
/// null pointers, so a self-recursive type's defaults expand once (API.md 3.8).
struct DictWalk<'a> {
    registry: &'a Py<PyRegistry>,
    options: DictOptions,
    null_chain: Vec<u64>,
    depth: usize,
}

pub(crate) fn to_dict(
    py: Python<'_>,
    reader: &StructReader,
    registry: &Py<PyRegistry>,
    options: DictOptions,
) -> MsgResult<Py<PyAny>> {
    let mut walk = DictWalk {
        registry,
        options,
        null_chain: Vec::new(),
        depth: 0,
    };
    walk.struct_(py, reader)
}

impl DictWalk<'_> {
    fn struct_(&mut self, py: Python<'_>, r: &StructReader) -> MsgResult<Py<PyAny>> {
        self.depth += 1;
        if self.depth > MAX_DICT_DEPTH {
            return Err(capnp::Error::failed(
                "Message is too deeply-nested or contains cycles".into(),
            )
            .into());
        }
        let out = if self.options.ordered {
            py.import("collections")?.getattr("OrderedDict")?.call0()?
        } else {
            PyDict::new(py).into_any()
        };
        let schema = r.schema();
        let names = field_names(py, schema);
        if schema.union.is_some() {
            let (_, i) = r.which_field()?;
            if let Some(name) = names.get(i) {
                let v = self.field(py, r, i)?;
                out.set_item(name.bind(py), v)?;
            }
        }
        for &i in &schema.non_union_fields {
            let Some(name) = names.get(i) else {
                continue;
            };
            if self.options.verbose || r.has_by_index(i)? {
                let v = self.field(py, r, i)?;
                out.set_item(name.bind(py), v)?;
            }
        }
        self.depth -= 1;
        Ok(out.unbind())
    }

    fn field(&mut self, py: Python<'_>, r: &StructReader, index: usize) -> MsgResult<Py<PyAny>> {
        let schema = r.schema();
        let Some(field) = schema.fields.get(index) else {
            return Ok(py.None());
        };
        let ty = slot_type(field);
        match ty {
            // Read in place (no copy of the bytes on the way), possibly under the lock.
            Some(Type::Text) => {
                let text = r.with_blob(index, |b| str_under_lock(py, b))?;
                match text {
                    Some(Ok(obj)) => return Ok(obj),
                    Some(Err(invalid)) => return text_to_py(py, &invalid),
                    None => {}
                }
            }
            Some(Type::Data) if !self.options.base64 => {
                if let Some(data) = r.with_blob(index, |b| crate::ffi::bytes_copy(py, b))? {
                    return Ok(data?.into_any().unbind());
                }
            }
            _ => {}
        }
        let value = r.get_by_index(index)?;
        match (ty, &value) {
            (Some(Type::Struct(id)), Value::Struct(StructValue::Reader(s))) => {
                if r.has_by_index(index)? {
                    let saved = std::mem::take(&mut self.null_chain);
                    let out = self.struct_(py, s);
                    self.null_chain = saved;
                    out
                } else if self.null_chain.contains(id) {
                    Ok(PyDict::new(py).into_any().unbind())
                } else {
                    self.null_chain.push(*id);
                    let out = self.struct_(py, s);
                    self.null_chain.pop();
                    out
                }
            }
            _ => self.value(py, value, ty),
        }
    }

    fn value(&mut self, py: Python<'_>, value: Value, ty: Option<&Type>) -> MsgResult<Py<PyAny>> {
        Ok(match value {
            Value::Struct(StructValue::Reader(s)) => self.struct_(py, &s)?,
            Value::Struct(StructValue::Builder(s)) => self.struct_(py, &s.as_reader())?,
            Value::List(ListValue::Reader(l)) => self.list(py, &l)?,
            Value::List(ListValue::Builder(l)) => self.list(py, &l.as_reader())?,
            Value::Enum(raw) => {
                let name = match ty {
                    Some(Type::Enum(id)) => {
                        let e = self.registry.get().inner.get_enum(*id)?;
                        e.enumerants
                            .get(usize::from(raw))
                            .cloned()
                            .unwrap_or_else(|| raw.to_string())
                    }
                    _ => raw.to_string(),
                };
                PyString::new(py, &name).into_any().unbind()
            }
            Value::Data(d) if self.options.base64 => {
                let encoded = py
                    .import("base64")?
                    .call_method1("b64encode", (PyBytes::new(py, &d),))?;
                encoded.call_method1("decode", ("ascii",))?.unbind()
            }
            Value::AnyPointer(AnyPointerValue::Reader(r)) if self.options.builder => {
                match r.builder() {
                    Some(b) => value_to_py(
                        py,
                        Value::AnyPointer(AnyPointerValue::Builder(b)),
                        ty,
                        self.registry,
                    )?,
                    None => value_to_py(
                        py,
                        Value::AnyPointer(AnyPointerValue::Reader(r)),
                        ty,
                        self.registry,
                    )?,
                }
            }
            Value::Capability(capnp_dynamic::CapValue::NoTable) => py.None(),
            v @ Value::Capability(_) => value_to_py(py, v, ty, self.registry)?,
            other => value_to_py(py, other, ty, self.registry)?,
        })
    }

    fn list(&mut self, py: Python<'_>, l: &ListReader) -> MsgResult<Py<PyAny>> {
        self.depth += 1;
        if self.depth > MAX_DICT_DEPTH {
            return Err(capnp::Error::failed(
                "Message is too deeply-nested or contains cycles".into(),
            )
            .into());
        }
        let out = PyList::empty(py);
        let elem = l.element_type().clone();
        let saved = std::mem::take(&mut self.null_chain);
        for i in 0..l.len()? {
            let v = l.get(i64::from(i))?;
            out.append(self.value(py, v, Some(&elem))?)?;
        }
        self.null_chain = saved;
        self.depth -= 1;
        Ok(out.into_any().unbind())
    }
}

/// A `TypeError` for a list index that is neither an int nor a slice.
pub(crate) fn index_type_error() -> PyErr {
    PyTypeError::new_err("an integer is required")
}

/// `capnp.lib.capnp._capability_from(registry, interface_id, cap)`: how a capability read out
/// of a message becomes a client object (set once by the Python package).
static CAP_FACTORY: pyo3::sync::PyOnceLock<Py<PyAny>> = pyo3::sync::PyOnceLock::new();

#[pyfunction]
pub(crate) fn _set_cap_factory(py: Python<'_>, factory: Py<PyAny>) {
    let _ = CAP_FACTORY.set(py, factory);
}
