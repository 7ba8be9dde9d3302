"""Files the user owns are sacred: applying a triage plan moves files whole to the quarantine folder, undo
brings them back byte-identical, under kill -9 at every point, a full disk, a read-only quarantine folder,
files changed between plan and apply, odd names, and two applies at once."""

from __future__ import annotations

import errno
import os
import random
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from simages.triage import moves
from simages.triage.plan import Plan, new_plan_id, planned_move, read_plan
from simages.triage.quarantine import (
    TriageError,
    apply_plan,
    plans,
    triage_lock,
    undo_last,
    undo_plan,
)

REPO = Path(__file__).resolve().parents[1]
ODD_NAMES = ["caf\udce9 (latin-1).jpg", "8:30 am 'quoted' $HOME.jpg", "line\nbreak.jpg", "sub/dir/deep.jpg"]


def snapshot(folder: Path) -> dict[bytes, bytes]:
    """Every regular file under `folder` (relative path as bytes) -> its content."""
    found = {}
    for dirpath, _, files in os.walk(os.fsencode(folder)):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as stream:
                found[os.path.relpath(path, os.fsencode(folder))] = stream.read()
    return found


def contents(root: Path) -> list[bytes]:
    """Every photo's content under image_sets/ and quarantine/<id>/<set>/ (not the journals), one entry
    per file (two hard links to one file count once), sorted: a file lost or duplicated changes this list."""
    found, seen = [], set()
    for top in ("image_sets", "quarantine"):
        for dirpath, _, files in os.walk(os.fsencode(root / top)):
            depth = len(os.path.relpath(dirpath, os.fsencode(root / top)).split(b"/"))
            if top == "quarantine" and (dirpath == os.fsencode(root / top) or depth < 2):
                continue  # the lock, and each plan's journal and plan.json (photos are in <id>/<set>/)
            for name in files:
                path = os.path.join(dirpath, name)
                stat = os.lstat(path)
                if (stat.st_dev, stat.st_ino) in seen:
                    continue
                seen.add((stat.st_dev, stat.st_ino))
                with open(path, "rb") as stream:
                    found.append(stream.read())
    return sorted(found)


def make_root(root: Path, new_names: list[str], size: int = 3000) -> Plan:
    """A collection set `coll` and a new set `new` whose files are copies of collection files; the plan
    moves every new file, keeping the collection's."""
    for number, name in enumerate(new_names):
        data = bytes([number % 251]) * size + name.encode("utf-8", "surrogateescape")
        for set_name, image in (("coll", f"keep_{number}.jpg"), ("new", name)):
            path = root / "image_sets" / set_name / image
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    (root / "image_sets" / "coll" / "unrelated.jpg").write_bytes(b"not in any plan")
    moves_ = tuple(planned_move(root, "new", name, keeper=f"coll/keep_{n}.jpg", level="exact", score=1.0)
                   for n, name in enumerate(new_names))
    return Plan(new_plan_id(), "now", moves_)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "image_sets").mkdir()
    return tmp_path


def test_apply_moves_whole_files_and_undo_restores_them_byte_identical(root: Path) -> None:
    plan = make_root(root, ODD_NAMES)
    before = snapshot(root / "image_sets")
    outcome = apply_plan(root, plan)
    assert len(outcome.done) == len(ODD_NAMES) and not outcome.skipped
    assert not (root / "image_sets" / "new" / ODD_NAMES[0]).exists()
    assert (root / "quarantine" / plan.id / "new" / "sub" / "dir" / "deep.jpg").is_file()
    assert set(snapshot(root / "image_sets")) == {b"coll/keep_0.jpg", b"coll/keep_1.jpg", b"coll/keep_2.jpg",
                                                  b"coll/keep_3.jpg", b"coll/unrelated.jpg"}
    again = apply_plan(root, plan)
    assert again.already and len(again.done) == len(ODD_NAMES)
    undone = undo_last(root)
    assert len(undone.done) == len(ODD_NAMES) and not undone.skipped
    assert snapshot(root / "image_sets") == before
    assert undo_plan(root, plan.id).already
    with pytest.raises(TriageError, match="was applied and then undone"):
        apply_plan(root, plan)
    with pytest.raises(TriageError, match="no applied plan to undo"):
        undo_last(root)


