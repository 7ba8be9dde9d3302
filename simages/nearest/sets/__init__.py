"""Opening a set's index from its feature store, memory-mapped, and caching it per process (callers pass
the cache).
"""
