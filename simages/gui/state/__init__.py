"""Per-tab state of the pages and the decisions they draw from: typed, made for each browser tab by its
page builder (never module-level), and free of drawing, so they are tested without a browser."""
