"""Retrieval-quality evaluation: leave-one-out ranking metrics over a labeled folder (`simages eval`)."""
