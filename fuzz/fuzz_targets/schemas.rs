//! The schemas the message fuzz targets parse into: the convert corpus's all-types schema and
//! its schema using every json.capnp annotation, compiled once with our compiler.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use capnp_compiler::loader::MemoryFileSystem;
use capnp_dynamic::{Registry, StructBuilder};

const ALL_TYPES: &str = include_str!("../../crates/cli/tests/data/convert/alltypes.capnp");
const ANNOTATED: &str = include_str!("../../crates/cli/tests/data/convert/annotated.capnp");

pub struct Schemas {
    registry: Arc<Registry>,
    roots: [u64; 2],
}

pub fn schemas() -> &'static Schemas {
    static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let mut fs = MemoryFileSystem::default();
        fs.files
            .insert(PathBuf::from("/t/alltypes.capnp"), ALL_TYPES.as_bytes().to_vec());
        fs.files
            .insert(PathBuf::from("/t/annotated.capnp"), ANNOTATED.as_bytes().to_vec());
        let options = capnp_compiler::CompileOptions {
            src_prefixes: vec![PathBuf::from("/t")],
            ..Default::default()
        };
        let files = [
            PathBuf::from("/t/alltypes.capnp"),
            PathBuf::from("/t/annotated.capnp"),
        ];
        let out = capnp_compiler::compile_paths(&files, &options, &fs).expect("schemas");
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let registry = Registry::new();
        registry
            .add_request(&out.request.expect("request"))
            .expect("registry");
        let find = |name: &str| registry.find_by_display_name(name).expect(name);
        let roots = [find("alltypes.capnp:All"), find("annotated.capnp:Annotated")];
        Schemas {
            registry: Arc::new(registry),
            roots,
        }
    })
}

impl Schemas {
    /// A new message of the all-types root (`which` even) or the annotated one (odd).
    pub fn builder(&self, which: u8) -> StructBuilder {
        StructBuilder::new_message(&self.registry, self.roots[usize::from(which & 1)])
            .expect("new message")
    }
}
