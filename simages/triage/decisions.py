"""Decisions a curator made about copies, remembered per root: "not a duplicate" and "keep both".

Kept in ROOT/features/triage-decisions.json (written atomically), by qualified image names (`set/image`),
so they survive restarts and re-indexing. A decision covers a pair or a whole group (every pair inside
it); a pair it covers is left out of later triage answers and plans. Each decision has an id so it can be
listed and undone (`simages triage --decisions`, `--forget ID`).
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from simages.store.atomic import write_atomically

DECISIONS_FILE = "triage-decisions.json"
KINDS = ("not-duplicate", "keep-both")


@dataclass(frozen=True)
class Decision:
    """kind: "not-duplicate" (the images are different photos) or "keep-both" (copies, all kept);
    images: the qualified names it covers (2 or more, sorted); at: when (seconds since the epoch)."""

    id: str
    kind: str
    images: tuple[str, ...]
    at: float

    def covers(self, a: str, b: str) -> bool:
        return a != b and a in self.images and b in self.images


class Decisions:
    """The decisions of one root. Reads the file at each call (another process may have changed it)."""

    def __init__(self, root: Path) -> None:
        self.path = root / "features" / DECISIONS_FILE

    def all(self) -> list[Decision]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as error:
            raise ValueError(f"cannot read the remembered decisions {self.path}: {error}") from None
        return [Decision(d["id"], d["kind"], tuple(d["images"]), float(d["at"]))
                for d in data.get("decisions", [])]

    def add(self, kind: str, images: list[str]) -> Decision:
        """Remember a decision about a pair or group; ValueError: an unknown kind, fewer than 2 images."""
        if kind not in KINDS:
            raise ValueError(f"unknown decision {kind!r}; choose {' or '.join(KINDS)}")
        names = tuple(sorted(set(images)))
        if len(names) < 2:
            raise ValueError("a decision is about two images or more")
        decision = Decision(secrets.token_hex(4), kind, names, round(time.time(), 3))
        with self._locked():
            self._save([*self.all(), decision])
        return decision

    def forget(self, decision_id: str) -> Decision:
        """Undo one decision; LookupError if there is no such id."""
        with self._locked():
            current = self.all()
            gone = [d for d in current if d.id == decision_id]
            if not gone:
                raise LookupError(f"no remembered decision with id {decision_id!r}")
            self._save([d for d in current if d.id != decision_id])
        return gone[0]

    def covering(self, a: str, b: str) -> Decision | None:
        """The decision that covers the pair, if any."""
        return next((d for d in self.all() if d.covers(a, b)), None)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        # Two tabs or a tab and the CLI deciding at once: each read-modify-write sees the other's result.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _save(self, decisions: list[Decision]) -> None:
        data = {"decisions": [{"id": d.id, "kind": d.kind, "images": list(d.images), "at": d.at}
                              for d in decisions]}
        text = json.dumps(data, indent=2, ensure_ascii=True) + "\n"
        write_atomically(self.path, lambda out: out.write(text.encode("ascii")))
