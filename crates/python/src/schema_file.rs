//! Compiling one `.capnp` file for `capnp.load` and describing its nodes as plain Python data
//! (ids, names, nesting, enumerants, constant values, raw node bytes) for the Python shim.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use capnp::message::{Builder, ReaderOptions};
use capnp_compiler::loader::{DiskFileSystem, FileSystem, Located, Root, BUNDLED};
use capnp_compiler::schema_capnp::{code_generator_request, field, node, type_, value};
use capnp_compiler::{compile, make_loader, CompileOptions};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use pyo3::IntoPyObjectExt;

use crate::error::LoadError;

/// Compiles the schema file at `path`, naming it `display_name`, with `imports` (directories
/// that do not exist are dropped) searched for absolute imports before the bundled files.
///
/// `known` maps the file ids a parser already holds to the identity (`key`) of their files: a
/// different file declaring one of them is a duplicate id.
///
/// Returns `{"file_id": int, "key": str, "nodes": [dict, ...]}`: every node the compilation
/// produced, in the compiler's order; `key` names the file itself (symlinks resolved). Raises
/// `OSError` (missing file), `ValueError` (not `.capnp`) or `KjException` (schema errors).
#[pyfunction]
#[pyo3(signature = (path, display_name, imports, known))]
pub(crate) fn compile_file<'py>(
    py: Python<'py>,
    path: PathBuf,
    display_name: String,
    imports: Vec<PathBuf>,
    known: HashMap<u64, String>,
) -> PyResult<Bound<'py, PyDict>> {
    // The compiler is pure Rust and may take a while on large schemas: let other threads run.
    let compiled = py.detach(|| compile_to_request(&path, &display_name, &imports));
    let (request_bytes, file_id, key) = compiled.map_err(|e| e.into_py(py))?;
    if let Some(other) = known.get(&file_id) {
        if *other != key {
            return Err(LoadError::DuplicateId {
                id: file_id,
                display_name,
            }
            .into_py(py));
        }
    }
    let out = describe(py, &request_bytes, file_id).map_err(|e| e.into_py(py))?;
    out.set_item("key", key)?;
    Ok(out)
}

/// The text of the bundled standard file `name` (`"capnp/schema.capnp"`); unknown → `OSError`.
#[pyfunction]
pub(crate) fn bundled_source<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyBytes>> {
    match BUNDLED.iter().find(|(n, _)| *n == name) {
        Some((_, text)) => Ok(PyBytes::new(py, text)),
        None => Err(LoadError::FileNotFound(name.to_string()).into_py(py)),
    }
}

/// Compiles the bundled standard file `name` (`"capnp/schema.capnp"`), naming it
/// `display_name`; returns what `compile_file` returns (`key` is `<bundled>/NAME`).
/// `source` replaces the file's text (the node readers' variant of `schema.capnp`).
/// Unknown name → `OSError`.
#[pyfunction]
#[pyo3(signature = (name, display_name, source=None))]
pub(crate) fn compile_bundled<'py>(
    py: Python<'py>,
    name: String,
    display_name: String,
    source: Option<Vec<u8>>,
) -> PyResult<Bound<'py, PyDict>> {
    let compiled = py.detach(|| bundled_to_request(&name, &display_name, source));
    let (request_bytes, file_id, key) = compiled.map_err(|e| e.into_py(py))?;
    let out = describe(py, &request_bytes, file_id).map_err(|e| e.into_py(py))?;
    out.set_item("key", key)?;
    Ok(out)
}

fn bundled_to_request(
    name: &str,
    display_name: &str,
    source: Option<Vec<u8>>,
) -> Result<(Vec<u8>, u64, String), LoadError> {
    let Some((_, bundled)) = BUNDLED.iter().find(|(n, _)| *n == name) else {
        return Err(LoadError::FileNotFound(name.to_string()));
    };
    let text = source.unwrap_or_else(|| bundled.to_vec());
    let fs = DiskFileSystem;
    // Only the bundled files themselves are reachable from a bundled file.
    let options = CompileOptions::default();
    let loader = make_loader(&options, &fs);
    let key = format!("<bundled>/{name}");
    let located = Located {
        root: Root::Bundled,
        name: display_name.to_string(),
        text,
        key: key.clone(),
    };
    let output = compile(&loader, vec![located]);
    if !output.errors.is_empty() {
        return Err(LoadError::Schema(output.errors));
    }
    let Some(bytes) = output.request else {
        return Err(LoadError::Schema(Vec::new()));
    };
    let file_id = requested_file_id(&bytes)?;
    Ok((bytes, file_id, key))
}

