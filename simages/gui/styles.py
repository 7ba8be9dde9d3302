"""CSS shared by the pages (added once per app, for every page)."""

from __future__ import annotations

CSS = """
.border-b { border-bottom: 1px solid #e0e0e0; }
.thumb-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 12px; }
.page-body { max-width: 1400px; margin: 0 auto; }
/* One grid cell per result: its tile, then its level, turn and what changed (not grid cells of their own). */
.result-cell { display: flex; flex-direction: column; align-items: flex-start; gap: 4px; min-width: 0; }
.result-cell > .thumb-tile { align-self: stretch; }
/* Tiles are <a href> links: no link colour or underline, and a clear ring when reached with Tab. */
.thumb-tile { display: block; background: white; border: 1px solid #e0e0e0; border-radius: 8px;
              overflow: hidden;
              color: inherit; text-decoration: none; transition: box-shadow .15s, transform .15s; }
.thumb-tile:hover { box-shadow: 0 4px 14px rgba(0,0,0,.15); transform: translateY(-1px); }
.thumb-tile:focus-visible, .key-link:focus-visible { outline: 3px solid #1976d2; outline-offset: 2px; }
.thumb-tile img { display: block; width: 100%; aspect-ratio: 1 / 1; object-fit: cover; background: #f2f2f2; }
.thumb-caption { display: flex; font-size: 12px; color: #424242; padding: 4px 8px; white-space: nowrap;
                 overflow: hidden; }
/* A long name is cut in the middle ("corel/dinos…4_438.jpg"): the set part shrinks only after the middle
   is gone (and keeps a few letters), the file name's end and extension never. */
.thumb-caption-set { flex: 0 1 auto; min-width: 2.5em; overflow: hidden; text-overflow: ellipsis; }
.thumb-caption-dir { flex: 0 1000 auto; min-width: 0; overflow: hidden; text-overflow: ellipsis; }
.thumb-caption-base { flex: none; }
.status-name { min-width: 0; }
.status-detail { padding-left: 32px; overflow-wrap: anywhere; }
.key-upload { border: 2px dashed #90caf9; border-radius: 8px; max-height: none; }
.key-upload:hover { border-color: #1976d2; }
.key-upload .q-uploader__header { border-radius: 6px; }
.key-upload .q-uploader__list { min-height: 0; padding: 0; }
.key-upload .q-uploader__list:not(:empty) { padding: 8px; }
.thumb-score { font-size: 13px; font-weight: 600; padding: 0 8px 6px 8px; color: #1565c0; }
.thumb-rank { position: absolute; top: 6px; left: 6px; background: rgba(0,0,0,.6); color: white;
              border-radius: 10px; padding: 0 7px; font-size: 12px; }
.key-link { flex: none; display: block; }
.key-image { width: 112px; height: 112px; object-fit: cover; border-radius: 6px; display: block; }
/* The results' heading beside the score histogram; the histogram goes below it on narrow screens. */
.results-head { flex-wrap: wrap; }
.results-chart { width: 360px; max-width: 100%; }
.results-stale { opacity: .45; filter: grayscale(.7); }
.stale-banner { background: #fff3e0; border: 1px solid #ffcc80; border-radius: 6px; }
/* The teaching panel: controls and their sentences beside the charts they move. */
.nicegui-row.teaching-layout { flex-wrap: nowrap; }
.teaching-side { width: 320px; flex: none; }
.teaching-charts { min-width: 0; }
@media (max-width: 900px) {
  .nicegui-row.teaching-layout { flex-wrap: wrap; }
  .teaching-side { width: 100%; }
}
/* Two settings side by side: a compact grid per side, images one side only lists framed in orange. */
.side-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(110px, 1fr)); gap: 8px; }
.side-thumb { width: 100%; aspect-ratio: 1 / 1; }
.thumb-tile.side-only { border: 3px solid #ef6c00; }
@media (max-width: 900px) { .nicegui-row.side-columns { flex-wrap: wrap; } }
/* The atlas: the map, and beside it the images a lasso selected. */
.atlas-side { width: 300px; flex: none; }
.atlas-thumbs { display: grid; grid-template-columns: repeat(4, 1fr); gap: 4px; width: 100%; }
.atlas-tile { display: block; color: inherit; text-decoration: none; }
.atlas-thumb { width: 100%; aspect-ratio: 1 / 1; border-radius: 4px; }
@media (max-width: 900px) { .nicegui-row.atlas-layout { flex-wrap: wrap; } .atlas-side { width: 100%; } }
.details .q-item { padding: 0; min-height: 24px; }
/* Settings beside the images on wide screens, above them on narrow ones (phones, projectors). */
.nicegui-row.page-columns { flex-wrap: nowrap; }
.side-column { width: 310px; min-width: 280px; flex: none; }
.main-column { min-width: 0; }
/* Narrow: one column; the side column's cards become items of the row, so the images come right after
   the cards marked narrow-first and before the rest (upload, set status, histogram). */
@media (max-width: 760px) {
  .nicegui-row.page-columns { flex-wrap: wrap; }
  .side-column { display: contents; }
  .side-column > * { flex: 1 1 100%; min-width: 0; order: 2; }
  .side-column > .narrow-first { order: 0; }
  .main-column { flex: 1 1 100%; order: 1; }
}
/* The viewer: each image in a scroll box of its own; margin auto centres it yet lets a zoomed image scroll to
   its very edges (centring with justify-content would cut its left part off). */
.viewer-scroll { overflow: auto; display: flex; min-height: 0; min-width: 0; }
.viewer-scroll > img { margin: auto; display: block; cursor: zoom-in; }
.viewer-card .q-btn:focus-visible, .viewer-card a:focus-visible { outline: 2px solid #90caf9; }
"""
