"""Page 1 (`/`): choose the sets and the query, then click a key image (or upload one).

Everything the page remembers (chosen sets, shuffle order, grid page) lives in this function's closure,
i.e. per browser tab; the URL parameters only seed it, so "back home" from a results page keeps the sets.
"""

from __future__ import annotations

import random
from typing import Any

from nicegui import events, ui

from simages.extraction.images import UnreadableImage
from simages.gui.common import (
    browsable_images,
    expansion_of,
    known_sets,
    load_index,
    name_caption,
    page_header,
    status_of,
    threshold_for,
    thumbnail_img,
)
from simages.gui.context import GuiContext
from simages.gui.controls import QueryControls
from simages.gui.image_route import thumb_url
from simages.gui.query_url import InvalidQuery, QueryState, parse_expand, parse_settings, results_url
from simages.gui.status_panel import StatusPanel, describe_status
from simages.gui.upload_key import describe_uploaded

PAGE_SIZE = 48

# The upload's header is replaced by a drop zone (Quasar's default shows "label 0.0B / 0.00%" before any file
# is chosen). The add trigger is Quasar's own file input laid over the zone, so a click opens the file picker;
# dropping a file anywhere on the uploader works as before.
_DROP_ZONE = """
<div class="upload-drop row no-wrap items-center q-pa-md relative-position cursor-pointer">
  <q-icon name="add_photo_alternate" size="md" color="primary" class="q-mr-md"></q-icon>
  <div class="col" style="min-width: 0">
    <div class="text-body2 text-weight-medium">Drop an image here or click to choose</div>
    <div class="text-caption text-grey-7">JPEG, PNG, WebP, TIFF… up to LIMIT MB</div>
  </div>
  <q-spinner v-if="props.isUploading" color="primary" size="sm" class="q-ml-sm"></q-spinner>
  <q-uploader-add-trigger></q-uploader-add-trigger>
</div>
"""


def _initial_set(requested: str | None, sets: list[str]) -> str | None:
    if requested in sets:
        return requested
    return sets[0] if sets else None


