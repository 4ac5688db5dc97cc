//! Compiles schema files with the pure-Rust compiler and prints every node it emits, with the
//! layout of each struct: `cargo run -p capnp-compiler --example show_schema -- FILE...`.

use std::path::PathBuf;

use capnp_compiler::loader::DiskFileSystem;
use capnp_compiler::schema_capnp::{code_generator_request, field, node, type_};
use capnp_compiler::{compile_paths, CompileOptions};

fn type_name(t: type_::Reader<'_>) -> String {
    use type_::Which;
    match t.which() {
        Ok(Which::Void(())) => "Void".into(),
        Ok(Which::Bool(())) => "Bool".into(),
        Ok(Which::Int8(())) => "Int8".into(),
        Ok(Which::Int16(())) => "Int16".into(),
        Ok(Which::Int32(())) => "Int32".into(),
        Ok(Which::Int64(())) => "Int64".into(),
        Ok(Which::Uint8(())) => "UInt8".into(),
        Ok(Which::Uint16(())) => "UInt16".into(),
        Ok(Which::Uint32(())) => "UInt32".into(),
        Ok(Which::Uint64(())) => "UInt64".into(),
        Ok(Which::Float32(())) => "Float32".into(),
        Ok(Which::Float64(())) => "Float64".into(),
        Ok(Which::Text(())) => "Text".into(),
        Ok(Which::Data(())) => "Data".into(),
        Ok(Which::List(l)) => match l.get_element_type() {
            Ok(e) => format!("List({})", type_name(e)),
            Err(_) => "List(?)".into(),
        },
        Ok(Which::Enum(e)) => format!("enum @0x{:016x}", e.get_type_id()),
        Ok(Which::Struct(s)) => format!("struct @0x{:016x}", s.get_type_id()),
        Ok(Which::Interface(i)) => format!("interface @0x{:016x}", i.get_type_id()),
        Ok(Which::AnyPointer(_)) => "AnyPointer".into(),
        Err(_) => "?".into(),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    if files.is_empty() {
        return Err("usage: show_schema FILE...".into());
    }
    let out = compile_paths(&files, &CompileOptions::default(), &DiskFileSystem)?;
    for e in &out.errors {
        eprintln!("{e}");
    }
    let Some(bytes) = out.request else {
        return Err("compilation failed".into());
    };
    let message = capnp::serialize::read_message(
        &mut bytes.as_slice(),
        capnp::message::ReaderOptions::new(),
    )?;
    let request = message.get_root::<code_generator_request::Reader<'_>>()?;
    for n in request.get_nodes()? {
        let name = n.get_display_name()?.to_string()?;
        match n.which()? {
            node::File(()) => println!("file      {name} @0x{:016x}", n.get_id()),
            node::Enum(e) => {
                let names: Vec<String> = e
                    .get_enumerants()?
                    .iter()
                    .filter_map(|en| en.get_name().ok()?.to_string().ok())
                    .collect();
                println!(
                    "enum      {name} @0x{:016x} {{ {} }}",
                    n.get_id(),
                    names.join(", ")
                );
            }
            node::Struct(s) => {
                println!(
                    "struct    {name} @0x{:016x}  ({} data words, {} pointers{})",
                    n.get_id(),
                    s.get_data_word_count(),
                    s.get_pointer_count(),
                    if s.get_is_group() { ", group" } else { "" }
                );
                for f in s.get_fields()? {
                    let fname = f.get_name()?.to_string()?;
                    let union = if f.get_discriminant_value() != field::NO_DISCRIMINANT {
                        format!(" (union member {})", f.get_discriminant_value())
                    } else {
                        String::new()
                    };
                    match f.which()? {
                        field::Slot(slot) => println!(
                            "            {fname} :{} at offset {}{union}",
                            type_name(slot.get_type()?),
                            slot.get_offset()
                        ),
                        field::Group(g) => {
                            println!(
                                "            {fname} :group @0x{:016x}{union}",
                                g.get_type_id()
                            )
                        }
                    }
                }
            }
            node::Interface(_) => println!("interface {name} @0x{:016x}", n.get_id()),
            node::Const(_) => println!("const     {name} @0x{:016x}", n.get_id()),
            node::Annotation(_) => println!("annotation {name} @0x{:016x}", n.get_id()),
        }
    }
    Ok(())
}
