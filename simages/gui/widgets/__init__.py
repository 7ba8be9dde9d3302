"""Controls and panels the pages draw: query controls, histogram, intent picker, viewer, status and
teaching panels.
"""
