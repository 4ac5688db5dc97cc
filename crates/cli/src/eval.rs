//! `capnp-rs eval SCHEMA NAME`: prints a constant, a struct field's default value, or a field
//! or list element nested in either (`foo.bar[2].baz`), as the reference's `capnp eval` does:
//! text by default (pretty unless `--short`), any `convert` format for struct values.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use capnp::message::ReaderOptions;
use capnp_compiler::loader::DiskFileSystem;
use capnp_compiler::schema_capnp::{code_generator_request, node, type_, value};
use capnp_compiler::CompileOptions;
use capnp_dynamic::schema::FieldKind;
use capnp_dynamic::value::{ListValue, StructValue};
use capnp_dynamic::{MessageReader, ReadLimits, Registry, StructReader, Type, Value};

use crate::convert::{encode_message, Format, Options, Root};

/// One dotted part of NAME: an identifier and its `[i]` subscripts.
struct Part {
    name: String,
    subscripts: Vec<u64>,
}

/// NAME as the reference parses it: `ident([int])*` parts joined by single dots.
fn parse_name(name: &str) -> Option<Vec<Part>> {
    let mut parts = Vec::new();
    for piece in name.split('.') {
        let end = piece.find('[').unwrap_or(piece.len());
        let ident = &piece[..end];
        let mut chars = ident.chars();
        let first = chars.next()?;
        if !(first.is_ascii_alphabetic() || first == '_')
            || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return None;
        }
        let mut subscripts = Vec::new();
        let mut rest = &piece[end..];
        while let Some(inner) = rest.strip_prefix('[') {
            let close = inner.find(']')?;
            let digits = &inner[..close];
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            subscripts.push(digits.parse().ok()?);
            rest = &inner[close + 1..];
        }
        if !rest.is_empty() {
            return None;
        }
        parts.push(Part {
            name: ident.to_string(),
            subscripts,
        });
    }
    Some(parts)
}

struct Parsed {
    compile: CompileOptions,
    to: Format,
    short: bool,
    file: PathBuf,
    name: String,
}

fn parse_args(args: &[String]) -> Result<Parsed, String> {
    let mut compile = CompileOptions::default();
    let (mut to, mut short) = (Format::Text, false);
    let (mut binary, mut packed, mut flat) = (false, false, false);
    let mut positional = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        let mut value = |inline: &str, flag: &str| -> Result<String, String> {
            if !inline.is_empty() {
                return Ok(inline.to_string());
            }
            i += 1;
            args.get(i)
                .cloned()
                .ok_or(format!("{flag}: missing argument"))
        };
        if let Some(v) = a.strip_prefix("--import-path=") {
            compile.import_paths.push(PathBuf::from(v));
        } else if let Some(v) = a.strip_prefix("-I") {
            compile.import_paths.push(PathBuf::from(value(v, "-I")?));
        } else if let Some(v) = a.strip_prefix("--output=") {
            to = Format::parse(v)?;
        } else if let Some(v) = a.strip_prefix("-o") {
            to = Format::parse(&value(v, "-o")?)?;
        } else {
            match a {
                "-b" | "--binary" => binary = true,
                "-p" | "--packed" => packed = true,
                "--flat" => flat = true,
                "--short" => short = true,
                "--no-standard-import" => compile.standard_import = false,
                "--verbose" | "--quiet" => {}
                _ if a.starts_with('-') && a.len() > 1 => {
                    return Err(format!("unknown option: {a}"));
                }
                _ => positional.push(a.to_string()),
            }
        }
        i += 1;
    }
    if binary && (packed || flat) {
        return Err("--binary cannot be used with --packed or --flat".to_string());
    }
    // The deprecated flags win over -o, as in the reference.
    to = match (binary, packed, flat) {
        (true, _, _) => Format::Binary,
        (_, true, true) => Format::FlatPacked,
        (_, true, false) => Format::Packed,
        (_, false, true) => Format::Flat,
        _ => to,
    };
    let [file, name]: [String; 2] = positional
        .try_into()
        .map_err(|_| "expected SCHEMA and NAME".to_string())?;
    Ok(Parsed {
        compile,
        to,
        short,
        file: PathBuf::from(file),
        name,
    })
}

/// What a node is, for the walk.
enum Kind {
    Const,
    Struct,
    Other,
}

fn node_kind(registry: &Registry, id: u64) -> Result<Kind, String> {
    registry
        .with_node(id, |n| match n.which() {
            Ok(node::Const(_)) => Kind::Const,
            Ok(node::Struct(_)) => Kind::Struct,
            _ => Kind::Other,
        })
        .map_err(|e| e.to_string())
}

