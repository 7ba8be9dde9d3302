"""Near-duplicates: the exact self-join at the duplicate threshold, the same through a large set's ANN kNN
graph, and the groups (connected components) of a join's pairs.
"""
