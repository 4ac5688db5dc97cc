# Task runner; CI runs `make test` (through .ci/run). Every target works on a clean checkout.
CARGO ?= cargo

.PHONY: example test oracles bless bench lint fuzz schema-rs

# Build the compiler and print the nodes it compiles for the address book example.
example:
	$(CARGO) run --release -q -p capnp-compiler --example show_schema -- examples/addressbook.capnp

# Install the test oracles (reference capnp 1.3.0, pycapnp 2.2.4) and run every test.
test: oracles
	$(CARGO) test --workspace

oracles:
	scripts/install-oracles.sh

# Rewrite the golden error outputs (tests/errors/*.expected) from the current compiler.
bless:
	BLESS=1 $(CARGO) test -p capnp-rs --test errors

# Compile-time benchmark, and our command line against the reference on the same files.
bench: oracles
	$(CARGO) bench -p capnp-compiler --bench compile
	$(CARGO) build --release -q -p capnp-rs
	python3 benchmarks/compile_vs_reference.py

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Fuzz the whole compiler (needs `cargo install cargo-fuzz`); FUZZ_SECONDS=1800 for a long run.
FUZZ_SECONDS ?= 60
fuzz:
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -s none --release compile -- -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -max_len=8192

# Regenerate crates/compiler/src/schema_capnp.rs with our own compiler from our schema.capnp
# (needs capnpc-rust on PATH: `cargo install capnpc --version 0.27.0`).
schema-rs:
	$(CARGO) build --release -q -p capnp-rs
	cd crates/compiler/schemas && ../../../target/release/capnp-rs compile --src-prefix=. -orust:../src/.gen capnp/schema.capnp
	mv crates/compiler/src/.gen/capnp/schema_capnp.rs crates/compiler/src/schema_capnp.rs && rm -r crates/compiler/src/.gen
