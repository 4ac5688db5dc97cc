//! The semantic core: loaded files, the node tree (ids, display names, member tables),
//! name lookup, branded references (generics) and type compilation (sections 3, 4, 5, 7, 8).

use rustc_hash::FxHashMap;
use std::cell::OnceCell;
use std::rc::Rc;

use crate::ast::{Decl, DeclKind, Expr, ExprKind, Name, ParsedFile};
use crate::diag::{Diagnostic, FileId, Span};
use crate::ids;
use crate::loader::{Loader, Root};
use crate::model::{AnyPtr, NodeOut, OBrand, OScope, OScopeKind, OType};

pub(crate) type NodeIdx = usize;

/// One loaded and parsed file.
pub(crate) struct FileData {
    pub(crate) name: String,
    pub(crate) root: Root,
    pub(crate) ast: ParsedFile,
    /// The file's bytes: they recognize one file reached by two paths, and locate
    /// diagnostics (line starts are only computed for files that have any).
    pub(crate) text: Vec<u8>,
    /// Import strings found in the file, resolved to file indexes (None: not found).
    pub(crate) imports: FxHashMap<Vec<u8>, Option<usize>>,
}

/// All files of one compilation, loaded and parsed before compiling.
pub(crate) struct Sources {
    pub(crate) files: Vec<FileData>,
    pub(crate) stream_file: Option<usize>,
}

/// Total size of encoded values (defaults, constants, annotation values) one compilation may
/// build: 512 MiB. A small schema can otherwise ask for gigabytes (lists of huge structs).
pub(crate) const MAX_VALUE_WORDS: u64 = 64 << 20;

/// Runs a step of dependency recursion, growing the stack onto the heap when little is left:
/// chains of declarations recurse as deep as they are long.
pub(crate) fn with_stack<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(256 * 1024, 16 * 1024 * 1024, f)
}

/// How long a chain of dependencies may be before it is an error (bounding time and memory).
pub(crate) const MAX_DEPENDENCY_DEPTH: u32 = 25_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Struct,
    Enum,
    Interface,
    Const,
    Annotation,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    NotStarted,
    Structure,
    StructureDone,
    Values,
    Done,
}

pub(crate) enum Member {
    Node(NodeIdx),
    Alias(usize),
}

pub(crate) struct Members {
    pub(crate) by_name: FxHashMap<compact_str::CompactString, Member>,
    /// Child declaration nodes in source order.
    pub(crate) children: Vec<NodeIdx>,
    pub(crate) aliases: Vec<usize>,
}

/// A compiler node: a file or a const, annotation, enum, struct or interface declaration.
pub(crate) struct Node<'a> {
    pub(crate) id: u64,
    pub(crate) kind: Kind,
    pub(crate) file: usize,
    pub(crate) parent: Option<NodeIdx>,
    pub(crate) decl: Option<&'a Decl>,
    pub(crate) display_name: String,
    pub(crate) prefix_len: u32,
    pub(crate) params: Vec<String>,
    pub(crate) is_generic: bool,
    pub(crate) members: Option<Members>,
    pub(crate) phase: Phase,
    /// The translated node, then its groups or param structs (pre-order / method order).
    pub(crate) out: Option<Vec<NodeOut>>,
    /// The node's context chain (see `Compiler::context_chain`), built on first use.
    pub(crate) context: OnceCell<Chain>,
    /// The node's own unbound frame over an unbound frame of its parent (`interpret_decl`
    /// outside any binding of the parent), built on first use: most references are of this
    /// kind, and sharing the frames saves two allocations per lookup.
    pub(crate) unbound: OnceCell<Chain>,
    /// The node's frame and those of all its enclosing scopes, every one unbound: what
    /// `rebuild_frame` makes from a brand without scopes (an alias of a file or of a
    /// non-generic declaration), built on first use.
    pub(crate) all_unbound: OnceCell<Chain>,
}

pub(crate) enum AliasState {
    NotEvaluated,
    Evaluating,
    Done(Option<AliasTarget>),
}

/// The remembered result of evaluating an alias (8.5).
#[derive(Clone, Debug)]
pub(crate) enum AliasTarget {
    Decl {
        node: NodeIdx,
        brand: Option<OBrand>,
    },
    Var(Var),
    Builtin(Builtin),
    List(Box<OType>),
}

pub(crate) struct Alias<'a> {
    pub(crate) decl: &'a Decl,
    pub(crate) scope: NodeIdx,
    pub(crate) state: AliasState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Builtin {
    Void,
    Bool,
    Int8,
    Int16,
    Int32,
    Int64,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    Float32,
    Float64,
    Text,
    Data,
    List,
    Object,
    AnyPointer,
    AnyStruct,
    AnyList,
    Capability,
}

const BUILTINS: [(&str, Builtin); 20] = [
    ("Void", Builtin::Void),
    ("Bool", Builtin::Bool),
    ("Int8", Builtin::Int8),
    ("Int16", Builtin::Int16),
    ("Int32", Builtin::Int32),
    ("Int64", Builtin::Int64),
    ("UInt8", Builtin::UInt8),
    ("UInt16", Builtin::UInt16),
    ("UInt32", Builtin::UInt32),
    ("UInt64", Builtin::UInt64),
    ("Float32", Builtin::Float32),
    ("Float64", Builtin::Float64),
    ("Text", Builtin::Text),
    ("Data", Builtin::Data),
    ("List", Builtin::List),
    ("Object", Builtin::Object),
    ("AnyPointer", Builtin::AnyPointer),
    ("AnyStruct", Builtin::AnyStruct),
    ("AnyList", Builtin::AnyList),
    ("Capability", Builtin::Capability),
];

