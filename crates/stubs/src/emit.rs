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

use crate::model::{Field, FieldKind, Kind, Method, Node, Request, Type};

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

    /// Whether struct `id` has its Reader and Builder nested in its public class: a generic,
    /// non-group struct (class-level aliases of generic classes do not specialize in pyright).
    fn nested_views(&self, id: u64) -> bool {
        matches!(
            self.node(id),
            Some(n @ Node { kind: Kind::Struct { is_group: false, .. }, .. })
                // Method params/results structs (`m$Params`) have no public class.
                if !n.parameters.is_empty() && !n.local_name().contains('$')
        )
    }

    /// The name of struct `id`'s reader or builder class (`kind` is "Reader" or "Builder").
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

    fn client(&mut self, id: u64) -> String {
        match self.base(id) {
            Some(b) => format!("{b}_Client"),
            None => "_DynamicCapabilityClient".to_string(),
        }
    }

    fn server(&mut self, id: u64) -> String {
        match self.base(id) {
            Some(b) => format!("{b}_Server"),
            None => "_DynamicCapabilityServer".to_string(),
        }
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
            Type::Interface(id) => self.client(*id),
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
            Type::Interface(id) => format!("{} | {}", self.client(*id), self.server(*id)),
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

    /// `_X_Reader` and `_X_Builder` of struct (or group, or params/results) node `n`.
    fn write_struct_views(&mut self, n: &Node, ind: usize) {
        let Some(base) = self.names.get(&n.id).cloned() else {
            return;
        };
        let (fields, discriminant_count, _) = self.fields_of(n.id);
        // Generic structs' views are nested in their public class (`Box.Reader[str]`).
        let nested = self.nested_views(n.id);
        let (reader_class, builder_class) = if nested {
            ("Reader".to_string(), "Builder".to_string())
        } else {
            (format!("{base}_Reader"), format!("{base}_Builder"))
        };
        let reader_ref = self
            .view(n.id, "Reader")
            .unwrap_or_else(|| reader_class.clone());
        let builder_ref = self
            .view(n.id, "Builder")
            .unwrap_or_else(|| builder_class.clone());
        let generic = if n.parameters.is_empty() {
            String::new()
        } else {
            let vars: Vec<String> = n.parameters.iter().map(|p| format!("{base}_{p}")).collect();
            format!(", _Generic[{}]", vars.join(", "))
        };
        let which: Vec<String> = fields
            .iter()
            .filter(|f| f.discriminant.is_some())
            .map(|f| format!("{:?}", f.name))
            .collect();
        let which = (discriminant_count > 0 && !which.is_empty())
            .then(|| format!("_Literal[{}]", which.join(", ")));
        let self_args = if n.parameters.is_empty() {
            String::new()
        } else {
            let vars: Vec<String> = n.parameters.iter().map(|p| format!("{base}_{p}")).collect();
            format!("[{}]", vars.join(", "))
        };

        // Reader
        self.line(
            ind,
            &format!("class {reader_class}(_DynamicStructReader{generic}):"),
        );
        self.doc(ind + 1, &n.doc);
        for f in fields {
            if !Self::attr_ok(&f.name) {
                continue;
            }
            let t = self.field_type(f);
            let ty = self.rtype(&t);
            self.line(ind + 1, "@property");
            self.line(ind + 1, &format!("def {}(self) -> {ty}:", f.name));
            if quote_doc(&f.doc, "").is_some() {
                self.doc(ind + 2, &f.doc);
            } else {
                self.out.truncate(self.out.len() - 1);
                self.out.push_str(" ...\n");
            }
        }
        if let Some(w) = &which {
            self.line(ind + 1, &format!("def which(self) -> {w}: ..."));
        }
        self.line(ind + 1, "def as_builder(self, num_first_segment_words: builtins.int | None = None, allocate_seg_callable: _Callable[[builtins.int], _Any] | None = None) -> ");
        self.out.truncate(self.out.len() - 1);
        let _ = writeln!(self.out, "{builder_ref}{self_args}: ...");
        self.line(ind, "");

        // Builder
        self.line(
            ind,
            &format!("class {builder_class}(_DynamicStructBuilder{generic}):"),
        );
        self.doc(ind + 1, &n.doc);
        let mut inits: Vec<(String, String, bool)> = Vec::new();
        for f in fields {
            let t = self.field_type(f);
            let get = self.bget(&t);
            match (&f.kind, &t) {
                (FieldKind::Group(_), _) | (_, Type::Struct(..)) => {
                    inits.push((f.name.clone(), get.clone(), false))
                }
                (_, Type::List(_)) => inits.push((f.name.clone(), get.clone(), true)),
                _ => {}
            }
            if !Self::attr_ok(&f.name) {
                continue;
            }
            let set = self.bset(&t);
            let doc = quote_doc(&f.doc, &"    ".repeat(ind + 2));
            if matches!(f.kind, FieldKind::Group(_)) {
                self.line(ind + 1, "@property");
                self.line(ind + 1, &format!("def {}(self) -> {get}: ...", f.name));
            } else if get == set {
                self.line(ind + 1, &format!("{}: {get}", f.name));
                if let Some(d) = quote_doc(&f.doc, &"    ".repeat(ind + 1)) {
                    self.out.push_str(&d);
                }
            } else {
                self.line(ind + 1, "@property");
                match doc {
                    Some(d) => {
                        self.line(ind + 1, &format!("def {}(self) -> {get}:", f.name));
                        self.out.push_str(&d);
                    }
                    None => self.line(ind + 1, &format!("def {}(self) -> {get}: ...", f.name)),
                }
                self.line(ind + 1, &format!("@{}.setter", f.name));
                self.line(
                    ind + 1,
                    &format!("def {}(self, value: {set}) -> None: ...", f.name),
                );
            }
        }
        if let Some(w) = &which {
            self.line(ind + 1, &format!("def which(self) -> {w}: ..."));
        }
        let many = inits.len() > 1;
        for (i, (name, ty, sized)) in inits.iter().enumerate() {
            if many {
                let ignore = if i == 0 {
                    "  # type: ignore[override, unused-ignore]"
                } else {
                    ""
                };
                self.line(ind + 1, &format!("@_overload{ignore}"));
            }
            let ignore = if many {
                ""
            } else {
                "  # type: ignore[override, unused-ignore]"
            };
            let size = if *sized {
                "size: builtins.int"
            } else {
                "size: None = None"
            };
            self.line(
                ind + 1,
                &format!("def init(self, field: _Literal[{name:?}], {size}) -> {ty}: ...{ignore}"),
            );
        }
        self.line(
            ind + 1,
            &format!("def as_reader(self) -> {reader_ref}{self_args}: ..."),
        );
        self.line(ind, "");
    }

    /// The keyword arguments `new_message` and client methods take for struct `id`.
    fn kwargs(&mut self, id: u64) -> Vec<String> {
        let (fields, _, _) = self.fields_of(id);
        let mut out = Vec::new();
        for f in fields {
            if !ident_ok(&f.name) || f.name.starts_with('_') {
                continue;
            }
            let t = self.field_type(f);
            let ty = match &f.kind {
                FieldKind::Group(_) => "_Mapping[builtins.str, _Any]".to_string(),
                FieldKind::Slot(_) => self.bset(&t),
            };
            out.push(format!("{}: {ty} = ...", f.name));
        }
        out
    }

    fn write_struct_module(&mut self, n: &Node, indent: usize) {
        let Some(base) = self.names.get(&n.id).cloned() else {
            return;
        };
        let name = n.short_name().to_string();
        let any = if n.parameters.is_empty() {
            String::new()
        } else {
            format!("[{}]", vec!["_Any"; n.parameters.len()].join(", "))
        };
        let nested = self.nested_views(n.id);
        let r = format!("{}{any}", self.view(n.id, "Reader").unwrap_or_default());
        let b = format!("{}{any}", self.view(n.id, "Builder").unwrap_or_default());
        self.line(indent, &format!("class {name}:"));
        self.doc(indent + 1, &n.doc);
        let i = indent + 1;
        if nested {
            self.write_struct_views(n, i);
        } else {
            self.line(i, &format!("Reader: _TypeAlias = {base}_Reader"));
            self.line(i, &format!("Builder: _TypeAlias = {base}_Builder"));
        }
        self.line(i, "schema: _ClassVar[_StructSchema]");
        let mut kw = self.kwargs(n.id);
        let mut params = vec![
            "num_first_segment_words: builtins.int | None = None".to_string(),
            "allocate_seg_callable: _Callable[[builtins.int], _Any] | None = None".to_string(),
        ];
        if !kw.is_empty() {
            params.push("*".to_string());
            params.append(&mut kw);
        }
        let limits = "traversal_limit_in_words: builtins.int | None = None, nesting_limit: builtins.int | None = None";
        let methods = [
            format!("def new_message({}) -> {b}: ...", params.join(", ")),
            format!("def from_bytes(buf: _Buffer, {limits}, builder: _Literal[False] = False) -> {r}: ..."),
            format!("def from_bytes(buf: _Buffer, {limits}, *, builder: _Literal[True]) -> {b}: ..."),
            format!("def from_bytes_packed(buf: _Buffer, {limits}) -> {r}: ..."),
            format!("def from_segments(segments: _Sequence[_Buffer], {limits}) -> {r}: ..."),
            format!("def read(file: _Any, {limits}) -> {r}: ..."),
            format!("def read_packed(file: _Any, {limits}) -> {r}: ..."),
            format!("def read_multiple(file: _Any, {limits}, skip_copy: builtins.bool = False) -> _Iterator[{r}]: ..."),
            format!("def read_multiple_packed(file: _Any, {limits}, skip_copy: builtins.bool = False) -> _Iterator[{r}]: ..."),
            format!("def read_multiple_bytes(buf: _Buffer, {limits}) -> _Iterator[{r}]: ..."),
            format!("def read_multiple_bytes_packed(buf: _Buffer, {limits}) -> _Iterator[{r}]: ..."),
            format!("async def read_async(stream: _Any, {limits}) -> {r} | None: ..."),
            format!("def from_json(text: builtins.str | _Buffer, reject_unknown_fields: builtins.bool = False) -> {b}: ..."),
            format!("def from_text(text: builtins.str) -> {b}: ..."),
        ];
        for (k, m) in methods.iter().enumerate() {
            if k == 1 || k == 2 {
                self.line(i, "@_overload");
            }
            self.line(i, "@staticmethod");
            self.line(i, m);
        }
        self.write_nested(n, i);
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
                    if matches!(t, Type::Interface(_) | Type::AnyPointer) || !ident_ok(&name) {
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

    fn write_enum(&mut self, n: &Node, indent: usize) {
        let Kind::Enum(names) = &n.kind else { return };
        let name = n.short_name().to_string();
        self.line(indent, &format!("class {name}:"));
        self.doc(indent + 1, &n.doc);
        self.line(indent + 1, "schema: _ClassVar[_EnumSchema]");
        for e in names {
            if ident_ok(e) {
                self.line(indent + 1, &format!("{e}: _ClassVar[builtins.int]"));
            }
        }
    }

    fn write_enum_literal(&mut self, n: &Node) {
        let Kind::Enum(names) = &n.kind else { return };
        let Some(base) = self.names.get(&n.id).cloned() else {
            return;
        };
        let lit: Vec<String> = names.iter().map(|e| format!("{e:?}")).collect();
        let ty = if lit.is_empty() {
            // An enum without enumerants has only numbers.
            "builtins.int".to_string()
        } else {
            format!("_Literal[{}]", lit.join(", "))
        };
        self.line(0, &format!("{base}_Name: _TypeAlias = {ty}"));
    }

    fn write_interface(&mut self, n: &Node, indent: usize) {
        let Some(base) = self.names.get(&n.id).cloned() else {
            return;
        };
        let name = n.short_name().to_string();
        self.line(
            indent,
            &format!("class {name}(_InterfaceModule[{base}_Client]):"),
        );
        self.doc(indent + 1, &n.doc);
        let i = indent + 1;
        self.line(i, &format!("Client: _TypeAlias = {base}_Client"));
        self.line(i, &format!("Server: _TypeAlias = {base}_Server"));
        self.write_nested(n, i);
    }

    /// Whether interface `sub` extends `sup`, directly or not.
    fn extends(&self, sub: u64, sup: u64) -> bool {
        let mut seen = HashSet::new();
        let mut todo = vec![sub];
        while let Some(i) = todo.pop() {
            if !seen.insert(i) {
                continue;
            }
            if let Some(Kind::Interface { superclasses, .. }) = self.node(i).map(|n| &n.kind) {
                if superclasses.contains(&sup) {
                    return true;
                }
                todo.extend(superclasses.iter().copied());
            }
        }
        false
    }

    /// Names of the methods of `id`'s superclasses, transitively.
    fn inherited_methods(&self, id: u64) -> HashSet<String> {
        let mut out = HashSet::new();
        let mut seen = HashSet::new();
        let mut todo: Vec<u64> = match self.node(id).map(|n| &n.kind) {
            Some(Kind::Interface { superclasses, .. }) => superclasses.clone(),
            _ => Vec::new(),
        };
        while let Some(s) = todo.pop() {
            if !seen.insert(s) {
                continue;
            }
            if let Some(Kind::Interface {
                methods,
                superclasses,
            }) = self.node(s).map(|n| &n.kind)
            {
                out.extend(methods.iter().map(|m| m.name.clone()));
                todo.extend(superclasses.iter().copied());
            }
        }
        out
    }

    /// What a server method may return: the result field values (one, or a tuple), the
    /// results struct itself, or None (results set through `_context`).
    fn server_return(&mut self, m: &Method) -> String {
        let (fields, _, _) = self.fields_of(m.results);
        let values: Vec<String> = fields
            .iter()
            .map(|f| {
                let t = self.field_type(f);
                self.bset(&t)
            })
            .collect();
        let mut parts = Vec::new();
        match values.len() {
            0 => {}
            1 => parts.push(values[0].clone()),
            _ => parts.push(format!("tuple[{}]", values.join(", "))),
        }
        let results = Type::Struct(m.results, m.result_args.clone());
        parts.push(self.bget(&results));
        parts.push(self.rtype(&results));
        parts.push("None".into());
        parts.join(" | ")
    }

    fn write_interface_views(&mut self, n: &Node) {
        let Kind::Interface {
            methods,
            superclasses,
        } = &n.kind
        else {
            return;
        };
        let Some(base) = self.names.get(&n.id).cloned() else {
            return;
        };
        // A superclass that another listed superclass extends adds nothing (and would make
        // Python's method resolution order inconsistent).
        let supers: Vec<u64> = superclasses
            .iter()
            .copied()
            .filter(|s| !superclasses.iter().any(|o| o != s && self.extends(*o, *s)))
            .collect();
        let client_bases: Vec<String> = if supers.is_empty() {
            vec!["_DynamicCapabilityClient".into()]
        } else {
            supers.iter().map(|id| self.client(*id)).collect()
        };
        let server_bases: Vec<String> = if supers.is_empty() {
            vec!["_DynamicCapabilityServer".into()]
        } else {
            supers.iter().map(|id| self.server(*id)).collect()
        };
        for m in methods {
            if !ident_ok(&m.name) {
                continue;
            }
            let params = Type::Struct(m.params, m.param_args.clone());
            let results = Type::Struct(m.results, m.result_args.clone());
            let results_reader = self.rtype(&results);
            let params_builder = self.bget(&params);
            let stem = format!("{base}_{}", m.name);
            // The promise of a call: awaitable for the results, with capability fields
            // pipelined.
            self.line(
                0,
                &format!("class {stem}_Promise(_RemotePromise[{results_reader}]):"),
            );
            let (fields, _, _) = self.fields_of(m.results);
            let mut any = false;
            for f in fields {
                if let FieldKind::Slot(Type::Interface(id)) = &f.kind {
                    if Self::attr_ok(&f.name) {
                        let c = self.client(*id);
                        self.line(1, "@property");
                        self.line(1, &format!("def {}(self) -> {c}: ...", f.name));
                        any = true;
                    }
                }
            }
            if !any {
                self.line(1, "...");
            }
            self.line(0, "");
            self.line(
                0,
                &format!("class {stem}_Request({params_builder}, _Request):"),
            );
            self.line(1, &format!("def send(self) -> {stem}_Promise: ..."));
            self.line(0, "");
        }
        // Client
        let inherited = self.inherited_methods(n.id);
        const IGNORE: &str = "  # type: ignore[override, unused-ignore]";
        self.line(
            0,
            &format!("class {base}_Client({}):", client_bases.join(", ")),
        );
        self.doc(1, &n.doc);
        let mut any = false;
        for m in methods {
            if !ident_ok(&m.name) {
                continue;
            }
            // A method named like one of a superclass's replaces it for Python.
            let ignore = if inherited.contains(&m.name) {
                IGNORE
            } else {
                ""
            };
            let mut args = vec!["self".to_string()];
            args.extend(self.kwargs(m.params));
            let stem = format!("{base}_{}", m.name);
            let head = format!("def {}({}) -> {stem}_Promise:", m.name, args.join(", "));
            match quote_doc(&m.doc, "        ") {
                Some(d) => {
                    self.line(1, &format!("{head}{ignore}"));
                    self.out.push_str(&d);
                }
                None => self.line(1, &format!("{head} ...{ignore}")),
            }
            self.line(
                1,
                &format!(
                    "def {}_request(self) -> {stem}_Request: ...{ignore}",
                    m.name
                ),
            );
            any = true;
        }
        if !any {
            self.line(1, "...");
        }
        self.line(0, "");
        // Server
        self.line(
            0,
            &format!("class {base}_Server({}):", server_bases.join(", ")),
        );
        self.doc(1, &n.doc);
        let mut any = false;
        let mut returns = Vec::new();
        for m in methods {
            if !ident_ok(&m.name) {
                continue;
            }
            let (fields, _, _) = self.fields_of(m.params);
            let mut args = vec!["self".to_string(), "*".to_string()];
            for f in fields {
                if !ident_ok(&f.name) || f.name.starts_with('_') {
                    continue;
                }
                let t = self.field_type(f);
                let ty = self.rtype(&t);
                args.push(format!("{}: {ty}", f.name));
            }
            args.push("_context: _CallContext".into());
            args.push("**kwargs: _Any".into());
            let ret = self.server_return(m);
            let alias = format!("{base}_{}_Return", m.name);
            returns.push(format!("{alias}: _TypeAlias = {ret}"));
            let ret = alias;
            self.line(
                1,
                &format!(
                    "def {}({}) -> {ret} | _Awaitable[{ret}]: ...{}",
                    m.name,
                    args.join(", "),
                    if inherited.contains(&m.name) {
                        IGNORE
                    } else {
                        ""
                    }
                ),
            );
            any = true;
        }
        if !any {
            self.line(1, "...");
        }
        self.line(0, "");
        for r in returns {
            self.line(0, &r);
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
            if let (Kind::Struct { .. }, Some(base)) = (&n.kind, self.names.get(&n.id).cloned()) {
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
