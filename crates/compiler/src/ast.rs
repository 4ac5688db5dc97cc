//! The syntax tree of one `.capnp` file, as produced by the parser.
//!
//! Every node carries byte spans into the file so that later phases can report
//! errors at the places the reference compiler reports them and can fill
//! `startByte`/`endByte` and source info.

use std::fmt;

use compact_str::CompactString;

use crate::diag::Span;

/// An identifier with its location. Names are short: stored inline, without an allocation.
#[derive(Clone, Debug, PartialEq)]
pub struct Name {
    pub text: CompactString,
    pub span: Span,
}

/// An `@0x…` id with the span of its integer token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdToken {
    pub value: u64,
    pub span: Span,
}

/// An `@N` ordinal with the span of its integer token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ordinal {
    pub value: u16,
    pub span: Span,
}

/// A string literal (import or embed path) with the span of its token(s).
#[derive(Clone, Debug, PartialEq)]
pub struct StringLit {
    pub value: Vec<u8>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    PositiveInt(u64),
    /// `-N`; holds the magnitude.
    NegativeInt(u64),
    Float(f64),
    /// Adjacent string literals, concatenated.
    String(Vec<u8>),
    /// `0x"…"`.
    Binary(Vec<u8>),
    List(Vec<Expr>),
    /// `( … )` with zero, several, or named elements. A single unnamed element
    /// is never a tuple: the parser returns that element itself.
    Tuple(Vec<Param>),
    Import(StringLit),
    Embed(StringLit),
    /// `.Name`: the expression span covers the dot, the name span only the identifier.
    AbsoluteName(Name),
    RelativeName(Name),
    /// `base.name`
    Member(Box<Expr>, Name),
    /// `function(params)`
    Application(Box<Expr>, Vec<Param>),
    /// Placeholder for an item that failed to parse; its error was already reported.
    Error,
}

/// An element of a tuple or of an application's parameter list: `[name =] value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: Option<Name>,
    pub value: Expr,
}

/// `$name` or `$name(value)`.
#[derive(Clone, Debug, PartialEq)]
pub struct AnnotationApp {
    /// The annotation's name expression (relative, absolute, member, import...).
    pub name: Expr,
    /// None for `$name`; a single unnamed parameter is its expression, anything
    /// else (including `()`) a `Tuple` spanning the parentheses.
    pub value: Option<Expr>,
    pub span: Span,
}

/// Bits of `DeclKind::Annotation::targets`, in the order of `schema.capnp`'s
/// `targetsFile` … `targetsAnnotation`.
pub mod target {
    pub const FILE: u16 = 1 << 0;
    pub const CONST: u16 = 1 << 1;
    pub const ENUM: u16 = 1 << 2;
    pub const ENUMERANT: u16 = 1 << 3;
    pub const STRUCT: u16 = 1 << 4;
    pub const FIELD: u16 = 1 << 5;
    pub const UNION: u16 = 1 << 6;
    pub const GROUP: u16 = 1 << 7;
    pub const INTERFACE: u16 = 1 << 8;
    pub const METHOD: u16 = 1 << 9;
    pub const PARAM: u16 = 1 << 10;
    pub const ANNOTATION: u16 = 1 << 11;
    pub const ALL: u16 = (1 << 12) - 1;

    /// The target keywords, indexed by bit position.
    pub const NAMES: [&str; 12] = [
        "file",
        "const",
        "enum",
        "enumerant",
        "struct",
        "field",
        "union",
        "group",
        "interface",
        "method",
        "param",
        "annotation",
    ];
}

/// A method's parameter or result list.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamList {
    /// `( p0 :T0 = d0 $a, … )`; `span` covers the parentheses.
    Inline { params: Vec<ParamDecl>, span: Span },
    /// A struct type expression used as the whole list.
    Type(Expr),
    /// The `stream` keyword.
    Stream(Span),
}