impl Builtin {
    /// The pseudo type id recorded in `fileSourceInfo` for built-in names.
    fn pseudo_id(self) -> u64 {
        1014 + BUILTINS.iter().position(|(_, b)| *b == self).unwrap_or(0) as u64
    }
}

/// A type variable: a generic parameter of a node, or an implicit method parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Var {
    Param { scope_id: u64, index: u16 },
    Implicit { index: u16 },
}

#[derive(Clone, Debug)]
pub(crate) enum FrameState {
    Unbound,
    Inherited,
    Bound(Vec<Res>),
    /// Only in the types of values (11.3): an `inherit` scope of a field's type inside a value
    /// whose type does not bind that level. Its parameters read as AnyPointer, like an unbound
    /// level's, but the reference keeps the scope, so the type is not the unbranded one (a
    /// constant of type `Gen.Inner` does not fit the field `inner :Inner` of a `Gen` value).
    Empty,
}

/// Where the `inherit` scopes of a remembered brand take their state from (`rebuild_decl`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InheritFrom {
    /// An alias used from another scope (8.5): the use site's level, as it is.
    Alias,
    /// A field type inside a value of a branded type: the value type's level; a level the
    /// value type leaves unbound becomes `FrameState::Empty`.
    Value,
}

/// One lexical level of a branded reference (8.2), linked to the level enclosing it.
/// Chains share their enclosing levels, so reinterpreting a declaration from a chain
/// adds one frame instead of copying the chain.
#[derive(Clone, Debug)]
pub(crate) struct Frame {
    pub(crate) node: NodeIdx,
    pub(crate) param_count: usize,
    pub(crate) state: FrameState,
    pub(crate) parent: Option<Chain>,
}

impl Frame {
    /// This level, then the levels enclosing it.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Frame> {
        std::iter::successors(Some(self), |f| f.parent.as_deref())
    }

    /// The shared tail of this chain that starts at `node`'s level.
    fn suffix_at(self: &Rc<Self>, node: NodeIdx) -> Option<&Chain> {
        std::iter::successors(Some(self), |f| f.parent.as_ref()).find(|f| f.node == node)
    }
}

/// The innermost level of a chain; never empty.
pub(crate) type Chain = Rc<Frame>;

/// What an expression resolves to.
#[derive(Clone, Debug)]
pub(crate) enum Res {
    Decl(NodeIdx, Chain),
    Builtin(Builtin),
    ListOf(Box<Res>),
    Var(Var),
}

/// How implicit method parameters resolve inside a parameter list (8.6).
#[derive(Clone, Debug)]
pub(crate) enum ImplicitMode {
    /// Fields of the auto-generated param struct with this id.
    ParamStruct(u64),
    /// A parameter/result list given as a type expression.
    Method,
}

/// Where an expression is evaluated.
#[derive(Clone, Debug)]
pub(crate) struct Ctx {
    pub(crate) scope: NodeIdx,
    pub(crate) chain: Chain,
    pub(crate) file: usize,
    pub(crate) implicit: Option<(Rc<Vec<String>>, ImplicitMode)>,
}

pub(crate) struct Compiler<'a> {
    pub(crate) src: &'a Sources,
    pub(crate) loader: &'a Loader<'a>,
    pub(crate) nodes: Vec<Node<'a>>,
    pub(crate) aliases: Vec<Alias<'a>>,
    pub(crate) by_id: FxHashMap<u64, NodeIdx>,
    pub(crate) file_nodes: Vec<Option<NodeIdx>>,
    pub(crate) diags: Vec<Diagnostic>,
    /// `(file, start, end, type id)` for every name resolved to a declaration (13.5).
    pub(crate) identifiers: Vec<(usize, u32, u32, u64)>,
    /// State kept between the structure and values phases of each node.
    pub(crate) pending: FxHashMap<NodeIdx, crate::translate::Pending<'a>>,
    /// `/capnp/stream.capnp` as found through the import path, if any method streams.
    pub(crate) stream_file: Option<usize>,
    /// Current depth of nested translations and traversals (dependency chains recurse).
    pub(crate) depth: u32,
    /// Whether the too-deep error was reported already.
    pub(crate) too_deep_reported: bool,
    /// Words of value data encoded so far, against `MAX_VALUE_WORDS`.
    pub(crate) value_words: u64,
    /// Layout facts of struct and group scopes used by struct values, by scope id.
    pub(crate) scope_cache: FxHashMap<u64, Rc<crate::values::ScopeInfo>>,
}

