"""Learning a descriptor from a labelled set: a projection head trained on the stored VGG-16 vectors.

`split` (per-class held-out split), `heads` (the torch head and its export as an affine map), `losses`
(cross-entropy and semi-hard triplet), `trainer` (early stopping, Ctrl-C), `augment` (augmented photos
described once), `registry` (heads kept under features/heads/, numpy only so loading a head for a query
never imports torch). The use case that ties them together is `simages.operations.train`.
"""
