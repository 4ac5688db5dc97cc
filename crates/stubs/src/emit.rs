//! Writing one `.pyi` per schema file from the request's nodes.
//!
//! Layout of a stub: every class that exists only for the type checker (struct readers and
//! builders, capability clients, requests, promises, server bases) is a module-level private
//! class named after the node's path (`_Person_PhoneNumber_Reader`); the public names mirror
//! what the loaded module has at run time (`Person`, `Person.PhoneNumber`, enums,
//! interfaces, constants), and reach the private classes through `TypeAlias`es
//! (`Person.Reader`). Nothing is nested by more than a class body, which both mypy and
//! pyright resolve without forward-reference trouble.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

mod interfaces;
mod structs;

use crate::model::{Field, FieldKind, Kind, Node, Request, Type};

const KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// Members of `_DynamicStructReader`/`_DynamicStructBuilder`: a field of one of these names
/// is left to `_get`/`_set` (the attribute would change a method's type).
const STRUCT_MEMBERS: &[&str] = &[
    "which",
    "init",
    "schema",
    "as_builder",
    "as_reader",
    "to_dict",
    "copy",
    "clear_write_flag",
    "write",
    "write_packed",
    "write_async",
    "to_bytes",
    "to_bytes_packed",
    "to_segments",
    "to_segment_views",
    "adopt",
    "disown",
    "from_dict",
    "total_size",
    "is_root",
    "get_data_as_view",
    "init_resizable_list",
    "to_json",
    "to_bytes_canonical",
    "is_canonical",
    "send",
];

/// The Python module a schema file is imported as: `foo-bar.capnp` is `foo_bar_capnp`; the
/// bundled `capnp/schema.capnp` is `capnp.schema_capnp`.
pub(crate) fn module_name(file: &str) -> String {
    let base = file.rsplit('/').next().unwrap_or(file);
    let stem = base.strip_suffix(".capnp").unwrap_or(base);
    let name = format!("{}_capnp", stem.replace(['-', ' ', '.'], "_"));
    if is_bundled(file) {
        format!("capnp.{name}")
    } else {
        name
    }
}

pub(crate) fn is_bundled(file: &str) -> bool {
    capnp_compiler::loader::BUNDLED
        .iter()
        .any(|(name, _)| *name == file)
}

fn ident_ok(name: &str) -> bool {
    !KEYWORDS.contains(&name)
}

fn quote_doc(doc: &str, indent: &str) -> Option<String> {
    let doc = doc.trim();
    if doc.is_empty() {
        return None;
    }
    let escaped = doc.replace('\\', "\\\\").replace("\"\"\"", "\\\"\\\"\\\"");
    let body: Vec<String> = escaped
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 || l.trim().is_empty() {
                l.trim_end().to_string()
            } else {
                format!("{indent}{}", l.trim_end())
            }
        })
        .collect();
    let mut text = body.join("\n");
    if text.ends_with('"') {
        text.push(' ');
    }
    Some(format!("{indent}\"\"\"{text}\"\"\"\n"))
}

/// Writes the stub of the file node `file_id`.
pub(crate) struct Writer<'r> {
    req: &'r Request,
    file: String,
    /// Node id -> private base name (`_Person_PhoneNumber`), for nodes of this file.
    names: HashMap<u64, String>,
    /// Modules of other files referenced, by module name.
    imports: HashSet<String>,
    out: String,
}

impl<'r> Writer<'r> {
    pub(crate) fn new(req: &'r Request, file: &str) -> Self {
        let mut names = HashMap::new();
        let mut used = HashSet::new();
        let mut ids: Vec<&Node> = req
            .nodes
            .values()
            .filter(|n| n.file_name() == file)
            .collect();
        ids.sort_by_key(|n| (n.display_name.clone(), n.id));
        for n in ids {
            if matches!(n.kind, Kind::File) {
                continue;
            }
            let mut base = format!("_{}", n.local_name().replace(['.', '$'], "_"));
            if !used.insert(base.clone()) {
                base = format!("{base}_{:x}", n.id);
                used.insert(base.clone());
            }
            names.insert(n.id, base);
        }
        Writer {
            req,
            file: file.to_string(),
            names,
            imports: HashSet::new(),
            out: String::new(),
        }
    }

