//! `capnp-rs`: the command-line schema compiler.

fn main() {}
