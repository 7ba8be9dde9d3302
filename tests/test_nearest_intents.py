"""The two intents read one store: "similar" with its full descriptor, "duplicates" square-rooted and
whitened without expansion; a descriptor asked for at query time applies or says to re-index."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simages.extraction.descriptor_spec import DescriptorSpec
from simages.nearest import DescriptorCache
from simages.nearest.core.intents import DUPLICATES, SIMILAR, intent_named
from simages.nearest.core.set_index import DescriptorMismatch
from simages.settings import Settings
from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import FeatureStore, save_store


def write(settings, name, n=60, descriptor="gap+l2+pca16+qe5", stored="gap+l2"):
    vectors = np.abs(np.random.default_rng(n).standard_normal((n, 32))).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    names = [f"{i:03d}.jpg" for i in range(n)]
    meta = {"descriptor": stored, "descriptor_spec": descriptor}
    save_store(settings.store_path(name), FeatureStore(names, [Fingerprint(1, 1)] * n, vectors, meta))
    (settings.image_sets / name).mkdir(parents=True, exist_ok=True)  # a store is served only with its set


@pytest.fixture
def settings(tmp_path):
    return Settings(root=tmp_path)


def test_intents_have_plain_names_and_their_own_descriptors():
    assert intent_named(" Duplicates ") is DUPLICATES and intent_named("similar") is SIMILAR
    with pytest.raises(ValueError, match="similar or duplicates"):
        intent_named("copies")
    assert SIMILAR.descriptor("gap+l2+pca128+qe10").key() == "gap+l2+pca128+qe10"
    assert DUPLICATES.descriptor("gap+l2+pca128+qe10").key() == "gap+sqrt+l2+whiten"
    assert "Duplicates" in DUPLICATES.describe() and "Similar images" in SIMILAR.describe()


def test_one_store_serves_both_intents_each_cached(settings):
    write(settings, "s")
    cache = DescriptorCache()
    similar = cache.get(settings, "s")
    duplicates = cache.get(settings, "s", DUPLICATES)
    assert similar.applied == "gap+l2+pca16+qe5" and similar.expansion == 5
    assert duplicates.applied == "gap+sqrt+l2+whiten" and duplicates.expansion == 0
    assert cache.get(settings, "s", DUPLICATES) is duplicates and cache.get(settings, "s") is similar
    assert cache.loads == 2
    assert "PCA-whitened" in duplicates.explain() and "square-rooted" in duplicates.explain()


def test_a_query_time_descriptor_applies_to_the_stored_vectors(settings):
    write(settings, "s")
    index = DescriptorCache().get(settings, "s", DescriptorSpec.parse("gap+l2+qe3"))
    assert index.applied == "gap+l2+qe3" and index.expansion == 3


def test_a_descriptor_needing_other_stored_vectors_says_to_reindex(settings):
    write(settings, "s")
    with pytest.raises(DescriptorMismatch, match=r"re-indexed: `simages --descriptor gem3\+l2 index s`"):
        DescriptorCache().get(settings, "s", DescriptorSpec.parse("gem3+l2"))


def test_cli_descriptor_option_applies_query_time_parts_or_says_to_reindex(settings, capsys):
    from simages.cli import main

    write(settings, "s")
    (settings.image_sets / "s").mkdir(parents=True, exist_ok=True)
    argv = ["--root", str(settings.root)]
    assert main([*argv, "query", "s/001.jpg", "--set", "s", "--knn", "3", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["expansion"] == 5  # the store's own gap+l2+pca16+qe5
    assert main([*argv, "--descriptor", "gap+l2+qe3", "query", "s/001.jpg", "--set", "s", "--knn", "3",
                 "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["expansion"] == 3
    assert main([*argv, "--descriptor", "gap+l2+qe3", "join", "s", "s", "--knn", "1"]) == 0
    assert "3 nearest images" in capsys.readouterr().out
    for command in (["query", "s/001.jpg", "--set", "s", "--knn", "3"], ["join", "s", "s", "--knn", "1"]):
        assert main([*argv, "--descriptor", "gem3+l2", *command]) == 2
        assert "must be re-indexed: `simages --descriptor gem3+l2 index s`" in capsys.readouterr().err


def test_an_outside_key_is_described_without_the_root_the_index_takes_itself(settings):
    write(settings, "s")
    cache = DescriptorCache()
    assert cache.get(settings, "s", DUPLICATES).key_descriptor().key() == "gap+l2+whiten"
    assert cache.get(settings, "s").key_descriptor().key() == "gap+l2+pca16+qe5"
