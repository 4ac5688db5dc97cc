//! Differential test of struct layout against the reference compiler on random structs with nested
//! unions and groups. Needs the reference binary, so it is ignored by default:
//! `CAPNP=/tmp/refvenv/bin/capnp cargo test -p capnp-compiler differential -- --ignored`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::error::Error;
use std::process::Command;

use super::tests::{read, size_of_type};
use super::*;
use crate::schema_capnp::{code_generator_request, field, node};

/// xorshift64*: deterministic cases without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

enum Gen {
    Field(String, &'static str),
    Group(String, Vec<Gen>),
    /// Name (empty for unnamed), whether it takes an explicit ordinal, members.
    Union(String, bool, Vec<Gen>),
}

struct Generator {
    rng: Rng,
    names: u32,
    /// Also produce structural errors: short unions, empty groups, unnamed
    /// unions inside unions.
    broken: bool,
}

const TYPES: [&str; 9] = [
    "Void", "Bool", "Bool", "UInt8", "Int16", "UInt32", "Float64", "Text", "Int64",
];

impl Generator {
    fn name(&mut self, prefix: &str) -> String {
        self.names += 1;
        format!("{prefix}{}", self.names)
    }

    fn members(&mut self, depth: u32, in_union: bool) -> Vec<Gen> {
        let short = u64::from(self.broken && self.rng.below(4) == 0);
        let count = if in_union {
            2 + self.rng.below(3) - short
        } else {
            1 + self.rng.below(4) - short
        };
        let mut unnamed = false;
        let mut out = Vec::new();
        for _ in 0..count {
            let roll = if depth >= 3 { 0 } else { self.rng.below(100) };
            let g = if roll < 60 {
                let ty = TYPES[self.rng.below(TYPES.len() as u64) as usize];
                Gen::Field(self.name("f"), ty)
            } else if roll < 75 {
                Gen::Group(self.name("g"), self.members(depth + 1, false))
            } else if roll < 90 || (in_union && !self.broken) || unnamed {
                let explicit = self.rng.below(10) == 0;
                Gen::Union(self.name("u"), explicit, self.members(depth + 1, true))
            } else {
                unnamed = true;
                Gen::Union(String::new(), false, self.members(depth + 1, true))
            };
            out.push(g);
        }
        out
    }
}

fn count_ordinals(members: &[Gen]) -> usize {
    members
        .iter()
        .map(|m| match m {
            Gen::Field(..) => 1,
            Gen::Group(_, ms) => count_ordinals(ms),
            Gen::Union(_, explicit, ms) => usize::from(*explicit) + count_ordinals(ms),
        })
        .sum()
}

fn render(members: &[Gen], ords: &mut impl Iterator<Item = usize>, out: &mut String) {
    for m in members {
        match m {
            Gen::Field(name, ty) => {
                let o = ords.next().unwrap_or(0);
                *out += &format!("{name} @{o} :{ty}; ");
            }
            Gen::Group(name, ms) => {
                *out += &format!("{name} :group {{ ");
                render(ms, ords, out);
                *out += "} ";
            }
            Gen::Union(name, explicit, ms) => {
                if name.is_empty() {
                    *out += "union { ";
                } else if *explicit {
                    let o = ords.next().unwrap_or(0);
                    *out += &format!("{name} @{o}! :union {{ ");
                } else {
                    *out += &format!("{name} :union {{ ");
                }
                render(ms, ords, out);
                *out += "} ";
            }
        }
    }
}

/// Lines per node name (names are unique in generated structs).
type Blocks = BTreeMap<String, Vec<String>>;

/// What one compiler made of a case: node layouts, error categories and
/// error lines as the reference prints them.
#[derive(Debug, Default)]
struct Outcome {
    blocks: Blocks,
    categories: BTreeSet<&'static str>,
    messages: Vec<String>,
    /// The member being processed at the first issue-344 report.
    issue_344_at: Option<String>,
}

/// Our layout as comparable lines: one per node, then one per field.
fn ours(src: &str) -> Outcome {
    let decls = read(src);
    let l = layout_struct(&decls[0].members, &mut |d| size_of_type(d));
    let mut blocks = Blocks::new();
    let mut scope = |name: &str, s: &ScopeLayout<'_>| {
        let lines = blocks.entry(name.to_owned()).or_default();
        lines.push(format!(
            "{name}: {} {} {} {}",
            l.data_word_count, l.pointer_count, s.discriminant_count, s.discriminant_offset
        ));
        for f in &s.fields {
            let what = match f.kind {
                FieldLayoutKind::Slot { offset } => format!("off {offset}"),
                FieldLayoutKind::Group { group } => {
                    format!("group {}", l.groups[group].decl.name.text)
                }
            };
            lines.push(format!(
                "  {} co{} d{} {:?} {what}",
                f.decl.name.text, f.code_order, f.discriminant_value, f.explicit_ordinal
            ));
        }
    };
    scope("S", &l.root);
    for g in &l.groups {
        scope(&g.decl.name.text, &g.scope);
    }
    let mut errs: BTreeSet<&'static str> = l
        .errors
        .iter()
        .map(|(_, m)| {
            if m == ISSUE_344_MESSAGE {
                "issue344"
            } else if m.starts_with("Union ordinal") {
                "retroactive"
            } else {
                "other"
            }
        })
        .collect();
    if errs.is_empty() && l.ordinals_out_of_order {
        errs.insert("validation");
    }
    // Rendered as the reference prints them; the struct sits on line 2.
    let lines = l
        .errors
        .iter()
        .map(|(span, m)| {
            format!(
                "case.capnp:2:{}-{}: error: {m}",
                span.start + 1,
                span.end + 1
            )
        })
        .collect();
    let issue_344_at = l
        .errors
        .iter()
        .find(|(_, m)| m == ISSUE_344_MESSAGE)
        .map(|(span, _)| {
            let text = &src[span.start as usize..span.end as usize];
            text.split(' ').next().unwrap_or("").to_owned()
        });
    Outcome {
        blocks,
        categories: errs,
        messages: lines,
        issue_344_at,
    }
}

