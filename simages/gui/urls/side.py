"""Side-by-side links (`/side`): one key, the set searched and each side's setting."""

from __future__ import annotations

from urllib.parse import urlencode

from simages.operations.compare import Setting


def side_url(key_set: str, image: str, join_set: str, left: Setting, right: Setting) -> str:
    params = {"key_set": key_set, "image": image, "set": join_set}
    for prefix, setting in (("l", left), ("r", right)):
        params.update({f"{prefix}_metric": setting.metric, f"{prefix}_predicate": setting.predicate})
        if setting.param:
            params[f"{prefix}_param"] = setting.param
        if setting.view:
            params[f"{prefix}_view"] = setting.view
    return "/side?" + urlencode(params, encoding="utf-8", errors="surrogateescape")