#[derive(Clone, Debug, PartialEq)]
pub struct ParamDecl {
    pub name: Name,
    pub ty: Expr,
    pub default: Option<Expr>,
    pub annotations: Vec<AnnotationApp>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum DeclKind {
    /// `using [Name =] target;` (the name is derived for `using a.B;`).
    Using {
        target: Expr,
    },
    Const {
        ty: Expr,
        value: Expr,
    },
    Annotation {
        targets: u16,
        ty: Expr,
    },
    Enum,
    Enumerant,
    Struct {
        params: Vec<Name>,
    },
    Interface {
        params: Vec<Name>,
        extends: Vec<Expr>,
    },
    Method {
        implicit_params: Vec<Name>,
        params: ParamList,
        /// None when there is no `->` (an implicit empty result list).
        results: Option<ParamList>,
    },
    Field {
        ty: Expr,
        default: Option<Expr>,
    },
    Group,
    /// A named union (`name.text` non-empty) or an unnamed one (`name.text`
    /// empty, `name.span` on the `union` keyword).
    Union,
}

/// One declaration statement, with its block's declarations in `members`.
#[derive(Clone, Debug, PartialEq)]
pub struct Decl {
    pub kind: DeclKind,
    pub name: Name,
    /// Explicit `@0x…` id of a struct, enum, interface, const or annotation.
    pub id: Option<IdToken>,
    /// Ordinal of a field, enumerant, method, or a named union written `@N!`.
    pub ordinal: Option<Ordinal>,
    pub annotations: Vec<AnnotationApp>,
    /// The doc comment (1.5), raw bytes with `\n` after each line.
    pub doc: Option<Vec<u8>>,
    /// The statement's range, extended over a trailing doc comment (1.4).
    pub span: Span,
    pub members: Vec<Decl>,
}

/// A parsed file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParsedFile {
    /// The file id, with the span of its integer token.
    pub id: Option<IdToken>,
    /// The doc comment of the id statement: the file's doc comment.
    pub doc: Option<Vec<u8>>,
    /// `$name(value);` statements at file level, in order.
    pub annotations: Vec<AnnotationApp>,
    pub decls: Vec<Decl>,
}

impl fmt::Display for Expr {
    /// Re-prints the expression the way the reference quotes it in errors.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::PositiveInt(v) => write!(f, "{v}"),
            ExprKind::NegativeInt(v) => write!(f, "-{v}"),
            ExprKind::Float(v) => write!(f, "{v}"),
            ExprKind::String(s) => write!(f, "{:?}", String::from_utf8_lossy(s)),
            ExprKind::Binary(b) => {
                write!(f, "0x\"")?;
                for byte in b {
                    write!(f, "{byte:02x}")?;
                }
                write!(f, "\"")
            }
            ExprKind::List(items) => {
                write!(f, "[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{item}")?;
                }
                write!(f, "]")
            }
            ExprKind::Tuple(params) => write_tuple(f, params),
            ExprKind::Import(s) => write!(f, "import {:?}", String::from_utf8_lossy(&s.value)),
            ExprKind::Embed(s) => write!(f, "embed {:?}", String::from_utf8_lossy(&s.value)),
            ExprKind::AbsoluteName(n) => write!(f, ".{}", n.text),
            ExprKind::RelativeName(n) => write!(f, "{}", n.text),
            ExprKind::Member(base, n) => write!(f, "{base}.{}", n.text),
            ExprKind::Application(func, params) => {
                write!(f, "{func}(")?;
                write_tuple(f, params)?;
                write!(f, ")")
            }
            ExprKind::Error => write!(f, "<error>"),
        }
    }
}

fn write_tuple(f: &mut fmt::Formatter<'_>, params: &[Param]) -> fmt::Result {
    write!(f, "(")?;
    for (i, p) in params.iter().enumerate() {
        write!(f, "{}", if i > 0 { ", " } else { " " })?;
        if let Some(n) = &p.name {
            write!(f, "{} = ", n.text)?;
        }
        write!(f, "{}", p.value)?;
    }
    write!(f, " )")
}
