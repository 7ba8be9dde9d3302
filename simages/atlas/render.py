"""A map as a PNG for the command line (`simages atlas SET --output map.png`), drawn with matplotlib's
Agg backend (no display needed). Points coloured by sub-folder, as on the page; a legend of folders."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from simages.store.atomic import write_atomically

# The page's palette (simages.gui.pages.atlas), so the PNG and the page read alike.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
           "#9c755f", "#bab0ac", "#86bcb6", "#d4a6c8")


def render_png(path: Path, coords: np.ndarray, folders: Sequence[str], title: str, *,
               size_inches: tuple[float, float] = (10.0, 8.0), dpi: int = 100) -> None:
    """Write the map (coords (n, 2), one folder per point) to `path` as a PNG, atomically. ImportError
    without matplotlib (the extra `atlas`)."""
    render_panels_png(path, [(coords, title)], folders, size_inches=size_inches, dpi=dpi)


def render_panels_png(path: Path, panels: Sequence[tuple[np.ndarray, str]], folders: Sequence[str], *,
                      size_inches: tuple[float, float] | None = None, dpi: int = 100) -> None:
    """Write maps of the same images side by side (one (coords (n, 2), title) per panel, one folder per
    image, coloured alike in every panel: a set before and after training) to `path` as a PNG, atomically.
    ImportError without matplotlib (the extra `atlas`)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import io

    import matplotlib.pyplot as plt

    order: dict[str, int] = {}
    for folder in folders:
        order[folder] = order.get(folder, 0) + 1
    ranked = sorted(order, key=lambda f: (-order[f], f))
    named = ranked[: len(PALETTE) - 1] if len(ranked) > len(PALETTE) else ranked
    colour = {f: PALETTE[i] for i, f in enumerate(named)}
    size = 24 if len(folders) < 300 else 8 if len(folders) < 3000 else 2
    figure, all_axes = plt.subplots(1, len(panels), figsize=size_inches or (10.0 * len(panels) ** 0.8, 8.0),
                                    dpi=dpi, squeeze=False)
    try:
        folders_array = np.array(list(folders), dtype=object)
        rest = ~np.isin(folders_array, named)
        for axes, (coords, title) in zip(all_axes[0], panels, strict=True):
            for folder in named:
                mask = folders_array == folder
                axes.scatter(coords[mask, 0], coords[mask, 1], s=size, c=colour[folder], label=folder,
                             alpha=0.85, linewidths=0)
            if rest.any():
                axes.scatter(coords[rest, 0], coords[rest, 1], s=size, c=PALETTE[-1], label="other folders",
                             alpha=0.85, linewidths=0)
            axes.set_title(title, fontsize=11)
            axes.set_xticks([])
            axes.set_yticks([])
        if len(order) > 1:
            all_axes[0][-1].legend(loc="best", fontsize=8, markerscale=max(1.0, 24 / size) ** 0.5,
                                   frameon=False)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    finally:
        plt.close(figure)
    write_atomically(Path(path), lambda stream: stream.write(buffer.getvalue()), durable=False)
