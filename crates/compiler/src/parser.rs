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
use crate::lexer::{self, Statement, Token, TokenKind, PARSE_ERROR};

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
    let statements = match lexer::lex(src) {
        Ok(statements) => statements,
        Err(errors) => return (ParsedFile::default(), errors),
    };
    let mut parser = Parser { errors: Vec::new() };
    let mut file = ParsedFile::default();
    for statement in &statements {
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
    let mut seen = std::collections::HashSet::new();
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

/// A position in one token list, remembering the furthest token examined.
struct Cursor<'t> {
    tokens: &'t [Token],
    pos: usize,
    /// One past the furthest token any alternative has looked at.
    best: usize,
}

impl<'t> Cursor<'t> {
    fn new(tokens: &'t [Token]) -> Cursor<'t> {
        Cursor {
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

    fn ident(&mut self) -> Option<Name> {
        match self.next() {
            Some(Token {
                kind: TokenKind::Identifier(text),
                span,
            }) => Some(Name {
                text: text.clone(),
                span: *span,
            }),
            _ => None,
        }
    }

    fn keyword(&mut self, word: &str) -> Option<Span> {
        self.ident()
            .and_then(|name| (name.text == word).then_some(name.span))
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

    fn paren_list(&mut self) -> Option<(&'t [Vec<Token>], Span)> {
        match self.next() {
            Some(Token {
                kind: TokenKind::ParenList(items),
                span,
            }) => Some((items, *span)),
            _ => None,
        }
    }

    fn bracket_list(&mut self) -> Option<(&'t [Vec<Token>], Span)> {
        match self.next() {
            Some(Token {
                kind: TokenKind::BracketList(items),
                span,
            }) => Some((items, *span)),
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

struct Parser {
    errors: Vec<(Span, String)>,
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

impl Parser {
    fn error(&mut self, span: Span, message: &str) {
        self.errors.push((span, message.to_string()));
    }

    fn statement(&mut self, statement: &Statement, context: Context) -> Option<Item> {
        let mut c = Cursor::new(&statement.tokens);
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
                    // The tuple spans the parentheses, which end where the application ends.
                    let open = self.application_open(c, &function, expr.span);
                    Some(Expr {
                        kind: ExprKind::Tuple(params),
                        span: open,
                    })
                };
                (*function, value)
            }
            _ => (expr, None),
        };
        Some(AnnotationApp { name, value, span })
    }

    /// The span of the parameter list of an application just parsed: its last token.
    fn application_open(&self, c: &Cursor<'_>, function: &Expr, whole: Span) -> Span {
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
                        _ => String::new(),
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
                    text: "*".to_string(),
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
    fn name_list(&mut self, items: &[Vec<Token>], span: Span) -> Vec<Name> {
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
        let name = c.ident()?;
        c.op(":")?;
        c.keyword("group")?;
        let annotations = self.annotations(c);
        Some(Parsed::Decl(Header {
            kind: DeclKind::Group,
            name,
            id: None,
            ordinal: None,
            annotations,
        }))
    }

    fn union_decl(&mut self, c: &mut Cursor<'_>) -> Option<Parsed> {
        c.attempt(|c| self.named_union(c)).or_else(|| {
            let span = c.keyword("union")?;
            Some(Parsed::Decl(Header {
                kind: DeclKind::Union,
                name: Name {
                    text: String::new(),
                    span,
                },
                id: None,
                ordinal: None,
                annotations: Vec::new(),
            }))
        })
    }

    fn named_union(&mut self, c: &mut Cursor<'_>) -> Option<Parsed> {
        let name = c.ident()?;
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
            name,
            id: None,
            ordinal,
            annotations,
        }))
    }

    /// Parses every item of a list with `item`, which must consume the whole
    /// item; failures are reported per item (14.2) and come back as `None`.
    fn list_items<T>(
        &mut self,
        items: &[Vec<Token>],
        list_span: Span,
        mut item: impl FnMut(&mut Self, &mut Cursor<'_>) -> Option<T>,
    ) -> Vec<Option<T>> {
        let mut out = Vec::with_capacity(items.len());
        for tokens in items {
            let mut c = Cursor::new(tokens);
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
    fn params(&mut self, items: &[Vec<Token>], list_span: Span) -> Vec<Param> {
        let parsed = self.list_items(items, list_span, |p, c| {
            c.attempt(|c| {
                let name = c.ident()?;
                c.op("=")?;
                let value = p.expression(c)?;
                Some(Param {
                    name: Some(name),
                    value,
                })
            })
            .or_else(|| p.expression(c).map(|value| Param { name: None, value }))
        });
        parsed
            .into_iter()
            .zip(items)
            .map(|(param, tokens)| {
                param.unwrap_or_else(|| Param {
                    name: None,
                    value: error_expr(tokens, list_span),
                })
            })
            .collect()
    }

    fn expression(&mut self, c: &mut Cursor<'_>) -> Option<Expr> {
        let mut expr = self.base_expression(c)?;
        loop {
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
                let params = self.params(items, list_span);
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
        if let Some(v) = c.attempt(|c| {
            c.op("-")?;
            c.integer()
        }) {
            return expr(ExprKind::NegativeInt(v.0), c);
        }
        if let Some(v) = c.attempt(float) {
            return expr(ExprKind::Float(v), c);
        }
        if let Some(v) = c.attempt(|c| {
            c.op("-")?;
            float(c)
        }) {
            return expr(ExprKind::Float(-v), c);
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
            let values = self.list_items(items, list_span, |p, c| p.expression(c));
            let values = values
                .into_iter()
                .zip(items)
                .map(|(v, tokens)| v.unwrap_or_else(|| error_expr(tokens, list_span)))
                .collect();
            return expr(ExprKind::List(values), c);
        }
        if let Some((items, list_span)) = c.attempt(|c| c.paren_list()) {
            let mut params = self.params(items, list_span);
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
