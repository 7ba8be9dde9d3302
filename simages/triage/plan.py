"""A triage plan: which files to move to the quarantine folder, and why; written before anything moves.

A plan names files by set and image name (never by path), records each file's size, modification time and
whole-file digest when the plan was made, so that applying it later skips a file that changed or vanished
meanwhile, and names the copy that is kept in its place (its digest too: a plan never moves a copy whose
keeper has gone). It is exported as JSON (the form `simages triage --apply` reads), as CSV, and as a shell
script of `mv` commands (a dry run a user can read or run by hand).

Names with bytes that are not UTF-8 are Python str with surrogate escapes (simages.naming); JSON carries
them as `\\udcXX` escapes, which Python reads back to the same name.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import secrets
import shlex
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from simages.naming import display_name, validate_image_name, validate_set_name
from simages.store.content_hash import file_digest

PLAN_FORMAT = "simages-triage-plan"
PLAN_VERSION = 1
_PLAN_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]{0,80}$")


class PlanError(ValueError):
    """A plan file that cannot be used; the message is meant for the user."""


@dataclass(frozen=True)
class Move:
    """One file to move to the quarantine folder.

    set/image: the file (image_sets/<set>/<image>); size (bytes), mtime_ns and digest (BLAKE2b-128 hex,
    store.content_hash.file_digest) as the plan saw it; keeper: the qualified `set/image` kept instead
    (None: nothing required to stay), keeper_digest its digest; level and score: how the copy matched;
    reason: one line for people."""

    set: str
    image: str
    size: int
    mtime_ns: int
    digest: str
    keeper: str | None = None
    keeper_digest: str | None = None
    level: str = ""
    score: float | None = None
    reason: str = ""

    @property
    def qualified(self) -> str:
        return f"{self.set}/{self.image}"


@dataclass(frozen=True)
class Plan:
    """The moves of one triage, under an id that names its quarantine folder (ROOT/quarantine/<id>/)."""

    id: str
    created: str
    moves: tuple[Move, ...] = field(default_factory=tuple)

    def to_json(self) -> dict:
        return {"format": PLAN_FORMAT, "version": PLAN_VERSION, "id": self.id, "created": self.created,
                "moves": [asdict(move) for move in self.moves]}

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2) + "\n"

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["set", "image", "level", "score", "keeper", "size", "reason"])
        for m in self.moves:
            writer.writerow([display_name(m.set), display_name(m.image), m.level,
                             "" if m.score is None else f"{m.score:.6f}",
                             "" if m.keeper is None else display_name(m.keeper), m.size, m.reason])
        return out.getvalue()

    def to_shell(self, root: Path) -> bytes:
        """A POSIX shell script of `mv -n` commands doing what applying the plan does, minus the journal,
        the content checks and the undo (a dry run to read; `simages triage --apply` is the safe way).
        Bytes, because file names may hold bytes that are not UTF-8."""
        lines = [b"#!/bin/sh",
                 b"# Dry run of simages triage plan " + self.id.encode() + b": what --apply would",
                 b"# move. Prefer `simages triage --apply PLAN`: it checks each file, journals and can undo.",
                 b"set -e"]
        for m in self.moves:
            source = quarantine_source(root, m)
            target = quarantine_target(root, self.id, m)
            lines.append(b"mkdir -p -- " + _shell_quote(os.fsencode(target.parent)))
            lines.append(b"mv -n -- " + _shell_quote(os.fsencode(source)) + b" "
                         + _shell_quote(os.fsencode(target)))
        return b"\n".join(lines) + b"\n"


def new_plan_id() -> str:
    """A fresh id: UTC time plus random hex, sortable by creation time."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def quarantine_source(root: Path, move: Move) -> Path:
    """Where the file lives in the collection: ROOT/image_sets/<set>/<image>."""
    return root / "image_sets" / move.set / Path(*move.image.split("/"))


def quarantine_target(root: Path, plan_id: str, move: Move) -> Path:
    """Where applying the plan puts it: ROOT/quarantine/<plan id>/<set>/<image>."""
    return root / "quarantine" / plan_id / move.set / Path(*move.image.split("/"))


def parse_plan(text: str) -> Plan:
    """A plan from its JSON; PlanError saying what is wrong (names are validated like any request)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise PlanError(f"the plan is not valid JSON: {error}") from None
    if not isinstance(data, dict) or data.get("format") != PLAN_FORMAT:
        raise PlanError(f"not a SIMages triage plan (no \"format\": \"{PLAN_FORMAT}\")")
    if data.get("version") != PLAN_VERSION:
        raise PlanError(f"plan version {data.get('version')!r} is not supported (this SIMages reads "
                        f"version {PLAN_VERSION})")
    plan_id = data.get("id")
    if not isinstance(plan_id, str) or not _PLAN_ID.match(plan_id):
        raise PlanError("the plan's id must be letters, digits, '-' or '_'")
    moves = []
    seen: set[tuple[str, str]] = set()
    for number, raw in enumerate(data.get("moves") or [], 1):
        try:
            move = Move(**raw)
            validate_set_name(move.set)
            validate_image_name(move.image)
            if not isinstance(move.digest, str) or not move.digest:
                raise ValueError("no digest")
        except (TypeError, ValueError) as error:
            raise PlanError(f"move {number} of the plan is not valid: {error}") from None
        if (move.set, move.image) in seen:
            raise PlanError(f"move {number} names {display_name(move.qualified)} a second time")
        seen.add((move.set, move.image))
        moves.append(move)
    return Plan(plan_id, str(data.get("created", "")), tuple(moves))


def read_plan(path: Path) -> Plan:
    """A plan file; PlanError if it cannot be read or is not a plan."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PlanError(f"cannot read the plan {path}: {error}") from None
    return parse_plan(text)


def _shell_quote(raw: bytes) -> bytes:
    """One shell word for arbitrary bytes: single quotes, with a quote written as '\\''."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return b"'" + raw.replace(b"'", b"'\\''") + b"'"
    return shlex.quote(text).encode("ascii")


def planned_move(root: Path, set_name: str, image: str, keeper: str | None = None, level: str = "",
                 score: float | None = None, reason: str = "") -> Move:
    """A Move for image_sets/<set_name>/<image> as it is now (size, mtime, digest), with the keeper's
    digest when a keeper (`set/image`) is named. OSError if either file cannot be read."""
    source = root / "image_sets" / set_name / Path(*image.split("/"))
    stat = os.stat(source)
    keeper_digest = None
    if keeper is not None:
        keeper_set, _, keeper_image = keeper.partition("/")
        keeper_digest = file_digest(root / "image_sets" / keeper_set / Path(*keeper_image.split("/")))
    return Move(set_name, image, stat.st_size, stat.st_mtime_ns, file_digest(source), keeper, keeper_digest,
                level, score, reason)