impl<'a> Compiler<'a> {
    pub(crate) fn new(src: &'a Sources, loader: &'a Loader<'a>, diags: Vec<Diagnostic>) -> Self {
        let mut c = Compiler {
            src,
            loader,
            nodes: Vec::new(),
            aliases: Vec::new(),
            by_id: FxHashMap::default(),
            file_nodes: vec![None; src.files.len()],
            diags,
            identifiers: Vec::new(),
            pending: FxHashMap::default(),
            stream_file: src.stream_file,
            depth: 0,
            too_deep_reported: false,
            value_words: 0,
            scope_cache: FxHashMap::default(),
        };
        for f in 0..src.files.len() {
            c.file_node(f);
        }
        c
    }

    pub(crate) fn error(&mut self, file: usize, span: Span, message: impl Into<String>) {
        self.diags.push(Diagnostic {
            file: FileId(file as u32),
            span,
            message: message.into(),
        });
    }

    /// Enters one level of dependency recursion; false (with one error) past the limit.
    pub(crate) fn enter(&mut self, n: NodeIdx) -> bool {
        if self.depth >= MAX_DEPENDENCY_DEPTH {
            if !self.too_deep_reported {
                self.too_deep_reported = true;
                let (file, span) = self.name_location(n);
                self.error(
                    file,
                    span,
                    format!("Declarations depend on each other too deeply (more than {MAX_DEPENDENCY_DEPTH} levels)."),
                );
            }
            return false;
        }
        self.depth += 1;
        true
    }

    pub(crate) fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    pub(crate) fn had_errors(&self) -> bool {
        !self.diags.is_empty()
    }

    /// The node of a file, created on first use.
    pub(crate) fn file_node(&mut self, file: usize) -> NodeIdx {
        if let Some(n) = self.file_nodes[file] {
            return n;
        }
        let data = &self.src.files[file];
        let id = match data.ast.id {
            Some(t) => t.value,
            // The missing-id error was reported at load time; any id keeps going.
            None => ids::child_id(0, &data.name),
        };
        let name = data.name.clone();
        let prefix_len = name.rfind(['.', ':']).map_or(0, |p| p + 1) as u32;
        let idx = self.nodes.len();
        self.nodes.push(Node {
            id,
            kind: Kind::File,
            file,
            parent: None,
            decl: None,
            display_name: name,
            prefix_len,
            params: Vec::new(),
            is_generic: false,
            members: None,
            phase: Phase::NotStarted,
            out: None,
            context: OnceCell::new(),
            unbound: OnceCell::new(),
            all_unbound: OnceCell::new(),
        });
        self.file_nodes[file] = Some(idx);
        self.register_id(idx, id, Span::at(0));
        idx
    }

    fn register_id(&mut self, idx: NodeIdx, id: u64, span: Span) {
        match self.by_id.get(&id) {
            Some(&other) if other != idx => {
                let (ofile, ospan) = self.name_location(other);
                let file = self.nodes[idx].file;
                self.error(file, span, format!("Duplicate ID @0x{id:016x}."));
                self.error(
                    ofile,
                    ospan,
                    format!("ID @0x{id:016x} originally used here."),
                );
                // The newcomer keeps a private id so lookups by id stay unambiguous.
                let bogus = ids::child_id(id, &format!("<duplicate {idx}>"));
                self.nodes[idx].id = bogus;
                self.by_id.insert(bogus, idx);
            }
            _ => {
                self.by_id.insert(id, idx);
            }
        }
    }

    /// File and name span of a node, for errors about the node itself.
    pub(crate) fn name_location(&self, n: NodeIdx) -> (usize, Span) {
        let node = &self.nodes[n];
        match node.decl {
            Some(d) => (node.file, d.name.span),
            None => (node.file, Span::at(0)),
        }
    }

