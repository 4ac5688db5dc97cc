//! Struct and enum declarations in a stub: readers and builders (fields, `which()`, `init`
//! overloads), the public struct classes (`new_message`, `from_bytes`, ...), enums.

use std::fmt::Write;

use super::{ident_ok, quote_doc, Writer};
use crate::model::{FieldKind, Kind, Node, Type};

impl Writer<'_> {
    /// `_X_Reader` and `_X_Builder` of struct (or group, or params/results) node `n`.
    pub(super) fn write_struct_views(&mut self, n: &Node, ind: usize) {
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
    pub(super) fn kwargs(&mut self, id: u64) -> Vec<String> {
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

    pub(super) fn write_struct_module(&mut self, n: &Node, indent: usize) {
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

    pub(super) fn write_enum(&mut self, n: &Node, indent: usize) {
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

    pub(super) fn write_enum_literal(&mut self, n: &Node) {
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
}
