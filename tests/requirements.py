"""What a test needs from outside the repository (real weights, Corel-1k, Chromium, FAISS, Dask...), and
what happens when it is missing: a skip on a developer's machine, a failure where
`SIMAGES_TEST_REQUIRE_ALL=1` (set by `.ci/run`), so a broken CI install can never pass as skipped tests."""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import NoReturn

import pytest

# Set by .ci/run: every optional requirement of the test suite must be there.
REQUIRE_ALL = os.environ.get("SIMAGES_TEST_REQUIRE_ALL") == "1"


def missing(reason: str, *, module_level: bool = False) -> NoReturn:
    """Skip for `reason`, or fail when SIMAGES_TEST_REQUIRE_ALL=1."""
    if REQUIRE_ALL:
        pytest.fail(f"{reason} (SIMAGES_TEST_REQUIRE_ALL=1: this must be installed here)", pytrace=False)
    pytest.skip(reason, allow_module_level=module_level)


def import_or_missing(name: str, reason: str) -> ModuleType:
    """`pytest.importorskip` that fails instead of skipping when SIMAGES_TEST_REQUIRE_ALL=1. Only for
    third-party modules: the project's own modules are imported plainly (a broken one must fail)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        missing(reason, module_level=True)
