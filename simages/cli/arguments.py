"""Command-line values argparse would misread: a negative number that does not look like one to it.

argparse takes `-1e308`, `-inf` or `-.5e1` after `--range` for an option and stops with "expected one
argument" and a usage dump. Joined to their option (`--range=-inf`) they reach the query's own checks,
which answer with one line that says what is wrong with the value.
"""

from __future__ import annotations

import re

# Options whose value is a number, in every command that has them.
NUMBER_OPTIONS = ("--knn", "--threshold", "--range", "--limit", "--port")
_NUMBER_LIKE = re.compile(r"^-(\d|\.\d|inf|infinity|nan)", re.IGNORECASE)


def attach_negative_values(argv: list[str]) -> list[str]:
    """`[..., "--range", "-inf", ...]` -> `[..., "--range=-inf", ...]`; anything else unchanged."""
    out: list[str] = []
    index = 0
    while index < len(argv):
        token = argv[index]
        if token == "--":
            return out + argv[index:]
        following = argv[index + 1] if index + 1 < len(argv) else None
        if token in NUMBER_OPTIONS and following is not None and _NUMBER_LIKE.match(following):
            out.append(f"{token}={following}")
            index += 2
            continue
        out.append(token)
        index += 1
    return out
