//! What `get` prints for the raw bits the binding's element reads (`scalar_bits`) return:
//! fast_path.rs and builder_fast_path.rs compare the two.

/// The `Value` `get` returns for raw bits of a Bool or number type, printed.
pub(crate) fn scalar_debug(ty: &capnp_dynamic::Type, bits: u64) -> String {
    let v = match ty {
        capnp_dynamic::Type::Bool => capnp_dynamic::Value::Bool(bits & 1 != 0),
        capnp_dynamic::Type::Int8 => capnp_dynamic::Value::Int(i64::from(bits as u8 as i8)),
        capnp_dynamic::Type::Int16 => capnp_dynamic::Value::Int(i64::from(bits as u16 as i16)),
        capnp_dynamic::Type::Int32 => capnp_dynamic::Value::Int(i64::from(bits as u32 as i32)),
        capnp_dynamic::Type::Int64 => capnp_dynamic::Value::Int(bits as i64),
        capnp_dynamic::Type::UInt8 => capnp_dynamic::Value::UInt(bits & 0xff),
        capnp_dynamic::Type::UInt16 => capnp_dynamic::Value::UInt(bits & 0xffff),
        capnp_dynamic::Type::UInt32 => capnp_dynamic::Value::UInt(bits & 0xffff_ffff),
        capnp_dynamic::Type::UInt64 => capnp_dynamic::Value::UInt(bits),
        capnp_dynamic::Type::Float32 => {
            capnp_dynamic::Value::Float(f64::from(f32::from_bits(bits as u32)))
        }
        capnp_dynamic::Type::Float64 => capnp_dynamic::Value::Float(f64::from_bits(bits)),
        other => return format!("scalar_bits on {other:?}"),
    };
    format!("{v:?}")
}
