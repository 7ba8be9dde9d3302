"""What `simages eval` evaluates by default and reports: no import, so `simages eval --help` can name them
without loading the evaluation."""

from __future__ import annotations

# Every pooling with and without L2, then each post-processing option alone on top of gap+l2, then the
# combinations around the default; `simages eval` runs these (and the default) when no -d is given.
DEFAULT_OPTIONS = (
    "flat",
    "flat+l2",
    "gap",
    "gap+l2",
    "max",
    "max+l2",
    "gem3",
    "gem3+l2",
    "rmac",
    "gap+sqrt+l2",
    "gap+flip+l2",
    "gap+l2+pca",
    "gap+l2+pca128",
    "gap+l2+whiten",
    "gap+l2+whiten128",
    "gap+l2+qe10",
    "gem3+sqrt+l2+whiten",
    "rmac+sqrt+l2+whiten",
    "gap+sqrt+l2+pca128+qe10",
    "gap+flip+l2+pca128+qe10",
    "gap+l2+pca128+qe10",
)
TABLE_KS = (1, 10, 20)
PLOT_MAX_K = 50
