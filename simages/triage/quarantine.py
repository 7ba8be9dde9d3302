"""Applying a triage plan (moving copies to the quarantine folder) and undoing it, journaled and resumable.

The quarantine folder is ROOT/quarantine/ (beside image_sets/, so quarantined files are never indexed
again); each plan gets ROOT/quarantine/<plan id>/ holding its plan.json, its journal (journal.py) and the
moved files under <set>/<image>. Nothing is ever deleted: files are moved there and moved back.

Guarantees (tests/test_triage_safety.py):
- one apply or undo at a time per root (an flock on ROOT/quarantine/.lock, released by a kill);
- before anything moves: the quarantine folder is writable and has room for the journal and for every
  file that must be copied across disks, else TriageError and nothing moved;
- each file is moved whole or not at all (moves.transfer); a kill -9 at any point leaves at most one
  step in flight, which the next apply or undo of that plan finishes first: rerunning the apply
  completes it, running the undo rolls it back;
- a file deleted or changed since the plan (by whole-file digest), or whose keeper is gone or changed,
  is skipped with its reason; undo restores each moved file byte-identical (its digest checked) and
  never overwrites a file that has since appeared at its old place (it is then kept in quarantine, with
  the reason).
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from simages.naming import display_name
from simages.store.atomic import write_atomically
from simages.store.content_hash import file_digest
from simages.store.lock import exclusive_lock
from simages.triage.journal import (
    JOURNAL_NAME,
    KEPT,
    MOVED,
    MOVING,
    PENDING,
    RESTORED,
    RESTORING,
    SKIPPED,
    Journal,
    JournalState,
)
from simages.triage.moves import Refused, transfer
from simages.triage.plan import Move, Plan, PlanError, parse_plan, quarantine_source, quarantine_target
from simages.wording import agree, plural

PLAN_NAME = "plan.json"
# Room kept for the journal's records beyond the copied bytes: generous, records are ~200 bytes.
JOURNAL_RESERVE = 64 * 1024
RECORD_RESERVE = 1024
# System errors that stop an apply or undo as a whole (the disk, not the file, is the problem).
_STOPPING = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO, errno.EFBIG}


class TriageError(RuntimeError):
    """An apply or undo that cannot start or go on; the message says why and what was (not) moved."""


@dataclass
class Outcome:
    """What an apply or undo did: files moved (or restored), files left where they were with the reason,
    and whether it stopped before its end (rerun to resume)."""

    plan_id: str
    kind: str                      # "apply" or "undo"
    done: list[Move] = field(default_factory=list)
    skipped: list[tuple[Move, str]] = field(default_factory=list)
    stopped: str | None = None
    already: bool = False          # nothing to do: the plan was applied (undone) before
    total: int = 0

    @property
    def sets(self) -> set[str]:
        """The sets whose folders changed (their stores must follow)."""
        return {move.set for move in self.done}

    def summary(self) -> str:
        places = agree(len(self.done), "its place", "their places")
        verb = "moved to the quarantine folder" if self.kind == "apply" else f"restored to {places}"
        if self.already:
            done = "applied" if self.kind == "apply" else "undone"
            return f"Plan {self.plan_id} was already {done}; nothing to do."
        text = f"{len(self.done)} of {plural(self.total, 'file')} {verb}"
        if self.skipped:
            text += f"; {len(self.skipped)} left where they are"
        text += "."
        if self.stopped:
            text += f" Stopped before the end: {self.stopped}. Run it again to resume."
        return text

    def to_json(self) -> dict:
        return {"plan": self.plan_id, "kind": self.kind, "total": self.total, "already": self.already,
                "done": [move.qualified for move in self.done],
                "skipped": [{"image": move.qualified, "reason": reason} for move, reason in self.skipped],
                "stopped": self.stopped}


@dataclass(frozen=True)
class PlanRecord:
    """One plan found in the quarantine folder: its id, state and counts."""

    id: str
    state: str       # "applying", "applied", "undoing", "undone"
    moved: int
    skipped: int
    restored: int
    total: int
    started_at: float


def quarantine_root(root: Path) -> Path:
    return root / "quarantine"


def plan_folder(root: Path, plan_id: str) -> Path:
    return quarantine_root(root) / plan_id


@contextmanager
def triage_lock(root: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """One apply or undo at a time for this root, across processes (the app's tabs and the CLI); `on_wait`
    is called once if another holds the lock. TriageError if the quarantine folder cannot be created."""
    folder = quarantine_root(root)
    with contextlib.ExitStack() as held:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            held.enter_context(exclusive_lock(folder / ".lock", on_wait))
        except OSError as error:
            raise TriageError(f"cannot write to the quarantine folder {folder}: {error.strerror}; nothing "
                              "was moved") from None
        yield


def apply_plan(root: Path, plan: Plan, on_wait: Callable[[], None] | None = None,
               progress: Callable[[int, int], None] | None = None) -> Outcome:
    """Move the plan's files to ROOT/quarantine/<plan id>/, or finish an apply that was interrupted.

    Returns the Outcome (also when some files were skipped, or when a full disk stopped it part-way: the
    files moved so far are whole and journaled). TriageError when it cannot start (read-only or full
    quarantine folder, a plan already undone): then nothing was moved."""
    with triage_lock(root, on_wait):
        folder = plan_folder(root, plan.id)
        journal = Journal(folder / JOURNAL_NAME)
        state = journal.replay()
        if state.undoing:
            raise TriageError(f"plan {plan.id} was applied and then undone; make a new plan to apply it "
                              "again (its files may have changed since)")
        saved = _saved_plan(folder)
        if saved is not None and saved != plan:
            raise TriageError(f"the quarantine folder already holds a different plan with id {plan.id}")
        outcome = Outcome(plan.id, "apply", total=len(plan.moves))
        if state.applied:
            return _outcome_from(state, plan, "apply", already=True)
        _check_can_apply(root, folder, plan, state)
        try:
            if saved is None:
                write_atomically(folder / PLAN_NAME, lambda out: out.write(plan.dumps().encode("ascii")))
            journal.append("apply", moves=len(plan.moves))
        except OSError as error:
            raise TriageError(f"cannot write the journal in {folder}: {error.strerror}; nothing was moved") \
                from None
        for n, move in enumerate(plan.moves):
            current = state.state(n)
            if current in (MOVED, SKIPPED):
                _record(outcome, move, current, state.reasons.get(n, ""))
                continue
            source, target = quarantine_source(root, move), quarantine_target(root, plan.id, move)
            try:
                reason = None if current == MOVING else _keeper_problem(root, move)
                if reason is None:
                    journal.append("move", n=n, source=_rel(root, source), target=_rel(root, target))
                    try:
                        transfer(source, target, move.digest)
                    except Refused as refused:
                        reason = str(refused)
                if reason is None:
                    journal.append("moved", n=n)
                    outcome.done.append(move)
                else:
                    journal.append("skip", n=n, reason=reason)
                    outcome.skipped.append((move, reason))
            except OSError as error:
                return _stopped(outcome, journal, error, move)
            if progress:
                progress(n + 1, len(plan.moves))
        try:
            journal.append("applied")
        except OSError as error:
            outcome.stopped = f"the journal's last record could not be written ({error.strerror})"
        return outcome


def _stopped(outcome: Outcome, journal: Journal, error: OSError, move: Move) -> Outcome:
    """An apply or undo that `error` stops part way (a full disk, a read-only folder...): the reason goes into
    the outcome and, where it still can, the journal, so a rerun resumes; any other OSError is raised."""
    if error.errno not in _STOPPING:
        raise error
    outcome.stopped = _stop_reason(error, move)
    _try_append(journal, "stopped", reason=outcome.stopped)
    return outcome


def undo_plan(root: Path, plan_id: str, on_wait: Callable[[], None] | None = None,
              progress: Callable[[int, int], None] | None = None) -> Outcome:
    """Move every file an apply of `plan_id` moved back to its place (also when that apply was interrupted
    or stopped), or finish an interrupted undo. TriageError if the plan was never applied."""
    with triage_lock(root, on_wait):
        folder = plan_folder(root, plan_id)
        plan = _saved_plan(folder)
        journal = Journal(folder / JOURNAL_NAME)
        state = journal.replay()
        if plan is None or not state.applying:
            raise TriageError(f"plan {plan_id} was never applied here; nothing to undo")
        if state.undone:
            return _outcome_from(state, plan, "undo", already=True)
        outcome = Outcome(plan_id, "undo")
        to_restore = [n for n in range(len(plan.moves)) if state.state(n) in (MOVING, MOVED, RESTORING)]
        outcome.total = len(to_restore) + state.count(RESTORED, KEPT)
        for n in range(len(plan.moves)):
            if state.state(n) in (RESTORED, KEPT):
                _record(outcome, plan.moves[n], state.state(n), state.reasons.get(n, ""))
        _check_can_undo(root, plan, to_restore)
        try:
            journal.append("undo")
        except OSError as error:
            raise TriageError(f"cannot write the journal in {folder}: {error.strerror}; nothing was "
                              "restored") from None
        for done, n in enumerate(reversed(to_restore), 1):
            move = plan.moves[n]
            source, target = quarantine_target(root, plan_id, move), quarantine_source(root, move)
            try:
                journal.append("restore", n=n)
                try:
                    transfer(source, target, move.digest)
                    journal.append("restored", n=n)
                    outcome.done.append(move)
                except Refused as refused:
                    reason = f"{refused}; it stays in the quarantine folder as {_rel(root, source)}"
                    journal.append("kept", n=n, reason=reason)
                    outcome.skipped.append((move, reason))
            except OSError as error:
                return _stopped(outcome, journal, error, move)
            if progress:
                progress(done, len(to_restore))
        try:
            journal.append("undone")
        except OSError as error:
            outcome.stopped = f"the journal's last record could not be written ({error.strerror})"
        _prune_empty(folder)
        return outcome


def undo_last(root: Path, on_wait: Callable[[], None] | None = None,
              progress: Callable[[int, int], None] | None = None) -> Outcome:
    """Undo the plan applied last (by when its apply started) that is not undone yet; TriageError if none."""
    candidates = [record for record in plans(root) if record.state in ("applying", "applied", "undoing")]
    if not candidates:
        raise TriageError(f"no applied plan to undo in {quarantine_root(root)}")
    latest = max(candidates, key=lambda record: (record.started_at, record.id))
    return undo_plan(root, latest.id, on_wait, progress)


def plans(root: Path) -> list[PlanRecord]:
    """Every plan with a journal in the quarantine folder, oldest first."""
    folder = quarantine_root(root)
    records = []
    for entry in sorted(folder.iterdir()) if folder.is_dir() else []:
        journal = entry / JOURNAL_NAME
        if not entry.is_dir() or not journal.is_file():
            continue
        state = Journal(journal).replay()
        plan = _saved_plan(entry)
        if plan is None:
            continue
        kind = ("undone" if state.undone else "undoing" if state.undoing else
                "applied" if state.applied else "applying")
        records.append(PlanRecord(entry.name, kind, state.count(MOVED, RESTORING, RESTORED, KEPT),
                                  state.count(SKIPPED), state.count(RESTORED), len(plan.moves),
                                  state.started_at))
    return sorted(records, key=lambda record: (record.started_at, record.id))


def _check_can_apply(root: Path, folder: Path, plan: Plan, state: JournalState) -> None:
    """Refuse before anything moves when the quarantine folder is read-only or too full."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # Left-overs of a killed run: a half-written plan.json (write_atomically's temporary) or the probe.
        for stale in (*folder.glob(".plan.*.tmp"), folder / ".writable"):
            stale.unlink(missing_ok=True)
        probe = folder / ".writable"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise TriageError(f"cannot write to the quarantine folder {folder}: {error.strerror}; nothing was "
                          "moved") from None
    pending = [m for n, m in enumerate(plan.moves) if state.state(n) in (PENDING, MOVING)]
    device = os.stat(folder).st_dev
    across = 0
    for move in pending:
        try:
            stat = os.stat(quarantine_source(root, move))
        except OSError:
            continue  # gone: skipped with its reason
        if stat.st_dev != device:
            across += stat.st_size
    _require_room(folder, across + JOURNAL_RESERVE + RECORD_RESERVE * len(pending), "quarantine folder",
                  "moved")


def _check_can_undo(root: Path, plan: Plan, to_restore: list[int]) -> None:
    folder = plan_folder(root, plan.id)
    across = 0
    for n in to_restore:
        move = plan.moves[n]
        try:
            stat = os.stat(quarantine_target(root, plan.id, move))
            home = _existing_parent(quarantine_source(root, move))
        except OSError:
            continue
        if os.stat(home).st_dev != stat.st_dev:
            across += stat.st_size
    _require_room(folder, JOURNAL_RESERVE + RECORD_RESERVE * len(to_restore), "quarantine folder",
                  "restored")
    if across:
        _require_room(root / "image_sets", across, "image_sets folder", "restored")


def _require_room(folder: Path, needed: int, what: str, verb: str) -> None:
    stat = os.statvfs(folder)
    free = stat.f_bavail * stat.f_frsize
    if free < needed:
        raise TriageError(f"the {what} ({folder}) has {_size(free)} free and this needs {_size(needed)}: "
                          f"nothing was {verb}; free some space and run it again")


def _keeper_problem(root: Path, move: Move) -> str | None:
    """Why the copy must stay: the file it is a copy of is gone or changed since the plan; else None."""
    if move.keeper is None or move.keeper_digest is None:
        return None
    keeper_set, _, keeper_image = move.keeper.partition("/")
    path = root / "image_sets" / keeper_set / Path(*keeper_image.split("/"))
    try:
        if file_digest(path) == move.keeper_digest:
            return None
    except OSError:
        return f"the copy kept instead, {display_name(move.keeper)}, is gone; this one stays"
    return f"the copy kept instead, {display_name(move.keeper)}, changed since the plan; this one stays"


def _saved_plan(folder: Path) -> Plan | None:
    try:
        return parse_plan((folder / PLAN_NAME).read_text(encoding="ascii"))
    except (OSError, UnicodeDecodeError, PlanError):
        return None


def _outcome_from(state: JournalState, plan: Plan, kind: str, already: bool) -> Outcome:
    outcome = Outcome(plan.id, kind, already=already, total=len(plan.moves))
    for n, move in enumerate(plan.moves):
        _record(outcome, move, state.state(n), state.reasons.get(n, ""))
    return outcome


def _record(outcome: Outcome, move: Move, state: str, reason: str) -> None:
    if state in (MOVED, RESTORED):
        outcome.done.append(move)
    elif state in (SKIPPED, KEPT):
        outcome.skipped.append((move, reason))


def _stop_reason(error: OSError, move: Move) -> str:
    return (f"{error.strerror or error} while moving {display_name(move.qualified)} (it was left whole where "
            "it was)")


def _try_append(journal: Journal, op: str, **fields: object) -> None:
    # The disk may be full: the journal already says which steps finished.
    with contextlib.suppress(OSError):
        journal.append(op, **fields)


def _prune_empty(folder: Path) -> None:
    """Remove the folders an undo emptied under the plan's folder (files are never removed)."""
    for path in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: len(p.parts),
                       reverse=True):
        try:
            path.rmdir()
        except OSError:
            continue


def _existing_parent(path: Path) -> Path:
    while not path.exists():
        path = path.parent
    return path


def _rel(root: Path, path: Path) -> str:
    return os.fsdecode(os.path.relpath(path, root))


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"

