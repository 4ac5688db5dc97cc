#!/usr/bin/env bash
# Builds release wheels for the oldest and newest supported CPython (pyenv's interpreters by
# default), installs each into a fresh virtual environment and runs the examples and a smoke
# subset of the test suite there (`make wheel-smoke`; the full suite runs in .venv).
# Usage: scripts/wheel-smoke.sh [PYTHON...]; WHEEL_PROFILE=fast builds without fat LTO (same
# code, much faster to link) when only installation and behaviour are under test.
set -euo pipefail
cd "$(dirname "$0")/.."

pythons=("$@")
if [ ${#pythons[@]} -eq 0 ]; then
    for v in 3.9 3.13; do
        found=$(ls -d "$HOME"/.pyenv/versions/"$v".*/bin/python3 2>/dev/null | sort -V | tail -n 1 || true)
        if [ -z "$found" ]; then
            echo "wheel-smoke: no CPython $v under ~/.pyenv/versions" >&2
            exit 1
        fi
        pythons+=("$found")
    done
fi

PIP_FLAGS=(--disable-pip-version-check --no-input -q)
MATURIN=.venv/bin/maturin
PROFILE=${WHEEL_PROFILE:-release}
SMOKE_TESTS=(tests/python/test_load.py tests/python/test_serialization.py tests/python/test_struct_fields.py
             tests/python/test_import_hook.py tests/python/test_docs.py tests/python/test_stubs_command.py)
RPC_SMOKE=(tests/python/rpc/test_asyncio_calls.py tests/python/rpc/test_sync_api.py)

for py in "${pythons[@]}"; do
    version=$("$py" -c 'import sys; print("%d%d" % sys.version_info[:2])')
    echo "== CPython $version: $py"
    rm -rf "target/wheels-$version"
    "$MATURIN" build --profile "$PROFILE" -q -i "$py" -o "target/wheels-$version"
    env_dir="target/smoke-venv-$version"
    rm -rf "$env_dir"
    "$py" -m venv "$env_dir"
    "$env_dir/bin/python" -m pip install "${PIP_FLAGS[@]}" "target/wheels-$version"/*.whl pytest pytest-timeout
    # Run from outside the checkout so that `import capnp` is the installed wheel.
    (cd /tmp && "$OLDPWD/$env_dir/bin/python" -c 'import capnp, sys; print("capnp", capnp.__version__, "from", capnp.__file__); assert "site-packages" in capnp.__file__')
    "$env_dir/bin/python" examples/show_addressbook.py > /dev/null
    "$env_dir/bin/python" examples/addressbook.py
    "$env_dir/bin/python" -m capnp stubs -o "target/smoke-stubs-$version" examples/addressbook.capnp
    "$env_dir/bin/python" -m pytest -q -p no:cacheprovider "${SMOKE_TESTS[@]}"
    PYTHONPATH=examples/rpc "$env_dir/bin/python" tests/typing/good/calculator_typed.py
    "$env_dir/bin/python" -m pytest -q -p no:cacheprovider "${RPC_SMOKE[@]}"
done
