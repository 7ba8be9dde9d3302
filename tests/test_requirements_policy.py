"""In CI (SIMAGES_TEST_REQUIRE_ALL=1) a missing requirement fails the run; elsewhere it is a visible skip."""

from __future__ import annotations

import pytest

from tests import requirements


def test_a_missing_requirement_fails_where_all_are_required(monkeypatch):
    monkeypatch.setattr(requirements, "REQUIRE_ALL", True)
    with pytest.raises(pytest.fail.Exception, match="SIMAGES_TEST_REQUIRE_ALL=1"):
        requirements.import_or_missing("simages_no_such_module", "the no-such extra is not installed")


def test_a_missing_requirement_is_a_skip_elsewhere(monkeypatch):
    monkeypatch.setattr(requirements, "REQUIRE_ALL", False)
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        requirements.import_or_missing("simages_no_such_module", "the no-such extra is not installed")


def test_a_present_module_is_returned():
    assert requirements.import_or_missing("json", "json is missing").dumps([]) == "[]"
