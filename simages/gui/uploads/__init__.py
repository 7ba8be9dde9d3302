"""Uploaded key images: kept in memory under a random id, described by the index manager's worker."""
