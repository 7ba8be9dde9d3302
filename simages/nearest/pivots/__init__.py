"""Pivot tables (LAESA): exact kNN and range queries that skip distances, and their files beside the
feature store.
"""
