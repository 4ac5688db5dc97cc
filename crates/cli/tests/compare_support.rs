//! Unit tests of the request comparison in `support/`: hand-built requests
//! that differ in one place must be reported there, and only there.

mod support;

use capnp::message::Builder;
use capnp_compiler::schema_capnp::{capnp_version, code_generator_request, node};
use support::{compare_requests, CompareOptions, Report};

const FILE: u64 = 0xd5a2_c5c3_a0b9_e8f1;
const S: u64 = 0x8ff3_daea_8e96_cfa9;
const T: u64 = 0xcf45_2360_b952_28dc;

/// How the struct behind `S.fields[1].slot.defaultValue.struct` is built.
#[derive(Clone, Copy, PartialEq)]
enum StructValue {
    /// One data word, no pointers, all zero.
    OneWord,
    /// The same value, but allocated after everything else.
    OneWordLast,
    /// Three data words, all zero.
    ThreeWords,
}

/// Knobs for one hand-built request; `Default` is the baseline.
#[derive(Clone, Copy)]
struct Knobs {
    int_default: i32,
    null_annotations: bool,
    struct_value: StructValue,
    nan_bits: u64,
    swap_node_order: bool,
    swap_source_infos: bool,
    doc: &'static str,
    start_byte: u32,
    identifier_end: u32,
    drop_t: bool,
}

impl Default for Knobs {
    fn default() -> Self {
        Self {
            int_default: 5,
            null_annotations: false,
            struct_value: StructValue::OneWord,
            nan_bits: 0x7ff8_0000_0000_0000,
            swap_node_order: false,
            swap_source_infos: false,
            doc: "an S",
            start_byte: 32,
            identifier_end: 40,
            drop_t: false,
        }
    }
}

fn build(k: Knobs) -> Vec<u8> {
    let mut message = Builder::new_default();
    let mut request = message.init_root::<code_generator_request::Builder<'_>>();
    {
        let mut version = request.reborrow().init_capnp_version();
        version.set_major(1);
        version.set_minor(3);
    }
    let node_count = if k.drop_t { 2 } else { 3 };
    let mut nodes = request.reborrow().init_nodes(node_count);
    let (file_at, s_at) = if k.swap_node_order { (1, 0) } else { (0, 1) };
    {
        let mut file = nodes.reborrow().get(file_at);
        file.set_id(FILE);
        file.set_display_name("a.capnp");
        file.set_file(());
        let mut nested = file.init_nested_nodes(1);
        nested.reborrow().get(0).set_name("S");
        nested.reborrow().get(0).set_id(S);
    }
    if !k.drop_t {
        let mut t = nodes.reborrow().get(2);
        t.set_id(T);
        t.set_display_name("a.capnp:T");
        t.set_scope_id(FILE);
        t.init_struct().set_data_word_count(1);
    }
    let mut s = nodes.reborrow().get(s_at);
    s.set_id(S);
    s.set_display_name("a.capnp:S");
    s.set_display_name_prefix_length(8);
    s.set_scope_id(FILE);
    s.set_start_byte(k.start_byte);
    if !k.null_annotations {
        s.reborrow().init_annotations(0);
    }
    let mut st = s.init_struct();
    st.set_data_word_count(1);
    st.set_pointer_count(2);
    let mut fields = st.init_fields(3);
    {
        let mut x = fields.reborrow().get(0);
        x.set_name("x");
        x.set_discriminant_value(0xffff);
        let mut slot = x.init_slot();
        slot.reborrow().init_type().set_int32(());
        slot.init_default_value().set_int32(k.int_default);
    }
    {
        let mut f = fields.reborrow().get(2);
        f.set_name("f");
        f.set_code_order(2);
        let mut slot = f.init_slot();
        slot.reborrow().init_type().set_float64(());
        slot.init_default_value()
            .set_float64(f64::from_bits(k.nan_bits));
    }
    if k.struct_value != StructValue::OneWordLast {
        set_struct_value(&mut fields, k.struct_value);
    }

    let mut files = request.reborrow().init_requested_files(1);
    let mut file = files.reborrow().get(0);
    file.set_id(FILE);
    file.set_filename("a.capnp");
    file.reborrow().init_imports(0);
    let mut idents = file.init_file_source_info().init_identifiers(2);
    // Written in a different order from the sort order on purpose.
    idents.reborrow().get(0).set_start_byte(50);
    idents.reborrow().get(0).set_end_byte(52);
    idents.reborrow().get(0).set_type_id(S);
    idents.reborrow().get(1).set_start_byte(36);
    idents.reborrow().get(1).set_end_byte(k.identifier_end);
    idents.reborrow().get(1).set_type_id(1027);

    let mut infos = request.reborrow().init_source_info(2);
    let (file_info, s_info) = if k.swap_source_infos { (1, 0) } else { (0, 1) };
    infos.reborrow().get(file_info).set_id(FILE);
    {
        let mut info = infos.reborrow().get(s_info);
        info.set_id(S);
        info.set_doc_comment(k.doc);
        info.set_start_byte(k.start_byte);
        info.init_members(3);
    }

    if k.struct_value == StructValue::OneWordLast {
        let mut nodes = request.get_nodes().expect("nodes were just built");
        let s = nodes.reborrow().get(s_at);
        let node::Which::Struct(st) = s.which().expect("S was just built") else {
            unreachable!("S is a struct node");
        };
        let mut fields = st.get_fields().expect("fields were just built");
        set_struct_value(&mut fields, StructValue::OneWord);
    }
    let mut out = Vec::new();
    capnp::serialize::write_message(&mut out, &message).expect("writing to a Vec cannot fail");
    out
}

