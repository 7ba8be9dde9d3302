"""The three pages (`/`, `/similar`, `/join`) and what they share (header, error page, set lookups)."""
