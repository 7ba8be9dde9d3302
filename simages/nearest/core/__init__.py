"""What every join builds on: the query spec, score matrices, predicates, a set's index, exact re-scoring
(`decide`), answers and score distributions.
"""
