//! Finding and reading schema files: source names, relative and absolute imports, import paths,
//! the bundled standard files, and one load per file however it is reached (section 13.1).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The standard `/capnp/*.capnp` files shipped inside the compiler.
pub const BUNDLED: &[(&str, &[u8])] = &[
    (
        "capnp/c++.capnp",
        include_bytes!("../schemas/capnp/c++.capnp"),
    ),
    (
        "capnp/schema.capnp",
        include_bytes!("../schemas/capnp/schema.capnp"),
    ),
    (
        "capnp/rpc.capnp",
        include_bytes!("../schemas/capnp/rpc.capnp"),
    ),
    (
        "capnp/rpc-twoparty.capnp",
        include_bytes!("../schemas/capnp/rpc-twoparty.capnp"),
    ),
    (
        "capnp/persistent.capnp",
        include_bytes!("../schemas/capnp/persistent.capnp"),
    ),
    (
        "capnp/stream.capnp",
        include_bytes!("../schemas/capnp/stream.capnp"),
    ),
    (
        "capnp/compat/json.capnp",
        include_bytes!("../schemas/capnp/compat/json.capnp"),
    ),
];

/// Where files come from: the disk, or memory (for callers that hold sources themselves).
pub trait FileSystem: Sync {
    /// The bytes of the file at `path`, or None if it cannot be read.
    fn read(&self, path: &Path) -> Option<Vec<u8>>;
    /// A key naming the underlying file, equal for two paths that reach the same file.
    fn identity(&self, path: &Path) -> String;
}

/// The real file system.
#[derive(Clone, Copy, Debug, Default)]
pub struct DiskFileSystem;

impl FileSystem for DiskFileSystem {
    fn read(&self, path: &Path) -> Option<Vec<u8>> {
        if path.is_dir() {
            return None;
        }
        std::fs::read(path).ok()
    }

    fn identity(&self, path: &Path) -> String {
        match std::fs::canonicalize(path) {
            Ok(p) => p.to_string_lossy().into_owned(),
            Err(_) => path.to_string_lossy().into_owned(),
        }
    }
}

/// Files held in memory, keyed by path.
#[derive(Clone, Debug, Default)]
pub struct MemoryFileSystem {
    pub files: HashMap<PathBuf, Vec<u8>>,
}

impl FileSystem for MemoryFileSystem {
    fn read(&self, path: &Path) -> Option<Vec<u8>> {
        self.files.get(&normalize_native(path)).cloned()
    }

    fn identity(&self, path: &Path) -> String {
        normalize_native(path).to_string_lossy().into_owned()
    }
}

fn normalize_native(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The directory a file was found under: its source name is relative to it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Root {
    Dir(PathBuf),
    Bundled,
}

/// A file located but not yet parsed.
#[derive(Clone, Debug)]
pub struct Located {
    pub root: Root,
    /// The normalized `/`-separated path inside the root: the source name.
    pub name: String,
    pub text: Vec<u8>,
    /// Identity of the underlying file, for loading each file once.
    pub key: String,
}

/// Normalizes a `/`-separated relative path; None if `..` climbs above the start.
pub fn normalize_relative(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

/// Resolves imports against roots and import directories.
pub struct Loader<'f> {
    pub fs: &'f dyn FileSystem,
    pub import_path: Vec<Root>,
}

impl Loader<'_> {
    fn read_in(&self, root: &Root, name: &str) -> Option<Located> {
        match root {
            Root::Bundled => BUNDLED
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(n, text)| Located {
                    root: Root::Bundled,
                    name: (*n).to_string(),
                    text: text.to_vec(),
                    key: format!("<bundled>/{n}"),
                }),
            Root::Dir(dir) => {
                let full = dir.join(name);
                let text = self.fs.read(&full)?;
                Some(Located {
                    root: root.clone(),
                    name: name.to_string(),
                    text,
                    key: self.fs.identity(&full),
                })
            }
        }
    }

    /// Resolves `import "<spec>"` written in the file `from` (root and source name).
    /// Returns None when the file cannot be found (or a `..` climbs above the root).
    pub fn resolve(&self, from_root: &Root, from_name: &str, spec: &str) -> Option<Located> {
        if let Some(abs) = spec.strip_prefix('/') {
            let name = normalize_relative(abs)?;
            self.import_path
                .iter()
                .find_map(|root| self.read_in(root, &name))
        } else {
            let dir = match from_name.rfind('/') {
                Some(i) => &from_name[..i],
                None => "",
            };
            let name = normalize_relative(&format!("{dir}/{spec}"))?;
            self.read_in(from_root, &name)
        }
    }

    /// Locates a file named on the command line, choosing its root as the reference does:
    /// a `--src-prefix` directory containing it, else the current directory, else `/`.
    pub fn locate_requested(&self, path: &Path, src_prefixes: &[PathBuf]) -> Option<Located> {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let absolute = normalize_native(&cwd.join(path));
        // The most specific (longest) matching prefix wins.
        let best = src_prefixes
            .iter()
            .map(|p| normalize_native(&cwd.join(p)))
            .filter(|p| absolute.starts_with(p))
            .max_by_key(|p| p.components().count());
        if let Some(prefix) = best {
            let rel = absolute
                .strip_prefix(&prefix)
                .unwrap_or(&absolute)
                .to_path_buf();
            return self.read_at(Root::Dir(prefix), &rel);
        }
        if let Ok(rel) = absolute.strip_prefix(&cwd) {
            return self.read_at(Root::Dir(cwd.clone()), rel);
        }
        let rel = absolute.strip_prefix("/").unwrap_or(&absolute);
        self.read_at(Root::Dir(PathBuf::from("/")), rel)
    }

    fn read_at(&self, root: Root, rel: &Path) -> Option<Located> {
        let name = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        self.read_in(&root, &name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_and_refuses_climbing() {
        assert_eq!(
            normalize_relative("sub/../a.capnp").as_deref(),
            Some("a.capnp")
        );
        assert_eq!(
            normalize_relative("./x//y.capnp").as_deref(),
            Some("x/y.capnp")
        );
        assert_eq!(normalize_relative("../a.capnp"), None);
    }

    #[test]
    fn resolves_relative_within_root_and_absolute_through_import_path() {
        let mut fs = MemoryFileSystem::default();
        fs.files
            .insert(PathBuf::from("/p/other.capnp"), b"x".to_vec());
        fs.files
            .insert(PathBuf::from("/inc/lib/l.capnp"), b"y".to_vec());
        let loader = Loader {
            fs: &fs,
            import_path: vec![Root::Dir(PathBuf::from("/inc")), Root::Bundled],
        };
        let root = Root::Dir(PathBuf::from("/p"));
        let f = loader.resolve(&root, "sub/s.capnp", "../other.capnp");
        assert_eq!(f.map(|f| f.name), Some("other.capnp".to_string()));
        let f = loader.resolve(&root, "sub/s.capnp", "/lib/l.capnp");
        assert_eq!(f.map(|f| f.name), Some("lib/l.capnp".to_string()));
        let f = loader.resolve(&root, "a.capnp", "/capnp/c++.capnp");
        assert_eq!(f.map(|f| f.root), Some(Root::Bundled));
        assert!(loader.resolve(&root, "a.capnp", "../../x.capnp").is_none());
    }
}
