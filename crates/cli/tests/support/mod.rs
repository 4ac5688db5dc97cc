//! Test support for the conformance suites: null-aware, structural comparison
//! of two serialized `CodeGeneratorRequest`s (SCHEMA-COMPILER.md 15.1/15.2),
//! plus helpers that locate and run the compilers.
#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test binary includes this module and uses a different subset"
)]

pub mod oracle;
pub mod raw;

use std::collections::BTreeMap;
use std::fmt;

use capnp::dynamic_value::Reader as Value;
use capnp::message::ReaderOptions;
use capnp::schema::Field;
use capnp::traits::HasTypeId;
use capnp::{dynamic_list, dynamic_struct};
use capnp_compiler::schema_capnp::{code_generator_request, node};

type RequestedFile = code_generator_request::requested_file::Reader<'static>;
type SourceInfo = node::source_info::Reader<'static>;
type SourceMember = node::source_info::member::Reader<'static>;
type Request = code_generator_request::Reader<'static>;
type Node = node::Reader<'static>;

/// Which parts of the requests take part in the comparison.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// `CodeGeneratorRequest.sourceInfo` and `RequestedFile.fileSourceInfo`.
    pub source_info: bool,
    /// `docComment` of source infos and their members.
    pub doc_comments: bool,
    /// Every `startByte`/`endByte` (nodes, source infos, identifiers).
    pub byte_ranges: bool,
    /// The order of `nodes`.
    pub node_order: bool,
}

impl Default for CompareOptions {
    fn default() -> Self {
        Self {
            source_info: true,
            doc_comments: true,
            byte_ranges: true,
            node_order: true,
        }
    }
}

impl CompareOptions {
    /// For two spellings of the same declarations: only what does not depend
    /// on the text's layout and comments.
    pub fn declarations_only() -> Self {
        Self {
            source_info: false,
            doc_comments: false,
            byte_ranges: false,
            node_order: true,
        }
    }
}

/// One difference, located by a path such as
/// `node(foo.capnp:Bar).struct.fields[2].slot.defaultValue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub path: String,
    pub message: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// All differences found; node order is reported apart from content.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub content: Vec<Difference>,
    pub order: Vec<Difference>,
}

impl Report {
    pub fn is_empty(&self) -> bool {
        self.content.is_empty() && self.order.is_empty()
    }

    /// True when some difference has a path starting with `prefix`.
    pub fn mentions(&self, prefix: &str) -> bool {
        self.content
            .iter()
            .chain(&self.order)
            .any(|d| d.path.starts_with(prefix))
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.content {
            writeln!(f, "  {d}")?;
        }
        if !self.order.is_empty() {
            writeln!(f, "  order:")?;
            for d in &self.order {
                writeln!(f, "    {d}")?;
            }
        }
        Ok(())
    }
}

/// Decodes a stream-framed message; requests are large, so no traversal limit.
pub fn read_message(
    bytes: &[u8],
) -> capnp::Result<capnp::message::Reader<capnp::serialize::OwnedSegments>> {
    let mut options = ReaderOptions::new();
    options.traversal_limit_in_words(None).nesting_limit(256);
    capnp::serialize::read_message(&mut &bytes[..], options)
}