fn compile_to_request(
    path: &Path,
    display_name: &str,
    imports: &[PathBuf],
) -> Result<(Vec<u8>, u64, String), LoadError> {
    let shown = path.to_string_lossy().into_owned();
    if !path.is_file() {
        return Err(LoadError::FileNotFound(shown));
    }
    if !shown.ends_with(".capnp") {
        return Err(LoadError::NotCapnp(shown));
    }
    let options = CompileOptions {
        import_paths: imports.iter().filter(|d| d.is_dir()).cloned().collect(),
        ..CompileOptions::default()
    };
    let fs = DiskFileSystem;
    let loader = make_loader(&options, &fs);
    let absolute = std::path::absolute(path).map_err(|e| LoadError::Unreadable {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    let text = std::fs::read(&absolute).map_err(|e| LoadError::Unreadable {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    let key = fs.identity(&absolute);
    let located = Located {
        root: Root::Dir(root_for(&absolute, display_name)),
        name: display_name.to_string(),
        text,
        key: key.clone(),
    };
    let output = compile(&loader, vec![located]);
    if !output.errors.is_empty() {
        return Err(LoadError::Schema(output.errors));
    }
    let Some(bytes) = output.request else {
        return Err(LoadError::Schema(Vec::new()));
    };
    let file_id = requested_file_id(&bytes)?;
    Ok((bytes, file_id, key))
}

/// The directory that relative imports of the file resolve against. The file's source name is
/// its display name, so when the display name has directories (`sub/a.capnp`) they are taken
/// off the file's own directory, as far as they match it (when they do not, relative imports
/// resolve under the display name's directories: a known gap).
fn root_for(absolute: &Path, display_name: &str) -> PathBuf {
    let mut root = absolute.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut dirs: Vec<&str> = display_name.split('/').collect();
    dirs.pop();
    for d in dirs.iter().rev() {
        if root.file_name().and_then(|n| n.to_str()) == Some(d) {
            root.pop();
        } else {
            break;
        }
    }
    root
}

/// `f` over the request in `bytes` (our own compiler's output: large schemas exceed the
/// default traversal limit), read in place when the bytes are word-aligned in memory (they
/// are, from a `Vec` or a `bytes`), else from a copy.
fn with_request<R>(
    bytes: &[u8],
    f: impl FnOnce(code_generator_request::Reader<'_>) -> Result<R, LoadError>,
) -> Result<R, LoadError> {
    let mut options = ReaderOptions::new();
    options.traversal_limit_in_words(None);
    let mut slice = bytes;
    match capnp::serialize::read_message_from_flat_slice_no_alloc(&mut slice, options) {
        Ok(message) => f(message.get_root()?),
        Err(_) => {
            let mut slice = bytes;
            let message = capnp::serialize::read_message(&mut slice, options)?;
            f(message.get_root()?)
        }
    }
}

fn requested_file_id(bytes: &[u8]) -> Result<u64, LoadError> {
    with_request(bytes, |request| {
        let files = request.get_requested_files()?;
        match files.iter().next() {
            Some(f) => Ok(f.get_id()),
            None => Err(LoadError::Internal(capnp::Error::failed(
                "the compiler returned no requested file".to_string(),
            ))),
        }
    })
}

pub(crate) fn describe<'py>(
    py: Python<'py>,
    bytes: &[u8],
    file_id: u64,
) -> Result<Bound<'py, PyDict>, LoadError> {
    // The whole request, for the parser's Rust registry (`_Registry.add_request`), and for
    // each node's own message, made when asked for (`node_bytes`).
    let request_obj = PyBytes::new(py, bytes);
    let nodes = PyList::empty(py);
    with_request(bytes, |request| {
        for (index, n) in request.get_nodes()?.iter().enumerate() {
            let d = describe_node(py, n)?;
            set(&d, intern!(d.py(), "request"), &request_obj)?;
            set(&d, intern!(d.py(), "index"), index)?;
            nodes.append(d).map_err(|e| python_failure(py, e))?;
        }
        Ok(())
    })?;
    let out = PyDict::new(py);
    set(&out, intern!(out.py(), "file_id"), file_id)?;
    set(&out, intern!(out.py(), "nodes"), nodes)?;
    set(&out, intern!(out.py(), "request"), request_obj)?;
    Ok(out)
}

/// The node at `index` of a request `describe` read, as a message of its own (what a
/// node description's `bytes` holds once asked for).
#[pyfunction]
pub(crate) fn node_bytes<'py>(
    py: Python<'py>,
    request: &[u8],
    index: u32,
) -> PyResult<Bound<'py, PyBytes>> {
    let made = with_request(request, |request| {
        let nodes = request.get_nodes()?;
        if index >= nodes.len() {
            return Err(LoadError::Internal(capnp::Error::failed(format!(
                "no node #{index} in the request"
            ))));
        }
        standalone(nodes.get(index))
    });
    Ok(PyBytes::new(py, &made.map_err(|e| e.into_py(py))?))
}

/// A Python failure while building plain data (out of memory): reported, never a panic.
fn python_failure(py: Python<'_>, e: PyErr) -> LoadError {
    LoadError::Internal(capnp::Error::failed(format!("{}", e.value(py))))
}

/// `d[key] = v`, the key an interned string (`intern!`: made and hashed once per process,
/// where a `&str` key would be a new string for every item of every node).
fn set<'py, V: IntoPyObject<'py>>(
    d: &Bound<'py, PyDict>,
    key: &Bound<'py, PyString>,
    v: V,
) -> Result<(), LoadError> {
    d.set_item(key, v).map_err(|e| python_failure(d.py(), e))
}

fn describe_node<'py>(
    py: Python<'py>,
    n: node::Reader<'_>,
) -> Result<Bound<'py, PyDict>, LoadError> {
    let d = PyDict::new(py);
    set(&d, intern!(d.py(), "id"), n.get_id())?;
    set(
        &d,
        intern!(d.py(), "display_name"),
        py_text(py, n.get_display_name()?),
    )?;
    set(
        &d,
        intern!(d.py(), "prefix_length"),
        n.get_display_name_prefix_length(),
    )?;
    set(&d, intern!(d.py(), "scope_id"), n.get_scope_id())?;
    set(&d, intern!(d.py(), "is_generic"), n.get_is_generic())?;
    // Sequences are tuples, of tuples for fields and nested nodes: cheaper to make than lists
    // of dicts, and the cyclic GC stops tracking a tuple of atoms after its first look.
    let nested = n
        .get_nested_nodes()?
        .iter()
        .map(|nn| Ok((py_text(py, nn.get_name()?), nn.get_id())))
        .collect::<Result<Vec<_>, LoadError>>()?;
    set(&d, intern!(d.py(), "nested"), tuple(py, nested)?)?;
    let kind = match n.which()? {
        node::File(()) => "file",
        node::Struct(s) => {
            set(&d, intern!(d.py(), "is_group"), s.get_is_group())?;
            set(
                &d,
                intern!(d.py(), "discriminant_count"),
                s.get_discriminant_count(),
            )?;
            // (name, discriminant, group id or None), as `_FIELD_*` in capnp.py index them.
            let fields = s
                .get_fields()?
                .iter()
                .map(|f| {
                    let group_id = match f.which()? {
                        field::Group(g) => Some(g.get_type_id()),
                        field::Slot(_) => None,
                    };
                    Ok((
                        py_text(py, f.get_name()?),
                        f.get_discriminant_value(),
                        group_id,
                    ))
                })
                .collect::<Result<Vec<_>, LoadError>>()?;
            set(&d, intern!(d.py(), "fields"), tuple(py, fields)?)?;
            "struct"
        }
        node::Enum(e) => {
            let names = e
                .get_enumerants()?
                .iter()
                .map(|en| Ok(py_text(py, en.get_name()?)))
                .collect::<Result<Vec<_>, LoadError>>()?;
            set(&d, intern!(d.py(), "enumerants"), tuple(py, names)?)?;
            "enum"
        }
        node::Interface(i) => {
            let names = i
                .get_methods()?
                .iter()
                .map(|m| Ok(py_text(py, m.get_name()?)))
                .collect::<Result<Vec<_>, LoadError>>()?;
            set(&d, intern!(d.py(), "methods"), tuple(py, names)?)?;
            let supers: Vec<u64> = i.get_superclasses()?.iter().map(|s| s.get_id()).collect();
            set(&d, intern!(d.py(), "superclasses"), supers)?;
            "interface"
        }
        node::Const(c) => {
            set_const(&d, c.get_type()?, c.get_value()?)?;
            "const"
        }
        node::Annotation(_) => "annotation",
    };
    set(&d, intern!(d.py(), "kind"), kind)?;
    Ok(d)
}

