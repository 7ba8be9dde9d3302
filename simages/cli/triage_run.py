"""What `simages triage` does once its arguments are parsed (simages.cli.triage_cmd registers the
command): imported only when the command runs, so `simages triage --help` loads none of it."""

from __future__ import annotations

import argparse
import csv
import json
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from simages.cli.common import USER_ERRORS, again, fail, user_error
from simages.cli.exits import EXIT_FAILURE
from simages.cli.output import check_target, output_to
from simages.copies.levels import BELOW_THRESHOLD_NOTE, Level
from simages.naming import display_name
from simages.nearest.core.display import format_score
from simages.nearest.sets.cache import default_cache
from simages.operations.triage import CopyGroup, TriageAnswer, TriageRequest, plan_for, triage
from simages.settings import Settings
from simages.store.atomic import write_atomically
from simages.triage.decisions import Decisions
from simages.triage.keeper import KEEP_EXISTING, KEEPER_RULE
from simages.triage.plan import quarantine_source, read_plan
from simages.triage.quarantine import Outcome, TriageError, apply_plan, plans, undo_last, undo_plan
from simages.triage.stores import drop_moved, restore_moved
from simages.wording import plural

if TYPE_CHECKING:
    from simages.copies.calibration import CalibrationStatus


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        if args.apply is not None:
            return _apply(settings, Path(args.apply))
        if args.undo is not None:
            return _undo(settings, args.undo)
        if args.history:
            return _history(settings)
        if args.not_duplicate or args.keep_both or args.decisions or args.forget:
            return _decide(settings, args)
        if not args.new:
            raise ValueError("name the set(s) of new photos: simages triage NEW [--against SET ...]")
        check_target(args.output)  # a missing folder is said before the work, not after it
        answer = triage(settings, TriageRequest(tuple(args.new), tuple(args.against)), default_cache)
        if args.plan or args.dry_run:
            return _write_plan(settings, answer, args)
    except (TriageError, *USER_ERRORS) as error:
        return user_error(error)
    from simages.copies.calibration import status as calibration_status

    calibration = calibration_status(settings, default_cache)
    try:
        with output_to(args.output) as out:
            write_answer(answer, args.format, out, args.compare, calibration)
    except OSError as error:
        return fail(f"cannot write {args.output}: {error.strerror or error}", EXIT_FAILURE)
    return 0


def write_answer(answer: TriageAnswer, fmt: str, out: TextIO, compare: bool = False,
                 calibration: CalibrationStatus | None = None) -> None:
    """The answer as a table (for people), CSV (image,level,match,score) or JSON (TriageAnswer.to_json,
    with "calibration" when given: how well the threshold works on the user's own photos, as
    `simages duplicates` says it)."""
    if fmt == "json":
        body = answer.to_json()
        if calibration is not None:
            body["calibration"] = calibration.to_json()
        json.dump(body, out, indent=2)
        out.write("\n")
        return
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["image", "level", "match", "score"])
        for row in answer.rows:
            writer.writerow([row.image, row.level.value, row.match or "",
                             "" if row.score is None else format_score(row.score, "cosine")])
        return
    out.write(answer.headline() + ".\n")
    out.write(f"New: {', '.join(map(display_name, answer.new_sets))}; collection: "
              f"{', '.join(map(display_name, answer.against))}\n")
    for name, why in answer.left_out.items():
        out.write(f"(left out: {display_name(name)}: {why})\n")
    if calibration is not None:
        out.write(calibration.sentence() + "\n")
    below = False
    changed = answer.changes()
    for level in Level:
        rows = answer.bucket(level)
        if not rows:
            continue
        out.write(f"\n{level.title} ({len(rows)}): {level.meaning}\n")
        for row in rows:
            if row.match is None:
                out.write(f"  {display_name(row.image)}\n")
                continue
            both = "  [keep both]" if row.kept_both else ""
            mark = " *" if row.below_threshold else ""
            below = below or bool(mark)
            out.write(f"  {format_score(row.score, 'cosine')}  {display_name(row.image)}  ==  "
                      f"{display_name(row.match)}{both}{mark}\n")
            if changed.get(row.image, {}).get("changed"):
                out.write(f"            changed: {changed[row.image]['changed']}\n")
    if below:
        out.write(BELOW_THRESHOLD_NOTE + "\n")
    if answer.within_new:
        count = len(answer.within_new)
        out.write(f"\nCopies among the new photos ({count} {'group' if count == 1 else 'groups'}; not "
                  "planned, see `simages duplicates`):\n")
        for group in answer.within_new:
            out.write(f"  {', '.join(map(display_name, group))}\n")
    if answer.groups:
        out.write(f"\nCopy groups ({len(answer.groups)}), suggested keeper first:\n")
        if any(group.reason == KEEP_EXISTING for group in answer.groups):
            out.write(f"  {KEEPER_RULE}\n")  # said once, not on every group
        for group in answer.groups:
            others = [_with_level(answer, m) for m in group.members if m != group.keeper]
            out.write(f"  keep {display_name(group.keeper)} ({group.reason}); move {', '.join(others)}\n")
            if compare:
                write_compare(group, out, answer.what_each_is(group))


def _with_level(answer: TriageAnswer, name: str) -> str:
    """`inbox/IMG_1.jpg (edited copy)`: a group holds exact and edited copies alike, each says which."""
    level = answer.member_level(name)
    return display_name(name) if level is None else f"{display_name(name)} ({level.title.lower()})"


