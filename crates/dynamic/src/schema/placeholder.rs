//! Placeholder schemas for ids a `SchemaLoader` was not given (yet): empty structs and enums
//! named as the reference loader names them, so messages over partly loaded schemas read
//! (as pycapnp's) instead of failing. Placeholders are made per lookup, never stored, so a
//! node loaded later replaces them for every new handle.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{EnumSchema, FieldKind, Inner, Registry, StructSchema};

impl Registry {
    /// Makes unknown struct and enum ids resolve to placeholders from now on.
    pub fn enable_placeholders(&self) {
        self.placeholders.store(true, Ordering::Release);
    }

    /// Whether unknown ids resolve to placeholders, which a later load may replace.
    pub fn uses_placeholders(&self) -> bool {
        self.placeholders.load(Ordering::Acquire)
    }
}

/// An empty struct; a group of a loaded struct is named as one.
pub(super) fn struct_schema(inner: &Inner, id: u64) -> Arc<StructSchema> {
    let is_group = inner.structs.values().any(|s| {
        s.fields
            .iter()
            .any(|f| matches!(f.kind, FieldKind::Group { id: g } if g == id))
    });
    Arc::new(StructSchema {
        id,
        display_name: if is_group {
            "(unknown group type)".to_string()
        } else {
            "(unknown type)".to_string()
        },
        data_words: 0,
        ptr_count: 0,
        is_group,
        fields: Vec::new(),
        by_name: Default::default(),
        union: None,
        non_union_fields: Vec::new(),
        host: Default::default(),
    })
}

/// An enum without enumerants (values print as `(N)`).
pub(super) fn enum_schema(id: u64) -> Arc<EnumSchema> {
    Arc::new(EnumSchema {
        id,
        display_name: "(unknown enum)".to_string(),
        enumerants: Vec::new(),
    })
}
