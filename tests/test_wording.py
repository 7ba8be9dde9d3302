"""Counts agree with their nouns everywhere: "1 pivots", "1 images" and "found 1 classes" were shown.

One helper (simages.wording.plural) writes every count; a scan of the source finds f-strings that put a
count before a plural noun by hand, so the kind of fault cannot come back in new code.
"""

from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path

import pytest

from simages.wording import agree, plural, plural_of

PACKAGE = Path(__file__).resolve().parent.parent / "simages"
# Countable nouns of SIMages' messages, in the plural.
_NOUNS = ("images|pairs|pivots|sets|matches|groups|keys|files|copies|classes|duplicates|results|rows|"
          "neighbours|workers|batches|items|photos|folders|options|metrics|dimensions|threads|entries|"
          "candidates|queries|distances|decisions|moves|layers|heads|points")
_COUNT_THEN_NOUN = re.compile(rf"^ (of (the|them|its|their) )?({_NOUNS})\b")

# Modules whose counts are not yet written with the helper (their owners' work in progress), with how many
# such f-strings each holds: the number may only go down. Benchmarks print counts of hundreds or more.
NOT_YET = {
    "extraction/ncnn_vgg.py": 2, "extraction/openvino_vgg.py": 1, "extraction/torch_vgg.py": 1,
    "gui/pages/atlas.py": 3, "gui/pages/side_by_side.py": 1,
    "gui/widgets/race_panel.py": 2,
}


def hand_written_counts(path: Path) -> list[str]:
    """`line: {count} nouns` for each f-string of `path` that writes a count before a plural noun itself
    (a line marked `# plural-ok` says why the count is never 1)."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    found = []
    for node in ast.walk(ast.parse(text)):
        if not isinstance(node, ast.JoinedStr):
            continue
        spanned = range(node.lineno, (node.end_lineno or node.lineno) + 1)
        if any("# plural-ok" in lines[n - 1] for n in spanned):
            continue
        for value, after in zip(node.values[:-1], node.values[1:], strict=True):
            spec = getattr(value, "format_spec", None)
            percent = spec is not None and "%" in ast.unparse(spec)
            if (isinstance(value, ast.FormattedValue) and not percent and isinstance(after, ast.Constant)
                    and isinstance(after.value, str) and _COUNT_THEN_NOUN.match(after.value)):
                found.append(f"{node.lineno}: {{{ast.unparse(value.value)}}}{after.value[:30]}")
    return found


# A verb or pronoun that needs a plural subject: after "{n} of {m} images" it must agree with n.
_PLURAL_ONLY = re.compile(r"\b(have|are|were|their|they)\b")


def hand_written_verbs(path: Path) -> list[str]:
    """`line: {n} of ...` for each f-string of `path` that counts "{n} of {m} ..." and then writes a verb
    or pronoun that is plural whatever n is ("1 of 51 images have", "1 of 1 file restored to their
    places"): simages.wording.agree writes the word that agrees with n."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.JoinedStr):
            continue
        values = node.values
        for number, (value, after) in enumerate(itertools.pairwise(values)):
            spec = getattr(value, "format_spec", None)
            if (not isinstance(value, ast.FormattedValue) or not isinstance(after, ast.Constant)
                    or not isinstance(after.value, str) or not after.value.startswith(" of ")
                    or (spec is not None and "%" in ast.unparse(spec))  # a share, "80% of pairs are"
                    or (isinstance(value.value, ast.Call) and ast.unparse(value.value.func) == "plural")):
                continue
            rest = ""  # the words up to the end of the clause
            for later in values[number + 1:]:
                if isinstance(later, ast.Constant) and isinstance(later.value, str):
                    rest += re.split(r"[.;]", later.value)[0]
                    if re.search(r"[.;]", later.value):
                        break
            if _PLURAL_ONLY.search(rest):
                found.append(f"{node.lineno}: {{{ast.unparse(value.value)}}} of ...")
    return found


def test_a_count_of_a_total_is_followed_by_words_that_agree_with_it():
    """Walk 3: "1 of 51 images in archive have ...", "1 of 1 file restored to their places"."""
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if not relative.startswith("bench/") and hand_written_verbs(path):
            offenders[relative] = hand_written_verbs(path)
    assert not offenders, f"use simages.wording.agree for the verb: {offenders}"


@pytest.mark.parametrize(("number", "words"), [(1, "has"), (0, "have"), (2, "have"), (1234, "have")])
def test_a_verb_agrees_with_its_count(number, words):
    assert agree(number, "has", "have") == words


@pytest.mark.parametrize(("number", "noun", "expected"), [
    (1, "pivot", "1 pivot"), (2, "pivot", "2 pivots"), (0, "image", "0 images"),
    (1234, "image", "1,234 images"),
    (1, "match", "1 match"), (3, "match", "3 matches"), (2, "copy", "2 copies"), (2, "key", "2 keys"),
    (1, "class", "1 class"), (4, "class", "4 classes"), (2, "photo", "2 photos"),
    (1, "most similar image", "1 most similar image"), (5, "most similar image", "5 most similar images"),
])
def test_a_count_agrees_with_its_noun(number, noun, expected):
    assert plural(number, noun) == expected


def test_an_irregular_phrase_names_its_plural():
    assert plural(1, "pair of images", "pairs of images") == "1 pair of images"
    assert plural(2, "pair of images", "pairs of images") == "2 pairs of images"
    assert plural_of("query") == "queries" and plural_of("day") == "days"


def test_no_message_writes_a_count_before_a_plural_noun_by_hand():
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("bench/"):
            continue
        found = hand_written_counts(path)
        if len(found) > NOT_YET.get(relative, 0):
            offenders[relative] = found
    assert not offenders, f"use simages.wording.plural for these counts: {offenders}"


def test_the_scan_finds_a_hand_written_count(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('def f(n):\n    return f"{n} pivots and {n:,} of them images"\n')
    assert len(hand_written_counts(sample)) == 2
    sample.write_text('def f(n):\n    return f"{n} pivots"  # plural-ok: n > 1 here\n')
    assert hand_written_counts(sample) == []
    sample.write_text('def f(x):\n    return f"{x:.0%} of the copies are found"\n')  # a share, not a count
    assert hand_written_counts(sample) == []


@pytest.mark.parametrize(("done", "total", "expected"), [
    (1, 1, "1 of 1 file restored to its place."), (2, 3, "2 of 3 files restored to their places."),
    (0, 2, "0 of 2 files restored to their places."),
])
def test_an_undo_says_where_its_files_went_in_words_that_agree(done, total, expected):
    """Walk 3: "1 of 1 file restored to their places" (the verb is chosen apart from the count, so the
    scan above cannot see it)."""
    from simages.triage.plan import Move
    from simages.triage.quarantine import Outcome

    moves = [Move("s", f"{i}.jpg", 1, 1, "d") for i in range(done)]
    assert Outcome("plan", "undo", moves, total=total).summary() == expected
