//! Struct layout: field lists, code order, discriminants and offsets (SCHEMA-COMPILER.md section 6).
