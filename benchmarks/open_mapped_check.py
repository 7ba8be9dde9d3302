"""Time opening a memory-mapped copy of N images (default 1M) without building the `.npz` first.

`simages bench open` measures the whole path (write the .npz, open it, derive the copy, open that): 35 min
for 1M on a busy machine. This writes a copy of synthetic arrays directly (about 2.5 GB in a temporary
folder) and times `open_mapped` twice, wall and CPU seconds.

    python benchmarks/open_mapped_check.py [N]
"""

from __future__ import annotations

import gc
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from simages.nearest.sets.mapped_index import open_mapped
from simages.store.mmap_store import mmap_path, write_mmap_copy


def main(n: int) -> None:
    with tempfile.TemporaryDirectory(prefix="simages-mmap-") as folder:
        store = Path(folder) / "big.npz"
        store.write_bytes(b"stand-in: only its (mtime, size) ties the copy to it")
        stat = os.stat(store)
        rng = np.random.default_rng(0)
        raw = np.empty((n, 512), np.float32)
        for start in range(0, n, 100_000):
            raw[start : start + 100_000] = rng.random((min(100_000, n - start), 512), dtype=np.float32)
        arrays = {"raw": raw, "vectors": np.ascontiguousarray(raw[:, :128]),
                  "inv_norms": np.ones(n, np.float32), "sq_norms": np.ones(n, np.float32),
                  "name_rank": np.arange(n, dtype=np.int64), "whitening_mean": np.zeros(512, np.float32),
                  "whitening_projection": np.zeros((512, 128), np.float32)}
        names = [f"folder_{i // 1000:04d}/IMG_{i:07d}.jpg" for i in range(n)]
        started = time.perf_counter()
        write_mmap_copy(mmap_path(store.parent, "big"), (stat.st_mtime_ns, stat.st_size), names, arrays,
                        {"descriptor": "gap+l2+pca128+qe10", "applied": "gap+l2+pca128+qe10", "root": ""})
        print(f"copy of {n:,} images written in {time.perf_counter() - started:.1f} s")
        del raw, arrays, names
        gc.collect()
        for _ in range(2):
            started, cpu = time.perf_counter(), time.process_time()
            index = open_mapped("big", store, (stat.st_mtime_ns, stat.st_size, stat.st_ino))
            assert index is not None and len(index) == n
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
            print(f"opened in {wall:.2f} s wall, {cpu:.2f} s CPU")
            del index
            gc.collect()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
