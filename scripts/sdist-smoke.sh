#!/usr/bin/env bash
# The source distribution installs with only Rust and Python (`make sdist-smoke`): `maturin
# sdist`, then `pip install` of the .tar.gz into a fresh virtual environment (pip fetches the
# maturin build backend, which compiles the Rust crates the sdist carries), then an import
# from outside the checkout and the examples.
# SDIST_PROFILE=fast (what `make test` uses) builds without fat LTO; the default is the
# release profile, as `pip install pycapnp-rs-*.tar.gz` builds it for users.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
PROFILE=${SDIST_PROFILE:-release}
MATURIN=.venv/bin/maturin
start=$SECONDS

rm -rf target/sdist
"$MATURIN" sdist -o target/sdist > /dev/null
sdist=(target/sdist/*.tar.gz)
echo "== sdist: ${sdist[0]} ($(tar tzf "${sdist[0]}" | wc -l) files)"

env_dir=target/sdist-venv
rm -rf "$env_dir"
"$PYTHON" -m venv "$env_dir"
# pip unpacks the sdist into a temporary directory and builds there. Its own target
# directory: with the checkout's, cargo would reuse the workspace crates built from the
# checkout (same relative paths) and a file missing from the sdist would go unnoticed.
CARGO_TARGET_DIR="$PWD/target/sdist-build" MATURIN_PEP517_ARGS="--profile $PROFILE" \
    "$env_dir/bin/python" -m pip install --disable-pip-version-check --no-input -q "${sdist[0]}"
(cd /tmp && "$OLDPWD/$env_dir/bin/python" -c 'import capnp; print("capnp", capnp.__version__, "from", capnp.__file__); assert "site-packages" in capnp.__file__')
"$env_dir/bin/python" examples/show_addressbook.py > /dev/null
"$env_dir/bin/python" examples/addressbook.py
"$env_dir/bin/python" -m capnp stubs -o target/sdist-stubs examples/addressbook.capnp
echo "== sdist: $((SECONDS - start)) s"
