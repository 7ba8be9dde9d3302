"""Run an apply or undo of a triage plan and SIGKILL this process just before its K-th file-system call.

    python tests/triage_crash.py ROOT PLAN apply|undo K [--across]

The calls counted are the ones that change or flush the disk (os.write, os.fsync, os.link, os.unlink,
os.rename, os.mkdir, os.open): a kill before call K is a kill after call K-1, so K = 1..N+1 covers every
point between two of them. K = 0 runs to the end and prints N. --across makes every hard link of an image
(not of a partial copy) fail with EXDEV, as between two disks, so the copy-verify-unlink path runs.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
from pathlib import Path

from simages.triage.moves import PARTIAL_SUFFIX
from simages.triage.plan import read_plan
from simages.triage.quarantine import apply_plan, undo_plan

root, plan_file, kind, kill_at = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
across = "--across" in sys.argv
calls = 0


def counted(function):
    def wrapper(*args, **kwargs):
        global calls
        calls += 1
        if calls == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return function(*args, **kwargs)
    return wrapper


real_link = os.link


def link(source, target, *args, **kwargs):
    if across and not os.fsdecode(source).endswith(PARTIAL_SUFFIX):
        raise OSError(errno.EXDEV, "Invalid cross-device link")
    return real_link(source, target, *args, **kwargs)


os.link = link
for name in ("write", "fsync", "link", "unlink", "rename", "mkdir", "open"):
    setattr(os, name, counted(getattr(os, name)))

plan = read_plan(plan_file)
outcome = apply_plan(root, plan) if kind == "apply" else undo_plan(root, plan.id)
print(calls, outcome.summary())