/// `items` as a Python tuple.
fn tuple<'py, T: IntoPyObject<'py>>(
    py: Python<'py>,
    items: Vec<T>,
) -> Result<Bound<'py, PyTuple>, LoadError> {
    PyTuple::new(py, items).map_err(|e| python_failure(py, e))
}

/// `const_kind` and `const_value`: the constant as Python data where a primitive will do;
/// pointer constants (lists, structs) wait for the message layer.
fn set_const(
    d: &Bound<'_, PyDict>,
    ty: type_::Reader<'_>,
    v: value::Reader<'_>,
) -> Result<(), LoadError> {
    let py = d.py();
    let (kind, val): (&str, Py<PyAny>) = match v.which()? {
        value::Void(()) => ("void", py.None()),
        value::Bool(b) => ("bool", to_py(py, b)?),
        value::Int8(x) => ("int", to_py(py, x)?),
        value::Int16(x) => ("int", to_py(py, x)?),
        value::Int32(x) => ("int", to_py(py, x)?),
        value::Int64(x) => ("int", to_py(py, x)?),
        value::Uint8(x) => ("int", to_py(py, x)?),
        value::Uint16(x) => ("int", to_py(py, x)?),
        value::Uint32(x) => ("int", to_py(py, x)?),
        value::Uint64(x) => ("int", to_py(py, x)?),
        value::Float32(x) => ("float", to_py(py, f64::from(x))?),
        value::Float64(x) => ("float", to_py(py, x)?),
        // A null Text or Data constant reads as empty, as readers do.
        value::Text(t) => match t {
            Ok(t) => ("text", py_text(py, t).into_any().unbind()),
            Err(_) => ("text", to_py(py, "")?),
        },
        value::Data(b) => (
            "data",
            PyBytes::new(py, b.unwrap_or(&[])).into_any().unbind(),
        ),
        value::Enum(x) => {
            let type_id = match ty.which()? {
                type_::Enum(e) => e.get_type_id(),
                _ => 0,
            };
            ("enum", to_py(py, (type_id, x))?)
        }
        value::List(_) => ("list", py.None()),
        value::Struct(_) => ("struct", py.None()),
        value::Interface(()) => ("interface", py.None()),
        value::AnyPointer(_) => ("anyPointer", py.None()),
    };
    set(d, intern!(d.py(), "const_kind"), kind)?;
    set(d, intern!(d.py(), "const_value"), val)?;
    Ok(())
}

