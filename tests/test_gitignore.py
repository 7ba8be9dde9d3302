"""A checkout stays clean while it is used: the user's own sets in image_sets/ (and what SIMages writes)
are ignored by git, while the demo set the repository ships stays tracked (walk 3: `git status` listed the
user's set folders as untracked)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def ignored(path: str) -> bool:
    """Whether git ignores `path` (relative to the repository) by the repository's own .gitignore."""
    done = subprocess.run(["git", "check-ignore", "--no-index", "-q", path], cwd=ROOT, check=False)
    assert done.returncode in (0, 1), f"git check-ignore failed for {path}"
    return done.returncode == 0


@pytest.mark.parametrize("path", [
    "image_sets/inbox/IMG_0001.jpg", "image_sets/archive/beach/1_100.jpg", "image_sets/My Photos/a.png",
    "image_sets/notes.txt", "features/inbox.npz", "quarantine/plan-1/inbox/IMG_0001.jpg",
])
def test_the_users_sets_and_what_simages_writes_are_ignored(path):
    assert ignored(path)


@pytest.mark.parametrize("path", [
    "image_sets/demo/cats/chelsea.jpg", "image_sets/demo/textures/new_texture.jpg", "features/.gitkeep",
    "simages/wording.py",
])
def test_the_demo_set_and_the_code_are_not(path):
    assert not ignored(path)
