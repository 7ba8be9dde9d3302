"""What checking a folder for changes costs: the usual case (stat only: size, modification and change
time) against the case where every file's content is sampled (four 4 KB blocks each, what happens when
every change time moved, e.g. after `chmod -R`), measured in the same run, alternating, median of N.

    python benchmarks/scan_cost.py FOLDER [N]

Prints both medians and their ratio; absolute times on a shared machine are inflated, the ratio less so.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from simages.store.content_hash import sample_hash
from simages.store.scan import scan_set


def _stat_only(folder: Path) -> float:
    started = time.perf_counter()
    scan_set(folder, folder.parent)
    return time.perf_counter() - started


def _sampled(folder: Path) -> float:
    started = time.perf_counter()
    for name, fingerprint in scan_set(folder, folder.parent).files.items():
        sample_hash(folder / name, fingerprint.size)
    return time.perf_counter() - started


def main(argv: list[str]) -> None:
    folder = Path(argv[0])
    rounds = int(argv[1]) if len(argv) > 1 else 5
    plain, sampled = [], []
    for _ in range(rounds):
        plain.append(_stat_only(folder))
        sampled.append(_sampled(folder))
    files = len(scan_set(folder, folder.parent).files)
    a, b = statistics.median(plain), statistics.median(sampled)
    print(f"{files} files in {folder}")
    print(f"stat only (unchanged files):     {a * 1000:8.1f} ms  ({a / files * 1e6:.1f} us per file)")
    print(f"every file's content sampled:    {b * 1000:8.1f} ms  ({b / files * 1e6:.1f} us per file)")
    print(f"ratio: {b / a:.1f}x")


if __name__ == "__main__":
    main(sys.argv[1:])
