"""The atlas: every image of a set (or of a join's two sets) placed on a 2-D map of its descriptors.

- `projection`: the maps themselves, from any descriptor matrix (n, d): PCA (instant) and UMAP
  (umap-learn, the optional extra `atlas`), and placing new rows on an existing UMAP map.
- `cache`: a set's map kept in `features/.atlas/`, keyed by the store's content, refreshed after indexing
  (new images placed without a full recompute where UMAP allows it).
- `join_layer`: a join drawn on the searched set's map: both sets, the passing pairs as edges,
  duplicate groups, and the images of B with no match in A.
- `render`: a PNG of a map for the command line (matplotlib).
"""
