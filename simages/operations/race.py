"""The race use case: search methods side by side on the set at hand or on a generated set large enough for
pruning to show (`simages bench race`, the teaching panel's "Race the search methods")."""

from __future__ import annotations

import numpy as np

from simages.nearest.core.set_index import SetIndex
from simages.nearest.teaching.reduced import reduced_index
from simages.race.contest import METHODS, Race, pick_keys, run_race
from simages.settings import Settings
from simages.store.npz_store import load_store
from simages.wording import plural

GENERATED_SIZE = 10_000
KEYS = 30


def generated_set(settings: Settings, size: int = GENERATED_SIZE, seed: int = 0) -> tuple[SetIndex, str]:
    """A set of `size` unit-length descriptors and how it was made: realistic ones modelled on the largest
    indexed set of 100+ images under `settings` (simages.bench.realistic_descriptors), else a Gaussian
    mixture of 40 clusters in a 32-dimensional subspace of 512 values (said so in the text)."""
    from simages.bench.realistic_descriptors import fit_model, sample

    stores = sorted(settings.features.glob("*.npz"), key=lambda p: p.stat().st_size, reverse=True)
    for path in stores[:3]:
        try:
            store = load_store(path)
        except Exception:  # an unreadable store is simply not a model
            continue
        if len(store) >= 100:
            vectors = sample(fit_model(store.vectors, seed=seed), size, seed=seed)
            how = (f"{size:,} realistic descriptors modelled on {path.stem} "
                   f"({plural(len(store), 'image')}: clusters "
                   "in a principal subspace, near-duplicates included)")
            break
    else:
        rng = np.random.default_rng(seed)
        basis = np.linalg.qr(rng.normal(size=(512, 32)))[0]
        centres = rng.normal(size=(40, 32)) * 2.0
        z = centres[rng.integers(0, 40, size)] + rng.normal(size=(size, 32))
        vectors = np.maximum(z @ basis.T + 0.05 * rng.normal(size=(size, 512)), 0).astype(np.float32)
        how = (f"{size:,} generated descriptors (a Gaussian mixture of 40 clusters in 32 of 512 dimensions; "
               "no indexed set of 100+ images to model them on)")
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    names = [f"g{i // 1000:03d}/{i:07d}.jpg" for i in range(size)]
    return SetIndex("generated", names, vectors.astype(np.float32), "gap+l2"), how


def race(index: SetIndex, *, keys: int = KEYS, k: int = 10, methods: tuple[str, ...] = METHODS,
         seed: int = 0, generated: str = "", dimension: int | None = None) -> Race:
    """The race on `index` for `keys` of its images drawn at random; see simages.race.contest. With
    `dimension`, on the set's PCA view of that many dimensions (simages.nearest.teaching.reduced), where
    the pivot table prunes far more (the curse of dimensionality, docs/teaching.md)."""
    if dimension is not None:
        index = reduced_index(index, dimension)
    result = run_race(index, pick_keys(index, keys, seed), k, methods=methods, seed=seed)
    result.generated = generated
    return result


def race_table(result: Race) -> list[dict[str, str]]:
    """One row per method, as the page and the CLI print it."""
    rows = []
    for lap in result.laps:
        codes = f" + {lap.codes:,.0f} codes" if lap.codes else ""
        rows.append({
            "method": lap.label + (f" ({lap.setting})" if lap.setting else ""),
            "distances": f"{lap.distances:,.0f}{codes} of {lap.total:,} ({100 * lap.share():.0f}%)",
            "ms": f"{lap.ms:.2f}",
            "build": f"{lap.build_s:.2f} s" if lap.build_s else "-",
            "recall": f"{lap.recall:.3f}",
        })
    return rows