/// The reference's layout of `S` in the same form, or its error categories.
fn reference(capnp: &str, dir: &std::path::Path, src: &str) -> Result<Outcome, Box<dyn Error>> {
    let path = dir.join("case.capnp");
    std::fs::write(&path, format!("@0xd5a2c5c3a0b9e8f1;\n{src}\n"))?;
    let out = Command::new(capnp)
        .arg("compile")
        .arg("-o-")
        .arg("case.capnp")
        .current_dir(dir)
        .output()?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let mut errs = BTreeSet::new();
        for line in stderr.lines() {
            errs.insert(if line.contains("issues/344") {
                "issue344"
            } else if line.contains("Union ordinal, if specified") {
                "retroactive"
            } else if line.contains("Bootstrap schema failed validation") {
                "validation"
            } else if line.contains("error:") {
                "other"
            } else {
                continue;
            });
        }
        // Duplicate unnamed unions are the naming phase's business.
        let lines = stderr
            .lines()
            .filter(|l| {
                !l.contains("An unnamed union is already defined")
                    && !l.contains("Previously defined here.")
            })
            .map(str::to_owned)
            .collect();
        let issue_344_at = stderr
            .lines()
            .find_map(|l| l.split("context: member.name = ").nth(1))
            .map(str::to_owned);
        return Ok(Outcome {
            blocks: Blocks::new(),
            categories: errs,
            messages: lines,
            issue_344_at,
        });
    }
    let message =
        capnp::serialize::read_message(&mut &out.stdout[..], capnp::message::ReaderOptions::new())?;
    let request = message.get_root::<code_generator_request::Reader<'_>>()?;
    let mut names = HashMap::new();
    let mut structs = Vec::new();
    for n in request.get_nodes()? {
        let display = n.get_display_name()?.to_string()?;
        let short = display.rsplit('.').next().unwrap_or("").to_owned();
        let short = if display == "case.capnp:S" {
            "S".to_owned()
        } else {
            short
        };
        names.insert(n.get_id(), short.clone());
        if let node::Which::Struct(s) = n.which()? {
            if display.starts_with("case.capnp:S") {
                structs.push((short, s));
            }
        }
    }
    let mut blocks = Blocks::new();
    for (name, s) in structs {
        let lines = blocks.entry(name.clone()).or_default();
        lines.push(format!(
            "{name}: {} {} {} {}",
            s.get_data_word_count(),
            s.get_pointer_count(),
            s.get_discriminant_count(),
            s.get_discriminant_offset()
        ));
        for f in s.get_fields()? {
            let what = match f.which()? {
                field::Which::Slot(slot) => format!("off {}", slot.get_offset()),
                field::Which::Group(g) => format!(
                    "group {}",
                    names.get(&g.get_type_id()).cloned().unwrap_or_default()
                ),
            };
            let ord = match f.get_ordinal().which()? {
                field::ordinal::Which::Implicit(()) => None,
                field::ordinal::Which::Explicit(o) => Some(o),
            };
            lines.push(format!(
                "  {} co{} d{} {ord:?} {what}",
                f.get_name()?.to_str()?,
                f.get_code_order(),
                f.get_discriminant_value()
            ));
        }
    }
    Ok(Outcome {
        blocks,
        ..Outcome::default()
    })
}

#[test]
#[ignore = "needs the reference compiler (set CAPNP)"]
fn differential_random_structs() -> Result<(), Box<dyn Error>> {
    let capnp = std::env::var("CAPNP").unwrap_or_else(|_| "/tmp/refvenv/bin/capnp".to_owned());
    let cases: u64 = std::env::var("LAYOUT_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let dir = std::env::temp_dir().join(format!("layout-diff-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut stats: HashMap<String, u32> = HashMap::new();
    for case in 0..cases {
        let mut g = Generator {
            rng: Rng(0x9e37_79b9_7f4a_7c15 ^ (case + 1).wrapping_mul(0x1000_0000_01b3)),
            names: 0,
            broken: case % 3 == 2,
        };
        let members = g.members(0, false);
        let n = count_ordinals(&members);
        // A random permutation of 0..n keeps ordinals free of duplicates and
        // gaps; broken cases draw them with repetition instead.
        let mut ords: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            ords.swap(i, g.rng.below(i as u64 + 1) as usize);
        }
        if g.broken {
            for o in &mut ords {
                *o = g.rng.below(n as u64 + 1) as usize;
            }
        }
        let mut src = String::from("struct S { ");
        render(&members, &mut ords.into_iter(), &mut src);
        src += "}";
        let want = reference(&capnp, &dir, &src)?;
        let got = ours(&src);
        let (want_errs, got_errs) = (&want.categories, &got.categories);
        if want_errs.contains("issue344") {
            // The reference aborts at the first occurrence.
            assert_eq!(got.issue_344_at, want.issue_344_at, "case {case}: {src}");
        } else if want_errs.contains("validation") {
            assert_eq!(got_errs, want_errs, "case {case}: {src}");
        } else {
            assert_eq!(got.messages, want.messages, "case {case}: {src}");
        }
        if want_errs.is_empty() {
            assert_eq!(got.blocks, want.blocks, "case {case}: {src}");
        }
        let key = format!("{want_errs:?}");
        *stats.entry(key).or_default() += 1;
    }
    std::fs::remove_dir_all(&dir)?;
    eprintln!("outcomes: {stats:?}");
    Ok(())
}