fn set_struct_value(
    fields: &mut capnp::struct_list::Builder<'_, capnp_compiler::schema_capnp::field::Owned>,
    kind: StructValue,
) {
    let mut y = fields.reborrow().get(1);
    y.set_name("y");
    y.set_code_order(1);
    let mut slot = y.init_slot();
    slot.set_offset(1);
    slot.reborrow().init_type().init_struct().set_type_id(T);
    let value = slot.init_default_value().init_struct();
    match kind {
        StructValue::OneWord | StructValue::OneWordLast => {
            value.init_as::<capnp_version::Builder<'_>>();
        }
        StructValue::ThreeWords => {
            value.init_as::<code_generator_request::requested_file::file_source_info::identifier::Builder<'_>>();
        }
    }
}

fn compare(expected: Knobs, actual: Knobs) -> Report {
    compare_requests(&build(expected), &build(actual), &CompareOptions::default())
}

fn assert_only(report: &Report, path: &str, fragment: &str) {
    assert_eq!(
        report.content.len(),
        1,
        "expected one difference:\n{report}"
    );
    assert!(
        report.order.is_empty(),
        "unexpected order difference:\n{report}"
    );
    let d = &report.content[0];
    assert_eq!(d.path, path, "{report}");
    assert!(d.message.contains(fragment), "{report}");
}

#[test]
fn identical_requests_have_no_difference() {
    let report = compare(Knobs::default(), Knobs::default());
    assert!(report.is_empty(), "{report}");
}

#[test]
fn nested_field_difference_is_located() {
    let actual = Knobs {
        int_default: 6,
        ..Knobs::default()
    };
    let report = compare(Knobs::default(), actual);
    assert_only(
        &report,
        "node(a.capnp:S).struct.fields[0].slot.defaultValue.int32",
        "5 vs 6",
    );
}

#[test]
fn null_differs_from_empty_list() {
    let actual = Knobs {
        null_annotations: true,
        ..Knobs::default()
    };
    let report = compare(Knobs::default(), actual);
    assert_only(&report, "node(a.capnp:S).annotations", "present vs null");
}

