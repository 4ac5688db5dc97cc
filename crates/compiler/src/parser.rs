//! Parser: statements into the declaration tree of `ast` (SCHEMA-COMPILER.md section 2).
//!
//! Mirrors the reference's backtracking grammar: each statement must match one
//! declaration form entirely, alternatives are tried in the stated order and
//! the first one that matches is kept. The furthest token any alternative
//! looked at decides where a statement's `Parse error.` goes (14.2).

use crate::ast::{
    target, AnnotationApp, Decl, DeclKind, Expr, ExprKind, IdToken, Name, Ordinal, Param,
    ParamDecl, ParamList, ParsedFile, StringLit,
};
use crate::diag::Span;
use crate::lexer::{self, Lexed, Statement, Token, TokenKind, TokenRange, MAX_DEPTH, PARSE_ERROR};
use compact_str::CompactString;

const INVALID_ID: &str = "Invalid ID.  Please generate a new one with 'capnpc -i'.";
const ORDINAL_TOO_BIG: &str = "Ordinals cannot be greater than 65535.";
const UNION_NUMBER: &str =
    "As of Cap'n Proto v0.3, it is no longer necessary to assign numbers to \
     unions. However, removing the number will break binary compatibility. If this is an old \
     protocol and you need to retain compatibility, please add an exclamation point after the \
     number to indicate that it is really needed, e.g. `foo @1! :union {`. If this is a new \
     protocol or compatibility doesn't matter, just remove the @n entirely. Sorry for the \
     inconvenience, and thanks for being an early adopter!  :)";
const UNION_COLON: &str = "As of Cap'n Proto v0.3, the 'union' keyword should be prefixed with a \
     colon for named unions, e.g. `foo :union {`.";
const USING_WITHOUT_NAME: &str = "'using' declaration without '=' must specify a named \
     declaration from a different scope.";
const NEEDS_BLOCK: &str = "This statement should end with a block, not a semicolon.";
const NEEDS_SEMICOLON: &str = "This statement should end with a semicolon, not a block.";

/// Parses one file. Never panics; errors are returned with their spans, in source order.
pub fn parse_file(src: &[u8]) -> (ParsedFile, Vec<(Span, String)>) {
    let lexed = match lexer::lex(src) {
        Ok(lexed) => lexed,
        Err(errors) => return (ParsedFile::default(), errors),
    };
    let mut parser = Parser {
        src: Source {
            bytes: src,
            text: std::str::from_utf8(src).ok(),
            lexed: &lexed,
        },
        errors: Vec::new(),
        depth: 0,
    };
    let mut file = ParsedFile::default();
    for statement in &lexed.statements {
        match parser.statement(statement, Context::File) {
            Some(Item::FileId(id)) => {
                if file.id.is_some() {
                    parser.error(statement.span, "File can only have one ID.");
                } else {
                    file.id = Some(id);
                    file.doc = statement.doc.clone();
                }
            }
            Some(Item::FileAnnotation(app)) => file.annotations.push(app),
            Some(Item::Decl(decl)) => file.decls.push(decl),
            None => {}
        }
    }
    let mut errors = parser.errors;
    // Backtracking re-runs the same checks; report each error once.
    let mut seen = rustc_hash::FxHashSet::default();
    errors.retain(|e| seen.insert(e.clone()));
    errors.sort_by_key(|(span, _)| span.start);
    (file, errors)
}

/// Which grammar a statement list is parsed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Context {
    File,
    /// Members of a struct, group or union.
    Struct,
    Interface,
    Enum,
}

/// What one statement turned into.
enum Item {
    FileId(IdToken),
    FileAnnotation(AnnotationApp),
    Decl(Decl),
}

/// The file being parsed, where identifier tokens find their text.
#[derive(Clone, Copy)]
struct Source<'s> {
    bytes: &'s [u8],
    /// The whole file as text when it is valid UTF-8 (the usual case), so that
    /// identifiers are sliced out without validating each one again.
    text: Option<&'s str>,
    lexed: &'s Lexed,
}

impl<'s> Source<'s> {
    fn text(&self, span: Span) -> Option<&'s str> {
        let range = span.start as usize..span.end as usize;
        match self.text {
            Some(text) => text.get(range),
            None => std::str::from_utf8(self.bytes.get(range)?).ok(),
        }
    }
}

/// A position in one token list, remembering the furthest token examined.
struct Cursor<'t> {
    src: Source<'t>,
    tokens: &'t [Token],
    pos: usize,
    /// One past the furthest token any alternative has looked at.
    best: usize,
}

impl<'t> Cursor<'t> {
    fn new(src: Source<'t>, tokens: &'t [Token]) -> Cursor<'t> {
        Cursor {
            src,
            tokens,
            pos: 0,
            best: 0,
        }
    }

    /// Takes the next token; looking at a token counts as reaching past it.
    fn next(&mut self) -> Option<&'t Token> {
        let token = self.tokens.get(self.pos)?;
        self.pos += 1;
        self.best = self.best.max(self.pos);
        Some(token)
    }

    fn at_end(&self) -> bool {
        self.pos >= self.tokens.len()
    }

    /// Where a failed parse of this list is reported (14.2).
    fn error_position(&self, fallback: usize) -> usize {
        if let Some(token) = self.tokens.get(self.best) {
            token.span.start as usize
        } else if let Some(last) = self.tokens.last() {
            last.span.end as usize
        } else {
            fallback
        }
    }

    fn op(&mut self, text: &str) -> Option<Span> {
        match self.next() {
            Some(Token {
                kind: TokenKind::Operator(op),
                span,
            }) if op == text => Some(*span),
            _ => None,
        }
    }

    /// An identifier's text, borrowed from the file: alternatives that backtrack
    /// copy it only once they match.
    fn ident_text(&mut self) -> Option<(&'t str, Span)> {
        match self.next() {
            Some(Token {
                kind: TokenKind::Identifier,
                span,
            }) => Some((self.src.text(*span)?, *span)),
            _ => None,
        }
    }

    fn ident(&mut self) -> Option<Name> {
        self.ident_text().map(to_name)
    }

    fn keyword(&mut self, word: &str) -> Option<Span> {
        self.ident_text()
            .and_then(|(text, span)| (text == word).then_some(span))
    }

    fn integer(&mut self) -> Option<(u64, Span)> {
        match self.next() {
            Some(Token {
                kind: TokenKind::Integer(v),
                span,
            }) => Some((*v, *span)),
            _ => None,
        }
    }

    fn paren_list(&mut self) -> Option<(&'t [TokenRange], Span)> {
        match self.next() {
            Some(Token {
                kind: TokenKind::ParenList(items),
                span,
            }) => Some((self.src.lexed.items(*items), *span)),
            _ => None,
        }
    }

    fn bracket_list(&mut self) -> Option<(&'t [TokenRange], Span)> {
        match self.next() {
            Some(Token {
                kind: TokenKind::BracketList(items),
                span,
            }) => Some((self.src.lexed.items(*items), *span)),
            _ => None,
        }
    }

    /// Runs `f` and rewinds when it does not match.
    fn attempt<T>(&mut self, f: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        let saved = self.pos;
        let result = f(self);
        if result.is_none() {
            self.pos = saved;
        }
        result
    }

    /// The end of the last token consumed, for spans of multi-token constructs.
    fn last_end(&self) -> u32 {
        self.pos
            .checked_sub(1)
            .and_then(|i| self.tokens.get(i))
            .map_or(0, |t| t.span.end)
    }
}

