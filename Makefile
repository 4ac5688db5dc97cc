# Task runner; CI runs `make test` (through .ci/run). Every target works on a clean checkout.
CARGO ?= cargo

PYTHON ?= python3
VENV ?= .venv
PIP = $(VENV)/bin/python -m pip --disable-pip-version-check --no-input -q

.PHONY: example show-schema test venv oracles bless bench lint fuzz fuzz-smoke schema-rs typing stubs-std docs wheel-smoke

# Install the package into $(VENV), print the address book schema's structs and enums, then
# run the address book program (build, write, read back, print).
example: venv
	$(VENV)/bin/python examples/show_addressbook.py
	$(VENV)/bin/python examples/addressbook.py

# Build the compiler alone and print every node it compiles for the address book example.
show-schema:
	$(CARGO) run --release -q -p capnp-compiler --example show_schema -- examples/addressbook.capnp

# Install the test oracles (reference capnp 1.3.0, pycapnp 2.2.4) and run every test:
# the Rust crates, then the Python package (built and installed into $(VENV)) with pytest.
test: oracles venv
	$(CARGO) test --workspace
	$(VENV)/bin/python -m pytest tests/python
	$(MAKE) fuzz-smoke
	$(MAKE) typing docs wheel-smoke

# A virtual environment with this package (built by pip through maturin) and the test tools.
venv:
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install pytest pytest-timeout
	$(PIP) install --force-reinstall --no-deps .

oracles:
	scripts/install-oracles.sh

# The type checkers, pinned: stubtest on the package stubs, then the stub generator's output
# under mypy --strict and basedpyright on tests/typing/good (clean) and bad (expected errors).
TYPING_TOOLS = mypy==2.4.1 basedpyright==1.40.2
typing: venv
	$(PIP) install $(TYPING_TOOLS)
	$(VENV)/bin/python tests/typing/check.py

# The documentation (docs/, mkdocs-material, API reference from the stubs' docstrings), with
# warnings as errors, into target/site. Its examples run in tests/python/test_docs.py.
DOCS_TOOLS = mkdocs==1.6.1 mkdocs-material==9.8.1 mkdocstrings==1.0.8 mkdocstrings-python==2.0.11
docs: venv
	$(PIP) install $(DOCS_TOOLS)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# Wheels for the CPythons of ~/.pyenv (one per version, not abi3: see docs/ARCHITECTURE.md),
# each installed into a fresh venv outside the checkout: the oldest and newest (3.9, 3.13) run
# the examples and the whole tests/python suite, 3.10 and 3.12 an import and the examples
# (3.11 is .venv's; scripts/wheel-smoke.sh). `make test` builds them with the `fast` profile
# (the release profile's fat LTO link costs minutes per wheel); WHEEL_PROFILE=release checks
# what `maturin build --release` ships.
WHEEL_PROFILE ?= fast
wheel-smoke: oracles venv
	$(PIP) install maturin==1.16.0
	WHEEL_PROFILE=$(WHEEL_PROFILE) scripts/wheel-smoke.sh

# The sdist installs with only Rust and Python: `maturin sdist`, pip-installed into a fresh
# venv, then the examples (scripts/sdist-smoke.sh). Not in `make test`: the build compiles
# every crate afresh (3-7 minutes on this 2-core machine with the `fast` profile);
# SDIST_PROFILE=release builds it as `pip install` does for users.
SDIST_PROFILE ?= fast
sdist-smoke: venv
	$(PIP) install maturin==1.16.0
	SDIST_PROFILE=$(SDIST_PROFILE) scripts/sdist-smoke.sh

# Regenerate the shipped stubs of the bundled schemas (python/capnp/*_capnp.pyi).
stubs-std:
	$(CARGO) run -q -p capnp-rs -- stubs --standard -o python/capnp

# Rewrite the golden error outputs (tests/errors/*.expected) from the current compiler.
bless:
	BLESS=1 $(CARGO) test -p capnp-rs --test errors

# Compile-time benchmark, our command line against the reference on the same files, then
# the Python package against pycapnp (benchmarks/run.py; docs/benchmarks.md). BENCH_ARGS
# passes options to the latter, e.g. BENCH_ARGS="--filter read. --rounds 3".
BENCH_ARGS ?=
bench: oracles venv
	$(CARGO) bench -p capnp-compiler --bench compile
	$(CARGO) build --release -q -p capnp-rs
	python3 benchmarks/compile_vs_reference.py
	python3 benchmarks/run.py $(BENCH_ARGS)

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Fuzz (needs `cargo install cargo-fuzz`; fuzz-smoke installs it): FUZZ_TARGET is `compile` (the whole compiler),
# `messages` (the message layer: arbitrary bytes read with a schema, builder operation
# sequences with recorded locations against walks), `json` (the JSON decoder) or `text`
# (the text-format parser); FUZZ_SECONDS=1800 for a long run.
FUZZ_SECONDS ?= 60
FUZZ_TARGET ?= compile
fuzz:
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -s none --release $(FUZZ_TARGET) -- -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -max_len=8192

# Both fuzz targets briefly (part of `make test`).
fuzz-smoke:
	command -v cargo-fuzz > /dev/null || $(CARGO) install --locked cargo-fuzz@0.13.2
	$(MAKE) fuzz FUZZ_TARGET=compile FUZZ_SECONDS=15
	$(MAKE) fuzz FUZZ_TARGET=messages FUZZ_SECONDS=15

# Regenerate crates/compiler/src/schema_capnp.rs with our own compiler from our schema.capnp
# (needs capnpc-rust on PATH: `cargo install capnpc --version 0.27.0`).
schema-rs:
	$(CARGO) build --release -q -p capnp-rs
	cd crates/compiler/schemas && ../../../target/release/capnp-rs compile --src-prefix=. -orust:../src/.gen capnp/schema.capnp
	mv crates/compiler/src/.gen/capnp/schema_capnp.rs crates/compiler/src/schema_capnp.rs && rm -r crates/compiler/src/.gen
