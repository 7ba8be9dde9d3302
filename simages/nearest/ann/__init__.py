"""Approximate nearest-neighbour search with FAISS: the index, its frozen space, keeping it up to date, and
the join side (which search a query uses, candidate rows).
"""
