//! `capnp-rs convert|decode|encode`: message streams between binary, packed, flat,
//! flat-packed, canonical, text and JSON, as the reference `capnp` tool converts them.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

use capnp::message::{HeapAllocator, ReaderOptions};
use capnp::serialize::OwnedSegments;
use capnp_compiler::loader::DiskFileSystem;
use capnp_compiler::schema_capnp::code_generator_request;
use capnp_compiler::CompileOptions;
use capnp_dynamic::{MessageBuilder, MessageReader, ReadLimits, Registry};

use crate::layout::{relayout, Strategy};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Binary,
    Packed,
    Flat,
    FlatPacked,
    Canonical,
    Text,
    Json,
}

impl Format {
    pub(crate) fn parse(s: &str) -> Result<Format, String> {
        Ok(match s {
            "binary" => Format::Binary,
            "packed" => Format::Packed,
            "flat" => Format::Flat,
            "flat-packed" => Format::FlatPacked,
            "canonical" => Format::Canonical,
            "text" => Format::Text,
            "json" => Format::Json,
            _ => return Err(format!("unknown format: {s}")),
        })
    }

    fn needs_schema(self) -> bool {
        matches!(self, Format::Text | Format::Json)
    }
}

#[derive(Debug)]
pub(crate) struct Options {
    pub(crate) from: Format,
    pub(crate) to: Format,
    pub(crate) compile: CompileOptions,
    pub(crate) short: bool,
    pub(crate) segment_size: Option<u32>,
    pub(crate) schema: Option<(PathBuf, String)>,
}

/// Parses `convert`'s arguments (after the command name).
pub(crate) fn parse_convert_args(args: &[String]) -> Result<Options, String> {
    let mut positional = Vec::new();
    let mut compile = CompileOptions::default();
    let mut short = false;
    let mut segment_size = None;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (a, None),
        };
        match flag {
            "--short" => short = true,
            "--quiet" | "--verbose" => {}
            "--no-standard-import" => compile.standard_import = false,
            "-I" | "--import-path" => {
                let v = match inline {
                    Some(v) => v,
                    None => {
                        i += 1;
                        args.get(i).cloned().ok_or("-I: missing argument")?
                    }
                };
                compile.import_paths.push(PathBuf::from(v));
            }
            "--segment-size" => {
                let v = match inline {
                    Some(v) => v,
                    None => {
                        i += 1;
                        args.get(i)
                            .cloned()
                            .ok_or("--segment-size: missing argument")?
                    }
                };
                let n: u32 = v
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(format!("--segment-size: not a positive number: {v}"))?;
                segment_size = Some(n);
            }
            _ if flag.starts_with("-I") && flag.len() > 2 => {
                compile.import_paths.push(PathBuf::from(&flag[2..]));
            }
            _ if flag.starts_with('-') && flag.len() > 1 => {
                return Err(format!("unknown option: {a}"));
            }
            _ => positional.push(a.to_string()),
        }
        i += 1;
    }
    let mut positional = positional.into_iter();
    let conversion = positional.next().ok_or("missing FROM:TO")?;
    let (from, to) = conversion
        .split_once(':')
        .ok_or(format!("expected FROM:TO, got {conversion}"))?;
    let (from, to) = (Format::parse(from)?, Format::parse(to)?);
    let schema = match (positional.next(), positional.next()) {
        (Some(file), Some(ty)) => Some((PathBuf::from(file), ty)),
        (None, None) => None,
        _ => return Err("expected both SCHEMA and TYPE".to_string()),
    };
    if positional.next().is_some() {
        return Err("too many arguments".to_string());
    }
    if (from.needs_schema() || to.needs_schema()) && schema.is_none() {
        return Err("text and json formats need SCHEMA and TYPE".to_string());
    }
    Ok(Options {
        from,
        to,
        compile,
        short,
        segment_size,
        schema,
    })
}