def build_home(ctx: GuiContext, params: dict[str, str]) -> None:
    page_header("find similar images")
    try:
        metric, predicate, param = parse_settings(params)
    except InvalidQuery:
        metric, predicate, param = "cosine", "knn", ""
    try:
        expand = parse_expand(params)
    except InvalidQuery:
        expand = True
    sets = known_sets(ctx)
    tab: dict[str, Any] = {
        "key_set": _initial_set(params.get("key_set"), sets),
        "join_set": _initial_set(params.get("set") or params.get("key_set"), sets),
        "seed": random.randrange(1 << 30),
        "page": 1,
    }

    weights_problem = ctx.settings.check_weights()
    limit_mb = ctx.max_upload_bytes // (1024 * 1024)
    with ui.column().classes("w-full q-pa-md gap-4").style("max-width: 1400px; margin: 0 auto"):
        if weights_problem:
            banner = ui.card().classes("w-full bg-orange-1").props("flat bordered").mark("weights-banner")
            with banner, ui.row().classes("items-center no-wrap gap-3"):
                ui.icon("warning", color="warning", size="md")
                with ui.column().classes("gap-0"):
                    ui.label("Descriptors cannot be computed: the network weights are missing").classes(
                        "text-weight-medium"
                    )
                    ui.label(weights_problem).classes("text-body2")
                    ui.label("Sets indexed earlier can still be searched.").classes("text-caption")

        with ui.row().classes("w-full items-start gap-4 page-columns"):
            with ui.column().classes("gap-4 side-column"):
                with ui.card().classes("w-full narrow-first").props("flat bordered"):
                    ui.label("1. Choose the sets").classes("text-subtitle1 text-weight-medium")
                    key_select = ui.select(sets, value=tab["key_set"], label="Pick a key image from").classes(
                        "w-full").mark("key-set")
                    join_select = ui.select(sets, value=tab["join_set"], label="Search for similar images in")
                    join_select.classes("w-full").mark("join-set")
                    with ui.row().classes("w-full items-center justify-between"):
                        shuffle = ui.switch("Shuffle").mark("shuffle")
                        random_button = ui.button("Random key", icon="casino").props("outline no-caps")
                        random_button.mark("random-key")

                with ui.card().classes("w-full narrow-first").props("flat bordered"):
                    ui.label("2. Query settings").classes("text-subtitle1 text-weight-medium")
                    # The expansion switch is always shown here: it only matters for sets with `qe`.
                    controls = QueryControls(
                        metric, predicate, param, lambda m, e: threshold_for(ctx, tab["join_set"], m, e),
                        expand=expand, expansion=expansion_of(ctx, tab["join_set"]),
                    )

                with ui.card().classes("w-full").props("flat bordered"):
                    ui.label("Or upload a key image").classes("text-subtitle1 text-weight-medium")
                    ui.label("It is compared with the set searched, not added to any set.").classes(
                        "text-caption text-grey-7")
                    upload = ui.upload(auto_upload=True, max_file_size=ctx.max_upload_bytes)
                    upload.props('accept="image/*" flat color="blue-1" text-color="grey-9"')
                    upload.classes("w-full key-upload").mark("upload")
                    upload.add_slot("header", _DROP_ZONE.replace("LIMIT", str(limit_mb)))
                    upload_status = ui.label("").classes("text-caption").mark("upload-status")

                StatusPanel(ctx.manager, on_change=lambda statuses: sets_changed(statuses))

            with ui.column().classes("col gap-2 main-column"):
                grid_title = ui.label("").classes("text-subtitle1 text-weight-medium")
                ui.label("Click an image to find the most similar ones.").classes("text-caption text-grey-7")
                note_area = ui.column().classes("w-full gap-0")
                grid_area = ui.column().classes("w-full gap-2")

    def results_for(**key: str | None) -> str:
        """The results URL for this key (key_set and image, or upload) with the settings as they are now."""
        m, p, text = controls.settings()
        return results_url(QueryState(tab["join_set"], metric=m, predicate=p, param=text,
                                      expand=controls.expand_value, **key))

    def open_key(image: str) -> None:
        if controls.check():
            ui.navigate.to(results_for(key_set=tab["key_set"], image=image))

    def ordered_names() -> list[str]:
        """The key set's images in display order: its files even before (or without) descriptors."""
        key_set = tab["key_set"]
        if key_set is None:
            return []
        names = browsable_images(ctx, key_set, load_index(ctx, key_set))
        if shuffle.value:
            random.Random(tab["seed"]).shuffle(names)
        return names

    def grid_signature() -> tuple:
        """What the grid depends on besides the page: redrawn only when this changes, not at every step of
        the indexing progress (the note above it follows that)."""
        key_set = tab["key_set"]
        status = status_of(ctx, key_set) if key_set else None
        return (key_set, getattr(status, "state", None), getattr(status, "count", None),
                key_set is not None and load_index(ctx, key_set) is not None)

    def draw_note() -> None:
        """A line above the grid while the key set cannot be searched yet: its images can still be browsed."""
        note_area.clear()
        key_set = tab["key_set"]
        if key_set is None:
            return
        status = status_of(ctx, key_set)
        state = getattr(status, "state", None)
        indexed = load_index(ctx, key_set) is not None
        if indexed and state in ("indexed", None):
            return
        with note_area, ui.row().classes("items-center no-wrap gap-2 q-py-xs").mark("not-indexed"):
            if state in ("indexing", "waiting"):
                ui.spinner(size="sm")
                text = (f"{key_set} is {describe_status(status)}. You can pick a key image already: "
                        "its search starts as soon as the set is ready.")
                ui.label(text).classes("text-body2 text-grey-8")
            elif state == "failed":
                ui.icon("error", color="negative", size="sm")
                reason = f": {status.message}" if status.message else ""
                ui.label(f"{key_set} could not be indexed{reason}").classes("text-body2 text-negative")
            else:
                ui.icon("hourglass_empty", color="grey-7", size="sm")
                ui.label(f"{key_set} is not indexed yet; its images can be browsed already.").classes(
                    "text-body2 text-grey-8")

    def draw_grid() -> None:
        grid_area.clear()
        draw_note()
        tab["drawn"] = grid_signature()
        key_set = tab["key_set"]
        with grid_area:
            if key_set is None:
                grid_title.text = "No image sets yet"
                ui.label("Put a folder of images into image_sets/; it appears here and is indexed "
                         "without restarting the app.").classes("text-grey-8")
                return
            names = ordered_names()
            grid_title.text = f"Images of {key_set} ({len(names):,})"
            if not names:
                ui.label(f"{key_set} has no images yet.").classes("text-grey-8 q-pa-md").mark("no-images")
                return
            pages = (len(names) + PAGE_SIZE - 1) // PAGE_SIZE
            tab["page"] = min(max(1, tab["page"]), pages)
            start = (tab["page"] - 1) * PAGE_SIZE
            if pages > 1:
                ui.pagination(1, pages, direction_links=True, value=tab["page"],
                              on_change=lambda e: go_to_page(e.value)).props("max-pages=9 boundary-numbers")
            with ui.element("div").classes("w-full thumb-grid").mark("key-grid"):
                for name in names[start:start + PAGE_SIZE]:
                    tile = ui.element("div").classes("thumb-tile cursor-pointer").mark(f"thumb:{name}")
                    tile.props["title"] = name
                    tile.on("click", lambda _, n=name: open_key(n))
                    with tile:
                        thumbnail_img(thumb_url(key_set, name))
                        name_caption(name)

    def go_to_page(page: int) -> None:
        tab["page"] = page
        draw_grid()

    def key_set_chosen(e: events.ValueChangeEventArguments) -> None:
        tab["key_set"], tab["page"] = e.value, 1
        draw_grid()

    def join_set_chosen(e: events.ValueChangeEventArguments) -> None:
        tab["join_set"] = e.value
        controls.set_expansion(expansion_of(ctx, e.value))
        controls.refresh_default()

    def shuffle_changed(e: events.ValueChangeEventArguments) -> None:
        tab["seed"], tab["page"] = random.randrange(1 << 30), 1
        draw_grid()

    def random_key() -> None:
        names = ordered_names()
        if not names:
            ui.notify("The key set has no images yet.", type="warning")
            return
        open_key(random.choice(names))

    def sets_changed(statuses: list[Any]) -> None:
        names = known_sets(ctx)
        if names != list(key_select.options):
            key_select.set_options(names, value=tab["key_set"] if tab["key_set"] in names else None)
            join_select.set_options(names, value=tab["join_set"] if tab["join_set"] in names else None)
            if tab["key_set"] not in names:
                tab["key_set"] = names[0] if names else None
                key_select.value = tab["key_set"]
            if tab["join_set"] not in names:
                tab["join_set"] = tab["key_set"]
                join_select.value = tab["join_set"]
        # The key set may have just finished indexing (or been re-indexed): show its current images; while
        # it is indexing only the note above the grid follows the progress.
        if not grid_area.default_slot.children or grid_signature() != tab.get("drawn"):
            draw_grid()
        elif any(s.name == tab["key_set"] for s in statuses):
            draw_note()
        controls.set_expansion(expansion_of(ctx, tab["join_set"]))
        controls.refresh_default()

    async def uploaded(e: events.UploadEventArguments) -> None:
        if tab["join_set"] is None:
            upload_status.text = "Choose a set to search first."
            return
        if not controls.check():
            return
        upload_status.text = f"Describing {e.file.name}…"
        upload_status.classes(replace="text-caption text-grey-8")
        try:
            item = await describe_uploaded(ctx, e.file.name, await e.file.read())
        except UnreadableImage as error:
            upload_status.text = f"{e.file.name} is not an image we can read: {error}"
            upload_status.classes(replace="text-caption text-negative")
            upload.reset()
            return
        ui.navigate.to(results_for(upload=item.id))

    def rejected() -> None:
        upload_status.text = (f"That file is too large: the limit is {limit_mb} MB "
                              "(or it is not an image file).")
        upload_status.classes(replace="text-caption text-negative")

    key_select.on_value_change(key_set_chosen)
    join_select.on_value_change(join_set_chosen)
    shuffle.on_value_change(shuffle_changed)
    random_button.on_click(random_key)
    upload.on_upload(uploaded)
    upload.on_rejected(rejected)
    draw_grid()
