//! `_DynamicEnum` (an enum field's value) and `_DynamicEnumField` (what `which` returns).
//!
//! Both compare with a `str` by name and with anything else by number (API.md 3.9).

use std::sync::Arc;

use capnp_dynamic::{EnumSchema, StructSchema};
use pyo3::basic::CompareOp;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyString;

/// Compares `name` with a `str`, or `number` with anything else, as Python would.
fn compare(
    name: &str,
    number: u16,
    other: &Bound<'_, PyAny>,
    op: CompareOp,
) -> PyResult<Py<PyAny>> {
    let py = other.py();
    if other.is_instance_of::<PyString>() {
        return Ok(PyString::new(py, name).rich_compare(other, op)?.unbind());
    }
    if let Ok(e) = other.cast::<PyEnum>() {
        let n = e.get().raw;
        return Ok(number.into_pyobject(py)?.rich_compare(n, op)?.unbind());
    }
    if let Ok(e) = other.cast::<PyEnumField>() {
        let n = e.get().raw;
        return Ok(number.into_pyobject(py)?.rich_compare(n, op)?.unbind());
    }
    Ok(number.into_pyobject(py)?.rich_compare(other, op)?.unbind())
}

/// The enum objects of one enum field, one per enumerant, made on first read: an enum field
/// read hands out the shared object (no registry lock, no allocation). Kept with the field
/// (`Field::host`) with the enum's schema, and the enumerants' names as interned `str`s,
/// made on the first write by name (`ordinal_of_name`).
struct EnumObjects {
    schema: Arc<EnumSchema>,
    objects: Box<[PyOnceLock<Py<PyEnum>>]>,
    names: PyOnceLock<Box<[Py<PyString>]>>,
}

/// The field's `EnumObjects`, made now if the registry allows (as `enum_field_object`).
fn field_objects<'f>(
    field: &'f capnp_dynamic::Field,
    id: u64,
    registry: &capnp_dynamic::Registry,
) -> crate::error::MsgResult<Option<&'f EnumObjects>> {
    Ok(match field.host.get::<EnumObjects>() {
        Some(objects) => Some(objects),
        None if !registry.uses_placeholders() => {
            let schema = registry.get_enum(id)?;
            let n = schema.enumerants.len();
            field.host.get_or_init(|| EnumObjects {
                schema,
                objects: (0..n).map(|_| PyOnceLock::new()).collect(),
                names: PyOnceLock::new(),
            })
        }
        None => None,
    })
}

/// The ordinal of enum field `field`'s enumerant `name` when `name` is the very interned
/// `str` of one (an enumerant written by name from a literal in code: CPython interns
/// such constants), found by address; `None` otherwise (another `str` with the same text
/// included: the caller then converts it as any other value, which compares the text).
pub(crate) fn ordinal_of_name(
    py: Python<'_>,
    field: &capnp_dynamic::Field,
    id: u64,
    registry: &capnp_dynamic::Registry,
    name: &Bound<'_, PyString>,
) -> Option<u16> {
    let objects = field_objects(field, id, registry).ok()??;
    let names = objects.names.get_or_init(py, || {
        objects
            .schema
            .enumerants
            .iter()
            .map(|n| PyString::intern(py, n).unbind())
            .collect()
    });
    let at = names.iter().position(|n| n.as_ptr() == name.as_ptr())?;
    u16::try_from(at).ok()
}

/// The object of value `raw` of enum field `field` (of enum `id`), as `value_to_py` makes it:
/// the field's shared one for an enumerant, unless the registry may replace its schemas
/// later (a `SchemaLoader`'s placeholders); a new one otherwise.
pub(crate) fn enum_field_object(
    py: Python<'_>,
    field: &capnp_dynamic::Field,
    id: u64,
    raw: u16,
    registry: &capnp_dynamic::Registry,
) -> crate::error::MsgResult<Py<PyAny>> {
    let objects = field_objects(field, id, registry)?;
    if let Some(objects) = objects {
        if let Some(slot) = objects.objects.get(usize::from(raw)) {
            let obj =
                slot.get_or_try_init(py, || Py::new(py, PyEnum::new(objects.schema.clone(), raw)))?;
            return Ok(obj.clone_ref(py).into_any());
        }
    }
    let schema = registry.get_enum(id)?;
    Ok(Py::new(py, PyEnum::new(schema, raw))?.into_any())
}

/// The object `enum_field_object` hands out for value `raw` of enum field `field`, when the
/// field's shared one exists already (else `None`: nothing is made here).
pub(crate) fn shared_field_object(
    py: Python<'_>,
    field: &capnp_dynamic::Field,
    raw: u16,
) -> Option<Py<PyAny>> {
    let objects = field.host.get::<EnumObjects>()?;
    Some(
        objects
            .objects
            .get(usize::from(raw))?
            .get(py)?
            .clone_ref(py)
            .into_any(),
    )
}