def write_compare(group: CopyGroup, out: TextIO, what: dict[str, str] | None = None) -> None:
    """What each member is (`what`: "Edited copy: 0.18 · a.jpg is b.jpg turned 90° clockwise", "in the
    collection"), then their facts side by side; `*` marks a row that differs."""
    members = list(group.members)
    for name in members if what else ():
        out.write(f"      {display_name(name)}: {what[name]}\n")
    rows = {name: group.facts[name].rows() for name in members}
    first = rows[members[0]]
    width = max(len(text) for name in members for text in (display_name(name), *rows[name].values())) + 2
    out.write(f"      {'':<13}" + "".join(f"{display_name(m):<{width}}" for m in members) + "\n")
    for fact in first:
        differs = any(rows[m][fact] != first[fact] for m in members)
        cells = "".join(f"{rows[m][fact]:<{width}}" for m in members)
        out.write(f"    {'*' if differs else ' '} {fact:<13}{cells}\n")


def _write_plan(settings: Settings, answer: TriageAnswer, args: argparse.Namespace) -> int:
    levels = tuple(Level(word.strip()) for word in args.levels.split(",") if word.strip())
    keepers = {}
    for keep in args.keep:
        group = next((g for g in answer.groups if keep in g.members), None)
        if group is None:
            raise ValueError(f"{keep!r} is in no copy group of this triage")
        keepers[group.existing] = keep
    plan = plan_for(settings, answer, keepers, levels)
    if args.dry_run:
        # What an apply would do, as the shell commands a reader checks; nothing is written or moved.
        sys.stdout.flush()
        sys.stdout.buffer.write(plan.to_shell(settings.root))
        print(f"# {answer.headline()}; {plural(len(plan.moves), 'file')} would move "
              "(nothing was moved or written)",
              file=sys.stderr)
        return 0
    target = Path(args.plan)
    write_atomically(target, lambda out: out.write(plan.dumps().encode("ascii")))
    write_atomically(target.with_name(target.name + ".csv"), lambda out: out.write(plan.to_csv().encode()))
    script = plan.to_shell(settings.root)
    write_atomically(target.with_name(target.name + ".sh"), lambda out: out.write(script))
    apply = again(settings, f"triage --apply {shlex.quote(str(target))}")
    print(answer.headline() + ".")
    print(f"Plan {plan.id}: {plural(len(plan.moves), 'file')} to move to "
          f"{settings.root / 'quarantine' / plan.id}/ "
          f"(nothing moved yet).\nWritten: {target} (apply with `{apply}`), "
          f"{target}.csv, {target}.sh (the same moves as `mv` commands, a dry run to read).")
    return 0


def _apply(settings: Settings, path: Path) -> int:
    plan = read_plan(path)
    if not settings.image_sets.is_dir():  # refused before a quarantine folder is made in the wrong place
        raise ValueError(f"{settings.root} holds no image_sets/ folder: apply the plan in the collection's "
                         "root (--root ROOT, or run it there)")
    outcome = apply_plan(settings.root, plan, on_wait=_waiting)
    drop_moved(settings, plan.id, outcome.done)
    code = _report(settings, outcome)
    if not outcome.done and plan.moves and not any(quarantine_source(settings.root, m).exists()
                                                   for m in plan.moves):
        # Every file missing is far likelier another root than a collection emptied since the plan.
        print(f"None of the plan's files is in {settings.image_sets}: was it made with another --root?",
              file=sys.stderr)
    return code


def _undo(settings: Settings, plan_id: str) -> int:
    outcome = undo_plan(settings.root, plan_id, _waiting) if plan_id else undo_last(settings.root, _waiting)
    restore_moved(settings, outcome.plan_id, outcome.done)
    return _report(settings, outcome)


def _report(settings: Settings, outcome: Outcome) -> int:
    print(outcome.summary())
    for move, reason in outcome.skipped:
        print(f"  left {display_name(move.qualified)}: {reason}")
    if outcome.kind == "apply" and outcome.done and not outcome.already:
        undo = again(settings, f"triage --undo {outcome.plan_id}")
        print(f"Undo with `{undo}` (or --undo for the last one).")
    return 1 if outcome.stopped else 0


def _history(settings: Settings) -> int:
    records = plans(settings.root)
    if not records:
        print("No plan was applied in this root.")
    for record in records:
        print(f"{record.id}  {record.state:<9} {record.moved} moved, {record.skipped} skipped, "
              f"{record.restored} restored, of {record.total}")
    return 0


def _decide(settings: Settings, args: argparse.Namespace) -> int:
    decisions = Decisions(settings.root)
    if args.not_duplicate or args.keep_both:
        kind, images = ("not-duplicate", args.not_duplicate) if args.not_duplicate else ("keep-both",
                                                                                         args.keep_both)
        decision = decisions.add(kind, images)
        print(f"Remembered {decision.id}: {kind} for {', '.join(map(display_name, decision.images))} "
              f"(undo with `{again(settings, f'triage --forget {decision.id}')}`).")
    if args.forget:
        gone = decisions.forget(args.forget)
        print(f"Forgot {gone.id}: {gone.kind} for {', '.join(map(display_name, gone.images))}.")
    if args.decisions:
        remembered = decisions.all()
        if not remembered:
            print("No remembered decisions.")
        for decision in remembered:
            print(f"{decision.id}  {decision.kind:<13} {', '.join(map(display_name, decision.images))}")
    return 0


def _waiting() -> None:
    print("another apply or undo is running in this root; waiting for it to finish...", file=sys.stderr)
