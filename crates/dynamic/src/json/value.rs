//! `/capnp/compat/json.capnp`'s `Value` (C++ `capnp::JsonValue`) is JSON itself, so the codec
//! writes it as the JSON it holds, not as a struct, and reads any JSON into it, as the
//! reference's `JsonCodec` does: numbers as doubles (`nan`/`inf` bare), `raw` verbatim,
//! `call` as `function(params...)`. `Value.Field` and `Value.Call` elsewhere are plain structs.

use super::tree::{Json, Out};
use super::{check_depth, list_builder_of, list_reader, struct_builder_of, struct_of};
use crate::error::{Error, Result};
use crate::struct_::{StructBuilder, StructReader};
use crate::value::{SetValue, Value};

/// The node id of `Value` in `/capnp/compat/json.capnp`.
pub(super) const JSON_VALUE: u64 = 0xa3fa_7845_f919_dd83;

/// The JSON a `Value` holds.
pub(super) fn encode(r: &StructReader, depth: u32) -> Result<Out> {
    let depth = check_depth(depth)?;
    let (_, i) = r.which_field()?;
    let name = r
        .schema()
        .fields
        .get(i)
        .map(|f| f.name.as_str())
        .ok_or(Error::TypeMismatch)?;
    let elements = |v: Value| -> Result<Vec<StructReader>> {
        let Value::List(l) = v else {
            return Err(Error::TypeMismatch);
        };
        let l = list_reader(l);
        (0..l.len()?)
            .map(|k| struct_of(l.get(i64::from(k))?))
            .collect()
    };
    Ok(match name {
        "boolean" => match r.get_by_index(i)? {
            Value::Bool(b) => Out::Bool(b),
            _ => return Err(Error::TypeMismatch),
        },
        "number" => match r.get_by_index(i)? {
            Value::Float(f) => Out::Number(f),
            _ => return Err(Error::TypeMismatch),
        },
        "string" | "raw" => {
            let Value::Text(t) = r.get_by_index(i)? else {
                return Err(Error::TypeMismatch);
            };
            if name == "raw" {
                Out::Raw(t)
            } else {
                Out::String(t)
            }
        }
        "array" => Out::Array(
            elements(r.get_by_index(i)?)?
                .iter()
                .map(|e| encode(e, depth))
                .collect::<Result<_>>()?,
        ),
        "object" => Out::Object(
            elements(r.get_by_index(i)?)?
                .iter()
                .map(|f| -> Result<(Vec<u8>, Out)> {
                    let Value::Text(name) = f.get("name")? else {
                        return Err(Error::TypeMismatch);
                    };
                    Ok((name, encode(&struct_of(f.get("value")?)?, depth)?))
                })
                .collect::<Result<_>>()?,
        ),
        "call" => {
            let call = struct_of(r.get_by_index(i)?)?;
            let Value::Text(function) = call.get("function")? else {
                return Err(Error::TypeMismatch);
            };
            let params = elements(call.get("params")?)?
                .iter()
                .map(|p| encode(p, depth))
                .collect::<Result<_>>()?;
            Out::Call(function, params)
        }
        _ => Out::Null,
    })
}

/// Fills the `Value` `b` with `v`.
pub(super) fn decode(v: &Json, b: &StructBuilder, depth: u32) -> Result<()> {
    let depth = check_depth(depth)?;
    match v {
        Json::Null => b.set("null", SetValue::Void),
        Json::Bool(x) => b.set("boolean", SetValue::Bool(*x)),
        Json::Number(x) => b.set("number", SetValue::Float(*x)),
        Json::String(s) => b.set("string", SetValue::Str(s)),
        Json::Array(items) => {
            let l = list_builder_of(b.init("array", Some(len(items.len())?))?)?;
            for (k, item) in items.iter().enumerate() {
                decode(item, &struct_builder_of(l.get(k as i64)?)?, depth)?;
            }
            Ok(())
        }
        Json::Object(members) => {
            let l = list_builder_of(b.init("object", Some(len(members.len())?))?)?;
            for (k, (name, item)) in members.iter().enumerate() {
                let field = struct_builder_of(l.get(k as i64)?)?;
                field.set("name", SetValue::Str(name))?;
                decode(item, &struct_builder_of(field.init("value", None)?)?, depth)?;
            }
            Ok(())
        }
    }
}

fn len(n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| Error::Capnp(capnp::Error::failed("list too long".into())))
}