#[test]
fn value_struct_size_is_compared() {
    let actual = Knobs {
        struct_value: StructValue::ThreeWords,
        ..Knobs::default()
    };
    let report = compare(Knobs::default(), actual);
    assert_only(
        &report,
        "node(a.capnp:S).struct.fields[1].slot.defaultValue.struct",
        "struct size 1w+0p vs 3w+0p",
    );
}

#[test]
fn value_placement_is_ignored() {
    let moved = Knobs {
        struct_value: StructValue::OneWordLast,
        ..Knobs::default()
    };
    let (a, b) = (build(Knobs::default()), build(moved));
    assert_ne!(a, b, "the two encodings should place the value differently");
    let report = compare_requests(&a, &b, &CompareOptions::default());
    assert!(report.is_empty(), "{report}");
}

#[test]
fn floats_compare_by_bit_pattern() {
    let other_nan = Knobs {
        nan_bits: 0x7ff8_0000_0000_0001,
        ..Knobs::default()
    };
    let report = compare(Knobs::default(), other_nan);
    assert_only(
        &report,
        "node(a.capnp:S).struct.fields[2].slot.defaultValue.float64",
        "0x7ff8000000000001",
    );
}

#[test]
fn node_order_is_reported_separately() {
    let swapped = Knobs {
        swap_node_order: true,
        ..Knobs::default()
    };
    let report = compare(Knobs::default(), swapped);
    assert!(report.content.is_empty(), "{report}");
    assert_eq!(report.order.len(), 1, "{report}");
    let options = CompareOptions {
        node_order: false,
        ..CompareOptions::default()
    };
    let report = compare_requests(&build(Knobs::default()), &build(swapped), &options);
    assert!(report.is_empty(), "{report}");
}

#[test]
fn missing_node_is_reported() {
    let dropped = Knobs {
        drop_t: true,
        ..Knobs::default()
    };
    let report = compare(Knobs::default(), dropped);
    assert_only(&report, "node(a.capnp:T)", "missing");
}

#[test]
fn source_info_is_a_map_by_id() {
    let swapped = Knobs {
        swap_source_infos: true,
        ..Knobs::default()
    };
    assert!(compare(Knobs::default(), swapped).is_empty());
    let other_doc = Knobs {
        doc: "another S",
        ..Knobs::default()
    };
    let report = compare(Knobs::default(), other_doc);
    assert_only(&report, "sourceInfo(a.capnp:S).docComment", "another S");
}

#[test]
fn identifiers_are_a_multiset() {
    let other = Knobs {
        identifier_end: 41,
        ..Knobs::default()
    };
    let report = compare(Knobs::default(), other);
    assert_eq!(report.content.len(), 2, "{report}");
    assert!(report
        .content
        .iter()
        .all(|d| d.path == "requestedFiles[0].fileSourceInfo.identifiers"));
    assert!(
        report.content[0]
            .message
            .contains("1 missing: 36-40 @0x0000000000000403"),
        "{report}"
    );
    assert!(
        report.content[1].message.contains("1 unexpected: 36-41"),
        "{report}"
    );
}

#[test]
fn declarations_only_ignores_layout_of_the_text() {
    let moved = Knobs {
        doc: "reworded",
        start_byte: 99,
        identifier_end: 41,
        ..Knobs::default()
    };
    let report = compare(Knobs::default(), moved);
    assert_eq!(report.content.len(), 5, "{report}");
    let report = compare_requests(
        &build(Knobs::default()),
        &build(moved),
        &CompareOptions::declarations_only(),
    );
    assert!(report.is_empty(), "{report}");
}

#[test]
fn garbage_is_a_difference_not_a_panic() {
    let good = build(Knobs::default());
    let report = compare_requests(&good, &[1, 2, 3], &CompareOptions::default());
    assert!(report.mentions("request"), "{report}");
    let mut truncated = good.clone();
    truncated.truncate(good.len() / 2);
    let report = compare_requests(&good, &truncated, &CompareOptions::default());
    assert!(!report.is_empty());
}
