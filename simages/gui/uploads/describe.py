"""Describing an uploaded key image: saved to a temporary file outside image_sets/, described by the
index manager's worker with the app's settings, then forgotten on disk (only vector and thumbnail stay)."""

from __future__ import annotations

import asyncio
import hashlib
import re
import tempfile
from pathlib import Path, PurePath

from simages.copies.changes import image_facts
from simages.extraction.image_errors import UnreadableImage
from simages.extraction.images import displayed_size
from simages.gui.context import GuiContext
from simages.gui.routes.thumbnails import render_jpeg
from simages.gui.uploads.store import UploadedKey

# The browser names the file; only a plain extension of it is kept (decoders sniff the format by it), so a
# name with '/', '\\', NUL or '..' can neither place the temporary file elsewhere nor make the write fail.
_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,9}$")


async def describe_uploaded(ctx: GuiContext, filename: str, data: bytes) -> UploadedKey:
    """Store an uploaded image as a key; UnreadableImage (with a message for the user) if it is not one."""
    if len(data) > ctx.max_upload_bytes:
        # Checked here as well as in the browser (ui.upload's max_file_size): a direct POST skips the latter.
        raise UnreadableImage(f"the file is larger than the {ctx.max_upload_bytes // (1024 * 1024)} MB limit")
    suffix = PurePath(filename).suffix
    suffix = suffix if _SUFFIX.match(suffix) else ".img"
    with tempfile.TemporaryDirectory(prefix="simages-upload-") as folder:
        path = Path(folder) / f"upload{suffix}"
        path.write_bytes(data)
        # The thumbnail doubles as the early "is this an image?" check, before the network is asked.
        thumbnail = await asyncio.to_thread(render_jpeg, path, ctx.settings.max_image_pixels, 512)
        # Turned and mirrored too, in the same batch: a duplicates search finds a copy shown sideways and
        # says it was turned or mirrored (simages.copies.turns). A manager that cannot gives the key alone.
        describe_oriented = getattr(ctx.manager, "describe_upload_oriented", None)
        oriented = None
        if describe_oriented is not None:
            oriented = await describe_oriented(path)
            vector = oriented[0]
        else:
            vector = await ctx.manager.describe_upload(path)
        # The original's displayed size: the viewer shows it, as only a 512-pixel copy of an upload is kept.
        width, height = displayed_size(path) or (None, None)
        facts = image_facts(path)
    return ctx.uploads.add(PurePath(filename).name or "upload", vector, thumbnail, width=width, height=height,
                           size_bytes=len(data), oriented=oriented, format=facts.format if facts else "",
                           sha256=hashlib.sha256(data).hexdigest())