def test_a_file_changed_or_deleted_since_the_plan_is_skipped_with_its_reason(root: Path) -> None:
    plan = make_root(root, ["a.jpg", "b.jpg", "c.jpg", "d.jpg"])
    (root / "image_sets" / "new" / "a.jpg").write_bytes(b"edited after the plan")
    (root / "image_sets" / "new" / "b.jpg").unlink()
    (root / "image_sets" / "coll" / "keep_2.jpg").unlink()  # c's keeper is gone: c must stay
    outcome = apply_plan(root, plan)
    reasons = {move.image: reason for move, reason in outcome.skipped}
    assert "changed since the plan" in reasons["a.jpg"]
    assert "gone" in reasons["b.jpg"]
    assert "coll/keep_2.jpg, is gone; this one stays" in reasons["c.jpg"]
    assert [move.image for move in outcome.done] == ["d.jpg"]
    assert (root / "image_sets" / "new" / "a.jpg").read_bytes() == b"edited after the plan"
    assert (root / "image_sets" / "new" / "c.jpg").is_file()


def test_undo_never_overwrites_a_file_that_appeared_at_the_old_place(root: Path) -> None:
    plan = make_root(root, ["a.jpg", "b.jpg"])
    apply_plan(root, plan)
    (root / "image_sets" / "new" / "a.jpg").write_bytes(b"a new photo with the same name")
    outcome = undo_last(root)
    assert [move.image for move in outcome.done] == ["b.jpg"]
    ((move, reason),) = outcome.skipped
    assert move.image == "a.jpg" and "stays in the quarantine folder" in reason
    assert (root / "image_sets" / "new" / "a.jpg").read_bytes() == b"a new photo with the same name"
    assert (root / "quarantine" / plan.id / "new" / "a.jpg").is_file()


def _crash_run(root: Path, plan_file: Path, kind: str, kill_at: int,
               across: bool) -> subprocess.CompletedProcess:
    command = [sys.executable, str(REPO / "tests" / "triage_crash.py"), str(root), str(plan_file), kind,
               str(kill_at)] + (["--across"] if across else [])
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)


def _calls(tmp_path: Path, names: list[str], across: bool) -> tuple[int, int]:
    """How many counted calls a whole apply, and then a whole undo, make (K = 0 never kills)."""
    root = tmp_path / "count"
    (root / "image_sets").mkdir(parents=True)
    plan = make_root(root, names)
    plan_file = tmp_path / "count-plan.json"
    plan_file.write_text(plan.dumps())
    apply = _crash_run(root, plan_file, "apply", 0, across)
    undo = _crash_run(root, plan_file, "undo", 0, across)
    assert apply.returncode == 0 and undo.returncode == 0, apply.stderr + undo.stderr
    return int(apply.stdout.split()[0]), int(undo.stdout.split()[0])


def _kill_points(total: int, sample: int | None, seed: int) -> list[int]:
    """Every kill point 1..total, or `sample` of them drawn at random (the first and last always in)."""
    every = list(range(1, total + 1))
    if sample is None or sample >= total:
        return every
    return sorted({1, total, *random.Random(seed).sample(every, sample - 2)})


@pytest.mark.parametrize("across", [False, True], ids=["same-disk", "across-disks"])
def test_kill_9_at_random_points_of_apply_and_undo_then_rerun_loses_and_duplicates_nothing(
        tmp_path: Path, across: bool) -> None:
    _kill_and_rerun(tmp_path, across, sample=7)


@pytest.mark.slow
@pytest.mark.parametrize("across", [False, True], ids=["same-disk", "across-disks"])
def test_kill_9_at_every_point_of_apply_and_undo_then_rerun_loses_and_duplicates_nothing(
        tmp_path: Path, across: bool) -> None:
    _kill_and_rerun(tmp_path, across, sample=None)


