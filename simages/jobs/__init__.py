"""Indexing jobs: what to compute for a set, running it in background processes, watching the folders."""