/// Compares two serialized requests: `expected` (the reference's) and
/// `actual` (the one under test).
pub fn compare_requests(expected: &[u8], actual: &[u8], options: &CompareOptions) -> Report {
    let mut walker = Walker::new(options);
    let decoded = read_message(expected).and_then(|e| Ok((e, read_message(actual)?)));
    match decoded {
        Ok((e, a)) => {
            let roots = e
                .get_root::<code_generator_request::Reader<'_>>()
                .and_then(|e| Ok((e, a.get_root::<code_generator_request::Reader<'_>>()?)));
            match roots {
                Ok((e, a)) => walker.request(e, a),
                Err(err) => walker.push("request", format!("cannot read root: {err}")),
            }
        }
        Err(err) => walker.push("request", format!("cannot decode: {err}")),
    }
    walker.report
}

/// Compares two decoded requests.
pub fn compare_readers(
    expected: code_generator_request::Reader<'_>,
    actual: code_generator_request::Reader<'_>,
    options: &CompareOptions,
) -> Report {
    let mut walker = Walker::new(options);
    walker.request(expected, actual);
    walker.report
}

struct Walker<'o> {
    options: &'o CompareOptions,
    report: Report,
    /// Display names of the expected (else actual) nodes, for readable paths.
    names: BTreeMap<u64, String>,
}

/// A special rule for one field of one struct type of `schema.capnp`.
enum Rule {
    Generic,
    Skip,
    Nodes,
    SourceInfos,
    Identifiers,
}

impl<'o> Walker<'o> {
    fn new(options: &'o CompareOptions) -> Self {
        Self {
            options,
            report: Report::default(),
            names: BTreeMap::new(),
        }
    }

    fn push(&mut self, path: &str, message: String) {
        self.report.content.push(Difference {
            path: path.to_string(),
            message,
        });
    }

    fn request(
        &mut self,
        e: code_generator_request::Reader<'_>,
        a: code_generator_request::Reader<'_>,
    ) {
        for request in [a, e] {
            if let Ok(nodes) = request.get_nodes() {
                for n in nodes {
                    let name = n
                        .get_display_name()
                        .ok()
                        .and_then(|t| t.to_string().ok())
                        .unwrap_or_default();
                    self.names.insert(n.get_id(), name);
                }
            }
        }
        self.structs("", Value::from(e).downcast(), Value::from(a).downcast());
    }

    fn node_label(&self, id: u64) -> String {
        match self.names.get(&id) {
            Some(name) if !name.is_empty() => name.clone(),
            _ => format!("@{id:#018x}"),
        }
    }

    fn rule(&self, type_id: u64, name: &str) -> Rule {
        let o = self.options;
        let ranges = name == "startByte" || name == "endByte";
        if type_id == Request::TYPE_ID {
            match name {
                "nodes" => return Rule::Nodes,
                "sourceInfo" if o.source_info => return Rule::SourceInfos,
                "sourceInfo" => return Rule::Skip,
                _ => {}
            }
        } else if type_id == RequestedFile::TYPE_ID && name == "fileSourceInfo" {
            return if o.source_info {
                Rule::Identifiers
            } else {
                Rule::Skip
            };
        } else if (type_id == Node::TYPE_ID || type_id == SourceInfo::TYPE_ID) && ranges {
            if !o.byte_ranges {
                return Rule::Skip;
            }
        } else if (type_id == SourceInfo::TYPE_ID || type_id == SourceMember::TYPE_ID)
            && name == "docComment"
            && !o.doc_comments
        {
            return Rule::Skip;
        }
        Rule::Generic
    }

    fn structs(
        &mut self,
        path: &str,
        e: dynamic_struct::Reader<'_>,
        a: dynamic_struct::Reader<'_>,
    ) {
        if let Err(err) = self.try_structs(path, e, a) {
            self.push(path, format!("cannot read: {err}"));
        }
    }

    fn try_structs(
        &mut self,
        path: &str,
        e: dynamic_struct::Reader<'_>,
        a: dynamic_struct::Reader<'_>,
    ) -> capnp::Result<()> {
        let schema = e.get_schema();
        for field in schema.get_non_union_fields()? {
            self.field(path, e, a, field)?;
        }
        if schema.get_union_fields()?.is_empty() {
            return Ok(());
        }
        match (e.which()?, a.which()?) {
            (Some(ef), Some(af)) if ef == af => self.field(path, e, a, ef)?,
            (ef, af) => {
                let name = |f: Option<Field>| -> String {
                    f.and_then(|f| f.get_proto().get_name().ok()?.to_string().ok())
                        .unwrap_or_else(|| "(unknown discriminant)".into())
                };
                let at = if path.is_empty() { "(root)" } else { path };
                self.push(at, format!("union member {} vs {}", name(ef), name(af)));
            }
        }
        Ok(())
    }

    fn field(
        &mut self,
        path: &str,
        e: dynamic_struct::Reader<'_>,
        a: dynamic_struct::Reader<'_>,
        field: Field,
    ) -> capnp::Result<()> {
        let proto = field.get_proto();
        let name = proto.get_name()?.to_str()?;
        let type_id = e.get_schema().get_proto().get_id();
        let rule = self.rule(type_id, name);
        if let Rule::Skip = rule {
            return Ok(());
        }
        let path = if path.is_empty() {
            name.to_string()
        } else {
            format!("{path}.{name}")
        };
        // `has` is true for groups and non-pointer fields, so this is exactly
        // the null-vs-present check of pointer fields.
        let (eh, ah) = (e.has(field)?, a.has(field)?);
        if eh != ah {
            let side = |present: bool| if present { "present" } else { "null" };
            self.push(&path, format!("{} vs {}", side(eh), side(ah)));
            return Ok(());
        }
        if !eh {
            return Ok(());
        }
        let (ev, av) = (e.get(field)?, a.get(field)?);
        match rule {
            Rule::Nodes => self.nodes(ev.downcast(), av.downcast()),
            Rule::SourceInfos => self.source_infos(ev.downcast(), av.downcast()),
            Rule::Identifiers => self.identifiers(&path, ev.downcast(), av.downcast()),
            Rule::Generic | Rule::Skip => self.values(&path, ev, av),
        }
    }

    fn values(&mut self, path: &str, e: Value<'_>, a: Value<'_>) -> capnp::Result<()> {
        let message = match (e, a) {
            (Value::Void, Value::Void) | (Value::Capability(_), Value::Capability(_)) => None,
            (Value::Bool(x), Value::Bool(y)) => (x != y).then(|| format!("{x} vs {y}")),
            (Value::Int8(x), Value::Int8(y)) => (x != y).then(|| format!("{x} vs {y}")),
            (Value::Int16(x), Value::Int16(y)) => (x != y).then(|| format!("{x} vs {y}")),
            (Value::Int32(x), Value::Int32(y)) => (x != y).then(|| format!("{x} vs {y}")),
            (Value::Int64(x), Value::Int64(y)) => (x != y).then(|| format!("{x} vs {y}")),
            (Value::UInt8(x), Value::UInt8(y)) => (x != y).then(|| format!("{x} vs {y}")),
            (Value::UInt16(x), Value::UInt16(y)) => (x != y).then(|| format!("{x} vs {y}")),
            (Value::UInt32(x), Value::UInt32(y)) => (x != y).then(|| format!("{x} vs {y}")),
            (Value::UInt64(x), Value::UInt64(y)) => (x != y).then(|| format!("{x:#x} vs {y:#x}")),
            (Value::Float32(x), Value::Float32(y)) => (x.to_bits() != y.to_bits())
                .then(|| format!("{x:?} ({:#x}) vs {y:?} ({:#x})", x.to_bits(), y.to_bits())),
            (Value::Float64(x), Value::Float64(y)) => (x.to_bits() != y.to_bits())
                .then(|| format!("{x:?} ({:#x}) vs {y:?} ({:#x})", x.to_bits(), y.to_bits())),
            (Value::Enum(x), Value::Enum(y)) => {
                let (x, y) = (x.get_value(), y.get_value());
                (x != y).then(|| format!("enum {x} vs {y}"))
            }
            (Value::Text(x), Value::Text(y)) => (x.as_bytes() != y.as_bytes()).then(|| {
                format!(
                    "{:?} vs {:?}",
                    String::from_utf8_lossy(x.as_bytes()),
                    String::from_utf8_lossy(y.as_bytes())
                )
            }),
            (Value::Data(x), Value::Data(y)) => {
                (x != y).then(|| format!("[{}] vs [{}]", raw::hex(x), raw::hex(y)))
            }
            (Value::Struct(x), Value::Struct(y)) => return self.try_structs(path, x, y),
            (Value::List(x), Value::List(y)) => return self.lists(path, x, y),
            (Value::AnyPointer(x), Value::AnyPointer(y)) => {
                self.pointers(path, x, y);
                None
            }
            _ => Some("values of different kinds".to_string()),
        };
        if let Some(message) = message {
            self.push(path, message);
        }
        Ok(())
    }

    fn lists(
        &mut self,
        path: &str,
        e: dynamic_list::Reader<'_>,
        a: dynamic_list::Reader<'_>,
    ) -> capnp::Result<()> {
        if e.len() != a.len() {
            self.push(path, format!("{} vs {} elements", e.len(), a.len()));
        }
        for i in 0..e.len().min(a.len()) {
            self.values(&format!("{path}[{i}]"), e.get(i)?, a.get(i)?)?;
        }
        Ok(())
    }

    fn pointers(
        &mut self,
        path: &str,
        e: capnp::any_pointer::Reader<'_>,
        a: capnp::any_pointer::Reader<'_>,
    ) {
        match (raw::decode(e), raw::decode(a)) {
            (Ok(e), Ok(a)) => {
                let mut found = Vec::new();
                raw::diff("", &e, &a, &mut found);
                for (sub, message) in found {
                    self.push(&format!("{path}{sub}"), message);
                }
            }
            (Err(err), _) => self.push(path, format!("expected side unreadable: {err}")),
            (_, Err(err)) => self.push(path, format!("actual side unreadable: {err}")),
        }
    }

    /// Nodes are matched by id; content and order are reported separately.
    fn nodes(
        &mut self,
        e: dynamic_list::Reader<'_>,
        a: dynamic_list::Reader<'_>,
    ) -> capnp::Result<()> {
        let index = |list: dynamic_list::Reader<'_>| -> capnp::Result<Vec<u64>> {
            list.iter()
                .map(|n| {
                    Ok(n?
                        .downcast::<dynamic_struct::Reader<'_>>()
                        .downcast::<node::Owned>()
                        .get_id())
                })
                .collect()
        };
        let (eids, aids) = (index(e)?, index(a)?);
        let emap = unique(&eids);
        let amap = unique(&aids);
        for (ids, which) in [(&eids, "expected"), (&aids, "actual")] {
            let mut seen = BTreeMap::new();
            for id in ids {
                *seen.entry(id).or_insert(0) += 1;
            }
            for (id, count) in seen.into_iter().filter(|(_, c)| *c > 1) {
                let label = format!("node({})", self.node_label(*id));
                self.push(&label, format!("appears {count} times in {which}"));
            }
        }
        for (id, &ei) in &emap {
            let label = format!("node({})", self.node_label(*id));
            match amap.get(id) {
                None => self.push(&label, "missing".into()),
                Some(&ai) => {
                    let (ev, av) = (e.get(ei)?, a.get(ai)?);
                    self.structs(&label, ev.downcast(), av.downcast());
                }
            }
        }
        for id in amap.keys().filter(|id| !emap.contains_key(id)) {
            let label = format!("node({})", self.node_label(*id));
            self.push(&label, "unexpected extra node".into());
        }
        if self.options.node_order {
            let common = |ids: &[u64], other: &BTreeMap<u64, u32>| -> Vec<u64> {
                ids.iter()
                    .copied()
                    .filter(|id| other.contains_key(id))
                    .collect()
            };
            let (eo, ao) = (common(&eids, &amap), common(&aids, &emap));
            if let Some(pos) = eo.iter().zip(&ao).position(|(x, y)| x != y) {
                let seq = |ids: &[u64]| {
                    ids.iter()
                        .map(|id| self.node_label(*id))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let message = format!(
                    "first differs at position {pos}: expected [{}], actual [{}]",
                    seq(&eo),
                    seq(&ao)
                );
                self.report.order.push(Difference {
                    path: "nodes".into(),
                    message,
                });
            }
        }
        Ok(())
    }

    /// Source infos are a map keyed by id; list order is the reference's hash order.
    fn source_infos(
        &mut self,
        e: dynamic_list::Reader<'_>,
        a: dynamic_list::Reader<'_>,
    ) -> capnp::Result<()> {
        let group = |list: dynamic_list::Reader<'_>| -> capnp::Result<BTreeMap<u64, Vec<u32>>> {
            let mut map: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
            for i in 0..list.len() {
                let info = list
                    .get(i)?
                    .downcast::<dynamic_struct::Reader<'_>>()
                    .downcast::<node::source_info::Owned>();
                map.entry(info.get_id()).or_default().push(i);
            }
            Ok(map)
        };
        let (emap, amap) = (group(e)?, group(a)?);
        let ids: std::collections::BTreeSet<u64> =
            emap.keys().chain(amap.keys()).copied().collect();
        for id in ids {
            let label = format!("sourceInfo({})", self.node_label(id));
            let (es, as_) = (
                emap.get(&id).map_or(&[][..], Vec::as_slice),
                amap.get(&id).map_or(&[][..], Vec::as_slice),
            );
            if es.len() != as_.len() {
                self.push(&label, format!("{} vs {} entries", es.len(), as_.len()));
                continue;
            }
            for (&ei, &ai) in es.iter().zip(as_) {
                self.structs(&label, e.get(ei)?.downcast(), a.get(ai)?.downcast());
            }
        }
        Ok(())
    }

    /// Identifiers are compared as sorted multisets.
    fn identifiers(
        &mut self,
        path: &str,
        e: dynamic_struct::Reader<'_>,
        a: dynamic_struct::Reader<'_>,
    ) -> capnp::Result<()> {
        use code_generator_request::requested_file::file_source_info;
        let ranges = self.options.byte_ranges;
        let collect = |info: file_source_info::Reader<'_>| -> capnp::Result<Option<Vec<Ident>>> {
            if !info.has_identifiers() {
                return Ok(None);
            }
            let mut all = info
                .get_identifiers()?
                .iter()
                .map(|i| Ident::read(i, ranges))
                .collect::<capnp::Result<Vec<_>>>()?;
            all.sort();
            Ok(Some(all))
        };
        let e = collect(e.downcast::<file_source_info::Owned>())?;
        let a = collect(a.downcast::<file_source_info::Owned>())?;
        let path = format!("{path}.identifiers");
        let (e, a) = match (e, a) {
            (Some(e), Some(a)) => (e, a),
            (None, None) => return Ok(()),
            (e, a) => {
                let side = |x: &Option<Vec<Ident>>| if x.is_some() { "present" } else { "null" };
                self.push(&path, format!("{} vs {}", side(&e), side(&a)));
                return Ok(());
            }
        };
        let (missing, extra) = multiset_difference(&e, &a);
        const SHOWN: usize = 8;
        for (list, what) in [(&missing, "missing"), (&extra, "unexpected")] {
            if list.is_empty() {
                continue;
            }
            let shown: Vec<String> = list
                .iter()
                .take(SHOWN)
                .map(|i| self.ident_label(i))
                .collect();
            let more = list.len().saturating_sub(SHOWN);
            let tail = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            self.push(
                &path,
                format!("{} {what}: {}{tail}", list.len(), shown.join(", ")),
            );
        }
        Ok(())
    }

    fn ident_label(&self, ident: &Ident) -> String {
        match ident.target {
            Target::Type(id) => format!("{}-{} {}", ident.start, ident.end, self.node_label(id)),
            Target::Member(parent, ordinal) => format!(
                "{}-{} member @{ordinal} of {}",
                ident.start,
                ident.end,
                self.node_label(parent)
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    Type(u64),
    Member(u64, u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Ident {
    start: u32,
    end: u32,
    target: Target,
}

impl Ident {
    fn read(
        i: code_generator_request::requested_file::file_source_info::identifier::Reader<'_>,
        ranges: bool,
    ) -> capnp::Result<Self> {
        use code_generator_request::requested_file::file_source_info::identifier::Which;
        let target = match i.which()? {
            Which::TypeId(id) => Target::Type(id),
            Which::Member(m) => Target::Member(m.get_parent_type_id(), m.get_ordinal()),
        };
        let (start, end) = if ranges {
            (i.get_start_byte(), i.get_end_byte())
        } else {
            (0, 0)
        };
        Ok(Self { start, end, target })
    }
}

/// Elements of sorted `e` not matched in sorted `a`, and the reverse.
fn multiset_difference<T: Ord + Copy>(e: &[T], a: &[T]) -> (Vec<T>, Vec<T>) {
    let (mut i, mut j) = (0, 0);
    let (mut missing, mut extra) = (Vec::new(), Vec::new());
    while i < e.len() || j < a.len() {
        match (e.get(i), a.get(j)) {
            (Some(x), Some(y)) if x == y => {
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x < y => {
                missing.push(*x);
                i += 1;
            }
            (Some(x), None) => {
                missing.push(*x);
                i += 1;
            }
            (_, Some(y)) => {
                extra.push(*y);
                j += 1;
            }
            (None, None) => break,
        }
    }
    (missing, extra)
}

/// First position of each id.
fn unique(ids: &[u64]) -> BTreeMap<u64, u32> {
    let mut map = BTreeMap::new();
    for (i, id) in ids.iter().enumerate() {
        map.entry(*id).or_insert(i as u32);
    }
    map
}