/// A declaration before its block is parsed.
struct Header {
    kind: DeclKind,
    name: Name,
    id: Option<IdToken>,
    ordinal: Option<Ordinal>,
    annotations: Vec<AnnotationApp>,
}

enum Parsed {
    FileId(IdToken),
    FileAnnotation(AnnotationApp),
    Decl(Header),
}

struct Parser<'s> {
    src: Source<'s>,
    errors: Vec<(Span, String)>,
    /// How deeply the expression being parsed sits in the tree: enclosing
    /// lists plus the suffixes (`.x`, `(…)`) they hang under. Chains of
    /// suffixes nest `Box`es, so they count like lists towards `MAX_DEPTH`.
    depth: usize,
}

fn to_name((text, span): (&str, Span)) -> Name {
    Name {
        text: text.into(),
        span,
    }
}

fn span_between(start: u32, end: u32) -> Span {
    Span { start, end }
}

fn member_context(kind: &DeclKind) -> Option<Context> {
    match kind {
        DeclKind::Struct { .. } | DeclKind::Group | DeclKind::Union => Some(Context::Struct),
        DeclKind::Enum => Some(Context::Enum),
        DeclKind::Interface { .. } => Some(Context::Interface),
        _ => None,
    }
}

impl Parser<'_> {
    fn error(&mut self, span: Span, message: &str) {
        self.errors.push((span, message.to_string()));
    }

    fn statement(&mut self, statement: &Statement, context: Context) -> Option<Item> {
        let mut c = Cursor::new(self.src, self.src.lexed.tokens(statement.tokens));
        let parsed = self.alternatives(&mut c, context).filter(|_| c.at_end());
        let Some(parsed) = parsed else {
            let at = c.error_position(statement.span.start as usize);
            self.error(Span::at(at), PARSE_ERROR);
            return None;
        };
        let header = match parsed {
            Parsed::FileId(id) => {
                if statement.block.is_some() {
                    self.error(statement.span, NEEDS_SEMICOLON);
                }
                return Some(Item::FileId(id));
            }
            Parsed::FileAnnotation(app) => {
                if statement.block.is_some() {
                    self.error(statement.span, NEEDS_SEMICOLON);
                }
                return Some(Item::FileAnnotation(app));
            }
            Parsed::Decl(header) => header,
        };
        let mut members = Vec::new();
        match (member_context(&header.kind), &statement.block) {
            (Some(_), None) => self.error(statement.span, NEEDS_BLOCK),
            (None, Some(_)) => self.error(statement.span, NEEDS_SEMICOLON),
            (None, None) => {}
            (Some(inner), Some(block)) => {
                for member in block {
                    if let Some(Item::Decl(decl)) = self.statement(member, inner) {
                        members.push(decl);
                    }
                }
            }
        }
        Some(Item::Decl(Decl {
            kind: header.kind,
            name: header.name,
            id: header.id,
            ordinal: header.ordinal,
            annotations: header.annotations,
            doc: statement.doc.clone(),
            span: statement.span,
            members,
        }))
    }

    /// The declaration forms of a context, in the reference's order; the first match wins.
    fn alternatives(&mut self, c: &mut Cursor<'_>, context: Context) -> Option<Parsed> {
        match context {
            Context::File => c
                .attempt(|c| self.naked_id(c))
                .or_else(|| c.attempt(|c| self.annotation(c).map(Parsed::FileAnnotation)))
                .or_else(|| self.generic_decl(c)),
            Context::Struct => c
                .attempt(|c| self.union_decl(c))
                .or_else(|| c.attempt(|c| self.field_decl(c)))
                .or_else(|| c.attempt(|c| self.group_decl(c)))
                .or_else(|| self.generic_decl(c)),
            Context::Interface => c
                .attempt(|c| self.method_decl(c))
                .or_else(|| self.generic_decl(c)),
            Context::Enum => c.attempt(|c| self.enumerant_decl(c)),
        }
    }

    fn generic_decl(&mut self, c: &mut Cursor<'_>) -> Option<Parsed> {
        c.attempt(|c| self.using_decl(c))
            .or_else(|| c.attempt(|c| self.const_decl(c)))
            .or_else(|| c.attempt(|c| self.annotation_decl(c)))
            .or_else(|| c.attempt(|c| self.enum_decl(c)))
            .or_else(|| c.attempt(|c| self.struct_decl(c)))
            .or_else(|| c.attempt(|c| self.interface_decl(c)))
    }

    fn naked_id(&mut self, c: &mut Cursor<'_>) -> Option<Parsed> {
        c.op("@")?;
        Some(Parsed::FileId(self.id_value(c)?))
    }

    /// The integer of an `@0x…` id, `@` already consumed.
    fn id_value(&mut self, c: &mut Cursor<'_>) -> Option<IdToken> {
        let (value, span) = c.integer()?;
        if value < 1 << 63 {
            self.error(span, INVALID_ID);
        }
        Some(IdToken { value, span })
    }

    fn optional_id(&mut self, c: &mut Cursor<'_>) -> Option<IdToken> {
        c.attempt(|c| {
            c.op("@")?;
            self.id_value(c)
        })
    }

    fn ordinal(&mut self, c: &mut Cursor<'_>) -> Option<Ordinal> {
        c.op("@")?;
        let (value, span) = c.integer()?;
        let value = u16::try_from(value).unwrap_or_else(|_| {
            self.error(span, ORDINAL_TOO_BIG);
            u16::MAX
        });
        Some(Ordinal { value, span })
    }

    fn annotations(&mut self, c: &mut Cursor<'_>) -> Vec<AnnotationApp> {
        let mut out = Vec::new();
        while let Some(app) = c.attempt(|c| self.annotation(c)) {
            out.push(app);
        }
        out
    }

    /// `$ expr`, split into name and value (2.3).
    fn annotation(&mut self, c: &mut Cursor<'_>) -> Option<AnnotationApp> {
        let dollar = c.op("$")?;
        let expr = self.expression(c)?;
        let span = dollar.to(expr.span);
        let (name, value) = match expr.kind {
            ExprKind::Application(function, mut params) => {
                let value = if params.len() == 1 && params[0].name.is_none() {
                    params.pop().map(|p| p.value)
                } else {
                    let span = self.params_span(c, &function, expr.span);
                    Some(Expr {
                        kind: ExprKind::Tuple(params),
                        span,
                    })
                };
                (*function, value)
            }
            _ => (expr, None),
        };
        Some(AnnotationApp { name, value, span })
    }

    /// The parentheses of the application `expression` just returned: its
    /// last token, since a parameter list is always the final suffix.
    fn params_span(&self, c: &Cursor<'_>, function: &Expr, whole: Span) -> Span {
        c.pos
            .checked_sub(1)
            .and_then(|i| c.tokens.get(i))
            .filter(|t| matches!(t.kind, TokenKind::ParenList(_)))
            .map_or(span_between(function.span.end, whole.end), |t| t.span)
    }

    fn using_decl(&mut self, c: &mut Cursor<'_>) -> Option<Parsed> {
        c.keyword("using")?;
        let name = c.attempt(|c| {
            let name = c.ident()?;
            c.op("=")?;
            Some(name)
        });
        let target = self.expression(c)?;
        let name = match name {
            Some(name) => name,
            None => match &target.kind {
                ExprKind::Member(_, member) => member.clone(),
                other => {
                    self.error(target.span, USING_WITHOUT_NAME);
                    // Later phases resolve the target and report what is wrong with it.
                    let text = match other {
                        ExprKind::RelativeName(n) | ExprKind::AbsoluteName(n) => n.text.clone(),
                        _ => CompactString::default(),
                    };
                    Name {
                        text,
                        span: target.span,
                    }
                }
            },
        };
        Some(Parsed::Decl(Header {
            kind: DeclKind::Using { target },
            name,
            id: None,
            ordinal: None,
            annotations: Vec::new(),
        }))
    }

    fn const_decl(&mut self, c: &mut Cursor<'_>) -> Option<Parsed> {
        c.keyword("const")?;
        let name = c.ident()?;
        let id = self.optional_id(c);
        c.op(":")?;
        let ty = self.expression(c)?;
        c.op("=")?;
        let value = self.expression(c)?;
        let annotations = self.annotations(c);
        Some(Parsed::Decl(Header {
            kind: DeclKind::Const { ty, value },
            name,
            id,
            ordinal: None,
            annotations,
        }))
    }

    fn annotation_decl(&mut self, c: &mut Cursor<'_>) -> Option<Parsed> {
        c.keyword("annotation")?;
        let name = c.ident()?;
        let id = self.optional_id(c);
        let (items, list_span) = c.paren_list()?;
        let targets = self.list_items(items, list_span, |_, c| {
            c.attempt(|c| c.ident()).or_else(|| {
                c.op("*").map(|span| Name {
                    text: CompactString::const_new("*"),
                    span,
                })
            })
        });
        let targets = self.target_bits(&targets);
        c.op(":")?;
        let ty = self.expression(c)?;
        let annotations = self.annotations(c);
        Some(Parsed::Decl(Header {
            kind: DeclKind::Annotation { targets, ty },
            name,
            id,
            ordinal: None,
            annotations,
        }))
    }

    fn target_bits(&mut self, targets: &[Option<Name>]) -> u16 {
        let mut bits = 0u16;
        for t in targets.iter().flatten() {
            if t.text == "*" {
                if targets.len() > 1 {
                    self.error(
                        t.span,
                        "Wildcard should not be specified together with other targets.",
                    );
                }
                bits = target::ALL;
                continue;
            }
            match target::NAMES.iter().position(|n| *n == t.text) {
                Some(bit) => {
                    let flag = 1u16 << bit;
                    if bits & flag != 0 {
                        self.error(t.span, "Duplicate target specification.");
                    }
                    bits |= flag;
                }
                None => self.error(t.span, "Not a valid annotation target."),
            }
        }
        bits
    }

    fn enum_decl(&mut self, c: &mut Cursor<'_>) -> Option<Parsed> {
        c.keyword("enum")?;
        let name = c.ident()?;
        let id = self.optional_id(c);
        let annotations = self.annotations(c);
        Some(Parsed::Decl(Header {
            kind: DeclKind::Enum,
            name,
            id,
            ordinal: None,
            annotations,
        }))
    }

    fn enumerant_decl(&mut self, c: &mut Cursor<'_>) -> Option<Parsed> {
        let name = c.ident()?;
        let ordinal = self.ordinal(c)?;
        let annotations = self.annotations(c);
        Some(Parsed::Decl(Header {
            kind: DeclKind::Enumerant,
            name,
            id: None,
            ordinal: Some(ordinal),
            annotations,
        }))
    }

    /// `( IDENT, … )` of a generic declaration; items that fail are reported and dropped.
    fn name_list(&mut self, items: &[TokenRange], span: Span) -> Vec<Name> {
        self.list_items(items, span, |_, c| c.ident())
            .into_iter()
            .flatten()
            .collect()
    }

    fn struct_decl(&mut self, c: &mut Cursor<'_>) -> Option<Parsed> {
        c.keyword("struct")?;
        let name = c.ident()?;
        let id = self.optional_id(c);
        let params = match c.attempt(|c| c.paren_list()) {
            Some((items, span)) => self.name_list(items, span),
            None => Vec::new(),
        };
        let annotations = self.annotations(c);
        Some(Parsed::Decl(Header {
            kind: DeclKind::Struct { params },
            name,
            id,
            ordinal: None,
            annotations,
        }))
    }

    fn interface_decl(&mut self, c: &mut Cursor<'_>) -> Option<Parsed> {
        c.keyword("interface")?;
        let name = c.ident()?;
        let id = self.optional_id(c);
        let params = match c.attempt(|c| c.paren_list()) {
            Some((items, span)) => self.name_list(items, span),
            None => Vec::new(),
        };
        let extends = match c.attempt(|c| {
            c.keyword("extends")?;
            c.paren_list()
        }) {
            Some((items, span)) => self
                .list_items(items, span, |p, c| p.expression(c))
                .into_iter()
                .flatten()
                .collect(),
            None => Vec::new(),
        };
        let annotations = self.annotations(c);
        Some(Parsed::Decl(Header {
            kind: DeclKind::Interface { params, extends },
            name,
            id,
            ordinal: None,
            annotations,
        }))
    }

    fn method_decl(&mut self, c: &mut Cursor<'_>) -> Option<Parsed> {
        let name = c.ident()?;
        let ordinal = self.ordinal(c)?;
        let implicit_params = match c.attempt(|c| c.bracket_list()) {
            Some((items, span)) => self.name_list(items, span),
            None => Vec::new(),
        };
        let params = self.param_list(c)?;
        let results = c.attempt(|c| {
            c.op("->")?;
            self.param_list(c)
        });
        let annotations = self.annotations(c);
        Some(Parsed::Decl(Header {
            kind: DeclKind::Method {
                implicit_params,
                params,
                results,
            },
            name,
            id: None,
            ordinal: Some(ordinal),
            annotations,
        }))
    }

    fn param_list(&mut self, c: &mut Cursor<'_>) -> Option<ParamList> {
        if let Some((items, span)) = c.attempt(|c| c.paren_list()) {
            let params = self
                .list_items(items, span, |p, c| p.param_decl(c))
                .into_iter()
                .flatten()
                .collect();
            return Some(ParamList::Inline { params, span });
        }
        if let Some(span) = c.attempt(|c| c.keyword("stream")) {
            return Some(ParamList::Stream(span));
        }
        self.expression(c).map(ParamList::Type)
    }

    fn param_decl(&mut self, c: &mut Cursor<'_>) -> Option<ParamDecl> {
        let name = c.ident()?;
        c.op(":")?;
        let ty = self.expression(c)?;
        let default = c.attempt(|c| {
            c.op("=")?;
            self.expression(c)
        });
        let annotations = self.annotations(c);
        let span = span_between(name.span.start, c.last_end());
        Some(ParamDecl {
            name,
            ty,
            default,
            annotations,
            span,
        })
    }

    fn field_decl(&mut self, c: &mut Cursor<'_>) -> Option<Parsed> {
        let name = c.ident()?;
        let ordinal = self.ordinal(c)?;
        c.op(":")?;
        let ty = self.expression(c)?;
        let default = c.attempt(|c| {
            c.op("=")?;
            self.expression(c)
        });
        let annotations = self.annotations(c);
        Some(Parsed::Decl(Header {
            kind: DeclKind::Field { ty, default },
            name,
            id: None,
            ordinal: Some(ordinal),
            annotations,
        }))
    }

    fn group_decl(&mut self, c: &mut Cursor<'_>) -> Option<Parsed> {
        let name = c.ident_text()?;
        c.op(":")?;
        c.keyword("group")?;
        let annotations = self.annotations(c);
        Some(Parsed::Decl(Header {
            kind: DeclKind::Group,
            name: to_name(name),
            id: None,
            ordinal: None,
            annotations,
        }))
    }

    fn union_decl(&mut self, c: &mut Cursor<'_>) -> Option<Parsed> {
        c.attempt(|c| self.named_union(c)).or_else(|| {
            let span = c.keyword("union")?;
            // An unnamed union is the bare keyword, so `union @1 :T;` stays a field.
            if !c.at_end() {
                return None;
            }
            Some(Parsed::Decl(Header {
                kind: DeclKind::Union,
                name: Name {
                    text: CompactString::default(),
                    span,
                },
                id: None,
                ordinal: None,
                annotations: Vec::new(),
            }))
        })
    }

    fn named_union(&mut self, c: &mut Cursor<'_>) -> Option<Parsed> {
        let name = c.ident_text()?;
        let numbered = c.attempt(|c| {
            let ordinal = self.ordinal(c)?;
            let bang = c.attempt(|c| c.op("!")).is_some();
            let colon = c.attempt(|c| c.op(":")).is_some();
            Some((ordinal, bang, colon))
        });
        let ordinal = match numbered {
            Some((ordinal, bang, colon)) => {
                c.keyword("union")?;
                if !bang {
                    self.error(ordinal.span, UNION_NUMBER);
                }
                if !colon {
                    self.error(ordinal.span, UNION_COLON);
                }
                Some(ordinal)
            }
            None => {
                c.op(":")?;
                c.keyword("union")?;
                None
            }
        };
        let annotations = self.annotations(c);
        Some(Parsed::Decl(Header {
            kind: DeclKind::Union,
            name: to_name(name),
            id: None,
            ordinal,
            annotations,
        }))
    }

    /// Parses every item of a list with `item`, which must consume the whole
    /// item; failures are reported per item (14.2) and come back as `None`.
    fn list_items<T>(
        &mut self,
        items: &[TokenRange],
        list_span: Span,
        mut item: impl FnMut(&mut Self, &mut Cursor<'_>) -> Option<T>,
    ) -> Vec<Option<T>> {
        let mut out = Vec::with_capacity(items.len());
        for &range in items {
            let tokens = self.src.lexed.tokens(range);
            let mut c = Cursor::new(self.src, tokens);
            let parsed = item(self, &mut c).filter(|_| c.at_end());
            if parsed.is_none() {
                match (tokens.get(c.best), tokens.first(), tokens.last()) {
                    (Some(from), _, Some(last)) => {
                        self.error(span_between(from.span.start, last.span.end), PARSE_ERROR);
                    }
                    (None, Some(first), Some(last)) => {
                        self.error(span_between(first.span.start, last.span.end), PARSE_ERROR);
                    }
                    _ => self.error(list_span, "Parse error: Empty list item."),
                }
            }
            out.push(parsed);
        }
        out
    }

    /// Items of a tuple or application: `[name =] expr`; failed items become `Error` values.
    fn params(&mut self, items: &[TokenRange], list_span: Span) -> Vec<Param> {
        let parsed = self.list_items(items, list_span, |p, c| {
            c.attempt(|c| {
                let name = c.ident_text()?;
                c.op("=")?;
                let value = p.expression(c)?;
                Some(Param {
                    name: Some(to_name(name)),
                    value,
                })
            })
            .or_else(|| p.expression(c).map(|value| Param { name: None, value }))
        });
        parsed
            .into_iter()
            .zip(items)
            .map(|(param, &range)| {
                param.unwrap_or_else(|| Param {
                    name: None,
                    value: error_expr(self.src.lexed.tokens(range), list_span),
                })
            })
            .collect()
    }

    fn expression(&mut self, c: &mut Cursor<'_>) -> Option<Expr> {
        if self.depth >= MAX_DEPTH {
            return None;
        }
        let outer = self.depth;
        let mut expr = self.base_expression(c)?;
        let mut level = outer;
        loop {
            level += 1;
            if level >= MAX_DEPTH {
                // Leaves the rest unparsed, so the statement or item fails.
                return Some(expr);
            }
            if let Some(name) = c.attempt(|c| {
                c.op(".")?;
                c.ident()
            }) {
                let span = expr.span.to(name.span);
                expr = Expr {
                    kind: ExprKind::Member(Box::new(expr), name),
                    span,
                };
            } else if let Some((items, list_span)) = c.attempt(|c| c.paren_list()) {
                self.depth = level;
                let params = self.params(items, list_span);
                self.depth = outer;
                let span = expr.span.to(list_span);
                expr = Expr {
                    kind: ExprKind::Application(Box::new(expr), params),
                    span,
                };
            } else {
                return Some(expr);
            }
        }
    }

    fn base_expression(&mut self, c: &mut Cursor<'_>) -> Option<Expr> {
        let start = c.pos;
        let expr = |kind: ExprKind, c: &Cursor<'_>| {
            let first = c.tokens.get(start).map_or(0, |t| t.span.start);
            Some(Expr {
                kind,
                span: span_between(first, c.last_end()),
            })
        };
        if let Some(v) = c.attempt(|c| c.integer()) {
            return expr(ExprKind::PositiveInt(v.0), c);
        }
        // The reference locates a negative number at its digits, not at the minus sign.
        let number_only = |kind: ExprKind, c: &Cursor<'_>| {
            let first = c.tokens.get(start + 1).map_or(0, |t| t.span.start);
            Some(Expr {
                kind,
                span: span_between(first, c.last_end()),
            })
        };
        if let Some(v) = c.attempt(|c| {
            c.op("-")?;
            c.integer()
        }) {
            return number_only(ExprKind::NegativeInt(v.0), c);
        }
        if let Some(v) = c.attempt(float) {
            return expr(ExprKind::Float(v), c);
        }
        if let Some(v) = c.attempt(|c| {
            c.op("-")?;
            float(c)
        }) {
            return number_only(ExprKind::Float(-v), c);
        }
        if c.attempt(|c| {
            c.op("-")?;
            c.keyword("inf")
        })
        .is_some()
        {
            return expr(ExprKind::Float(f64::NEG_INFINITY), c);
        }
        if let Some(first) = c.attempt(string) {
            let mut value = first.0;
            while let Some(more) = c.attempt(string) {
                value.extend_from_slice(&more.0);
            }
            return expr(ExprKind::String(value), c);
        }
        if let Some(bytes) = c.attempt(|c| match c.next() {
            Some(Token {
                kind: TokenKind::Binary(b),
                ..
            }) => Some(b.clone()),
            _ => None,
        }) {
            return expr(ExprKind::Binary(bytes), c);
        }
        if let Some((items, list_span)) = c.attempt(|c| c.bracket_list()) {
            self.depth += 1;
            let values = self.list_items(items, list_span, |p, c| p.expression(c));
            self.depth -= 1;
            let values = values
                .into_iter()
                .zip(items)
                .map(|(v, &range)| {
                    v.unwrap_or_else(|| error_expr(self.src.lexed.tokens(range), list_span))
                })
                .collect();
            return expr(ExprKind::List(values), c);
        }
        if let Some((items, list_span)) = c.attempt(|c| c.paren_list()) {
            self.depth += 1;
            let mut params = self.params(items, list_span);
            self.depth -= 1;
            if params.len() == 1 && params[0].name.is_none() {
                return params.pop().map(|p| p.value);
            }
            return expr(ExprKind::Tuple(params), c);
        }
        for (word, make) in [
            ("import", ExprKind::Import as fn(StringLit) -> ExprKind),
            ("embed", ExprKind::Embed),
        ] {
            if let Some(lit) = c.attempt(|c| {
                c.keyword(word)?;
                string(c).map(|(value, span)| StringLit { value, span })
            }) {
                return expr(make(lit), c);
            }
        }
        if let Some(name) = c.attempt(|c| {
            c.op(".")?;
            c.ident()
        }) {
            return expr(ExprKind::AbsoluteName(name), c);
        }
        let name = c.ident()?;
        expr(ExprKind::RelativeName(name), c)
    }
}