fn to_py<'py, V: IntoPyObject<'py>>(py: Python<'py>, v: V) -> Result<Py<PyAny>, LoadError> {
    v.into_py_any(py).map_err(|e| python_failure(py, e))
}

/// A name or text as a Python string, made straight from the message's bytes.
fn py_text<'py>(py: Python<'py>, t: capnp::text::Reader<'_>) -> Bound<'py, PyString> {
    match t.to_str() {
        Ok(s) => PyString::new(py, s),
        // Invalid UTF-8 can only come from escapes in text constants; show it rather than fail.
        Err(_) => PyString::new(py, &String::from_utf8_lossy(t.as_bytes())),
    }
}

/// The node as a message of its own (stream framing), for `schema.node`.
fn standalone(n: node::Reader<'_>) -> Result<Vec<u8>, LoadError> {
    // One segment of the node's own size (the default 8 KiB first segment, zeroed, was a
    // tenth of describing a large schema), so the framed message is one allocation too.
    let words = n.total_size()?.word_count + 1;
    let mut message = Builder::new(
        capnp::message::HeapAllocator::new()
            .first_segment_words(u32::try_from(words).unwrap_or(u32::MAX)),
    );
    message.set_root(n)?;
    let mut out = Vec::with_capacity(usize::try_from(words).unwrap_or(0).saturating_add(2) * 8);
    capnp::serialize::write_message(&mut out, &message)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_takes_the_display_name_directories_off_the_file_directory() {
        let file = Path::new("/a/b/sub/x.capnp");
        assert_eq!(root_for(file, "x.capnp"), PathBuf::from("/a/b/sub"));
        assert_eq!(root_for(file, "sub/x.capnp"), PathBuf::from("/a/b"));
        assert_eq!(root_for(file, "b/sub/x.capnp"), PathBuf::from("/a"));
        // Known gap: when the display name's directories are not the file's own, relative
        // imports resolve under `root/<those directories>`, not beside the file.
        assert_eq!(root_for(file, "other/x.capnp"), PathBuf::from("/a/b/sub"));
        assert_eq!(root_for(file, "pkg.mod_capnp"), PathBuf::from("/a/b/sub"));
    }
}
