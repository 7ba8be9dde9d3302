"""Page 1 (`/`): choose the sets and the query, then click a key image (or upload one).

Everything the page remembers (chosen sets, shuffle order, grid page) lives in this function's closure,
i.e. per browser tab; the URL parameters only seed it, so "back home" from a results page keeps the sets.
"""

from __future__ import annotations

import random
from typing import Any

from nicegui import events, ui

from simages.extraction.images import UnreadableImage
from simages.gui.common import known_sets, load_index, page_header, status_of, threshold_for, thumbnail_img
from simages.gui.context import GuiContext
from simages.gui.controls import QueryControls
from simages.gui.image_route import thumb_url
from simages.gui.query_url import InvalidQuery, QueryState, parse_settings, results_url
from simages.gui.status_panel import StatusPanel, describe_status
from simages.gui.upload_key import describe_uploaded

PAGE_SIZE = 48


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

        with ui.row().classes("w-full no-wrap items-start gap-4"):
            with ui.column().classes("gap-4").style("width: 340px; min-width: 300px"):
                with ui.card().classes("w-full").props("flat bordered"):
                    ui.label("1. Choose the sets").classes("text-subtitle1 text-weight-medium")
                    key_select = ui.select(sets, value=tab["key_set"], label="Pick a key image from").classes(
                        "w-full").mark("key-set")
                    join_select = ui.select(sets, value=tab["join_set"], label="Search for similar images in")
                    join_select.classes("w-full").mark("join-set")
                    with ui.row().classes("w-full items-center justify-between"):
                        shuffle = ui.switch("Shuffle").mark("shuffle")
                        random_button = ui.button("Random key", icon="casino").props("outline no-caps")
                        random_button.mark("random-key")

                with ui.card().classes("w-full").props("flat bordered"):
                    ui.label("2. Query settings").classes("text-subtitle1 text-weight-medium")
                    controls = QueryControls(
                        metric, predicate, param, lambda m: threshold_for(ctx, tab["join_set"], m)
                    )

                with ui.card().classes("w-full").props("flat bordered"):
                    ui.label("Or upload a key image").classes("text-subtitle1 text-weight-medium")
                    ui.label(
                        f"Drop a photo here or pick a file (up to {limit_mb} MB). "
                        "It is compared with the set searched, not added to any set."
                    ).classes("text-caption text-grey-7")
                    upload_status = ui.label("").classes("text-caption").mark("upload-status")
                    upload = ui.upload(
                        auto_upload=True, max_file_size=ctx.max_upload_bytes, label="Key image"
                    ).props('accept="image/*" flat bordered').classes("w-full").mark("upload")

                StatusPanel(ctx.manager, on_change=lambda statuses: sets_changed(statuses))

            with ui.column().classes("col gap-2"):
                grid_title = ui.label("").classes("text-subtitle1 text-weight-medium")
                ui.label("Click an image to find the most similar ones.").classes("text-caption text-grey-7")
                grid_area = ui.column().classes("w-full gap-2")

    def current_state(image: str) -> QueryState | None:
        if not controls.check():
            return None
        m, p, text = controls.settings()
        return QueryState(tab["join_set"], key_set=tab["key_set"], image=image, metric=m, predicate=p,
                          param=text)

    def open_key(image: str) -> None:
        state = current_state(image)
        if state is not None:
            ui.navigate.to(results_url(state))

    def ordered_names() -> list[str]:
        index = load_index(ctx, tab["key_set"]) if tab["key_set"] else None
        if index is None:
            return []
        names = list(index.names)
        if shuffle.value:
            random.Random(tab["seed"]).shuffle(names)
        return names

    def draw_grid() -> None:
        grid_area.clear()
        key_set = tab["key_set"]
        with grid_area:
            if key_set is None:
                grid_title.text = "No image sets yet"
                ui.label("Put a folder of images into image_sets/; it appears here and is indexed "
                         "without restarting the app.").classes("text-grey-8")
                return
            names = ordered_names()
            if not names:
                status = status_of(ctx, key_set)
                grid_title.text = f"Images of {key_set}"
                with ui.row().classes("items-center gap-3 q-pa-md").mark("not-indexed"):
                    if status is not None and status.state in ("indexing", "waiting"):
                        ui.spinner(size="md")
                        ui.label(f"{key_set} is {describe_status(status)}. Its images appear here as soon as "
                                 "it is ready; you can wait on this page.")
                    elif status is not None and status.state == "failed":
                        ui.icon("error", color="negative", size="md")
                        ui.label(f"{key_set} could not be indexed: {status.message}")
                    else:
                        ui.icon("hourglass_empty", color="grey-7", size="md")
                        ui.label(f"{key_set} has no indexed images yet.")
                return
            pages = (len(names) + PAGE_SIZE - 1) // PAGE_SIZE
            tab["page"] = min(max(1, tab["page"]), pages)
            start = (tab["page"] - 1) * PAGE_SIZE
            grid_title.text = f"Images of {key_set} ({len(names):,})"
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
                        ui.label(name.rsplit("/", 1)[-1]).classes("thumb-caption")

    def go_to_page(page: int) -> None:
        tab["page"] = page
        draw_grid()

    def key_set_chosen(e: events.ValueChangeEventArguments) -> None:
        tab["key_set"], tab["page"] = e.value, 1
        draw_grid()

    def join_set_chosen(e: events.ValueChangeEventArguments) -> None:
        tab["join_set"] = e.value
        controls.refresh_default()

    def shuffle_changed(e: events.ValueChangeEventArguments) -> None:
        tab["seed"], tab["page"] = random.randrange(1 << 30), 1
        draw_grid()

    def random_key() -> None:
        index = load_index(ctx, tab["key_set"]) if tab["key_set"] else None
        if index is None or len(index) == 0:
            ui.notify("The key set has no indexed images yet.", type="warning")
            return
        open_key(random.choice(index.names))

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
        # The key set may have just finished indexing (or been re-indexed): show its current images.
        if not grid_area.default_slot.children or any(
            s.name == tab["key_set"] for s in statuses
        ):
            draw_grid()
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
        m, p, text = controls.settings()
        ui.navigate.to(results_url(QueryState(tab["join_set"], upload=item.id, metric=m, predicate=p,
                                              param=text)))

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
