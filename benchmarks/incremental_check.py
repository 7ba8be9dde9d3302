"""The indexing check of the README: ten Corel-1k sets indexed, re-run, then 3 files removed and 2 added.

Usage: python benchmarks/incremental_check.py [CORELDIR]   (needs SIMAGES_WEIGHTS or Keras' download)
Copies CORELDIR (default ../shared/data/corel1k) into a temporary root — never into the repository —
and runs the real `simages index` command line three times, printing what each run reported and took.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _index(root: Path) -> tuple[float, str]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "simages", "--root", str(root), "index", "--quiet"],
        capture_output=True,
        text=True,
        check=True,
    )
    return time.monotonic() - started, result.stdout


def main() -> int:
    corel = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO.parent / "shared" / "data" / "corel1k"
    with tempfile.TemporaryDirectory(prefix="simages-check-") as temp:
        root = Path(temp)
        shutil.copytree(corel, root / "image_sets", ignore=shutil.ignore_patterns("*.md"))
        seconds, out = _index(root)
        stores = sorted(p.name for p in (root / "features").glob("*.npz"))
        print(f"first run: {seconds:.1f} s, {len(stores)} stores written\n{out}")
        seconds, out = _index(root)
        print(f"second run (nothing changed): {seconds:.2f} s\n{out}")
        beach = root / "image_sets" / "beach"
        for name in sorted(p.name for p in beach.iterdir())[:3]:
            (beach / name).unlink()
        horses = root / "image_sets" / "horses"
        shutil.copy(corel / "dinosaurs" / "4_400.jpg", horses / "added_1.jpg")
        shutil.copy(corel / "food" / "9_900.jpg", horses / "added_2.jpg")
        seconds, out = _index(root)
        print(f"third run (3 removed from beach, 2 added to horses): {seconds:.1f} s\n{out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
