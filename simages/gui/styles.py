"""CSS shared by the pages (added once per app, for every page)."""

from __future__ import annotations

CSS = """
.border-b { border-bottom: 1px solid #e0e0e0; }
.thumb-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 12px; }
.thumb-tile { background: white; border: 1px solid #e0e0e0; border-radius: 8px; overflow: hidden;
              transition: box-shadow .15s, transform .15s; }
.thumb-tile:hover { box-shadow: 0 4px 14px rgba(0,0,0,.15); transform: translateY(-1px); }
.thumb-tile img { display: block; width: 100%; aspect-ratio: 1 / 1; object-fit: cover; background: #f2f2f2; }
.thumb-caption { font-size: 12px; color: #424242; padding: 4px 8px; white-space: nowrap; overflow: hidden;
                 text-overflow: ellipsis; }
.thumb-score { font-size: 13px; font-weight: 600; padding: 0 8px 6px 8px; color: #1565c0; }
.thumb-rank { position: absolute; top: 6px; left: 6px; background: rgba(0,0,0,.6); color: white;
              border-radius: 10px; padding: 0 7px; font-size: 12px; }
.key-image { width: 100%; max-width: 320px; border-radius: 8px; display: block; }
.viewer-image { max-width: 100%; max-height: calc(100vh - 140px); object-fit: contain; }
"""
