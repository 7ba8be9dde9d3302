"""`simages triage NEW [NEW ...] [--against SET ...]`: which new photos are already in the collection, and
moving the extra copies to the quarantine folder safely.

Each photo of the NEW sets gets its best match in the collection (the --against sets, by default every
other indexed set) and a level: exact (the same pixels), edited (the same photo after edits), look-alike
(the same scene, not a copy) or new. The headline counts them. Copies (exact, edited) of one collection
photo form a group with a suggested keeper: the collection's photo (an edited, enlarged or re-saved copy
never replaces it); --keep SET/IMAGE overrides it.

  --dry-run       prints what an apply would move, as `mkdir -p` / `mv -n` commands; nothing is written
  --plan FILE     writes the plan (JSON, what --apply reads) and beside it FILE.csv and FILE.sh (a dry
                  run: the `mv` commands); nothing moves
  --apply FILE    moves the plan's files to ROOT/quarantine/<plan id>/ (never deletes), journaled; a file
                  changed or deleted since the plan is skipped with its reason; rerun after an
                  interruption to finish; the sets' stores follow
  --undo [ID]     moves the files of the last applied plan (or plan ID) back, byte-identical
  --history       the plans applied in this root
  --not-duplicate A B [...] / --keep-both A B [...]   remember a decision about a pair or group
  --decisions / --forget ID                           list remembered decisions / undo one

JSON: {"new": [{"image", "level", "match", "score", "kept_both"}], "counts": {...}, "groups": [...],
"headline", "new_sets", "against", "left_out"}, names qualified `set/image`, `match` null for new photos.
Exit codes: 0 success, 1 an apply or undo stopped part-way (rerun it), 2 a user error.
"""

from __future__ import annotations

import argparse

from simages.cli.commands import help_of
from simages.cli.common import add_output_arguments
from simages.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "triage", help=help_of("triage"),
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("new", metavar="NEW", nargs="*", default=[], help="the set(s) of new photos")
    parser.add_argument("--against", metavar="SET", nargs="+", default=[],
                        help="the collection's sets (default: every other indexed set)")
    add_output_arguments(parser)
    parser.add_argument("--plan", metavar="FILE",
                        help="write the plan (and FILE.csv, FILE.sh); moves nothing")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the plan's moves as shell commands (mkdir -p, mv -n); nothing written")
    parser.add_argument("--levels", default="exact,edited",
                        help="the copy levels the plan moves (default: exact,edited)")
    parser.add_argument("--keep", metavar="SET/IMAGE", action="append", default=[],
                        help="keep this copy of its group instead of the suggested keeper (repeatable)")
    parser.add_argument("--compare", action="store_true",
                        help="table: each copy group's facts side by side (size, quality, camera, date "
                        "taken, orientation, EXIF tags), the rows that differ marked")
    parser.add_argument("--apply", metavar="FILE", help="carry out a plan written by --plan")
    parser.add_argument("--undo", metavar="ID", nargs="?", const="",
                        help="undo the last applied plan (or ID)")
    parser.add_argument("--history", action="store_true", help="list the plans applied in this root")
    parser.add_argument("--not-duplicate", metavar="SET/IMAGE", nargs="+",
                        help="remember that these images are different photos")
    parser.add_argument("--keep-both", metavar="SET/IMAGE", nargs="+",
                        help="remember to keep all these copies (left out of later plans)")
    parser.add_argument("--decisions", action="store_true", help="list the remembered decisions")
    parser.add_argument("--forget", metavar="ID", help="undo a remembered decision")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from simages.cli import triage_run

    return triage_run.run(args, settings)
