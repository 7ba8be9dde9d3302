"""Page state as URL parameters and back: queries, joins, image URLs (no NiceGUI or FastAPI import)."""
