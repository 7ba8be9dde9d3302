"""The one route serving images: `/image?set=S&name=N[&v=VERSION][&size=full]` or `/image?upload=ID`.

Names are validated by `simages.naming` (inside their set, no '..', no hidden files); a bad name is a 400,
a missing set or image a 404, an undecodable file a 415 -- short text, never a stack trace.

Names travel as their percent-encoded file-system bytes (`naming.url_quote`), and this route reads its
query string itself with the inverse (`naming.url_unquote`): a file name that is not UTF-8 reaches the
same file instead of being mangled by the server's UTF-8 decoding. Pages ask for `v`, the file's version
(`ThumbnailCache.url`): such a URL names one version of one file, so it is cached for good, and a file
replaced in place gets a new URL. When a versioned image has been deleted since the page was drawn, the
answer is still a 404, with a small picture saying so instead of a broken image.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, PlainTextResponse, Response

from simages.extraction.image_errors import UnreadableImage
from simages.gui.context import GuiContext
from simages.naming import InvalidName

# A versioned URL never shows other bytes, so browsers may keep it; an unversioned one is checked each time
# (a cheap 304 thanks to the ETag of the file response).
_CACHE_VERSIONED = {"Cache-Control": "private, max-age=31536000, immutable"}
_CACHE_UNVERSIONED = {"Cache-Control": "no-cache"}
_NO_STORE = {"Cache-Control": "no-store"}
_DELETED_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="256" height="192" viewBox="0 0 256 192">'
    '<rect width="256" height="192" fill="#eeeeee"/>'
    '<text x="128" y="90" font-family="sans-serif" font-size="18" text-anchor="middle" fill="#666666">'
    "image deleted</text>"
    '<text x="128" y="116" font-family="sans-serif" font-size="12" text-anchor="middle" fill="#888888">'
    "no longer in its set</text></svg>"
)


def serve_image(
    ctx: GuiContext, set_name: str, name: str, size: str, upload: str, version: str = ""
) -> Response:
    if upload:
        item = ctx.uploads.get(upload)
        if item is None:
            return PlainTextResponse("this upload has expired; upload the image again", status_code=404)
        return Response(item.thumbnail, media_type="image/jpeg", headers=_CACHE_VERSIONED)
    if size not in ("thumb", "full"):
        return PlainTextResponse("size must be thumb or full", status_code=400)
    cache = _CACHE_VERSIONED if version else _CACHE_UNVERSIONED
    try:
        if version and ctx.thumbnails.version(set_name, name) != version:
            # The page was drawn for another version: serve the current one, but never let it be cached
            # under the old version's URL.
            cache = _NO_STORE
        if size == "full":
            shown = ctx.thumbnails.full(set_name, name)
            if isinstance(shown, bytes):
                return Response(shown, media_type="image/jpeg", headers=cache)
            return FileResponse(shown, headers=cache)
        thumbnail = ctx.thumbnails.thumbnail(set_name, name)
        if isinstance(thumbnail, bytes):  # the cache folder cannot be written: made in memory
            return Response(thumbnail, media_type="image/jpeg", headers=cache)
        return FileResponse(thumbnail, media_type="image/jpeg", headers=cache)
    except InvalidName as error:
        return PlainTextResponse(str(error), status_code=400)
    except (LookupError, FileNotFoundError) as error:
        if version:
            return Response(_DELETED_SVG, status_code=404, media_type="image/svg+xml", headers=_NO_STORE)
        return PlainTextResponse(str(error) or "no such image", status_code=404)
    except UnreadableImage as error:
        return PlainTextResponse(f"cannot show this image: {error}", status_code=415)


def query_values(request: Request) -> dict[str, str]:
    """The request's query parameters, decoded with `naming.url_unquote`'s rule (bytes that are not UTF-8
    kept as surrogate escapes); the last value wins for a repeated key. Never raises."""
    raw = request.scope.get("query_string", b"").decode("latin-1")
    return dict(parse_qsl(raw, keep_blank_values=True, encoding="utf-8", errors="surrogateescape"))


def register_image_route(app: FastAPI, ctx: GuiContext) -> None:
    # A plain `def`: FastAPI runs it in its thread pool, so making thumbnails never blocks the event loop.
    def image(request: Request) -> Response:
        params = query_values(request)
        return serve_image(
            ctx,
            params.get("set", ""),
            params.get("name", ""),
            params.get("size", "thumb"),
            params.get("upload", ""),
            params.get("v", ""),
        )

    app.add_api_route("/image", image, methods=["GET"], include_in_schema=False)