fn short_name(registry: &Registry, id: u64) -> Result<String, String> {
    registry
        .with_node(id, |n| -> Result<String, capnp::Error> {
            let name = n.get_display_name()?.to_string()?;
            let skip = n.get_display_name_prefix_length() as usize;
            Ok(name.get(skip..).unwrap_or(&name).to_string())
        })
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

fn child(registry: &Registry, scope: u64, name: &str) -> Result<Option<u64>, String> {
    registry
        .with_node(scope, |n| -> Result<Option<u64>, capnp::Error> {
            for nested in n.get_nested_nodes()? {
                if nested.get_name()?.to_str()? == name {
                    return Ok(Some(nested.get_id()));
                }
            }
            Ok(None)
        })
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

/// The value of constant `id` and its type.
fn const_value(registry: &Arc<Registry>, id: u64) -> Result<(Value, Type), String> {
    let scalar = registry
        .with_node(id, |n| -> Result<Option<(Value, Type)>, capnp::Error> {
            let node::Const(c) = n.which()? else {
                return Err(capnp::Error::failed("not a constant".into()));
            };
            let ty = match c.get_type()?.which()? {
                type_::Enum(e) => Type::Enum(e.get_type_id()),
                _ => Type::Void,
            };
            Ok(Some((
                match c.get_value()?.which()? {
                    value::Void(()) => Value::Void,
                    value::Bool(b) => Value::Bool(b),
                    value::Int8(x) => Value::Int(x.into()),
                    value::Int16(x) => Value::Int(x.into()),
                    value::Int32(x) => Value::Int(x.into()),
                    value::Int64(x) => Value::Int(x),
                    value::Uint8(x) => Value::UInt(x.into()),
                    value::Uint16(x) => Value::UInt(x.into()),
                    value::Uint32(x) => Value::UInt(x.into()),
                    value::Uint64(x) => Value::UInt(x),
                    value::Float32(x) => Value::Float(x.into()),
                    value::Float64(x) => Value::Float(x),
                    value::Text(t) => Value::Text(t?.as_bytes().to_vec()),
                    value::Data(d) => Value::Data(d?.to_vec()),
                    value::Enum(e) => Value::Enum(e),
                    _ => return Ok(None),
                },
                ty,
            )))
        })
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    match scalar {
        Some(v) => Ok(v),
        None => Ok((
            registry.const_value(id).map_err(|e| e.to_string())?,
            Type::AnyPointer,
        )),
    }
}

/// The default value of struct `id`: its root in a message whose root pointer is null.
fn struct_default(registry: &Arc<Registry>, id: u64) -> Result<Value, String> {
    let mut bytes = vec![0u8; 16];
    bytes[4] = 1;
    let limits = ReadLimits {
        traversal_limit_in_words: Some(u64::MAX / 8),
        nesting_limit: None,
    };
    let reader = MessageReader::from_bytes(Arc::new(bytes), limits).map_err(|e| e.to_string())?;
    let root = reader.root(registry, id).map_err(|e| e.to_string())?;
    Ok(Value::Struct(StructValue::Reader(root)))
}

/// Walks NAME from the file's scope to a value (`CompilerMain::evalConst`).
fn evaluate(
    registry: &Arc<Registry>,
    file_id: u64,
    parts: &[Part],
) -> Result<(Value, Type), String> {
    let mut scope = file_id;
    let mut pos = 0;
    let mut stopped_at_subscript = false;
    while let Some(part) = parts.get(pos) {
        let Some(id) = child(registry, scope, &part.name)? else {
            break;
        };
        scope = id;
        if !part.subscripts.is_empty() {
            stopped_at_subscript = true;
            break;
        }
        pos += 1;
    }
    let (mut value, mut ty) = match node_kind(registry, scope)? {
        Kind::Const => const_value(registry, scope)?,
        Kind::Struct if pos < parts.len() => {
            (struct_default(registry, scope)?, Type::Struct(scope))
        }
        Kind::Struct => {
            return Err(format!(
                "'{}' cannot be evaluated.",
                short_name(registry, scope)?
            ))
        }
        Kind::Other if stopped_at_subscript => {
            return Err(format!("'{}' is not a list.", short_name(registry, scope)?))
        }
        Kind::Other => {
            return Err(match parts.get(pos) {
                Some(part) => format!("'{}' is not defined.", part.name),
                None => format!("'{}' cannot be evaluated.", short_name(registry, scope)?),
            })
        }
    };
    for (k, part) in parts.iter().enumerate().skip(pos) {
        if !stopped_at_subscript {
            let previous = k.checked_sub(1).map_or("", |p| parts[p].name.as_str());
            let Value::Struct(s) = &value else {
                return Err(format!("'{previous}' is not a struct."));
            };
            let s = match s {
                StructValue::Reader(r) => r.clone(),
                StructValue::Builder(b) => b.as_reader(),
            };
            let Ok(field) = s.schema().field(&part.name) else {
                return Err(format!("'{previous}' has no member '{}'.", part.name));
            };
            ty = match &field.kind {
                FieldKind::Slot { ty, .. } => ty.clone(),
                FieldKind::Group { id } => Type::Struct(*id),
            };
            value = s.get(&part.name).map_err(|e| e.to_string())?;
        }
        for (i, &subscript) in part.subscripts.iter().enumerate() {
            let shown = |n: usize| {
                let list: Vec<String> = part.subscripts[..n].iter().map(u64::to_string).collect();
                format!("{}[{}]", part.name, list.join("]["))
            };
            let Value::List(l) = &value else {
                return Err(if i > 0 {
                    format!("'{}' is not a list.", shown(i))
                } else {
                    format!("'{}' is not a list.", part.name)
                });
            };
            let l = match l {
                ListValue::Reader(r) => r.clone(),
                ListValue::Builder(b) => b.as_reader(),
            };
            let len = l.len().map_err(|e| e.to_string())?;
            if subscript >= u64::from(len) {
                return Err(format!("'{}' is out-of-bounds.", shown(i + 1)));
            }
            ty = l.element_type().clone();
            value = l
                .get(i64::try_from(subscript).unwrap_or(i64::MAX))
                .map_err(|e| e.to_string())?;
        }
        stopped_at_subscript = false;
    }
    Ok((value, ty))
}

/// The struct a binary or JSON output needs.
fn struct_of(value: &Value, name: &str) -> Result<StructReader, String> {
    match value {
        Value::Struct(StructValue::Reader(r)) => Ok(r.clone()),
        Value::Struct(StructValue::Builder(b)) => Ok(b.as_reader()),
        _ => Err(format!(
            "{name}: not a struct; binary output is only available on structs"
        )),
    }
}

/// The requested file's node id.
fn file_id(request: &[u8]) -> Result<u64, String> {
    let mut options = ReaderOptions::new();
    options.traversal_limit_in_words(None);
    let message =
        capnp::serialize::read_message(&mut &request[..], options).map_err(|e| e.to_string())?;
    let req = message
        .get_root::<code_generator_request::Reader<'_>>()
        .map_err(|e| e.to_string())?;
    let files = req.get_requested_files().map_err(|e| e.to_string())?;
    let first = files.iter().next().ok_or("no requested file")?;
    Ok(first.get_id())
}

/// `eval`: compiles SCHEMA, evaluates NAME, writes the value to standard output. Errors in
/// NAME are `NAME: message`.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let p = parse_args(args)?;
    let out =
        capnp_compiler::compile_paths(std::slice::from_ref(&p.file), &p.compile, &DiskFileSystem)
            .map_err(|e| e.to_string())?;
    let Some(request) = out.request else {
        let errors: Vec<String> = out.errors.iter().map(ToString::to_string).collect();
        return Err(errors.join("\n"));
    };
    let registry = Arc::new(Registry::new());
    registry.add_request(&request).map_err(|e| e.to_string())?;
    let parts = parse_name(&p.name).ok_or(format!("{}: invalid syntax", p.name))?;
    let (value, ty) =
        evaluate(&registry, file_id(&request)?, &parts).map_err(|e| format!("{}: {e}", p.name))?;
    let bytes = if p.to == Format::Json {
        // The reference's eval encodes JSON without the json.capnp annotations.
        let r = struct_of(&value, &p.name)?;
        let mut codec = capnp_dynamic::json::JsonCodec::new(registry.clone());
        codec.set_pretty(!p.short);
        codec.set_annotated(false);
        let mut text = codec.encode(&r).map_err(|e| e.to_string())?;
        text.push(b'\n');
        text
    } else if p.to == Format::Text {
        let mut text = capnp_dynamic::text::value_text(&value, &ty, &registry, !p.short)
            .map_err(|e| e.to_string())?;
        text.push(b'\n');
        text
    } else {
        let r = struct_of(&value, &p.name)?;
        let copy = r.as_builder().map_err(|e| e.to_string())?;
        let framed = copy.to_bytes().map_err(|e| e.to_string())?;
        let mut options = ReaderOptions::new();
        options.traversal_limit_in_words(None);
        let message =
            capnp::serialize::read_message(&mut &framed[..], options).map_err(|e| e.to_string())?;
        let o = Options {
            from: Format::Binary,
            to: p.to,
            compile: p.compile,
            short: p.short,
            segment_size: None,
            schema: None,
        };
        let root = Root {
            registry: registry.clone(),
            id: r.schema().id,
        };
        encode_message(&o, Some(&root), &message)?
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&bytes)
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("cannot write output: {e}"))
}