fn float(c: &mut Cursor<'_>) -> Option<f64> {
    match c.next() {
        Some(Token {
            kind: TokenKind::Float(v),
            ..
        }) => Some(*v),
        _ => None,
    }
}

fn string(c: &mut Cursor<'_>) -> Option<(Vec<u8>, Span)> {
    match c.next() {
        Some(Token {
            kind: TokenKind::String(s),
            span,
        }) => Some((s.clone(), *span)),
        _ => None,
    }
}

/// The placeholder for a list item whose error was already reported.
fn error_expr(tokens: &[Token], list_span: Span) -> Expr {
    let span = match (tokens.first(), tokens.last()) {
        (Some(first), Some(last)) => first.span.to(last.span),
        _ => list_span,
    };
    Expr {
        kind: ExprKind::Error,
        span,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::LineIndex;

    const ID_LINE: &str = "@0xd5a2c5c3a0b9e8f1;\n";

    /// Errors of a whole file, rendered as `line:col[-end]: message`.
    fn render_errors(src: &[u8]) -> Vec<String> {
        let (_, errors) = parse_file(src);
        let index = LineIndex::new(src);
        errors
            .iter()
            .map(|(span, message)| {
                let text = index.render("f", *span, message).to_string();
                text.trim_start_matches("f:").replacen(" error:", "", 1)
            })
            .collect()
    }

    /// Errors of a body placed after the id line.
    fn body_errors(body: &str) -> Vec<String> {
        render_errors(format!("{ID_LINE}{body}\n").as_bytes())
    }

    fn parse_ok(body: &str) -> ParsedFile {
        let src = format!("{ID_LINE}{body}\n");
        let (file, errors) = parse_file(src.as_bytes());
        assert!(errors.is_empty(), "{body}: {errors:?}");
        file
    }

    fn only_decl(body: &str) -> Decl {
        let mut file = parse_ok(body);
        assert_eq!(file.decls.len(), 1, "{body}");
        file.decls.remove(0)
    }

    /// The type expression of `const c :<text> = 0;`.
    fn expr(text: &str) -> Expr {
        match only_decl(&format!("const c :{text} = 0;")).kind {
            DeclKind::Const { ty, .. } => ty,
            other => panic!("{other:?}"),
        }
    }

    /// The value expression of `const c :T = <text>;`.
    fn value(text: &str) -> Expr {
        match only_decl(&format!("const c :T = {text};")).kind {
            DeclKind::Const { value, .. } => value,
            other => panic!("{other:?}"),
        }
    }

    fn name_at(text: &str, start: u32) -> Name {
        Name {
            text: text.into(),
            span: Span::new(start as usize, start as usize + text.len()),
        }
    }

    #[test]
    fn a5_doc_comments_and_byte_ranges() {
        let src = b"@0xd5a2c5c3a0b9e8f1;\n\n# not doc\nstruct Foo {  # Foo doc1\n  #   Foo doc2\n\n  # stray\n  a @0 :Int32;\n  # a doc1\n  #a doc2\n\n  # not a doc\n  b @1 :Int32; #b1\n  c :group { # c doc\n    d @2 :Int8;\n  }\n  u :union {\n    e @3 :Void;\n    f @4 :Void;\n  } # u late\n}\n# Foo late (ignored since early exists)\nenum E { # E doc\n  x @0; # x doc\n  y @1;\n}\nstruct Bar {\n} # Bar late\nstruct Crlf {}\r\n# crlf doc\r\n# two\r\n";
        let (file, errors) = parse_file(src);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(file.doc, None);
        let doc = |d: &Decl| {
            d.doc
                .as_deref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
        };
        let ranges: Vec<(u32, u32)> = file
            .decls
            .iter()
            .map(|d| (d.span.start, d.span.end))
            .collect();
        assert_eq!(ranges, vec![(32, 294), (294, 336), (337, 363), (363, 398)]);
        let foo = &file.decls[0];
        assert_eq!(doc(foo).as_deref(), Some("Foo doc1\n  Foo doc2\n"));
        let member_docs: Vec<_> = foo.members.iter().map(doc).collect();
        assert_eq!(
            member_docs,
            vec![
                Some("a doc1\na doc2\n".to_string()),
                Some("b1\n".to_string()),
                Some("c doc\n".to_string()),
                Some("u late\n".to_string())
            ]
        );
        assert_eq!(doc(&foo.members[2].members[0]), None);
        let e = &file.decls[1];
        assert_eq!(doc(e).as_deref(), Some("E doc\n"));
        let enumerant_docs: Vec<_> = e.members.iter().map(doc).collect();
        assert_eq!(enumerant_docs, vec![Some("x doc\n".to_string()), None]);
        assert_eq!(doc(&file.decls[2]).as_deref(), Some("Bar late\n"));
        assert_eq!(doc(&file.decls[3]).as_deref(), Some("crlf doc\r\ntwo\r\n"));
    }

    #[test]
    fn file_id_annotations_and_doc() {
        let (file, errors) = parse_file(b"$a(1);\n@0xd5a2c5c3a0b9e8f1; # file doc\n$b;\n");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            file.id.map(|id| (id.value, id.span)),
            Some((0xd5a2c5c3a0b9e8f1, Span::new(8, 26)))
        );
        assert_eq!(file.doc.as_deref(), Some(&b"file doc\n"[..]));
        let names: Vec<String> = file
            .annotations
            .iter()
            .map(|a| a.name.to_string())
            .collect();
        assert_eq!(names, vec!["a", "b"]);
        assert_eq!(file.annotations[0].span, Span::new(0, 5));
    }

    #[test]
    fn expressions_and_spans() {
        // A `-` right after `:` would lex as the operator `:-`, so these are values.
        let e = value("-5");
        assert_eq!(
            (e.kind, e.span),
            (ExprKind::NegativeInt(5), Span::new(35, 36))
        );
        assert_eq!(value("- 1.5").kind, ExprKind::Float(-1.5));
        assert_eq!(value("-inf").kind, ExprKind::Float(f64::NEG_INFINITY));
        assert_eq!(expr("0x\"ff\"").kind, ExprKind::Binary(vec![0xff]));
        let e = expr("\"a\" `b\n \"c\"");
        assert_eq!(
            (e.kind, e.span),
            (ExprKind::String(b"ab\nc".to_vec()), Span::new(30, 41))
        );
        let e = value(".Foo.Bar(T = Text, 2)");
        assert_eq!(e.span, Span::new(34, 55));
        let ExprKind::Application(base, params) = e.kind else {
            panic!("{e:?}")
        };
        assert_eq!(params.len(), 2);
        assert_eq!(params[0].name, Some(name_at("T", 43)));
        assert_eq!(params[1].value.kind, ExprKind::PositiveInt(2));
        let ExprKind::Member(inner, member) = base.kind else {
            panic!("{base:?}")
        };
        assert_eq!((base.span, member), (Span::new(34, 42), name_at("Bar", 39)));
        assert_eq!(inner.kind, ExprKind::AbsoluteName(name_at("Foo", 35)));
        assert_eq!(inner.span, Span::new(34, 38));
        // A single unnamed element in parentheses is the element itself.
        let e = expr("(7)");
        assert_eq!(
            (e.kind, e.span),
            (ExprKind::PositiveInt(7), Span::new(31, 32))
        );
        assert_eq!(expr("()").kind, ExprKind::Tuple(Vec::new()));
        let e = expr("[1, [2]]");
        assert_eq!(e.to_string(), "[1, [2]]");
        assert_eq!(e.span, Span::new(30, 38));
        let e = expr("import \"x.capnp\".Foo");
        let ExprKind::Member(base, _) = e.kind else {
            panic!("{e:?}")
        };
        assert_eq!(
            base.kind,
            ExprKind::Import(StringLit {
                value: b"x.capnp".to_vec(),
                span: Span::new(37, 46)
            })
        );
        assert_eq!(expr("embed \"e\"").to_string(), "embed \"e\"");
        // Keywords are plain identifiers outside their positions.
        assert_eq!(
            expr("import").kind,
            ExprKind::RelativeName(name_at("import", 30))
        );
    }

    #[test]
    fn annotation_applications_split_name_and_value() {
        let d = only_decl("struct S $a $b(1) $c() $d(x = 1, y = 2) $e.f(.g) {}");
        let shown: Vec<(String, Option<String>)> = d
            .annotations
            .iter()
            .map(|a| {
                (
                    a.name.to_string(),
                    a.value.as_ref().map(ToString::to_string),
                )
            })
            .collect();
        assert_eq!(
            shown,
            vec![
                ("a".into(), None),
                ("b".into(), Some("1".into())),
                ("c".into(), Some("( )".into())),
                ("d".into(), Some("( x = 1, y = 2 )".into())),
                ("e.f".into(), Some(".g".into())),
            ]
        );
        // `$c()`: the empty tuple spans the parentheses.
        assert_eq!(
            d.annotations[2].value.as_ref().map(|v| v.span),
            Some(Span::new(41, 43))
        );
        assert_eq!(d.annotations[3].span, Span::new(44, 60));
    }

    #[test]
    fn generic_declarations() {
        let d = only_decl("using X = import \"a.capnp\";");
        assert_eq!(d.name, name_at("X", 27));
        assert!(matches!(d.kind, DeclKind::Using { .. }));
        let d = only_decl("using a.b.C;");
        assert_eq!(d.name, name_at("C", 31));
        let d = only_decl("const c @0xd5a2c5c3a0b9e8f2 :Int32 = -1 $a;");
        assert_eq!(d.id.map(|i| i.span), Some(Span::new(30, 48)));
        assert_eq!(d.annotations.len(), 1);
        let DeclKind::Const { ty, value } = d.kind else {
            panic!()
        };
        assert_eq!(
            (ty.to_string(), value.to_string()),
            ("Int32".into(), "-1".into())
        );
        let d = only_decl("annotation a (struct, field, param) :Text $b;");
        assert_eq!(
            d.kind,
            DeclKind::Annotation {
                targets: target::STRUCT | target::FIELD | target::PARAM,
                ty: Expr {
                    kind: ExprKind::RelativeName(name_at("Text", 58)),
                    span: Span::new(58, 62)
                }
            }
        );
        let d = only_decl("annotation a(*) :Void;");
        assert!(matches!(
            d.kind,
            DeclKind::Annotation {
                targets: target::ALL,
                ..
            }
        ));
        let d = only_decl("enum E @0xd5a2c5c3a0b9e8f2 $a { x @0; y @1 $b; }");
        let names: Vec<_> = d
            .members
            .iter()
            .map(|m| (m.name.text.clone(), m.ordinal.map(|o| o.value)))
            .collect();
        assert_eq!(names, vec![("x".into(), Some(0)), ("y".into(), Some(1))]);
        assert!(d.members.iter().all(|m| m.kind == DeclKind::Enumerant));
        let d = only_decl("struct G(T, U) $a { }");
        assert_eq!(
            d.kind,
            DeclKind::Struct {
                params: vec![name_at("T", 30), name_at("U", 33)]
            }
        );
        let d = only_decl("interface I(T) extends(A, B.C(T)) { }");
        let DeclKind::Interface { params, extends } = d.kind else {
            panic!()
        };
        assert_eq!(params, vec![name_at("T", 33)]);
        let ext: Vec<_> = extends.iter().map(ToString::to_string).collect();
        assert_eq!(ext, vec!["A", "B.C(( T ))"]);
    }

    #[test]
    fn struct_members_in_source_order() {
        let d = only_decl(
            "struct S { a @0 :Int32 = 5 $x; g :group { b @1 :Text; } union { c @2 :Void; d @3 :Void; } \
             u @4! :union { e @5 :Void; f @6 :Void; } v :union $y { h @7 :Void; } struct @8 :Int32; \
             struct N {} enum En {} const k :Int32 = 1; using U = N; }",
        );
        let kinds: Vec<(&str, String)> = d
            .members
            .iter()
            .map(|m| {
                let kind = match m.kind {
                    DeclKind::Field { .. } => "field",
                    DeclKind::Group => "group",
                    DeclKind::Union => "union",
                    DeclKind::Struct { .. } => "struct",
                    DeclKind::Enum => "enum",
                    DeclKind::Const { .. } => "const",
                    DeclKind::Using { .. } => "using",
                    _ => "other",
                };
                (kind, m.name.text.to_string())
            })
            .collect();
        let expected = [
            ("field", "a"),
            ("group", "g"),
            ("union", ""),
            ("union", "u"),
            ("union", "v"),
            ("field", "struct"),
            ("struct", "N"),
            ("enum", "En"),
            ("const", "k"),
            ("using", "U"),
        ];
        let expected: Vec<(&str, String)> =
            expected.iter().map(|(k, n)| (*k, n.to_string())).collect();
        assert_eq!(kinds, expected);
        // The unnamed union's name span is its keyword; `u @4!` keeps its ordinal.
        assert_eq!(d.members[2].name.span, Span::new(77, 82));
        assert_eq!(
            d.members[3].ordinal.map(|o| (o.value, o.span)),
            Some((4, Span::new(114, 115)))
        );
        assert_eq!(d.members[1].members.len(), 1);
        assert_eq!(d.members[4].annotations.len(), 1);
    }

    #[test]
    fn methods_and_parameter_lists() {
        let d = only_decl(
            "interface I { m @0 [T] (a :Int32 = 1 $x, b :T) -> stream $y; n @1 S; o @2 () -> S.R; struct Z {} }",
        );
        assert_eq!(d.members.len(), 4);
        let DeclKind::Method {
            implicit_params,
            params,
            results,
        } = &d.members[0].kind
        else {
            panic!()
        };
        assert_eq!(implicit_params, &vec![name_at("T", 41)]);
        let ParamList::Inline { params, span } = params else {
            panic!("{params:?}")
        };
        assert_eq!(*span, Span::new(44, 67));
        assert_eq!(params.len(), 2);
        assert_eq!(params[0].span, Span::new(45, 60));
        assert_eq!(
            params[0].default.as_ref().map(ToString::to_string),
            Some("1".into())
        );
        assert_eq!(params[0].annotations.len(), 1);
        assert_eq!(results, &Some(ParamList::Stream(Span::new(71, 77))));
        assert_eq!(d.members[0].annotations.len(), 1);
        let DeclKind::Method {
            params, results, ..
        } = &d.members[1].kind
        else {
            panic!()
        };
        assert!(matches!(params, ParamList::Type(e) if e.to_string() == "S"));
        assert_eq!(results, &None);
        let DeclKind::Method { results, .. } = &d.members[2].kind else {
            panic!()
        };
        assert!(matches!(results, Some(ParamList::Type(e)) if e.to_string() == "S.R"));
    }

    #[test]
    fn a6_parse_error_vectors() {
        let cases: &[(&str, &[&str])] = &[
            ("struct Foo { a @0 Int32; }", &["2:24: Parse error."]),
            ("struct Foo { a @0 :Int32 }", &["2:26: Parse error."]),
            ("struct Foo;", &["2:1-12: This statement should end with a block, not a semicolon."]),
            (
                "const a :Int32 = 1 { }",
                &["2:1-23: This statement should end with a semicolon, not a block."],
            ),
            ("@0xd5a2c5c3a0b9e8f2;", &["2:1-21: File can only have one ID."]),
            (
                "using Foo;",
                &["2:7-10: 'using' declaration without '=' must specify a named declaration from a different scope."],
            ),
            (
                "struct Foo { u @0! union { a @1 :Int32; b @2 :Int32; } }",
                &["2:17-18: As of Cap'n Proto v0.3, the 'union' keyword should be prefixed with a colon for named unions, e.g. `foo :union {`."],
            ),
            ("const c :Float64 = -nan;", &["2:24: Parse error."]),
            ("annotation a(*) :Void;\nusing X = Int32 $a;", &["3:18: Parse error."]),
            (
                "annotation a(foo) :Void;\nannotation b(struct, struct) :Void;\nannotation c(*, struct) :Void;\nannotation d(Struct) :Void;",
                &[
                    "2:14-17: Not a valid annotation target.",
                    "3:22-28: Duplicate target specification.",
                    "4:14-15: Wildcard should not be specified together with other targets.",
                    "4:17-23: Duplicate target specification.",
                    "5:14-20: Not a valid annotation target.",
                ],
            ),
            ("struct Foo { b @1 :Int32 = ; }", &["2:27: Parse error."]),
            ("enum E { struct X {} }", &["2:18: Parse error."]),
            (";", &["2:1: Parse error."]),
            ("const a :List(Int32) = [1, , 2];", &["2:24-32: Parse error: Empty list item."]),
            ("const a :List(Int32) = [,];", &["2:24-27: Parse error: Empty list item."]),
            (
                "const a :List(Int32) = [1 2, 3 4 5];",
                &["2:25-28: Parse error.", "2:34-35: Parse error."],
            ),
            ("struct Foo(T, 1) {}", &["2:15-16: Parse error."]),
            ("interface I { m @0 (Int32) -> (); }", &["2:21-26: Parse error."]),
            (
                "struct Foo { a @70000 Int32; }",
                &["2:17-22: Ordinals cannot be greater than 65535.", "2:28: Parse error."],
            ),
            (
                "struct Foo { g @0 :group { a @1 :Int32; } }",
                &["2:14-42: This statement should end with a semicolon, not a block."],
            ),
            ("struct Foo { u union { a @1 :Int32; b @2 :Int32; } }", &["2:21: Parse error."]),
            ("const a :Int32 = 1 =-1;", &["2:22: Parse error."]),
            // `union @1 :T;` is a field named `union`, not an unnamed union.
            ("struct Foo { union @0 :Int32; group @1 :Int32; }", &[]),
            ("struct Foo { union $a { b @0 :Void; } }", &["2:21: Parse error."]),
        ];
        for (body, expected) in cases {
            assert_eq!(body_errors(body), *expected, "{body}");
        }
        assert_eq!(
            render_errors(b"@0x1234;\n"),
            vec!["1:2-8: Invalid ID.  Please generate a new one with 'capnpc -i'."]
        );
        let union_number = body_errors("struct Foo { u @0 :union { a @1 :Int32; b @2 :Int32; } }");
        assert_eq!(union_number.len(), 1);
        assert!(union_number[0]
            .starts_with("2:17-18: As of Cap'n Proto v0.3, it is no longer necessary"));
        assert_eq!(
            body_errors("struct Foo { u @0 union { a @1 :Void; b @2 :Void; } }").len(),
            2
        );
    }

    #[test]
    fn lexer_failures_drop_the_whole_file() {
        let (file, errors) =
            parse_file(b"@0xd5a2c5c3a0b9e8f1;\nstruct A {}\nconst a :Text = \"x\n");
        assert_eq!(file, ParsedFile::default());
        assert_eq!(errors, vec![(Span::at(51), PARSE_ERROR.to_string())]);
        assert_eq!(
            render_errors(b"\xFF\xFE@\x00"),
            vec![
                "1:1-3: Non-UTF-8 input detected. Cap'n Proto schema files must be UTF-8 text.",
                "1:3: Parse error."
            ]
        );
    }

    #[test]
    fn bad_statements_are_dropped_and_parsing_continues() {
        let (file, errors) = parse_file(
            b"@0xd5a2c5c3a0b9e8f1;\nstruct A { a @0 Int32; b @1 :Int32; }\nfoo;\nstruct B {}\n",
        );
        assert_eq!(errors.len(), 2, "{errors:?}");
        let names: Vec<_> = file.decls.iter().map(|d| d.name.text.as_str()).collect();
        assert_eq!(names, vec!["A", "B"]);
        assert_eq!(file.decls[0].members.len(), 1);
        // Failed list items leave an error placeholder in lists and tuples.
        let d = only_decl_with_errors("const a :List(Int32) = [1, 2 3];");
        let DeclKind::Const { value, .. } = d.kind else {
            panic!()
        };
        let ExprKind::List(items) = value.kind else {
            panic!()
        };
        assert_eq!(items[1].kind, ExprKind::Error);
        assert_eq!(items[1].span, Span::new(48, 51));
    }

    fn only_decl_with_errors(body: &str) -> Decl {
        let src = format!("{ID_LINE}{body}\n");
        let (mut file, errors) = parse_file(src.as_bytes());
        assert!(!errors.is_empty());
        file.decls.remove(0)
    }

    /// Cheap deterministic pseudo-random bytes (xorshift), so failures reproduce.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    #[test]
    fn random_and_mutated_input_never_panics() {
        let seed_text: &[u8] = b"@0xd5a2c5c3a0b9e8f1;\nstruct Foo(T) $a(x = [1, 2]) { # d\n  a @0 :List(T) = [(b = \"x\\n\", c = 0x\"00 ff\")];\n  u :union { b @1 :Void; c @2! :union { d @3 :Float64 = -inf; } }\n  g :group { e @4 :Int8 = -0x10; }\n}\ninterface I extends(.J) { m @0 [U] (a :U) -> stream; }\nannotation an(*) :import \"x\".Y;\nenum E { a @0; }\nusing Z = Foo(Text).Bar;\nconst k :Text = `raw\n  \"s\";\n";
        let alphabet: &[u8] = b"@0x1;{}()[],.:=-$!#\"` \n\tabzAZ_9\\\xef\xbb\xbf\xff\xfe\x00\r";
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..3000 {
            let mut input = if round % 3 == 0 {
                (0..rng.below(200))
                    .map(|_| alphabet[rng.below(alphabet.len())])
                    .collect()
            } else {
                seed_text.to_vec()
            };
            for _ in 0..rng.below(8) {
                if input.is_empty() {
                    break;
                }
                let at = rng.below(input.len());
                match rng.below(3) {
                    0 => input[at] = alphabet[rng.below(alphabet.len())],
                    1 => {
                        input.remove(at);
                    }
                    _ => input.insert(at, alphabet[rng.below(alphabet.len())]),
                }
            }
            let (_, errors) = parse_file(&input);
            for (span, _) in errors {
                assert!(span.start <= span.end && span.end as usize <= input.len());
            }
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!(
            "{ID_LINE}const a :Int32 = {}1{};",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let (file, errors) = parse_file(deep.as_bytes());
        assert!(file.decls.is_empty());
        assert_eq!(errors.len(), 1);
        let blocks = format!("{ID_LINE}{}", "struct A {".repeat(100_000));
        assert_eq!(parse_file(blocks.as_bytes()).1.len(), 1);
        // Suffix chains nest in the tree as deeply as lists do, so they share the limit.
        for chain in [".b".repeat(200_000), "()".repeat(200_000)] {
            let src = format!("{ID_LINE}const a :Int32 = a{chain};");
            let (file, errors) = parse_file(src.as_bytes());
            assert!(file.decls.is_empty());
            assert_eq!(errors.len(), 1);
        }
        let nested = format!("{ID_LINE}const a :T = [[[a.b.c(x = [1])]]];");
        assert!(parse_file(nested.as_bytes()).1.is_empty());
        // Long flat inputs stay fast: a linear-time check with a generous bound.
        let wide = format!(
            "{ID_LINE}const a :List(Int32) = [{}];",
            "1, ".repeat(200_000)
        );
        let started = std::time::Instant::now();
        let (file, errors) = parse_file(wide.as_bytes());
        assert!(errors.is_empty() && file.decls.len() == 1);
        assert!(started.elapsed().as_secs() < 10);
    }
}
