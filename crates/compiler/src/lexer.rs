//! Lexer: bytes into tokens and statements with doc comments (SCHEMA-COMPILER.md section 1).
