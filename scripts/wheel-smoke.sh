#!/usr/bin/env bash
# Builds a wheel for the supported CPythons (pyenv's interpreters by default), installs each
# into a fresh virtual environment and runs it there (`make wheel-smoke`):
#   - the oldest and the newest (3.9, 3.13): the examples, the stub command and the whole
#     tests/python suite against the installed wheel;
#   - 3.10 and 3.12: an import from outside the checkout and the examples.
# 3.11 is left out: `make test` builds the package for it from source into .venv (pip
# install .), where the whole suite runs; `scripts/wheel-smoke.sh PYTHON` checks any other.
# Wheels are per interpreter, not abi3 (docs/ARCHITECTURE.md): the limited API has the
# buffer protocol only from 3.11 and cannot subclass Exception natively before 3.12.
# Usage: scripts/wheel-smoke.sh [PYTHON...]: only those interpreters, each with the whole
# suite (WHEEL_SUITE=examples for the quick check). WHEEL_PROFILE=fast builds without fat LTO
# (same code, much faster to link) when only installation and behaviour are under test.
set -euo pipefail
cd "$(dirname "$0")/.."

pythons=()
suites=()
if [ $# -eq 0 ]; then
    for entry in 3.9:full 3.10:examples 3.12:examples 3.13:full; do
        v=${entry%%:*}
        found=$(ls -d "$HOME"/.pyenv/versions/"$v".*/bin/python3 2>/dev/null | sort -V | tail -n 1 || true)
        if [ -z "$found" ]; then
            echo "wheel-smoke: no CPython $v under ~/.pyenv/versions" >&2
            exit 1
        fi
        pythons+=("$found")
        suites+=("${entry#*:}")
    done
else
    for py in "$@"; do
        pythons+=("$py")
        suites+=("${WHEEL_SUITE:-full}")
    done
fi

PIP_FLAGS=(--disable-pip-version-check --no-input -q)
MATURIN=.venv/bin/maturin
PROFILE=${WHEEL_PROFILE:-release}

for i in "${!pythons[@]}"; do
    py=${pythons[$i]}
    suite=${suites[$i]}
    version=$("$py" -c 'import sys; print("%d%d" % sys.version_info[:2])')
    echo "== CPython $version ($suite): $py"
    start=$SECONDS
    rm -rf "target/wheels-$version"
    "$MATURIN" build --profile "$PROFILE" -q -i "$py" -o "target/wheels-$version"
    env_dir="target/smoke-venv-$version"
    rm -rf "$env_dir"
    "$py" -m venv "$env_dir"
    packages=("target/wheels-$version"/*.whl)
    if [ "$suite" = full ]; then
        packages+=(pytest pytest-timeout)
    fi
    "$env_dir/bin/python" -m pip install "${PIP_FLAGS[@]}" "${packages[@]}"
    # Run from outside the checkout so that `import capnp` is the installed wheel.
    (cd /tmp && "$OLDPWD/$env_dir/bin/python" -c 'import capnp, sys; print("capnp", capnp.__version__, "from", capnp.__file__); assert "site-packages" in capnp.__file__')
    "$env_dir/bin/python" examples/show_addressbook.py > /dev/null
    "$env_dir/bin/python" examples/addressbook.py
    PYTHONPATH=examples/rpc "$env_dir/bin/python" tests/typing/good/calculator_typed.py
    if [ "$suite" = full ]; then
        "$env_dir/bin/python" -m capnp stubs -o "target/smoke-stubs-$version" examples/addressbook.capnp
        # The checkout's root has no `capnp` package (it is under python/), so the tests
        # import the wheel.
        "$env_dir/bin/python" -m pytest -q -p no:cacheprovider tests/python
    fi
    echo "== CPython $version ($suite): $((SECONDS - start)) s"
done
