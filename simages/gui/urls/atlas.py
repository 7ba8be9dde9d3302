"""Atlas links (`/atlas`): a set's map, with a key marked or a trained head beside it, and a join's map."""

from __future__ import annotations

from urllib.parse import urlencode


def atlas_url(set_name: str, key: str | None = None, head: str | None = None) -> str:
    params = {"set": set_name} | ({"key": key} if key else {}) | ({"head": head} if head else {})
    return "/atlas?" + urlencode(params, encoding="utf-8", errors="surrogateescape")


def join_atlas_url(params: dict[str, str]) -> str:
    return "/atlas?" + urlencode(params, encoding="utf-8", errors="surrogateescape")
