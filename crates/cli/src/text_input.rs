//! Text-format input (`convert text:...`, `encode`): each message is a schema-language struct
//! literal, so it is compiled as a constant of the root type in a virtual file that imports the
//! schema, and the constant's value becomes the message.

use std::path::{Path, PathBuf};

use capnp::message::ReaderOptions;
use capnp_compiler::loader::{DiskFileSystem, FileSystem};
use capnp_compiler::schema_capnp::{code_generator_request, node, value};
use capnp_compiler::CompileOptions;

const VIRTUAL_NAME: &str = "capnp-rs-text-input.capnp";

/// The disk, plus one file that exists only in memory (`VIRTUAL_NAME` in `dir`).
struct Overlay {
    dir: PathBuf,
    content: Vec<u8>,
}

impl Overlay {
    fn is_virtual(&self, path: &Path) -> bool {
        path.file_name().and_then(|n| n.to_str()) == Some(VIRTUAL_NAME)
            && path
                .parent()
                .and_then(|p| std::fs::canonicalize(p).ok())
                .is_some_and(|p| p == self.dir)
    }
}

impl FileSystem for Overlay {
    fn read(&self, path: &Path) -> Option<Vec<u8>> {
        if self.is_virtual(path) {
            return Some(self.content.clone());
        }
        DiskFileSystem.read(path)
    }

    fn identity(&self, path: &Path) -> String {
        if self.is_virtual(path) {
            return format!("<memory>/{VIRTUAL_NAME}");
        }
        DiskFileSystem.identity(path)
    }
}

/// Splits text input into its top-level values: balanced `(...)`, skipping strings and
/// `#` comments. Returns the byte ranges.
pub(crate) fn split(text: &[u8]) -> Result<Vec<std::ops::Range<usize>>, String> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut depth = 0usize;
    let mut start = None;
    while i < text.len() {
        let c = text[i];
        match c {
            b'#' => {
                while i < text.len() && text[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' | b'\'' => {
                i += 1;
                while i < text.len() && text[i] != c {
                    if text[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if i >= text.len() {
                    return Err(format!("message {}: unterminated string", out.len()));
                }
            }
            b'(' | b'[' => {
                if depth == 0 {
                    start = Some(i);
                }
                depth += 1;
            }
            b')' | b']' => {
                depth = depth.checked_sub(1).ok_or(format!(
                    "message {}: unbalanced '{}'",
                    out.len(),
                    char::from(c)
                ))?;
                if depth == 0 {
                    if let Some(s) = start.take() {
                        out.push(s..i + 1);
                    }
                }
            }
            c if c.is_ascii_whitespace() => {}
            _ if depth == 0 => {
                return Err(format!(
                    "message {}: expected '(' at byte {i}, found {:?}",
                    out.len(),
                    char::from(c)
                ));
            }
            _ => {}
        }
        i += 1;
    }
    if depth != 0 {
        return Err(format!("message {}: unexpected end of input", out.len()));
    }
    Ok(out)
}

/// Parses every message of `text` as a `ty` of `schema`; returns each as standard framing.
pub(crate) fn parse_messages(
    schema: &Path,
    ty: &str,
    compile: &CompileOptions,
    text: &[u8],
) -> Result<Vec<Vec<u8>>, String> {
    let ranges = split(text)?;
    if ranges.is_empty() {
        return Ok(Vec::new());
    }
    let dir = schema.parent().unwrap_or(Path::new(""));
    let file_name = schema
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("schema path has no file name")?;
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let canonical_dir =
        std::fs::canonicalize(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let virtual_path = dir.join(VIRTUAL_NAME);
    let mut content =
        format!("@0xf3a1c5e7d9b2a4c6;\nusing S = import {file_name:?};\n").into_bytes();
    for (k, r) in ranges.iter().enumerate() {
        content.extend_from_slice(format!("const m{k} :S.{ty} =\n").as_bytes());
        content.extend_from_slice(&text[r.clone()]);
        content.extend_from_slice(b";\n");
    }
    let fs = Overlay {
        dir: canonical_dir,
        content,
    };
    let out = capnp_compiler::compile_paths(&[virtual_path], compile, &fs)?;
    let Some(request) = out.request else {
        let errors: Vec<String> = out
            .errors
            .iter()
            .map(|e| e.to_string().replace(VIRTUAL_NAME, "(text input)"))
            .collect();
        return Err(errors.join("\n"));
    };
    let mut options = ReaderOptions::new();
    options.traversal_limit_in_words(None);
    let message =
        capnp::serialize::read_message(&mut &request[..], options).map_err(|e| e.to_string())?;
    let req = message
        .get_root::<code_generator_request::Reader<'_>>()
        .map_err(|e| e.to_string())?;
    let mut values: Vec<Option<Vec<u8>>> = vec![None; ranges.len()];
    for n in req.get_nodes().map_err(|e| e.to_string())? {
        let name = n
            .get_display_name()
            .map_err(|e| e.to_string())?
            .to_str()
            .map_err(|e| e.to_string())?;
        let Some(k) = name
            .rsplit_once(":m")
            .and_then(|(_, k)| k.parse::<usize>().ok())
        else {
            continue;
        };
        let Ok(node::Const(c)) = n.which() else {
            continue;
        };
        let v = c.get_value().map_err(|e| e.to_string())?;
        let Ok(value::Struct(p)) = v.which() else {
            return Err(format!("message {k}: not a struct value"));
        };
        let mut b = capnp::message::Builder::new_default();
        b.set_root(p).map_err(|e| format!("message {k}: {e}"))?;
        if let Some(slot) = values.get_mut(k) {
            *slot = Some(capnp::serialize::write_message_to_words(&b));
        }
    }
    values
        .into_iter()
        .enumerate()
        .map(|(k, v)| v.ok_or(format!("message {k}: not compiled")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_top_level_values() {
        let t = b"(a = 1) # c (\n(b = \"x)\", c = [(d = 1)])\n";
        let r = split(t).expect("split");
        assert_eq!(r.len(), 2);
        assert_eq!(&t[r[1].clone()], b"(b = \"x)\", c = [(d = 1)])");
        assert!(split(b"(a = 1").is_err());
        assert!(split(b"x").is_err());
        assert!(split(b"(a = \"x)").is_err());
    }
}
