"""The issue's acceptance numbers on Corel-1k with the real weights (slow: two passes over 1000 images)."""

from __future__ import annotations

from pathlib import Path

import pytest

from simages.evaluation.runner import run_eval
from simages.extraction.descriptor_spec import DEFAULT_DESCRIPTOR, DescriptorSpec
from simages.settings import Settings


@pytest.mark.slow
def test_default_descriptor_reaches_the_required_quality_on_corel(
    root: Path, weights_path: Path, corel_path: Path
) -> None:
    settings = Settings(root=root, weights=weights_path)
    report = run_eval(corel_path, settings, [DescriptorSpec.parse("gap+l2"), DEFAULT_DESCRIPTOR], ["cosine"])
    assert report.images == 1000 and len(report.classes) == 10
    baseline, default = report.rows
    # The measured reference for average pooling, then the default's targets.
    assert baseline.mean_ap == pytest.approx(0.863, abs=0.01)
    assert default.mean_ap >= 0.90
    assert default.precision[10] >= 0.95
