"""``python -m capnp``: the package's command line.

``python -m capnp stubs FILE.capnp... [-I DIR]... -o OUTDIR`` writes typed stubs
(``OUTDIR/foo_capnp.pyi``), exactly as ``capnp-rs stubs`` does: the generator is the same
Rust code, reached through ``capnp._capnp``.
"""

import argparse
import sys

from capnp import _capnp


def main(argv=None):
    """Runs the command line with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m capnp", description="Cap'n Proto tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    stubs = commands.add_parser(
        "stubs",
        help="write typed .pyi stubs for schema files",
        description="Writes OUTDIR/foo_capnp.pyi for each FILE foo.capnp and each file it imports.",
    )
    stubs.add_argument("files", nargs="*", metavar="FILE", help="schema files")
    stubs.add_argument("-I", "--import-path", action="append", default=[], metavar="DIR",
                       help="directory searched for /absolute imports")
    stubs.add_argument("--src-prefix", action="append", default=[], metavar="DIR",
                       help="requested files under DIR are named relative to it")
    stubs.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="output directory")
    stubs.add_argument("--standard", action="store_true",
                       help="write the stubs of the bundled capnp/*.capnp files instead")
    args = parser.parse_args(argv)
    if not args.files and not args.standard:
        parser.error("stubs: no input files")
    try:
        written = _capnp.write_stubs(
            args.files, args.output, args.import_path, args.src_prefix, args.standard
        )
    except Exception as e:  # KjException: schema errors, unreadable files
        print("python -m capnp stubs: %s" % e, file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