/// A compiled schema and the root type.
pub(crate) struct Root {
    pub(crate) registry: Arc<Registry>,
    pub(crate) id: u64,
}

/// Compiles `file` and finds `ty` (a dotted name inside it).
pub(crate) fn load_root(
    file: &PathBuf,
    ty: &str,
    compile: &CompileOptions,
) -> Result<Root, String> {
    let out = capnp_compiler::compile_paths(std::slice::from_ref(file), compile, &DiskFileSystem)
        .map_err(|e| e.to_string())?;
    let Some(request) = out.request else {
        let errors: Vec<String> = out.errors.iter().map(ToString::to_string).collect();
        return Err(errors.join("\n"));
    };
    let registry = Arc::new(Registry::new());
    registry.add_request(&request).map_err(|e| e.to_string())?;
    // The requested file's display name prefixes its types' display names.
    let file_name = {
        let mut slice = &request[..];
        let message =
            capnp::serialize::read_message(&mut slice, unlimited()).map_err(|e| e.to_string())?;
        let req = message
            .get_root::<code_generator_request::Reader<'_>>()
            .map_err(|e| e.to_string())?;
        let files = req.get_requested_files().map_err(|e| e.to_string())?;
        let first = files.iter().next().ok_or("no requested file")?;
        first
            .get_filename()
            .map_err(|e| e.to_string())?
            .to_string()
            .map_err(|e| e.to_string())?
    };
    let display = format!("{file_name}:{ty}");
    let id = registry
        .find_by_display_name(&display)
        .ok_or(format!("no such type: {ty}"))?;
    registry
        .get_struct(id)
        .map_err(|_| format!("not a struct type: {ty}"))?;
    Ok(Root { registry, id })
}

fn unlimited() -> ReaderOptions {
    let mut o = ReaderOptions::new();
    o.traversal_limit_in_words(None);
    o
}

type Message = capnp::message::Reader<OwnedSegments>;

/// Runs one conversion over all of `input`, writing to `out`. Errors name the message.
pub(crate) fn convert(
    o: &Options,
    root: Option<&Root>,
    input: &[u8],
    out: &mut dyn Write,
) -> Result<(), String> {
    let write_err = |e: std::io::Error| format!("cannot write output: {e}");
    let mut n = 0usize;
    let mut emit = |m: Message, out: &mut dyn Write| -> Result<(), String> {
        let bytes = encode_message(o, root, &m).map_err(|e| format!("message {n}: {e}"))?;
        out.write_all(&bytes).map_err(write_err)?;
        n += 1;
        Ok(())
    };
    match o.from {
        Format::Binary | Format::Packed => {
            let mut rest = input;
            loop {
                let read = if o.from == Format::Binary {
                    capnp::serialize::try_read_message(&mut rest, unlimited())
                } else {
                    capnp::serialize_packed::try_read_message(&mut rest, unlimited())
                };
                match read {
                    Ok(Some(m)) => emit(m, out)?,
                    Ok(None) => break,
                    Err(e) => return Err(format!("message {n}: {e}")),
                }
            }
        }
        Format::Flat | Format::FlatPacked | Format::Canonical => {
            let words = if o.from == Format::FlatPacked {
                unpack(input).map_err(|e| format!("message 0: {e}"))?
            } else {
                input.to_vec()
            };
            if words.len() % 8 != 0 {
                return Err("message 0: input is not a whole number of words".to_string());
            }
            let m = flat_message(&words).map_err(|e| format!("message 0: {e}"))?;
            if o.from == Format::Canonical && !m.is_canonical().map_err(|e| e.to_string())? {
                return Err("message 0: input is not in canonical form".to_string());
            }
            emit(m, out)?;
        }
        Format::Json => {
            let root = root.ok_or("json input needs SCHEMA and TYPE")?;
            let mut codec = capnp_dynamic::json::JsonCodec::new(root.registry.clone());
            codec.set_pretty(false);
            for (k, range) in capnp_dynamic::json::split_stream(input)
                .into_iter()
                .enumerate()
            {
                let range = range.map_err(|e| format!("message {k}: invalid JSON: {e}"))?;
                let b = MessageBuilder::new();
                let s = b
                    .init_root(&root.registry, root.id)
                    .map_err(|e| e.to_string())?;
                codec
                    .decode(&input[range], &s)
                    .map_err(|e| format!("message {k}: {e}"))?;
                let bytes = b.to_bytes();
                let m = capnp::serialize::read_message(&mut &bytes[..], unlimited())
                    .map_err(|e| format!("message {k}: {e}"))?;
                emit(m, out)?;
            }
        }
        Format::Text => {
            let (file, ty) = o
                .schema
                .as_ref()
                .ok_or("text input needs SCHEMA and TYPE")?;
            for (k, bytes) in crate::text_input::parse_messages(file, ty, &o.compile, input)?
                .into_iter()
                .enumerate()
            {
                let m = capnp::serialize::read_message(&mut &bytes[..], unlimited())
                    .map_err(|e| format!("message {k}: {e}"))?;
                emit(m, out)?;
            }
        }
    }
    Ok(())
}

