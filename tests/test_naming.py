"""Names from users and URLs never reach outside image_sets/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from simages.naming import InvalidName, image_path, list_sets, set_dir, validate_image_name, validate_set_name


@pytest.mark.parametrize("name", ["", ".", "..", ".hidden", "a/b", "a\x00b", "x" * 300])
def test_bad_set_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidName):
        validate_set_name(name)


@pytest.mark.parametrize(
    "name",
    ["../x.jpg", "/etc/passwd", "a/../../x.jpg", "a/./b.jpg", ".git/config", "a/\x00/b.jpg", "a//b.jpg"],
)
def test_bad_image_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidName):
        validate_image_name(name)


def test_odd_but_valid_names_resolve_inside_their_set(tmp_path: Path) -> None:
    folder = tmp_path / "image_sets" / "holiday 2024"
    (folder / "sub dir").mkdir(parents=True)
    for name in ("a #1?.jpg", "100% ünïcode.png", "sub dir/x.jpg"):
        (folder / name).write_bytes(b"x")
        assert image_path(tmp_path / "image_sets", "holiday 2024", name).is_file()
    assert list_sets(tmp_path / "image_sets") == ["holiday 2024"]


def test_symlinks_leading_outside_are_not_served(tmp_path: Path) -> None:
    outside = tmp_path / "secret.jpg"
    outside.write_bytes(b"x")
    folder = tmp_path / "image_sets" / "s"
    folder.mkdir(parents=True)
    os.symlink(outside, folder / "link.jpg")
    os.symlink(tmp_path, tmp_path / "image_sets" / "escape")  # a link to the folder holding image_sets/
    with pytest.raises(LookupError):
        image_path(tmp_path / "image_sets", "s", "link.jpg")
    with pytest.raises(LookupError, match="holding image_sets/ itself"):
        set_dir(tmp_path / "image_sets", "escape")
    assert list_sets(tmp_path / "image_sets") == ["s"]


def test_a_folder_linked_into_image_sets_is_a_set_whose_images_stay_inside_it(tmp_path: Path) -> None:
    # Review finding 6: a curator links ~/Pictures into image_sets/; the CLI, the indexer and the app all
    # use set_dir / list_sets / image_path, so this one rule decides for all of them.
    pictures = tmp_path / "home" / "Pictures"
    (pictures / "2024").mkdir(parents=True)
    (pictures / "2024" / "beach.jpg").write_bytes(b"x")
    secret = tmp_path / "home" / "secret.jpg"
    secret.write_bytes(b"x")
    os.symlink(secret, pictures / "leak.jpg")  # a link inside the linked set, leading out of it
    image_sets = tmp_path / "root" / "image_sets"
    image_sets.mkdir(parents=True)
    os.symlink(pictures, image_sets / "pictures")
    os.symlink(tmp_path / "nowhere", image_sets / "broken")
    assert list_sets(image_sets) == ["pictures"]
    assert set_dir(image_sets, "pictures") == image_sets / "pictures"
    assert image_path(image_sets, "pictures", "2024/beach.jpg").resolve() == pictures / "2024" / "beach.jpg"
    for name in ("leak.jpg", "../secret.jpg"):
        with pytest.raises((LookupError, ValueError)):
            image_path(image_sets, "pictures", name)
    with pytest.raises(LookupError):
        set_dir(image_sets, "broken")
