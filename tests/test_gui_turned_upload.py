"""An uploaded key searched for duplicates on the results page is also searched turned by 90/180/270
degrees (as `simages query FILE --intent duplicates`), and the page says which copies were found turned
and what changed."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps

from simages.extraction.images import open_rgb
from simages.gui.uploads.describe import describe_uploaded
from simages.nearest.core.intents import DUPLICATES
from simages.settings import Settings
from tests.gui_fixtures import FakeManager, gui_app, make_images, write_store


def descriptor(image: Image.Image) -> np.ndarray:
    """A stand-in descriptor that sees the test images' colour and the direction of their gradient."""
    small = np.asarray(image.convert("RGB").resize((2, 2), Image.Resampling.BOX), np.float32) / 255.0
    return np.array([small[0, 0, 0], small[0, 0, 1], small[0, 1, 1], small[1, 0, 1], small[1, 1, 1],
                     small[0, 0, 2], small[1, 1, 0], small[1, 1, 2]], np.float32) + 2.0


class Describer(FakeManager):
    async def describe_upload(self, path):
        return descriptor(open_rgb(path))

    async def describe_upload_oriented(self, path):
        image = open_rgb(path)
        turns = [image.transpose(t) for t in (Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180,
                                              Image.Transpose.ROTATE_270)]
        return np.stack([descriptor(i) for i in (image, *turns, ImageOps.mirror(image))])


def collection(tmp_path):
    settings = Settings(root=tmp_path)
    manager = Describer(settings)
    names = make_images(tmp_path, "mine", 24, prefix="img")
    folder = settings.image_sets / "mine"
    vectors = np.stack([descriptor(open_rgb(folder / n)) for n in names])
    write_store(settings, "mine", names, vectors, descriptor="gap+l2")  # 24 images: a duplicates space
    manager.set("mine", state="indexed", count=24)
    return settings, manager, folder, names


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def test_a_sideways_upload_is_found_turned_and_the_page_says_so(tmp_path):
    settings, manager, folder, names = collection(tmp_path)
    target = names[5]
    sideways = Image.open(folder / target).transpose(Image.Transpose.ROTATE_90)
    async with gui_app(settings, manager) as (ctx, user):
        item = await describe_uploaded(ctx, "sideways.png", png(sideways))
        assert item.oriented is not None and item.oriented.shape[0] == 5
        await user.open(f"/similar?set=mine&upload={item.id}&intent=duplicates")
        await user.should_see(marker=f"result:{target}", retries=50)
        await user.should_see(marker=f"turned:{target}")
        # The upload is the photo turned a quarter turn counter-clockwise (PIL's ROTATE_90): said so, from
        # the key's side, not as the turn that found it (270°).
        await user.should_see("the key is this photo turned 90° counter-clockwise")
        note = user.find(marker="turned-note").elements.pop()
        noted = " ".join(e.text for e in note.descendants() if hasattr(e, "text"))
        assert "below turned 90° counter-clockwise" in noted and "270" not in noted, noted
        changed = user.find(marker=f"changed:{target}").elements.pop().text
        assert changed.startswith(f"changed: the key is {target} turned 90° counter-clockwise"), changed
        # Turned, it is not the same pixels: an edited copy, as the join pairs, the CLI and triage say
        # (exact needs the same pixels; the upload's original is not kept, its bytes' digest is).
        await user.should_see(marker="pair-level:edited")
        await user.should_not_see(marker="pair-level:exact")
        # One grid cell per result, its level, turn and what changed under its own tile: none of them is a
        # cell of the grid by itself.
        grid = user.find(marker="results-grid").elements.pop()
        cells = list(grid.default_slot.children)
        assert cells and all("result-cell" in cell.classes for cell in cells)
        (cell,) = [c for c in cells if f"cell:{target}" in c._markers]
        inside = {marker for e in cell.descendants() for marker in e._markers}
        assert {f"result:{target}", f"turned:{target}", f"changed:{target}", "pair-level:edited"} <= inside
        # The histogram counts each image at the score it is listed with (its best over the turns): the
        # copy found turned is on it, not only the upright key's scores.
        from simages.gui.state.results import search
        from simages.gui.urls.query import from_params

        answered = search(ctx, from_params({"set": "mine", "upload": item.id, "intent": "duplicates"}))
        listed = max(m.score for m in answered.result.matches)
        assert answered.distribution.maximum >= listed - 1e-6
        # Similar images: the key as it is, nothing said about turns.
        await user.open(f"/similar?set=mine&upload={item.id}")
        await user.should_see(marker="results-grid", retries=50)
        await user.should_not_see(marker="turned-note")
        assert ctx.descriptors.get(settings, "mine", DUPLICATES) is not None


async def test_an_upload_as_it_is_is_not_said_to_be_turned(tmp_path):
    settings, manager, folder, names = collection(tmp_path)
    target = names[7]
    async with gui_app(settings, manager) as (ctx, user):
        item = await describe_uploaded(ctx, "same.png", (folder / target).read_bytes())
        await user.open(f"/similar?set=mine&upload={item.id}&intent=duplicates")
        await user.should_see(marker=f"result:{target}", retries=50)
        await user.should_see(marker="pair-level:exact")
        await user.should_not_see(marker=f"turned:{target}")
        await user.should_not_see(marker=f"changed:{target}")  # the same bytes: nothing changed


async def test_the_describer_gives_the_key_turned_and_mirrored_in_one_batch(tmp_path):
    from simages.extraction.network import TinyNetwork
    from simages.jobs.manager import IndexManager
    from tests.imagegen import photo

    settings = Settings(root=tmp_path)
    settings.image_sets.mkdir(parents=True)
    upright = tmp_path / "upright.png"
    photo(3, (96, 64)).save(upright)
    manager = IndexManager(settings, network_factory=TinyNetwork, watch=False, build_atlas=False)
    manager.start([])
    try:
        rows = await manager.describe_upload_oriented(upright)
        plain = await manager.describe_upload(upright)
    finally:
        manager.stop()
    assert rows.shape == (5, plain.shape[0])
    np.testing.assert_allclose(rows[0], plain, atol=1e-5)


def test_turning_the_network_input_is_describing_the_turned_file(weights_path, tmp_path):
    """One decode for five descriptors: the rows equal the descriptors of the turned and mirrored files."""
    from simages.extraction.describe import describe_image_file, describe_image_file_oriented, network_for
    from simages.extraction.descriptor_spec import DescriptorSpec
    from tests.imagegen import photo

    upright = tmp_path / "upright.png"
    photo(3, (120, 80)).save(upright)
    files = [upright]
    for turn in (Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180, Image.Transpose.ROTATE_270):
        files.append(tmp_path / f"{turn.name}.png")
        Image.open(upright).transpose(turn).save(files[-1])
    files.append(tmp_path / "mirrored.png")
    ImageOps.mirror(Image.open(upright)).save(files[-1])
    network, spec = network_for(weights_path), DescriptorSpec.parse("gap+l2")
    rows = describe_image_file_oriented(upright, network, spec)
    each = np.stack([describe_image_file(f, network, spec) for f in files])
    cosines = np.sum(rows * each, axis=1) / np.linalg.norm(rows, axis=1) / np.linalg.norm(each, axis=1)
    assert np.all(cosines > 0.999), cosines
    # ... and the turns are not all alike (VGG-16 is not turn-invariant): the test can tell them apart.
    assert float(rows[0] @ rows[1] / np.linalg.norm(rows[0]) / np.linalg.norm(rows[1])) < 0.99
