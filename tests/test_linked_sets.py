"""A folder linked into image_sets/ (a curator's ~/Pictures) is a set for the CLI and the app alike
(review finding 6: the CLI used it while the app said "No such image set")."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from simages.cli import main
from tests.gui_fixtures import demo_root, gui_app


def link_out(root: Path, set_name: str, elsewhere: Path) -> Path:
    """Move the set's folder out of image_sets/ and link it back in, as `ln -s ~/Pictures image_sets/x`."""
    target = elsewhere / set_name
    shutil.move(root / "image_sets" / set_name, target)
    os.symlink(target, root / "image_sets" / set_name)
    return target


async def test_a_linked_set_is_listed_searched_and_served_by_the_app(tmp_path):
    settings, manager = demo_root(tmp_path / "root")
    link_out(settings.root, "plants", tmp_path)
    image = next(p.name for p in sorted((tmp_path / "plants").iterdir()) if p.suffix == ".png")
    async with gui_app(settings, manager) as (_, user):
        await user.open("/")
        await user.should_see("plants")
        await user.open(f"/similar?key_set=plants&image={image}&set=plants")
        await user.should_not_see("No such image set")
        await user.should_see(f"plants / {image}")


def test_the_cli_searches_the_same_linked_set(tmp_path, capsys):
    settings, _ = demo_root(tmp_path / "root")
    link_out(settings.root, "plants", tmp_path)
    image = next(p.name for p in (tmp_path / "plants").iterdir() if p.suffix == ".png")
    assert main(["--root", str(settings.root), "query", f"plants/{image}", "--set", "plants",
                 "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["set"] == "plants"
