"""Planted feature stores and the CLI's JSON for tests that decide what the descriptors say: which photo
scores as a copy of which is set by the vectors, the keypoints and pixels by real image files."""

from __future__ import annotations

import json

import numpy as np

from simages.cli import main
from simages.settings import Settings
from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import FeatureStore, save_store

# The default descriptor's stored part and its whole spec, as `simages index` writes them.
DEFAULT_META = {"descriptor": "gap+l2", "descriptor_spec": "gap+l2+pca128+qe10"}


def write_store(settings: Settings, name: str, names: list[str], vectors: np.ndarray) -> None:
    """Set `name`'s store: `names` (in the set's folder) with the (n, d) `vectors` as its stored
    descriptors of the default kind; fingerprints are placeholders (tests never re-index)."""
    save_store(settings.store_path(name), FeatureStore(list(names), [Fingerprint(1, 1)] * len(names),
                                                       np.asarray(vectors, np.float32), dict(DEFAULT_META)))


def run_json(settings: Settings, capsys, *argv: str) -> dict:
    """`simages --root ROOT ARGV... --format json`'s answer, parsed; fails the test on a non-zero exit."""
    code = main(["--root", str(settings.root), *argv, "--format", "json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)
