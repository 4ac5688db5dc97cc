//! The `/capnp/compat/json.capnp` annotations of a node, read from its raw schema node.

use capnp_compiler::schema_capnp::{annotation, node, value};

use crate::error::{Error, Result};
use crate::raw::RawPtr;
use crate::schema::Registry;

pub(super) const NAME: u64 = 0xfa5b_1fd6_1c2e_7c3d;
pub(super) const FLATTEN: u64 = 0x82d3_e852_af03_36bf;
pub(super) const DISCRIMINATOR: u64 = 0xcfa7_94e8_d19a_0162;
pub(super) const BASE64: u64 = 0xd7d8_7945_0a25_3e4b;
pub(super) const HEX: u64 = 0xf061_e22f_0ae5_c7b5;

/// `$Json.discriminator(name = ..., valueName = ...)`; `None` where the pointer is null.
#[derive(Clone, Debug, Default)]
pub(super) struct Discriminator {
    pub(super) name: Option<String>,
    pub(super) value_name: Option<String>,
}

/// How a Data field is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Blob {
    /// An array of numbers.
    #[default]
    Array,
    Base64,
    Hex,
}

#[derive(Clone, Debug, Default)]
pub(super) struct FieldAnnotations {
    pub(super) name: Option<String>,
    /// `$Json.flatten`: the prefix (empty when none).
    pub(super) flatten: Option<String>,
    pub(super) discriminator: Option<Discriminator>,
    pub(super) blob: Blob,
}

#[derive(Clone, Debug, Default)]
pub(super) struct StructAnnotations {
    pub(super) discriminator: Option<Discriminator>,
    /// By field index.
    pub(super) fields: Vec<FieldAnnotations>,
}

fn invalid(e: impl std::fmt::Display) -> Error {
    Error::InvalidSchema(e.to_string())
}

fn text_of(p: capnp::private::layout::PointerReader<'_>) -> Result<Option<String>> {
    if p.is_null() {
        return Ok(None);
    }
    let t = p.get_text(None)?;
    Ok(Some(t.to_string().map_err(invalid)?))
}

/// The struct value of an annotation, as its pointer fields' texts.
fn struct_texts(a: annotation::Reader<'_>, count: u16) -> Result<Vec<Option<String>>> {
    let v = a.get_value()?;
    let value::Struct(p) = v.which().map_err(invalid)? else {
        return Err(invalid("JSON annotation without a struct value"));
    };
    let s = p.get_as::<RawPtr<'_>>()?.0.get_struct(None)?;
    (0..count)
        .map(|i| text_of(s.get_pointer_field(usize::from(i))))
        .collect()
}

fn text_value(a: annotation::Reader<'_>) -> Result<String> {
    match a.get_value()?.which().map_err(invalid)? {
        value::Text(t) => Ok(t?.to_string().map_err(invalid)?),
        _ => Err(invalid("$Json.name without a text value")),
    }
}

fn discriminator(a: annotation::Reader<'_>) -> Result<Discriminator> {
    let mut t = struct_texts(a, 2)?.into_iter();
    Ok(Discriminator {
        name: t.next().flatten(),
        value_name: t.next().flatten(),
    })
}

pub(super) fn of_struct(registry: &Registry, id: u64) -> Result<StructAnnotations> {
    registry.with_node(id, |n| -> Result<StructAnnotations> {
        let mut out = StructAnnotations::default();
        for a in n.get_annotations()? {
            if a.get_id() == DISCRIMINATOR {
                out.discriminator = Some(discriminator(a)?);
            }
        }
        if let node::Struct(s) = n.which().map_err(invalid)? {
            for f in s.get_fields()? {
                let mut fa = FieldAnnotations::default();
                for a in f.get_annotations()? {
                    match a.get_id() {
                        NAME => fa.name = Some(text_value(a)?),
                        FLATTEN => {
                            let prefix = struct_texts(a, 1)?.into_iter().next().flatten();
                            fa.flatten = Some(prefix.unwrap_or_default());
                        }
                        DISCRIMINATOR => fa.discriminator = Some(discriminator(a)?),
                        BASE64 => fa.blob = Blob::Base64,
                        HEX => fa.blob = Blob::Hex,
                        _ => {}
                    }
                }
                out.fields.push(fa);
            }
        }
        Ok(out)
    })?
}

/// The JSON names of an enum's enumerants (`$Json.name` or the schema name).
pub(super) fn enum_names(registry: &Registry, id: u64) -> Result<Vec<String>> {
    let names = registry.with_node(id, |n| -> Result<Option<Vec<String>>> {
        let node::Enum(e) = n.which().map_err(invalid)? else {
            return Ok(None);
        };
        let mut names = Vec::new();
        for en in e.get_enumerants()? {
            let mut name = en.get_name()?.to_string().map_err(invalid)?;
            for a in en.get_annotations()? {
                if a.get_id() == NAME {
                    name = text_value(a)?;
                }
            }
            names.push(name);
        }
        Ok(Some(names))
    });
    match names {
        Ok(Ok(Some(n))) => Ok(n),
        Ok(Err(e)) => Err(e),
        // A SchemaLoader's placeholder enum has no node: its own (empty) names.
        Ok(Ok(None)) | Err(Error::UnknownSchema { .. }) => {
            Ok(registry.get_enum(id)?.enumerants.clone())
        }
        Err(e) => Err(e),
    }
}