    fn node(&self, id: u64) -> Option<&'r Node> {
        self.req.nodes.get(&id)
    }

    /// The private base name of node `id`, qualified by its module if it is in another file.
    fn base(&mut self, id: u64) -> Option<String> {
        if let Some(n) = self.names.get(&id) {
            return Some(n.clone());
        }
        let node = self.node(id)?;
        let file = node.file_name().to_string();
        if file == "capnp/c++.capnp" {
            return None;
        }
        let module = module_name(&file);
        self.imports.insert(module.clone());
        // The other file's stub names its nodes the same way.
        let mut other = Writer::new(self.req, &file);
        let base = other.names.remove(&id)?;
        Some(format!("{module}.{base}"))
    }

    /// Whether node `id` has its views nested in its public class: a generic, non-group
    /// struct (Reader, Builder) or a generic interface (Client, Server). Class-level aliases
    /// of generic classes do not specialize in pyright.
    fn nested_views(&self, id: u64) -> bool {
        matches!(
            self.node(id),
            Some(n @ Node { kind: Kind::Struct { is_group: false, .. } | Kind::Interface { .. }, .. })
                // Method params/results structs (`m$Params`) have no public class.
                if !n.parameters.is_empty() && !n.local_name().contains('$')
        )
    }

    /// The name of node `id`'s view class: "Reader" or "Builder" of a struct, "Client" or
    /// "Server" of an interface.
    fn view(&mut self, id: u64, kind: &str) -> Option<String> {
        if !self.nested_views(id) {
            return self.base(id).map(|b| format!("{b}_{kind}"));
        }
        let node = self.node(id)?;
        let file = node.file_name().to_string();
        let path = format!("{}.{kind}", node.local_name());
        if file == self.file {
            return Some(path);
        }
        let module = module_name(&file);
        self.imports.insert(module.clone());
        Some(format!("{module}.{path}"))
    }

    fn param_count(&self, id: u64) -> usize {
        self.node(id).map_or(0, |n| n.parameters.len())
    }

    fn type_args(
        &mut self,
        id: u64,
        args: &[Option<Type>],
        f: fn(&mut Self, &Type) -> String,
    ) -> String {
        let count = self.param_count(id);
        if count == 0 {
            return String::new();
        }
        let parts: Vec<String> = (0..count)
            .map(|i| match args.get(i) {
                Some(Some(t)) => f(self, t),
                _ => "_Any".to_string(),
            })
            .collect();
        format!("[{}]", parts.join(", "))
    }

    fn enum_literal(&mut self, id: u64) -> String {
        match self.base(id) {
            Some(b) => format!("{b}_Name"),
            None => "builtins.str".to_string(),
        }
    }

    /// The client class of interface `id`, unparameterized.
    fn client(&mut self, id: u64) -> String {
        self.view(id, "Client")
            .unwrap_or_else(|| "_DynamicCapabilityClient".to_string())
    }

    /// The server base class of interface `id`, unparameterized.
    fn server(&mut self, id: u64) -> String {
        self.view(id, "Server")
            .unwrap_or_else(|| "_DynamicCapabilityServer".to_string())
    }

    /// The client class of interface `id` with its type arguments (`Any` where unbound).
    fn client_of(&mut self, id: u64, args: &[Option<Type>]) -> String {
        let c = self.client(id);
        if c == "_DynamicCapabilityClient" {
            return c;
        }
        format!("{c}{}", self.type_args(id, args, Self::rtype))
    }

    /// The server base class of interface `id` with its type arguments (`Any` where unbound).
    fn server_of(&mut self, id: u64, args: &[Option<Type>]) -> String {
        let s = self.server(id);
        if s == "_DynamicCapabilityServer" {
            return s;
        }
        format!("{s}{}", self.type_args(id, args, Self::rtype))
    }

    /// What reading a field of type `t` from a reader gives.
    fn rtype(&mut self, t: &Type) -> String {
        match t {
            Type::Void => "None".into(),
            Type::Bool => "builtins.bool".into(),
            Type::Int => "builtins.int".into(),
            Type::Float => "builtins.float".into(),
            Type::Text => "builtins.str".into(),
            Type::Data => "builtins.bytes".into(),
            Type::List(e) => format!("_DynamicListReader[{}]", self.rtype(e)),
            Type::Enum(id) => self.enum_literal(*id),
            Type::Struct(id, args) => match self.view(*id, "Reader") {
                Some(v) => format!("{v}{}", self.type_args(*id, args, Self::rtype)),
                None => "_DynamicStructReader".into(),
            },
            Type::Interface(id, args) => self.client_of(*id, args),
            // The package reads a field of a generic parameter's type as an AnyPointer (it
            // does not apply brands); the binding shows in the struct's type arguments.
            Type::AnyPointer | Type::Param => "_DynamicObjectReader".into(),
        }
    }

    /// What reading a field of type `t` from a builder gives.
    fn bget(&mut self, t: &Type) -> String {
        match t {
            Type::List(e) => format!("_DynamicListBuilder[{}]", self.bget(e)),
            Type::Struct(id, args) => match self.view(*id, "Builder") {
                Some(v) => format!("{v}{}", self.type_args(*id, args, Self::bget)),
                None => "_DynamicStructBuilder".into(),
            },
            Type::AnyPointer | Type::Param => "_DynamicObjectBuilder".into(),
            _ => self.rtype(t),
        }
    }

    /// What a builder field of type `t` accepts.
    fn bset(&mut self, t: &Type) -> String {
        match t {
            Type::Float => "builtins.float".into(),
            Type::Data => "builtins.bytes | builtins.bytearray | builtins.memoryview".into(),
            Type::List(e) => format!(
                "_Sequence[{}] | _DynamicListReader[_Any] | _DynamicListBuilder[_Any]",
                self.bset(e)
            ),
            Type::Enum(id) => format!("{} | builtins.int", self.enum_literal(*id)),
            Type::Struct(id, _) => match (self.view(*id, "Builder"), self.view(*id, "Reader")) {
                (Some(b), Some(r)) => {
                    let any = self.type_args(*id, &[], Self::rtype);
                    format!("{b}{any} | {r}{any} | _Mapping[builtins.str, _Any]")
                }
                _ => "_DynamicStructBuilder | _DynamicStructReader | _Mapping[builtins.str, _Any]"
                    .into(),
            },
            Type::Interface(id, args) => {
                format!(
                    "{} | {}",
                    self.client_of(*id, args),
                    self.server_of(*id, args)
                )
            }
            Type::AnyPointer | Type::Param => "_Any".into(),
            _ => self.rtype(t),
        }
    }

    fn line(&mut self, indent: usize, text: &str) {
        if text.is_empty() {
            self.out.push('\n');
            return;
        }
        let _ = writeln!(self.out, "{}{}", "    ".repeat(indent), text);
    }

    fn doc(&mut self, indent: usize, doc: &str) {
        if let Some(d) = quote_doc(doc, &"    ".repeat(indent)) {
            self.out.push_str(&d);
        }
    }

    fn fields_of(&self, id: u64) -> (&'r [Field], u16, bool) {
        match self.node(id).map(|n| &n.kind) {
            Some(Kind::Struct {
                fields,
                discriminant_count,
                is_group,
            }) => (fields.as_slice(), *discriminant_count, *is_group),
            _ => (&[], 0, false),
        }
    }

    fn field_type(&self, f: &Field) -> Type {
        match &f.kind {
            FieldKind::Slot(t) => t.clone(),
            // A group reads like a struct of its own node.
            FieldKind::Group(id) => Type::Struct(*id, Vec::new()),
        }
    }

    fn attr_ok(name: &str) -> bool {
        ident_ok(name) && !STRUCT_MEMBERS.contains(&name) && !name.starts_with('_')
    }

    fn write_nested(&mut self, n: &Node, indent: usize) {
        for (_, id) in &n.nested {
            let Some(child) = self.node(*id) else {
                continue;
            };
            match &child.kind {
                Kind::Struct { .. } => self.write_struct_module(child, indent),
                Kind::Enum(_) => self.write_enum(child, indent),
                Kind::Interface { .. } => self.write_interface(child, indent),
                Kind::Const(t) => {
                    let name = child.short_name().to_string();
                    if matches!(t, Type::Interface(..) | Type::AnyPointer) || !ident_ok(&name) {
                        continue;
                    }
                    let ty = self.rtype(t);
                    if indent == 0 {
                        self.line(0, &format!("{name}: {ty}"));
                    } else {
                        self.line(indent, &format!("{name}: _ClassVar[{ty}]"));
                    }
                    self.doc(indent, &child.doc);
                }
                _ => {}
            }
        }
    }

    /// The stub's text.
    pub(crate) fn write(mut self) -> String {
        let file_node = self
            .req
            .nodes
            .values()
            .find(|n| matches!(n.kind, Kind::File) && n.display_name == self.file)
            .cloned();
        let mut nodes: Vec<&Node> = self
            .req
            .nodes
            .values()
            .filter(|n| n.file_name() == self.file && !matches!(n.kind, Kind::File))
            .collect();
        nodes.sort_by_key(|n| (n.display_name.clone(), n.id));
        // Generic parameters become TypeVars.
        for n in &nodes {
            if let (Kind::Struct { .. } | Kind::Interface { .. }, Some(base)) =
                (&n.kind, self.names.get(&n.id).cloned())
            {
                for p in &n.parameters {
                    self.line(0, &format!("{base}_{p} = _TypeVar(\"{base}_{p}\")"));
                }
            }
        }
        for n in &nodes {
            match &n.kind {
                Kind::Enum(_) => self.write_enum_literal(n),
                Kind::Struct { .. } if !self.nested_views(n.id) => self.write_struct_views(n, 0),
                Kind::Interface { .. } => self.write_interface_views(n),
                _ => {}
            }
        }
        self.line(
            0,
            "# The module's declarations, as the loaded module has them.",
        );
        self.line(0, "");
        if let Some(f) = &file_node {
            self.write_nested(f, 0);
        }
        self.line(0, "schema: _ParsedSchema");
        let body = std::mem::take(&mut self.out);
        let mut head = String::new();
        let _ = writeln!(
            head,
            "# Typed stub of {} written by `capnp-rs stubs` (or `python -m capnp stubs`): do not edit.",
            self.file
        );
        if let Some(d) = file_node.as_ref().and_then(|f| quote_doc(&f.doc, "")) {
            head.push_str(&d);
        }
        head.push_str(
            "import builtins\n\
             from collections.abc import Awaitable as _Awaitable, Callable as _Callable, \
             Iterator as _Iterator, Mapping as _Mapping, Sequence as _Sequence\n\
             from typing import Any as _Any, ClassVar as _ClassVar, Generic as _Generic, \
             Literal as _Literal, TypeVar as _TypeVar, overload as _overload\n\
             from typing_extensions import Buffer as _Buffer, TypeAlias as _TypeAlias\n\n\
             from capnp.lib.capnp import (\n    _CallContext,\n    _DynamicCapabilityClient,\n    \
             _DynamicCapabilityServer,\n    _DynamicListBuilder,\n    _DynamicListReader,\n    \
             _DynamicObjectBuilder,\n    _DynamicObjectReader,\n    _DynamicStructBuilder,\n    \
             _DynamicStructReader,\n    _EnumSchema,\n    _InterfaceModule,\n    \
             _InterfaceSchema,\n    _ParsedSchema,\n    _RemotePromise,\n    _Request,\n    \
             _StructSchema,\n)\n",
        );
        let mut imports: Vec<&String> = self.imports.iter().collect();
        imports.sort();
        for m in imports {
            if *m != module_name(&self.file) {
                let _ = writeln!(head, "import {m}");
            }
        }
        head.push('\n');
        head + &body
    }
}