/// The value of an enum field or list element.
#[pyclass(frozen, name = "_DynamicEnum", module = "capnp.lib.capnp")]
pub(crate) struct PyEnum {
    schema: Arc<EnumSchema>,
    raw: u16,
}

impl PyEnum {
    pub(crate) fn new(schema: Arc<EnumSchema>, raw: u16) -> Self {
        PyEnum { schema, raw }
    }

    /// The enumerant's name, or the ordinal in decimal when the schema does not name it.
    pub(crate) fn name(&self) -> String {
        match self.schema.enumerants.get(usize::from(self.raw)) {
            Some(n) => n.clone(),
            None => self.raw.to_string(),
        }
    }

    pub(crate) fn type_id(&self) -> u64 {
        self.schema.id
    }

    pub(crate) fn raw(&self) -> u16 {
        self.raw
    }

    /// The enum's schema, as its registry holds it (compared by identity on assignment).
    pub(crate) fn schema(&self) -> &EnumSchema {
        &self.schema
    }
}

#[pymethods]
impl PyEnum {
    /// The ordinal.
    #[getter(raw)]
    fn get_raw(&self) -> u16 {
        self.raw
    }

    /// The enumerant's name (as ``str()``).
    fn _as_str(&self) -> String {
        self.name()
    }

    fn __str__(&self) -> String {
        self.name()
    }

    fn __repr__(&self) -> String {
        format!("<{} enum>", self.name())
    }

    fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: CompareOp) -> PyResult<Py<PyAny>> {
        compare(&self.name(), self.raw, other, op)
    }

    /// Equal to the hash of the name, so enums and their names are interchangeable as keys.
    fn __hash__(&self, py: Python<'_>) -> PyResult<isize> {
        PyString::new(py, &self.name()).hash()
    }
}

/// The active member of a union: its discriminant and name. One object per member and
/// union type, shared by every `which` (see [`PyEnumField::shared`]).
#[pyclass(frozen, name = "_DynamicEnumField", module = "capnp.lib.capnp")]
pub(crate) struct PyEnumField {
    raw: u16,
    name: Py<PyString>,
}

/// The `which` objects of one union, by discriminant, each made on first use.
type WhichObjects = Box<[PyOnceLock<Py<PyEnumField>>]>;

impl PyEnumField {
    pub(crate) fn new(py: Python<'_>, raw: u16, name: &str) -> Self {
        PyEnumField {
            raw,
            name: PyString::intern(py, name).unbind(),
        }
    }

    /// The object of discriminant `d` of `schema`'s union if [`PyEnumField::shared`] made
    /// it (so `d` was found to name a member).
    #[inline]
    pub(crate) fn cached<'a>(
        py: Python<'_>,
        schema: &'a StructSchema,
        d: u16,
    ) -> Option<&'a Py<PyEnumField>> {
        let union = schema.union.as_ref()?;
        union
            .host
            .get::<WhichObjects>()?
            .get(usize::from(d))?
            .get(py)
    }

    /// The object of union member `d` (field `index`) of `schema`, as `which_field` found
    /// them. Kept with the union's schema (`UnionInfo::host`), so a `which` finds it with a
    /// few loads: no lock, no map.
    pub(crate) fn shared(
        py: Python<'_>,
        schema: &StructSchema,
        d: u16,
        index: usize,
    ) -> PyResult<Py<PyEnumField>> {
        let slot = schema.union.as_ref().and_then(|union| {
            union
                .host
                .get_or_init::<WhichObjects>(|| {
                    union.members.iter().map(|_| PyOnceLock::new()).collect()
                })?
                .get(usize::from(d))
        });
        let make = || {
            let name = schema.fields.get(index).map_or("", |f| f.name.as_str());
            Py::new(py, PyEnumField::new(py, d, name))
        };
        match slot {
            Some(slot) => Ok(slot.get_or_try_init(py, make)?.clone_ref(py)),
            // Not reached: `which_field` answers only for a union's members.
            None => make(),
        }
    }
}

#[pymethods]
impl PyEnumField {
    /// The discriminant value.
    #[getter]
    fn raw(&self) -> u16 {
        self.raw
    }

    /// The member's name (as ``str()``).
    fn _str(&self, py: Python<'_>) -> Py<PyString> {
        self.name.clone_ref(py)
    }

    fn __str__(&self, py: Python<'_>) -> Py<PyString> {
        self.name.clone_ref(py)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!("<{} which-enum>", self.name.bind(py))
    }

    /// `msg.which()`: the member name, for code written against either spelling.
    fn __call__(&self, py: Python<'_>) -> Py<PyString> {
        self.name.clone_ref(py)
    }

    fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: CompareOp) -> PyResult<Py<PyAny>> {
        let name = self.name.bind(other.py()).to_str()?;
        compare(name, self.raw, other, op)
    }
}
