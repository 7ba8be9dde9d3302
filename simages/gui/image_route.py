"""The one route serving images: `/image?set=S&name=N[&size=full]` or `/image?upload=ID`.

Names are validated by `simages.naming` (inside their set, no '..', no hidden files); a bad name is a 400,
a missing set or image a 404, an undecodable file a 415 -- short text, never a stack trace.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import FastAPI
from fastapi.responses import FileResponse, PlainTextResponse, Response

from simages.extraction.images import UnreadableImage
from simages.gui.context import GuiContext
from simages.naming import InvalidName

# Thumbnails are named by content fingerprint, so a URL's bytes only change when the image does; an hour
# of caching keeps paging back and forth instant while a replaced image still shows up soon.
_CACHE = {"Cache-Control": "private, max-age=3600"}


def thumb_url(set_name: str, image: str) -> str:
    return "/image?" + urlencode({"set": set_name, "name": image})


def full_url(set_name: str, image: str) -> str:
    return "/image?" + urlencode({"set": set_name, "name": image, "size": "full"})


def upload_url(upload_id: str) -> str:
    return "/image?" + urlencode({"upload": upload_id})


def serve_image(ctx: GuiContext, set_name: str, name: str, size: str, upload: str) -> Response:
    if upload:
        item = ctx.uploads.get(upload)
        if item is None:
            return PlainTextResponse("this upload has expired; upload the image again", status_code=404)
        return Response(item.thumbnail, media_type="image/jpeg", headers=_CACHE)
    if size not in ("thumb", "full"):
        return PlainTextResponse("size must be thumb or full", status_code=400)
    try:
        if size == "full":
            return FileResponse(ctx.thumbnails.full(set_name, name), headers=_CACHE)
        return FileResponse(ctx.thumbnails.thumbnail(set_name, name), media_type="image/jpeg", headers=_CACHE)
    except InvalidName as error:
        return PlainTextResponse(str(error), status_code=400)
    except (LookupError, FileNotFoundError) as error:
        return PlainTextResponse(str(error) or "no such image", status_code=404)
    except UnreadableImage as error:
        return PlainTextResponse(f"cannot show this image: {error}", status_code=415)


def register_image_route(app: FastAPI, ctx: GuiContext) -> None:
    # A plain `def`: FastAPI runs it in its thread pool, so making thumbnails never blocks the event loop.
    def image(set: str = "", name: str = "", size: str = "thumb", upload: str = "") -> Response:
        return serve_image(ctx, set, name, size, upload)

    app.add_api_route("/image", image, methods=["GET"], include_in_schema=False)
