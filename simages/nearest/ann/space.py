"""The space an ANN index was built in, frozen with it, so images can be added to the index later.

A set's join space depends on the set: its PCA or whitening (`SetIndex.whitening`) is learned on the
images it holds, so adding or removing images moves every vector a little. An index keeps the projection
it was built with (the `root` flag and the whitening of `SetIndex.project` at build time) and maps every
later vector through that same projection: images added later land in the space the graph was built in,
and a query is searched in it. Answers are still scored exactly in the set's *current* space by the joins,
so a frozen space can only cost recall, never change a score; when the set has drifted too far from the
images the space was learned on, the index is rebuilt (`simages.nearest.ann.update`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simages.extraction.postprocess import Whitening
from simages.nearest.core import scores
from simages.nearest.core.set_index import SetIndex, project_rows
from simages.wording import plural


@dataclass(frozen=True)
class FrozenSpace:
    """`SetIndex.project` of one moment: `root` (signed square root first), `whitening` (None: none),
    `input_dimension` (d of the stored vectors it accepts)."""

    root: bool
    whitening: Whitening | None
    input_dimension: int

    @classmethod
    def of(cls, index: SetIndex) -> FrozenSpace:
        """The space `index` projects into now."""
        return cls(index.root, index.whitening, index.dimension)

    def project(self, raw: np.ndarray) -> np.ndarray:
        """Stored-style rows (m, d) (or one vector) in this space, (m, r) float32; bit-identical to the
        `SetIndex.project` it was frozen from. ValueError when d is not `input_dimension`."""
        rows = scores.as_float32_rows(raw)
        if rows.shape[1] != self.input_dimension:
            raise ValueError(
                f"vectors of {plural(rows.shape[1], 'dimension')}; "
                f"this ANN index takes {self.input_dimension}"
            )
        return project_rows(rows, self.root, self.whitening)

    def is_space_of(self, index: SetIndex) -> bool:
        """Whether `index` projects exactly like this space (e.g. an index never patched, or a descriptor
        with nothing learned on the set): then its own vectors are this space's, no projection needed."""
        if self.root != index.root or self.input_dimension != index.dimension:
            return False
        mine, theirs = self.whitening, index.whitening
        if mine is None or theirs is None:
            return mine is None and theirs is None
        return bool(
            np.array_equal(mine.mean, theirs.mean) and np.array_equal(mine.projection, theirs.projection)
        )