fn unpack(input: &[u8]) -> capnp::Result<Vec<u8>> {
    // Unpacking a flat stream: the packed reader wants a segment table, so unpack by hand.
    let mut out = Vec::with_capacity(input.len() * 2);
    let mut i = 0;
    let take = |i: &mut usize| -> capnp::Result<u8> {
        let b = *input
            .get(*i)
            .ok_or_else(|| capnp::Error::failed("premature end of packed input".into()))?;
        *i += 1;
        Ok(b)
    };
    while i < input.len() {
        let tag = take(&mut i)?;
        for bit in 0..8 {
            out.push(if tag & (1 << bit) != 0 {
                take(&mut i)?
            } else {
                0
            });
        }
        if tag == 0 || tag == 0xff {
            let count = usize::from(take(&mut i)?) * 8;
            if tag == 0 {
                out.resize(out.len() + count, 0);
            } else {
                let end = i + count;
                let bytes = input
                    .get(i..end)
                    .ok_or_else(|| capnp::Error::failed("premature end of packed input".into()))?;
                out.extend_from_slice(bytes);
                i = end;
            }
        }
    }
    Ok(out)
}

/// Packs table-less words (flat-packed output), as the reference's packed writer does.
fn pack(words: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(words.len());
    let words: Vec<&[u8]> = words.chunks(8).collect();
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        let mut tag = 0u8;
        for (bit, &b) in w.iter().enumerate() {
            if b != 0 {
                tag |= 1 << bit;
            }
        }
        out.push(tag);
        out.extend(w.iter().filter(|&&b| b != 0));
        i += 1;
        if tag == 0 {
            let run = words[i..]
                .iter()
                .take(255)
                .take_while(|w| w.iter().all(|&b| b == 0))
                .count();
            out.push(run as u8);
            i += run;
        } else if tag == 0xff {
            let run = words[i..]
                .iter()
                .take(255)
                .take_while(|w| w.iter().filter(|&&b| b == 0).count() < 2)
                .count();
            out.push(run as u8);
            for w in &words[i..i + run] {
                out.extend_from_slice(w);
            }
            i += run;
        }
    }
    out
}

