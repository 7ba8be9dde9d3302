"""The atlas before and after training (`/atlas?set=S&head=NAME`, issue 28): both maps drawn from the same
images, the head's map keyed by its weights (a retrained head gets a new map), an unknown head refused."""

from __future__ import annotations

import numpy as np
import pytest

from simages.nearest import DescriptorCache
from simages.operations.atlas import folder_of
from simages.training import registry
from simages.training.trainer import TrainConfig, train_head
from tests.gui_fixtures import DIM, demo_root, gui_app, make_images, only, write_store


def _train(settings, seed: int) -> int:
    """A tiny head trained with the training package on the set's stored vectors, labelled by folder; the
    epoch it kept (0: early stopping kept the identity head, the untrained space)."""
    index = DescriptorCache().get(settings, "animals")
    labels = [folder_of(n) for n in index.names]
    result = train_head(index.raw, labels, TrainConfig(seed=seed, max_epochs=10, learning_rate=0.01))
    registry.save_head(settings.features, "h", result.projection, {
        "base_descriptor": "gap+l2", "set": "animals",
        "metrics": {"baseline": {"mAP": 0.5}, "trained": {"mAP": 0.6}}, "beats_baseline": True,
    })
    return result.best_epoch


def _root(tmp_path):
    settings, manager = demo_root(tmp_path, {})
    names = make_images(tmp_path, "animals", 48, prefix="ani")
    # Vectors around one centre per sub-folder, so that training on the folders learns something.
    rng = np.random.default_rng(2)
    centres = rng.normal(size=(2, DIM))
    vectors = np.array([centres[int(n.startswith("sub/"))] + rng.normal(size=DIM) for n in names], np.float32)
    write_store(settings, "animals", names, vectors, descriptor="gap+l2")
    manager.set("animals", state="indexed", count=48)
    return settings, manager


def _points(user, marker: str) -> dict[str, tuple[float, float]]:
    options = only(user, marker).options
    return {p[2]: (p[0], p[1]) for s in options["series"] if s["type"] == "scatter" for p in s["data"]}


async def test_before_and_after_maps_show_the_same_images_and_follow_a_retrained_head(tmp_path):
    settings, manager = _root(tmp_path)
    assert _train(settings, seed=0) > 0  # a head that moved away from the untrained space
    async with gui_app(settings, manager) as (_, user):
        await user.open("/atlas?set=animals&head=h")
        await user.should_see(marker="atlas-after", retries=300)  # mapped off the event loop
        before, after = _points(user, "atlas-before"), _points(user, "atlas-after")
        assert set(before) == set(after) and len(before) == 48
        assert not np.allclose([before[n] for n in sorted(before)], [after[n] for n in sorted(after)],
                               atol=1e-3)
        series = {s["name"] for s in only(user, "atlas-after").options["series"]}
        assert series == {"sub", "(top level)"}  # coloured by sub-folder, the labels
        # Retrained under the same name: the page maps the new head, never the kept map of the old one.
        assert _train(settings, seed=7) == 0  # this one kept the identity: another head, other weights
        await user.open("/atlas?set=animals&head=h")
        await user.should_see(marker="atlas-after", retries=300)
        retrained = _points(user, "atlas-after")
        assert set(retrained) == set(after)
        assert not np.allclose([retrained[n] for n in sorted(after)], [after[n] for n in sorted(after)],
                               atol=1e-3)
        assert _points(user, "atlas-before") == before  # the untrained map is the kept one
        atlas_files = sorted(p.name for p in (settings.features / ".atlas").iterdir())
        assert sum(".head-h-" in name for name in atlas_files if name.endswith(".npz")) == 2


async def test_an_unknown_head_says_so_and_the_results_page_links_to_the_maps(tmp_path):
    settings, manager = _root(tmp_path)
    _train(settings, seed=0)
    async with gui_app(settings, manager) as (_, user):
        await user.open("/atlas?set=animals&head=nope")
        await user.should_see("No such trained head")
        await user.should_see("no trained head 'nope'")
        await user.open("/similar?key_set=animals&image=ani001.png&set=animals&head=h")
        await user.should_see(marker="head-atlas")
        assert only(user, "head-atlas").props["href"] == "/atlas?set=animals&head=h"


def test_the_cli_draws_both_panels_and_lists_both_maps_of_the_same_images(tmp_path, capsys):
    import json

    from simages.cli import main

    settings, _ = _root(tmp_path)
    _train(settings, seed=0)
    root = ["--root", str(tmp_path), "--descriptor", "head:h"]
    output = tmp_path / "map.png"
    assert main([*root, "atlas", "animals", "--output", str(output)]) == 0
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    with Image.open(output) as image:
        assert image.width > image.height * 1.5  # two panels side by side
    capsys.readouterr()
    assert main([*root, "atlas", "animals", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["head"] == "h" and len(out["images"]) == 48
    before = np.array([[i["x"], i["y"]] for i in out["images"]])
    after = np.array([[i["head_x"], i["head_y"]] for i in out["images"]])
    assert not np.allclose(before, after, atol=1e-3)
    with pytest.raises(SystemExit) as exited:  # refused where --descriptor is parsed, for every command
        main(["--root", str(tmp_path), "--descriptor", "head:nope", "atlas", "animals"])
    assert exited.value.code == 2
    assert "no trained head 'nope'" in capsys.readouterr().err


def test_simages_train_says_where_to_see_the_set_before_and_after(tmp_path, capsys):
    from simages.cli import main
    from simages.settings import Settings
    from tests.test_training import write_store as write_plain_store

    settings = Settings(root=tmp_path)
    rng = np.random.default_rng(4)
    names = [f"c{i % 2}/{i:03d}.png" for i in range(24)]  # two classes: sub-folders c0 and c1
    vectors = np.array([(3.0 if n.startswith("c1") else -3.0) + rng.normal(size=DIM) for n in names],
                       np.float32)
    write_plain_store(settings, "animals", names, vectors, "gap+l2")
    assert main(["--root", str(tmp_path), "train", "animals", "--name", "h2"]) == 0
    out = capsys.readouterr().out
    assert "--descriptor head:h2 atlas animals --output map.png" in out
    assert "/atlas?set=animals&head=h2" in out
