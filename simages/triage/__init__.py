"""Triage machinery: plans of files to quarantine, the write-ahead journal that moves them (and back),
the suggested keeper of a copy group, EXIF reading, and the remembered "not a duplicate" decisions.

The use case ("which of these new photos are already in my collection?") is simages.operations.triage.
"""