    pub(crate) fn decls_of(&self, n: NodeIdx) -> &'a [Decl] {
        let node = &self.nodes[n];
        match node.decl {
            Some(d) => &d.members,
            None => &self.src.files[node.file].ast.decls,
        }
    }

    /// Creates the child nodes and alias entries of a node and registers their ids (5.3).
    pub(crate) fn expand(&mut self, n: NodeIdx) {
        if self.nodes[n].members.is_some() {
            return;
        }
        self.nodes[n].members = Some(Members {
            by_name: FxHashMap::default(),
            children: Vec::new(),
            aliases: Vec::new(),
        });
        let decls = self.decls_of(n);
        let parent_kind = self.nodes[n].kind;
        if matches!(parent_kind, Kind::Enum | Kind::Const | Kind::Annotation) {
            return;
        }
        for d in decls {
            let kind = match d.kind {
                DeclKind::Struct { .. } => Kind::Struct,
                DeclKind::Enum => Kind::Enum,
                DeclKind::Interface { .. } => Kind::Interface,
                DeclKind::Const { .. } => Kind::Const,
                DeclKind::Annotation { .. } => Kind::Annotation,
                DeclKind::Using { .. } => {
                    let a = self.aliases.len();
                    self.aliases.push(Alias {
                        decl: d,
                        scope: n,
                        state: AliasState::NotEvaluated,
                    });
                    let m = self.nodes[n].members.as_mut().expect("members set above");
                    m.aliases.push(a);
                    m.by_name
                        .entry(d.name.text.clone())
                        .or_insert(Member::Alias(a));
                    continue;
                }
                _ => continue,
            };
            let child = self.new_decl_node(n, d, kind);
            let m = self.nodes[n].members.as_mut().expect("members set above");
            m.children.push(child);
            m.by_name
                .entry(d.name.text.clone())
                .or_insert(Member::Node(child));
        }
    }

    fn new_decl_node(&mut self, parent: NodeIdx, d: &'a Decl, kind: Kind) -> NodeIdx {
        let p = &self.nodes[parent];
        let id = match d.id {
            Some(t) => t.value,
            None => ids::child_id(p.id, &d.name.text),
        };
        let sep = if p.kind == Kind::File { ':' } else { '.' };
        let display_name = format!("{}{}{}", p.display_name, sep, d.name.text);
        let prefix_len = p.display_name.len() as u32 + 1;
        let params: Vec<String> = match &d.kind {
            DeclKind::Struct { params } | DeclKind::Interface { params, .. } => {
                params.iter().map(|p| p.text.to_string()).collect()
            }
            _ => Vec::new(),
        };
        let is_generic = !params.is_empty() || p.is_generic;
        let file = p.file;
        let idx = self.nodes.len();
        self.nodes.push(Node {
            id,
            kind,
            file,
            parent: Some(parent),
            decl: Some(d),
            display_name,
            prefix_len,
            params,
            is_generic,
            members: None,
            phase: Phase::NotStarted,
            out: None,
            context: OnceCell::new(),
            unbound: OnceCell::new(),
            all_unbound: OnceCell::new(),
        });
        self.register_id(idx, id, d.name.span);
        idx
    }

    /// The context chain for compiling inside node `n`: every level inherited (8.2).
    pub(crate) fn context_chain(&self, n: NodeIdx) -> Chain {
        let node = &self.nodes[n];
        node.context
            .get_or_init(|| {
                Rc::new(Frame {
                    node: n,
                    param_count: node.params.len(),
                    state: FrameState::Inherited,
                    parent: node.parent.map(|p| self.context_chain(p)),
                })
            })
            .clone()
    }

    /// The chain of `n` and its enclosing scopes with every level unbound.
    pub(crate) fn unbound_chain(&self, n: NodeIdx) -> Chain {
        Rc::new(Frame {
            node: n,
            param_count: self.nodes[n].params.len(),
            state: FrameState::Unbound,
            parent: self.nodes[n].parent.map(|p| self.unbound_chain(p)),
        })
    }

    pub(crate) fn ctx(&self, n: NodeIdx) -> Ctx {
        Ctx {
            scope: n,
            chain: self.context_chain(n),
            file: self.nodes[n].file,
            implicit: None,
        }
    }

    /// Interprets declaration `d` reached from chain `c` (8.2 "Pop").
    pub(crate) fn interpret_decl(&self, d: NodeIdx, c: &Chain) -> Res {
        let parent = self.nodes[d].parent;
        if let Some(tail) = parent.and_then(|p| c.suffix_at(p)) {
            return Res::Decl(
                d,
                Rc::new(Frame {
                    node: d,
                    param_count: self.nodes[d].params.len(),
                    state: FrameState::Unbound,
                    parent: Some(tail.clone()),
                }),
            );
        }
        let frame = self.nodes[d].unbound.get_or_init(|| {
            Rc::new(Frame {
                node: d,
                param_count: self.nodes[d].params.len(),
                state: FrameState::Unbound,
                parent: parent.map(|p| {
                    Rc::new(Frame {
                        node: p,
                        param_count: self.nodes[p].params.len(),
                        state: FrameState::Unbound,
                        parent: None,
                    })
                }),
            })
        });
        Res::Decl(d, frame.clone())
    }

    /// Interprets a type variable from chain `c` (None: an empty chain).
    pub(crate) fn interpret_var(&self, v: Var, c: Option<&Frame>) -> Res {
        if let Var::Param { scope_id, index } = v {
            let mut frames = c.into_iter().flat_map(Frame::iter);
            if let Some(f) = frames.find(|f| self.nodes[f.node].id == scope_id) {
                return match &f.state {
                    FrameState::Bound(args) => args
                        .get(usize::from(index))
                        .cloned()
                        .unwrap_or(Res::Builtin(Builtin::AnyPointer)),
                    FrameState::Inherited => Res::Var(v),
                    FrameState::Unbound | FrameState::Empty => Res::Builtin(Builtin::AnyPointer),
                };
            }
        }
        Res::Var(v)
    }

    fn record(&mut self, file: usize, span: Span, id: u64) {
        self.identifiers.push((file, span.start, span.end, id));
    }

    fn record_res(&mut self, file: usize, span: Span, r: &Res) {
        match r {
            Res::Decl(d, _) => {
                let id = self.nodes[*d].id;
                self.record(file, span, id);
            }
            Res::Builtin(b) => self.record(file, span, b.pseudo_id()),
            // Only an alias of `List(T)` reaches here; the reference records it as `List`.
            Res::ListOf(_) => self.record(file, span, Builtin::List.pseudo_id()),
            Res::Var(_) => {}
        }
    }

    /// Resolves an expression naming a declaration, type or type variable.
    /// Errors are reported; None means the expression could not be resolved.
    pub(crate) fn resolve(&mut self, e: &'a Expr, ctx: &Ctx) -> Option<Res> {
        match &e.kind {
            ExprKind::RelativeName(name) => {
                let r = self.lookup_relative(name, ctx)?;
                self.record_res(ctx.file, name.span, &r);
                Some(r)
            }
            ExprKind::AbsoluteName(name) => {
                let file_node = self.file_node(ctx.file);
                let r = match self.lookup_member(file_node, &name.text, &ctx.chain) {
                    Some(r) => r,
                    None => {
                        self.error(ctx.file, name.span, format!("Not defined: {}", name.text));
                        return None;
                    }
                };
                self.record_res(ctx.file, e.span, &r);
                Some(r)
            }
            ExprKind::Import(s) => {
                let target = self.src.files[ctx.file]
                    .imports
                    .get(&s.value)
                    .copied()
                    .flatten();
                match target {
                    Some(f) => {
                        let n = self.file_node(f);
                        let id = self.nodes[n].id;
                        self.record(ctx.file, e.span, id);
                        Some(Res::Decl(
                            n,
                            Rc::new(Frame {
                                node: n,
                                param_count: 0,
                                state: FrameState::Unbound,
                                parent: None,
                            }),
                        ))
                    }
                    None => {
                        let text = String::from_utf8_lossy(&s.value).into_owned();
                        self.error(ctx.file, s.span, format!("Import failed: {text}"));
                        None
                    }
                }
            }
            ExprKind::Member(base, name) => {
                let b = self.resolve(base, ctx)?;
                let Res::Decl(bn, chain) = &b else {
                    self.error(
                        ctx.file,
                        name.span,
                        format!("'{base}' has no member named '{}'", name.text),
                    );
                    return None;
                };
                match self.lookup_member(*bn, &name.text, chain) {
                    Some(r) => {
                        self.record_res(ctx.file, e.span, &r);
                        Some(r)
                    }
                    None => {
                        self.error(
                            ctx.file,
                            name.span,
                            format!("'{base}' has no member named '{}'", name.text),
                        );
                        None
                    }
                }
            }
            ExprKind::Application(func, params) => self.resolve_application(e, func, params, ctx),
            ExprKind::Embed(_) | ExprKind::Error => None,
            _ => {
                self.error(ctx.file, e.span, "Expected name.");
                None
            }
        }
    }

    fn resolve_application(
        &mut self,
        e: &'a Expr,
        func: &'a Expr,
        params: &'a [crate::ast::Param],
        ctx: &Ctx,
    ) -> Option<Res> {
        let f = self.resolve(func, ctx)?;
        let mut args = Vec::new();
        let mut failed = false;
        for p in params {
            if let Some(n) = &p.name {
                self.error(ctx.file, n.span, "Named parameter not allowed here.");
            }
            match self.resolve(&p.value, ctx) {
                Some(r) => args.push((r, &p.value)),
                None => failed = true,
            }
        }
        if failed {
            return Some(f);
        }
        match f {
            Res::Builtin(Builtin::List) => {
                if args.len() != 1 {
                    if args.len() > 1 {
                        self.error(ctx.file, e.span, "Too many generic parameters.");
                    }
                    self.error(
                        ctx.file,
                        func.span,
                        "'List' requires exactly one parameter.",
                    );
                    return None;
                }
                let (a, _) = args.pop().expect("one argument");
                Some(Res::ListOf(Box::new(a)))
            }
            Res::Decl(d, chain) => {
                let param_count = self.nodes[d].params.len();
                let already_bound = matches!(chain.state, FrameState::Bound(_));
                let msg = if already_bound {
                    Some("Double-application of generic parameters.")
                } else if args.len() > param_count {
                    Some(if param_count == 0 {
                        "Declaration does not accept generic parameters."
                    } else {
                        "Too many generic parameters."
                    })
                } else if args.len() < param_count {
                    Some("Not enough generic parameters.")
                } else {
                    None
                };
                if let Some(msg) = msg {
                    self.error(ctx.file, e.span, msg);
                    return Some(Res::Decl(d, chain));
                }
                for (a, expr) in &args {
                    if !self.is_pointer_res(a) {
                        self.error(
                            ctx.file,
                            expr.span,
                            "Sorry, only pointer types can be used as generic parameters.",
                        );
                    }
                }
                let bound = Frame {
                    node: chain.node,
                    param_count: chain.param_count,
                    state: FrameState::Bound(args.into_iter().map(|(r, _)| r).collect()),
                    parent: chain.parent.clone(),
                };
                Some(Res::Decl(d, Rc::new(bound)))
            }
            other => Some(other),
        }
    }

    fn is_pointer_res(&self, r: &Res) -> bool {
        match r {
            Res::Var(_) | Res::ListOf(_) => true,
            Res::Builtin(b) => matches!(
                b,
                Builtin::Text | Builtin::Data | Builtin::AnyPointer | Builtin::Object
            ),
            Res::Decl(d, _) => matches!(self.nodes[*d].kind, Kind::Struct | Kind::Interface),
        }
    }

    /// 4.3: implicit parameters, then members and generic parameters of each enclosing scope, then built-ins.
    fn lookup_relative(&mut self, name: &Name, ctx: &Ctx) -> Option<Res> {
        if let Some((names, mode)) = &ctx.implicit {
            if let Some(i) = names.iter().position(|n| *n == name.text) {
                let index = i as u16;
                return Some(Res::Var(match mode {
                    ImplicitMode::ParamStruct(id) => Var::Param {
                        scope_id: *id,
                        index,
                    },
                    ImplicitMode::Method => Var::Implicit { index },
                }));
            }
        }
        let mut cur = Some(ctx.scope);
        while let Some(x) = cur {
            if let Some(r) = self.lookup_member(x, &name.text, &ctx.chain) {
                return Some(r);
            }
            if let Some(i) = self.nodes[x].params.iter().position(|p| *p == name.text) {
                let v = Var::Param {
                    scope_id: self.nodes[x].id,
                    index: i as u16,
                };
                return Some(self.interpret_var(v, Some(&ctx.chain)));
            }
            cur = self.nodes[x].parent;
        }
        if let Some((_, b)) = BUILTINS.iter().find(|(n, _)| *n == name.text) {
            if *b == Builtin::Object {
                self.error(ctx.file, name.span, "As of Cap'n Proto 0.4, 'Object' has been renamed to 'AnyPointer'.  Sorry for the inconvenience, and thanks for being an early adopter.  :)");
                return Some(Res::Builtin(Builtin::AnyPointer));
            }
            return Some(Res::Builtin(*b));
        }
        self.error(ctx.file, name.span, format!("Not defined: {}", name.text));
        None
    }

    /// Looks `name` up among the children and aliases of `x`, interpreting the result from `chain`.
    fn lookup_member(&mut self, x: NodeIdx, name: &str, chain: &Chain) -> Option<Res> {
        self.expand(x);
        let member = match self.nodes[x].members.as_ref()?.by_name.get(name)? {
            Member::Node(c) => Ok(*c),
            Member::Alias(a) => Err(*a),
        };
        match member {
            Ok(c) => Some(self.interpret_decl(c, chain)),
            Err(a) => self.use_alias(a, chain),
        }
    }

    fn eval_alias(&mut self, a: usize) -> Option<AliasTarget> {
        match &self.aliases[a].state {
            AliasState::Done(t) => return t.clone(),
            AliasState::Evaluating => return None,
            AliasState::NotEvaluated => {}
        }
        let scope = self.aliases[a].scope;
        if !self.enter(scope) {
            return None;
        }
        let target = with_stack(|| self.eval_alias_target(a));
        self.leave();
        self.aliases[a].state = AliasState::Done(target.clone());
        target
    }

    fn eval_alias_target(&mut self, a: usize) -> Option<AliasTarget> {
        self.aliases[a].state = AliasState::Evaluating;
        let decl = self.aliases[a].decl;
        let scope = self.aliases[a].scope;
        let ctx = self.ctx(scope);
        match &decl.kind {
            DeclKind::Using { target } => match self.resolve(target, &ctx) {
                Some(Res::Decl(d, chain)) => Some(AliasTarget::Decl {
                    node: d,
                    brand: self.brand_of(&chain),
                }),
                Some(Res::Var(v)) => Some(AliasTarget::Var(v)),
                Some(Res::Builtin(b)) => Some(AliasTarget::Builtin(b)),
                Some(r @ Res::ListOf(_)) => self
                    .res_to_type(&r, target, ctx.file)
                    .map(|t| AliasTarget::List(Box::new(t))),
                None => None,
            },
            _ => None,
        }
    }

    /// Evaluates every alias of a node (the traversal does this for requested files).
    pub(crate) fn eval_aliases_of(&mut self, n: NodeIdx) {
        self.expand(n);
        let aliases = self.nodes[n]
            .members
            .as_ref()
            .map(|m| m.aliases.clone())
            .unwrap_or_default();
        for a in aliases {
            self.eval_alias(a);
        }
    }

    /// 8.5: re-interprets an alias's remembered target at a use site.
    fn use_alias(&mut self, a: usize, chain: &Chain) -> Option<Res> {
        let target = self.eval_alias(a)?;
        let y = self.aliases[a].scope;
        let base = chain.suffix_at(y).map(|tail| &**tail);
        Some(match target {
            AliasTarget::Decl { node, brand } => {
                self.rebuild_decl(node, brand.as_ref(), base, InheritFrom::Alias)
            }
            AliasTarget::Var(v) => self.interpret_var(v, Some(chain)),
            AliasTarget::Builtin(b) => Res::Builtin(b),
            AliasTarget::List(t) => self.type_to_res(&t, base, InheritFrom::Alias),
        })
    }

    /// The reference to `d` that `brand` describes, its inherited levels taken from `base`.
    pub(crate) fn rebuild_decl(
        &self,
        d: NodeIdx,
        brand: Option<&OBrand>,
        base: Option<&Frame>,
        from: InheritFrom,
    ) -> Res {
        let scopes: &[OScope] = brand.and_then(|b| b.scopes.as_deref()).unwrap_or(&[]);
        Res::Decl(d, self.rebuild_frame(d, scopes, base, from))
    }

    /// The frame of `n` and, linked to it, those of its enclosing scopes; `scopes` are the
    /// brand's scopes not yet matched, innermost first.
    fn rebuild_frame(
        &self,
        n: NodeIdx,
        scopes: &[OScope],
        base: Option<&Frame>,
        from: InheritFrom,
    ) -> Chain {
        if scopes.is_empty() {
            // Every level is unbound whatever `base` and `from` are.
            return self.nodes[n]
                .all_unbound
                .get_or_init(|| {
                    Rc::new(Frame {
                        node: n,
                        param_count: self.nodes[n].params.len(),
                        state: FrameState::Unbound,
                        parent: self.nodes[n]
                            .parent
                            .map(|p| self.rebuild_frame(p, scopes, base, from)),
                    })
                })
                .clone();
        }
        let id = self.nodes[n].id;
        let (state, rest) = match scopes.split_first() {
            Some((s, rest)) if s.scope_id == id => {
                let state = match &s.kind {
                    OScopeKind::Bind(types) => FrameState::Bound(
                        types
                            .iter()
                            .map(|t| self.type_to_res(t, base, from))
                            .collect(),
                    ),
                    OScopeKind::Inherit => {
                        let found = base
                            .into_iter()
                            .flat_map(Frame::iter)
                            .find(|f| f.node == n)
                            .map(|f| &f.state);
                        match (found, from) {
                            (Some(FrameState::Unbound) | None, InheritFrom::Value) => {
                                FrameState::Empty
                            }
                            (Some(state), _) => state.clone(),
                            (None, InheritFrom::Alias) => FrameState::Unbound,
                        }
                    }
                    OScopeKind::Empty => FrameState::Empty,
                };
                (state, rest)
            }
            _ => (FrameState::Unbound, scopes),
        };
        Rc::new(Frame {
            node: n,
            param_count: self.nodes[n].params.len(),
            state,
            parent: self.nodes[n]
                .parent
                .map(|p| self.rebuild_frame(p, rest, base, from)),
        })
    }

    /// Converts a stored type back into a reference (8.5 step 3).
    fn type_to_res(&self, t: &OType, base: Option<&Frame>, from: InheritFrom) -> Res {
        let prim = |b| Res::Builtin(b);
        match t {
            OType::Void => prim(Builtin::Void),
            OType::Bool => prim(Builtin::Bool),
            OType::Int8 => prim(Builtin::Int8),
            OType::Int16 => prim(Builtin::Int16),
            OType::Int32 => prim(Builtin::Int32),
            OType::Int64 => prim(Builtin::Int64),
            OType::UInt8 => prim(Builtin::UInt8),
            OType::UInt16 => prim(Builtin::UInt16),
            OType::UInt32 => prim(Builtin::UInt32),
            OType::UInt64 => prim(Builtin::UInt64),
            OType::Float32 => prim(Builtin::Float32),
            OType::Float64 => prim(Builtin::Float64),
            OType::Text => prim(Builtin::Text),
            OType::Data => prim(Builtin::Data),
            OType::List(e) => Res::ListOf(Box::new(self.type_to_res(e, base, from))),
            OType::Enum(id, b) | OType::Struct(id, b) | OType::Interface(id, b) => {
                match self.by_id.get(id) {
                    Some(&n) => self.rebuild_decl(n, b.as_ref(), base, from),
                    None => prim(Builtin::AnyPointer),
                }
            }
            OType::AnyPointer(AnyPtr::Param { scope_id, index }) => self.interpret_var(
                Var::Param {
                    scope_id: *scope_id,
                    index: *index,
                },
                base,
            ),
            OType::AnyPointer(AnyPtr::ImplicitMethodParam { index }) => {
                Res::Var(Var::Implicit { index: *index })
            }
            OType::AnyPointer(_) => prim(Builtin::AnyPointer),
        }
    }

    /// 8.4: the brand of a branded declaration reference; None when no scope is emitted.
    pub(crate) fn brand_of(&mut self, chain: &Frame) -> Option<OBrand> {
        let mut scopes = Vec::new();
        for f in chain.iter() {
            let scope_id = self.nodes[f.node].id;
            match &f.state {
                FrameState::Bound(args) => {
                    let args = args.clone();
                    let types = args.iter().map(|a| self.res_to_type_quiet(a)).collect();
                    scopes.push(OScope {
                        scope_id,
                        kind: OScopeKind::Bind(types),
                    });
                }
                FrameState::Inherited if f.param_count > 0 => scopes.push(OScope {
                    scope_id,
                    kind: OScopeKind::Inherit,
                }),
                FrameState::Empty => scopes.push(OScope {
                    scope_id,
                    kind: OScopeKind::Empty,
                }),
                _ => {}
            }
        }
        if scopes.is_empty() {
            None
        } else {
            Some(OBrand {
                scopes: Some(scopes),
            })
        }
    }

    /// Type of a generic argument (its errors were reported when it was resolved).
    fn res_to_type_quiet(&mut self, r: &Res) -> OType {
        match r {
            Res::Builtin(b) => builtin_type(*b).unwrap_or(OType::AnyPointer(AnyPtr::AnyKind)),
            Res::ListOf(e) => OType::List(Box::new(self.res_to_type_quiet(e))),
            Res::Var(v) => var_type(*v),
            Res::Decl(d, chain) => {
                let id = self.nodes[*d].id;
                let kind = self.nodes[*d].kind;
                let brand = self.brand_of(chain);
                match kind {
                    Kind::Struct => OType::Struct(id, brand),
                    Kind::Enum => OType::Enum(id, brand),
                    Kind::Interface => OType::Interface(id, brand),
                    _ => OType::AnyPointer(AnyPtr::AnyKind),
                }
            }
        }
    }

    /// Section 7: converts a resolved expression into a type, reporting errors on `e`.
    pub(crate) fn res_to_type(&mut self, r: &Res, e: &Expr, file: usize) -> Option<OType> {
        match r {
            Res::Builtin(Builtin::List) => {
                self.error(file, e.span, "'List' requires exactly one parameter.");
                None
            }
            Res::Builtin(b) => builtin_type(*b),
            Res::ListOf(elem) => {
                match **elem {
                    Res::Builtin(Builtin::AnyPointer) | Res::Builtin(Builtin::Object) => {
                        self.error(file, e.span, "'List(AnyPointer)' is not supported.");
                        return None;
                    }
                    Res::Builtin(Builtin::AnyStruct) => {
                        self.error(file, e.span, "'List(AnyStruct)' is not supported.");
                        return None;
                    }
                    // Release builds of the reference read a type variable's index as if it
                    // were the AnyPointer kind (SCHEMA-COMPILER.md 7); we do the same.
                    Res::Var(Var::Param { index: 0, .. } | Var::Implicit { index: 0 }) => {
                        self.error(file, e.span, "'List(AnyPointer)' is not supported.");
                        return None;
                    }
                    Res::Var(Var::Param { index: 1, .. } | Var::Implicit { index: 1 }) => {
                        self.error(file, e.span, "'List(AnyStruct)' is not supported.");
                        return None;
                    }
                    _ => {}
                }
                let inner = self.res_to_type(elem, e, file)?;
                Some(OType::List(Box::new(inner)))
            }
            Res::Var(v) => Some(var_type(*v)),
            Res::Decl(d, chain) => {
                let id = self.nodes[*d].id;
                let kind = self.nodes[*d].kind;
                match kind {
                    Kind::Struct | Kind::Enum | Kind::Interface => {
                        let brand = self.brand_of(chain);
                        Some(match kind {
                            Kind::Struct => OType::Struct(id, brand),
                            Kind::Enum => OType::Enum(id, brand),
                            _ => OType::Interface(id, brand),
                        })
                    }
                    _ => {
                        self.error(file, e.span, format!("'{e}' is not a type."));
                        None
                    }
                }
            }
        }
    }

    /// Resolves and converts a type expression.
    pub(crate) fn compile_type(&mut self, e: &'a Expr, ctx: &Ctx) -> Option<OType> {
        let r = self.resolve(e, ctx)?;
        self.res_to_type(&r, e, ctx.file)
    }

    /// Replaces type variables bound by `chain`, also inside the brands of struct, enum and
    /// interface types, whose `inherit` scopes take their state from `chain` (8.7: values of
    /// generic annotations; 11.3: fields of branded struct values).
    pub(crate) fn substitute(&mut self, t: &OType, chain: &Frame) -> OType {
        match t {
            OType::Struct(id, Some(brand))
            | OType::Enum(id, Some(brand))
            | OType::Interface(id, Some(brand)) => match self.by_id.get(id) {
                Some(&n) => {
                    let r = self.rebuild_decl(n, Some(brand), Some(chain), InheritFrom::Value);
                    self.res_to_type_quiet(&r)
                }
                None => t.clone(),
            },
            OType::AnyPointer(AnyPtr::Param { scope_id, index }) => {
                let r = self.interpret_var(
                    Var::Param {
                        scope_id: *scope_id,
                        index: *index,
                    },
                    Some(chain),
                );
                self.res_to_type_quiet(&r)
            }
            OType::List(e) => OType::List(Box::new(self.substitute(e, chain))),
            other => other.clone(),
        }
    }
}

