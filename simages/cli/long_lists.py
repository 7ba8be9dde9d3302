"""Lists that may hold thousands of entries (unreadable files, skipped entries), printed for people.

A folder of 20,000 sidecar files must not print 20,000 lines on every run (even "up to date"): a list
longer than SHOWN lines shows its first entries, a count per reason, and where the full list is (a file
written beside the stores, and `--verbose` to print it all).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

from simages.naming import derived_name
from simages.store.atomic import write_atomically

SHOWN = 5  # entries printed per kind before the list is shortened
REASONS = 3  # distinct reasons counted in a shortened list


def listing_lines(kind: str, entries: dict[str, str], verbose: bool = False) -> list[str]:
    """`  KIND: NAME: REASON` lines for people; beyond SHOWN entries (unless `verbose`) only the first
    ones, then `  ... and N more KIND (M × REASON, ...)`."""
    items = sorted(entries.items())
    shown = items if verbose else items[:SHOWN]
    lines = [f"  {kind}: {name}: {reason}" for name, reason in shown]
    rest = items[len(shown):]
    if rest:
        counts = Counter(reason for _, reason in rest).most_common()
        common = ", ".join(f"{count:,} × {_short(reason)}" for reason, count in counts[:REASONS])
        if len(counts) > REASONS:
            common += f", {sum(count for _, count in counts[REASONS:]):,} with other reasons"
        lines.append(f"  ... and {len(rest):,} more {kind} ({common})")
    return lines


def _short(reason: str, limit: int = 60) -> str:
    return f"“{reason}”" if len(reason) <= limit else f"“{reason[: limit - 1]}…”"


def report_path(features: Path, set_name: str) -> Path:
    """Where the full list of a set's unreadable and skipped entries is written: features/.reports/."""
    return features / ".reports" / derived_name(set_name, ".txt")


def write_report(path: Path, sections: dict[str, dict[str, str]]) -> None:
    """The full lists, one `KIND: NAME: REASON` line each (names as their own bytes, UTF-8), atomically."""
    lines = [f"{kind}: {name}: {reason}\n" for kind, entries in sections.items()
             for name, reason in sorted(entries.items())]
    data = "".join(lines).encode("utf-8", "surrogateescape")
    write_atomically(path, lambda stream: stream.write(data), durable=False)


def print_lists(
    write: Callable[[str], None],
    sections: dict[str, dict[str, str]],
    verbose: bool,
    full_list: Path | None,
) -> None:
    """Print each section with listing_lines; when one was shortened and `full_list` is given, write
    every entry there and say so (a file that cannot be written is said too, never an error)."""
    shortened = False
    for kind, entries in sections.items():
        lines = listing_lines(kind, entries, verbose)
        shortened = shortened or len(lines) < len(entries)
        for line in lines:
            write(line)
    if not shortened:
        if full_list is not None:
            full_list.unlink(missing_ok=True)  # an older, longer list would mislead
        return
    if full_list is None:
        write("  (--verbose lists them all)")
        return
    try:
        write_report(full_list, sections)
    except OSError as error:
        write(f"  (--verbose lists them all; the full list could not be written to {full_list}: "
              f"{error.strerror or error})")
        return
    write(f"  (the full list: {full_list}; --verbose prints it)")
