"""Deprecated option names and values, kept for one release: they still work and say so on stderr.

One line per use, `simages: warning: --range is deprecated, use --threshold`, on standard error only, so
a pipe reading standard output gets exactly the answer it got before. argparse and sys only: `--help`
loads this module.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from typing import Any

WARNING_PREFIX = "simages: warning: "


def warn_deprecated(old: str, new: str) -> None:
    """Print `simages: warning: OLD is deprecated, use NEW` on standard error."""
    print(f"{WARNING_PREFIX}{old} is deprecated, use {new}", file=sys.stderr)


class DeprecatedAliases(argparse.Action):
    """Stores like argparse's own store (or store_const with `const`), and warns when the option was
    written with one of the old names of `renamed` (old option string -> the name to use), or given one
    of the old values of `renamed_values` (old value -> the value to use, which is stored instead)."""

    def __init__(
        self,
        option_strings: Sequence[str],
        dest: str,
        renamed: Mapping[str, str] | None = None,
        renamed_values: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.renamed = dict(renamed or {})
        self.renamed_values = dict(renamed_values or {})
        if "const" in kwargs:  # store_const: takes no value
            kwargs.setdefault("nargs", 0)
        super().__init__(option_strings, dest, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        if option_string in self.renamed:
            warn_deprecated(option_string, self.renamed[option_string])
        if self.nargs == 0:
            values = self.const
        elif isinstance(values, str) and values in self.renamed_values:
            new = self.renamed_values[values]
            warn_deprecated(f"{option_string or self.dest} {values}", f"{option_string or self.dest} {new}")
            values = new
        setattr(namespace, self.dest, values)
