"""A race of search methods for the same kNN queries, side by side (`contest`): brute force, the pivot
table (LAESA), a binary hash with coarse-to-fine re-ranking and HNSW, each with the distances it computed,
its time per key and its recall@k against brute force."""