pub(crate) fn builtin_type(b: Builtin) -> Option<OType> {
    Some(match b {
        Builtin::Void => OType::Void,
        Builtin::Bool => OType::Bool,
        Builtin::Int8 => OType::Int8,
        Builtin::Int16 => OType::Int16,
        Builtin::Int32 => OType::Int32,
        Builtin::Int64 => OType::Int64,
        Builtin::UInt8 => OType::UInt8,
        Builtin::UInt16 => OType::UInt16,
        Builtin::UInt32 => OType::UInt32,
        Builtin::UInt64 => OType::UInt64,
        Builtin::Float32 => OType::Float32,
        Builtin::Float64 => OType::Float64,
        Builtin::Text => OType::Text,
        Builtin::Data => OType::Data,
        Builtin::List => return None,
        Builtin::Object | Builtin::AnyPointer => OType::AnyPointer(AnyPtr::AnyKind),
        Builtin::AnyStruct => OType::AnyPointer(AnyPtr::Struct),
        Builtin::AnyList => OType::AnyPointer(AnyPtr::List),
        Builtin::Capability => OType::AnyPointer(AnyPtr::Capability),
    })
}

fn var_type(v: Var) -> OType {
    OType::AnyPointer(match v {
        Var::Param { scope_id, index } => AnyPtr::Param { scope_id, index },
        Var::Implicit { index } => AnyPtr::ImplicitMethodParam { index },
    })
}
