"""The write-ahead journal of a triage: every step is on disk before the file it concerns is touched.

One JSON record per line in ROOT/quarantine/<plan id>/journal.jsonl, each written with one `write` and
flushed with `fsync` before the step it announces starts:

    {"op": "apply"}                      an apply starts (or resumes)
    {"op": "move", "n": i}               move i of the plan is about to move (intent)
    {"op": "moved", "n": i}              ... and has moved (done)
    {"op": "skip", "n": i, "reason": r}  ... was not moved, and why
    {"op": "stopped", "reason": r}       the apply stopped before its end (a full disk...); rerun resumes
    {"op": "applied"}                    every move is moved or skipped
    {"op": "undo"}                       an undo starts (or resumes)
    {"op": "restore", "n": i}            moved file i is about to go back (intent)
    {"op": "restored", "n": i}           ... and is back, byte-identical
    {"op": "kept", "n": i, "reason": r}  ... stays in the quarantine folder, and why
    {"op": "undone"}                     every moved file is restored or kept

A kill -9 can leave a half-written last line: it is ignored (its step had not started). Replaying the
records gives each move's state; an intent without its outcome is the one step that may be half-done,
and `simages.triage.quarantine` finishes it from what is on disk.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

JOURNAL_NAME = "journal.jsonl"

# States of one move, replayed from the records.
PENDING, MOVING, MOVED, SKIPPED, RESTORING, RESTORED, KEPT = (
    "pending", "moving", "moved", "skipped", "restoring", "restored", "kept")


@dataclass
class JournalState:
    """What the records say: each move's state and reason, and how far the apply/undo got."""

    states: dict[int, str] = field(default_factory=dict)
    reasons: dict[int, str] = field(default_factory=dict)
    applying: bool = False   # an apply was started
    applied: bool = False    # ... and reached its end
    undoing: bool = False
    undone: bool = False
    stopped: str | None = None
    started_at: float = 0.0  # when the first apply began (seconds since the epoch)

    def state(self, n: int) -> str:
        return self.states.get(n, PENDING)

    def in_flight(self) -> list[int]:
        """Moves whose intent is written but not their outcome: at most one after a kill."""
        return sorted(n for n, s in self.states.items() if s in (MOVING, RESTORING))

    def count(self, *states: str) -> int:
        return sum(1 for s in self.states.values() if s in states)


class Journal:
    """Appends fsync'd records to one journal file; `replay` reads them back."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, op: str, **fields: object) -> None:
        """Write one record and flush it to the disk (OSError, e.g. ENOSPC, when it cannot be: the step it
        announces must then not start)."""
        record = {"op": op, "at": round(time.time(), 3), **fields}
        line = (json.dumps(record, ensure_ascii=True) + "\n").encode("ascii")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            written = os.write(fd, line)
            if written != len(line):
                raise OSError(28, "No space left on device (short write to the journal)")
            os.fsync(fd)
        finally:
            os.close(fd)

    def records(self) -> list[dict]:
        """Every complete record; a torn last line (a kill during its write) is left out."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        records = []
        for line in raw.split(b"\n"):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if isinstance(record, dict) and isinstance(record.get("op"), str):
                records.append(record)
        return records

    def replay(self) -> JournalState:
        state = JournalState()
        for record in self.records():
            op, n = record["op"], record.get("n")
            if op == "apply":
                state.applying = True
                state.stopped = None
                state.started_at = state.started_at or float(record.get("at", 0))
            elif op == "applied":
                state.applied = True
            elif op == "stopped":
                state.stopped = str(record.get("reason", ""))
            elif op == "undo":
                state.undoing = True
            elif op == "undone":
                state.undone = True
            elif isinstance(n, int):
                outcome = {"move": MOVING, "moved": MOVED, "skip": SKIPPED, "restore": RESTORING,
                           "restored": RESTORED, "kept": KEPT}.get(op)
                if outcome is not None:
                    state.states[n] = outcome
                    if "reason" in record:
                        state.reasons[n] = str(record["reason"])
        return state
