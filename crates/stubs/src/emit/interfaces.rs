//! Interfaces in a stub: clients (methods returning typed promises, `m_request()`), per-method
//! promise and request classes, and the `Server` bases whose signatures check implementations.

use std::collections::HashSet;

use super::{ident_ok, quote_doc, Writer};
use crate::model::{FieldKind, Kind, Method, Node, Type};

impl Writer<'_> {
    pub(super) fn write_interface(&mut self, n: &Node, indent: usize) {
        let Some(base) = self.names.get(&n.id).cloned() else {
            return;
        };
        let name = n.short_name().to_string();
        let i = indent + 1;
        if self.nested_views(n.id) {
            // Generic: `cast_as` cannot know the binding, so it gives `Any` (annotate the
            // variable: `store: Store.Client[str] = cap.cast_as(Store)`).
            self.line(indent, &format!("class {name}(_InterfaceModule[_Any]):"));
            self.doc(i, &n.doc);
            self.write_client_server(n, i, "Client", "Server");
        } else {
            self.line(
                indent,
                &format!("class {name}(_InterfaceModule[{base}_Client]):"),
            );
            self.doc(i, &n.doc);
            self.line(i, &format!("Client: _TypeAlias = {base}_Client"));
            self.line(i, &format!("Server: _TypeAlias = {base}_Server"));
        }
        self.write_nested(n, i);
    }

    /// Whether interface `sub` extends `sup`, directly or not.
    pub(super) fn extends(&self, sub: u64, sup: u64) -> bool {
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
    pub(super) fn inherited_methods(&self, id: u64) -> HashSet<String> {
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
    pub(super) fn server_return(&mut self, m: &Method) -> String {
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

    pub(super) fn write_interface_views(&mut self, n: &Node) {
        let Kind::Interface { methods, .. } = &n.kind else {
            return;
        };
        let Some(base) = self.names.get(&n.id).cloned() else {
            return;
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
                if let FieldKind::Slot(Type::Interface(id, args)) = &f.kind {
                    if Self::attr_ok(&f.name) {
                        let c = self.client_of(*id, args);
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
        if !self.nested_views(n.id) {
            let (client, server) = (format!("{base}_Client"), format!("{base}_Server"));
            self.write_client_server(n, 0, &client, &server);
        }
        // What each server method may return (named once: servers override these methods).
        for m in methods {
            if ident_ok(&m.name) {
                let ret = self.server_return(m);
                self.line(0, &format!("{base}_{}_Return: _TypeAlias = {ret}", m.name));
            }
        }
    }

    /// The client and server base classes of interface `n` (generic in its parameters), at
    /// `indent` and named `client` and `server`.
    fn write_client_server(&mut self, n: &Node, indent: usize, client: &str, server: &str) {
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
            supers.iter().map(|id| self.client_of(*id, &[])).collect()
        };
        let server_bases: Vec<String> = if supers.is_empty() {
            vec!["_DynamicCapabilityServer".into()]
        } else {
            supers.iter().map(|id| self.server_of(*id, &[])).collect()
        };
        let generic = if n.parameters.is_empty() {
            String::new()
        } else {
            let vars: Vec<String> = n.parameters.iter().map(|p| format!("{base}_{p}")).collect();
            format!(", _Generic[{}]", vars.join(", "))
        };
        // Client
        let inherited = self.inherited_methods(n.id);
        const IGNORE: &str = "  # type: ignore[override, unused-ignore]";
        let (i, j) = (indent, indent + 1);
        self.line(
            i,
            &format!("class {client}({}{generic}):", client_bases.join(", ")),
        );
        self.doc(j, &n.doc);
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
            match quote_doc(&m.doc, &"    ".repeat(j + 1)) {
                Some(d) => {
                    self.line(j, &format!("{head}{ignore}"));
                    self.out.push_str(&d);
                }
                None => self.line(j, &format!("{head} ...{ignore}")),
            }
            self.line(
                j,
                &format!(
                    "def {}_request(self) -> {stem}_Request: ...{ignore}",
                    m.name
                ),
            );
            any = true;
        }
        if !any {
            self.line(j, "...");
        }
        self.line(i, "");
        // Server
        self.line(
            i,
            &format!("class {server}({}{generic}):", server_bases.join(", ")),
        );
        self.doc(j, &n.doc);
        let mut any = false;
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
            let ret = format!("{base}_{}_Return", m.name);
            self.line(
                j,
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
            self.line(j, "...");
        }
        self.line(i, "");
    }
}