fn flat_message(words: &[u8]) -> capnp::Result<Message> {
    let mut framed = Vec::with_capacity(words.len() + 8);
    framed.extend_from_slice(&0u32.to_le_bytes());
    framed.extend_from_slice(
        &u32::try_from(words.len() / 8)
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    framed.extend_from_slice(words);
    capnp::serialize::read_message(&mut &framed[..], unlimited())
}

/// The output bytes of one message.
pub(crate) fn encode_message(
    o: &Options,
    root: Option<&Root>,
    m: &Message,
) -> Result<Vec<u8>, String> {
    let e = |e: capnp::Error| e.to_string();
    match o.to {
        Format::Canonical => {
            let words = m.canonicalize().map_err(e)?;
            Ok(capnp::Word::words_to_bytes(&words).to_vec())
        }
        Format::Binary | Format::Packed => {
            let single = copy(m).map_err(e)?;
            let strategy = match o.segment_size {
                Some(n) => Strategy::Fixed(n),
                None => Strategy::Grow,
            };
            let segments = relayout(&single, strategy)?;
            let mut out = Vec::new();
            capnp::serialize::write_message_segments(&mut out, &segments).map_err(e)?;
            // The packed stream packs the segment table with the segments.
            Ok(if o.to == Format::Binary {
                out
            } else {
                pack(&out)
            })
        }
        Format::Flat | Format::FlatPacked => {
            let words = copy(m).map_err(e)?;
            Ok(if o.to == Format::Flat {
                words
            } else {
                pack(&words)
            })
        }
        Format::Text | Format::Json => {
            let root = root.ok_or("text and json output need SCHEMA and TYPE")?;
            let bytes = capnp::serialize::write_message_segments_to_words(m.get_segments());
            let limits = ReadLimits {
                traversal_limit_in_words: Some(u64::MAX),
                nesting_limit: None,
            };
            let reader =
                MessageReader::from_bytes(Arc::new(bytes), limits).map_err(|e| e.to_string())?;
            let r = reader
                .root(&root.registry, root.id)
                .map_err(|e| e.to_string())?;
            let mut text = if o.to == Format::Json {
                capnp_dynamic::json::struct_to_json(&r, !o.short)
            } else {
                capnp_dynamic::text::struct_text(&r, !o.short)
            }
            .map_err(|e| e.to_string())?;
            text.push(b'\n');
            Ok(text)
        }
    }
}

/// A copy of the message's root in one segment exactly big enough (the reference's flat
/// output; binary output re-lays it in the reference's segments, `layout.rs`).
fn copy(m: &Message) -> capnp::Result<Vec<u8>> {
    let root: capnp::any_pointer::Reader<'_> = m.get_root()?;
    let words = root.target_size()?.word_count + 1;
    let allocator =
        HeapAllocator::new().first_segment_words(u32::try_from(words).unwrap_or(u32::MAX));
    let mut b = capnp::message::Builder::new(allocator);
    b.set_root(root)?;
    let segments = b.get_segments_for_output();
    if segments.len() != 1 {
        return Err(capnp::Error::failed(
            "the copy did not fit one segment".to_string(),
        ));
    }
    Ok(segments[0].to_vec())
}

/// `decode` (binary to text) and `encode` (text to binary) as the reference's deprecated
/// commands: `--packed` and `--flat` pick the binary side, then the `convert` options.
pub(crate) fn run_legacy(encode: bool, args: &[String]) -> Result<(), String> {
    let mut packed = false;
    let mut flat = false;
    let mut rest = Vec::new();
    for a in args {
        match a.as_str() {
            "--packed" => packed = true,
            "--flat" => flat = true,
            _ => rest.push(a.clone()),
        }
    }
    let binary = match (flat, packed) {
        (true, true) => "flat-packed",
        (true, false) => "flat",
        (false, true) => "packed",
        (false, false) => "binary",
    };
    let conversion = if encode {
        format!("text:{binary}")
    } else {
        format!("{binary}:text")
    };
    rest.insert(0, conversion);
    run(&rest)
}

/// `convert`: reads stdin, writes stdout.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let o = parse_convert_args(args)?;
    let root = match &o.schema {
        Some((file, ty)) if o.from.needs_schema() || o.to.needs_schema() => {
            Some(load_root(file, ty, &o.compile)?)
        }
        _ => None,
    };
    let mut input = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut input)
        .map_err(|e| format!("cannot read standard input: {e}"))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let r = convert(&o, root.as_ref(), &input, &mut out);
    out.flush()
        .map_err(|e| format!("cannot write output: {e}"))?;
    r
}
