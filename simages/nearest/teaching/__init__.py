"""What the teaching panel shows: what a query cost, what pivots pruned, intrinsic dimensionality, PCA-
reduced sets.
"""
