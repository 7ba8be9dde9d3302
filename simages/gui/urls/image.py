"""Image URLs the pages draw: `/image?set=S&name=N[&v=VERSION][&size=full]` or `/image?upload=ID`.

Kept apart from the route (`simages.gui.routes.image`) so the thumbnail cache, which builds these URLs,
does not import the route that serves them.
"""

from __future__ import annotations

from simages.naming import url_quote


def _image_url(set_name: str, image: str, version: str, full: bool) -> str:
    query = f"/image?set={url_quote(set_name)}&name={url_quote(image)}"
    if version:
        query += f"&v={url_quote(version)}"
    return query + ("&size=full" if full else "")


def thumb_url(set_name: str, image: str, version: str = "") -> str:
    """The thumbnail URL; pages pass the file's version (use `ThumbnailCache.url`)."""
    return _image_url(set_name, image, version, full=False)


def full_url(set_name: str, image: str, version: str = "") -> str:
    """The full-size image URL; pages pass the file's version (use `ThumbnailCache.url(..., full=True)`)."""
    return _image_url(set_name, image, version, full=True)


def upload_url(upload_id: str) -> str:
    return f"/image?upload={url_quote(upload_id)}"