def _kill_and_rerun(tmp_path: Path, across: bool, sample: int | None) -> None:
    names = ["a.jpg", "caf\udce9.jpg", "sub/c.jpg"]
    apply_calls, undo_calls = _calls(tmp_path, names, across)
    assert apply_calls > 20 and undo_calls > 20
    seed = random.randrange(1 << 30)
    # Kill points of the apply, and of the undo that follows a complete apply (each in a fresh root).
    points = [("apply", k) for k in _kill_points(apply_calls, sample, seed)]
    points += [("undo", k) for k in _kill_points(undo_calls, sample, seed + 1)]
    for kind, kill_at in points:
        root = tmp_path / f"{kind}-{kill_at}"
        (root / "image_sets").mkdir(parents=True)
        plan = make_root(root, names)
        plan_file = tmp_path / f"{kind}-{kill_at}.json"
        plan_file.write_text(plan.dumps())
        original = snapshot(root / "image_sets")
        if kind == "undo":
            apply_plan(root, plan)
        everything = contents(root)
        killed = _crash_run(root, plan_file, kind, kill_at, across)
        assert killed.returncode == -9, (seed, kind, kill_at, killed.stdout, killed.stderr)
        assert _nothing_lost(root, everything), (seed, kind, kill_at)
        if kind == "apply":
            # Rerunning completes the apply ...
            finished = apply_plan(root, plan)
            assert len(finished.done) == len(names), (seed, kill_at, finished.summary())
            assert not finished.skipped, (seed, kill_at, finished.summary())
            assert contents(root) == everything, (seed, kind, kill_at)
            assert not any((root / "image_sets" / "new" / n).exists() for n in names)
        # ... and the undo (resumed or fresh) rolls everything back, byte for byte.
        undone = undo_plan(root, plan.id)
        assert not undone.skipped, (seed, kind, kill_at, undone.summary())
        assert snapshot(root / "image_sets") == original, (seed, kind, kill_at)
        assert not list((root / "quarantine" / plan.id).rglob("*.jpg")), (seed, kind, kill_at)


def _nothing_lost(root: Path, everything: list[bytes]) -> bool:
    """Right after a kill: every photo is still there, whole; at most one step is in flight, so at most one
    extra name (the same inode, counted once) or one extra file: a whole verified copy or a hidden partial
    one. A rerun removes it (checked by the caller)."""
    rest = contents(root)
    for data in everything:
        if data not in rest:
            return False
        rest.remove(data)
    return len(rest) <= 1 and all(any(whole.startswith(extra) for whole in everything) for extra in rest)


def test_apply_and_undo_resume_after_being_killed_in_the_middle_of_a_plan(tmp_path: Path) -> None:
    """The plan's journal after a kill is the same journal a rerun reads: apply, kill, apply, kill, undo."""
    root = tmp_path / "r"
    (root / "image_sets").mkdir(parents=True)
    names = [f"p{n}.jpg" for n in range(6)]
    plan = make_root(root, names)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(plan.dumps())
    original = snapshot(root / "image_sets")
    assert _crash_run(root, plan_file, "apply", 40, False).returncode == -9
    assert _crash_run(root, plan_file, "apply", 25, False).returncode == -9
    state = plans(root)[0]
    assert state.state == "applying" and 0 < state.moved < len(names)
    assert _crash_run(root, plan_file, "undo", 15, False).returncode == -9
    undo_plan(root, plan.id)
    assert snapshot(root / "image_sets") == original


