"""Pivot tables (LAESA): exact kNN and range queries that skip distances, and their files beside the
feature store.
"""

# The default number of pivots: on Corel-1k (docs/teaching.md) 32 pivots compute about as few distances
# as 64 at 16-32 dimensions, for half the table.
# Here, not in `store`, so the CLI's help can name it without loading numpy.
DEFAULT_PIVOTS = 32