def test_a_full_disk_stops_the_apply_with_every_file_whole_and_a_rerun_finishes(
        root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Simulated: writes of a cross-disk copy fail with ENOSPC after the first file (os.link raises EXDEV,
    os.write raises ENOSPC); the real-tmpfs test below checks the up-front refusal."""
    plan = make_root(root, ["a.jpg", "b.jpg", "c.jpg"])
    everything = contents(root)
    real_link, real_write = os.link, os.write
    copies = {"count": 0}

    def link(source, target, *args, **kwargs):
        if not os.fsdecode(source).endswith(moves.PARTIAL_SUFFIX):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_link(source, target, *args, **kwargs)

    def write(fd, data):
        if len(data) >= 3000:  # an image's bytes, not a journal record
            copies["count"] += 1
            if copies["count"] == 2:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "link", link)
    monkeypatch.setattr(os, "write", write)
    outcome = apply_plan(root, plan)
    assert [m.image for m in outcome.done] == ["a.jpg"]
    assert "No space left on device while moving new/b.jpg" in outcome.stopped
    assert "Run it again to resume" in outcome.summary()
    assert contents(root) == everything
    assert not list(root.rglob(f"*{moves.PARTIAL_SUFFIX}"))
    assert (root / "image_sets" / "new" / "b.jpg").is_file()
    finished = apply_plan(root, plan)  # space freed (the 2nd write only failed)
    assert len(finished.done) == 3 and finished.stopped is None
    assert contents(root) == everything


def _mount_tmpfs(folder: Path, options: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here ({result.stderr.strip()}); the simulated "
                    "full-disk and read-only tests still run")


@pytest.fixture
def mounts() -> list[Path]:
    mounted: list[Path] = []
    yield mounted
    for folder in reversed(mounted):
        subprocess.run(["umount", str(folder)], check=False)


def test_a_real_full_quarantine_disk_is_refused_up_front_and_nothing_moves(
        root: Path, mounts: list[Path]) -> None:
    """A real 64 KB tmpfs as the quarantine folder: the files (3 x 40 KB) must be copied across disks and
    cannot fit, so the apply refuses before moving anything."""
    plan = make_root(root, ["a.jpg", "b.jpg", "c.jpg"], size=40_000)
    before = snapshot(root / "image_sets")
    _mount_tmpfs(root / "quarantine", "size=64k")
    mounts.append(root / "quarantine")
    with pytest.raises(TriageError, match=r"has .* free and this needs .*: nothing was moved"):
        apply_plan(root, plan)
    assert snapshot(root / "image_sets") == before


def test_a_read_only_quarantine_folder_gets_a_clear_message_and_nothing_moves(
        root: Path, mounts: list[Path]) -> None:
    """A read-only tmpfs mounted on the quarantine folder (chmod alone does not stop root, who runs here)."""
    plan = make_root(root, ["a.jpg", "b.jpg"])
    before = snapshot(root / "image_sets")
    _mount_tmpfs(root / "quarantine", "ro,size=64k")
    mounts.append(root / "quarantine")
    with pytest.raises(TriageError, match=r"cannot write to the quarantine folder .*Read-only file system; "
                                          "nothing was moved"):
        apply_plan(root, plan)
    assert snapshot(root / "image_sets") == before


def test_a_read_only_quarantine_folder_simulated(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same refusal where mounting is not permitted: creating the plan's folder fails with EROFS."""
    plan = make_root(root, ["a.jpg"])
    before = snapshot(root / "image_sets")
    real_mkdir = os.mkdir

    def mkdir(path, *args, **kwargs):
        if plan.id in os.fsdecode(path):
            raise OSError(errno.EROFS, "Read-only file system")
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)
    with pytest.raises(TriageError, match="Read-only file system; nothing was moved"):
        apply_plan(root, plan)
    assert snapshot(root / "image_sets") == before


def test_two_applies_at_once_are_serialised_and_move_each_file_once(root: Path) -> None:
    plan = make_root(root, [f"p{n}.jpg" for n in range(8)])
    everything = contents(root)
    waited = threading.Event()
    results = []
    with triage_lock(root):
        threads = [threading.Thread(target=lambda: results.append(apply_plan(root, plan, on_wait=waited.set)))
                   for _ in range(2)]
        for thread in threads:
            thread.start()
        assert waited.wait(10)  # the lock held here makes them wait
    for thread in threads:
        thread.join(30)
    assert sorted(outcome.already for outcome in results) == [False, True]
    assert all(len(outcome.done) == 8 for outcome in results)
    assert contents(root) == everything


def test_the_plan_exports_a_dry_run_shell_script_that_does_the_same_moves(root: Path, tmp_path: Path) -> None:
    plan = make_root(root, ODD_NAMES)
    script = tmp_path / "plan.sh"
    script.write_bytes(plan.to_shell(root))
    subprocess.run(["sh", str(script)], check=True)
    assert not (root / "image_sets" / "new").exists() or not snapshot(root / "image_sets" / "new")
    moved = snapshot(root / "quarantine" / plan.id / "new")
    assert {os.fsdecode(name) for name in moved} == {name for name in ODD_NAMES}
    csv_text = plan.to_csv()
    assert "caf\\xe9 (latin-1).jpg" in csv_text and "coll/keep_0.jpg" in csv_text
    reread = tmp_path / "plan.json"
    reread.write_text(plan.dumps())
    assert read_plan(reread) == plan
