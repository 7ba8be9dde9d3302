"""Page 1 (`/`): choose the sets and the query, then click a key image (or upload one).

Everything the page remembers (chosen sets, shuffle order, grid page) is one HomeTab (gui/state/home.py)
made by the builder for each browser tab, and is mirrored into the URL in place with the query settings:
Back from a results page, or its "Back to the start page" link, returns here as it was. Every thumbnail is
a link to its key's results.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from typing import Any

from nicegui import events, ui

from simages.extraction.image_errors import UnreadableImage
from simages.gui.context import GuiContext
from simages.gui.join.entry import join_entry_card
from simages.gui.pages.common import loose_images, name_caption, page_header, removed_sets_text, thumbnail_img
from simages.gui.state.home import HomeTab, describing_message, key_set_note, shuffled_link
from simages.gui.state.sets import (
    browsable_images,
    expansion_of,
    known_sets,
    load_index,
    set_choices,
    status_of,
    threshold_for,
)
from simages.gui.uploads.describe import describe_uploaded
from simages.gui.uploads.store import ACCEPT, REJECTED_JS, rejection_message
from simages.gui.urls.query import (
    InvalidQuery,
    QueryState,
    parse_expand,
    parse_settings,
    results_url,
)
from simages.gui.widgets.controls import QueryControls
from simages.gui.widgets.home_notes import key_set_note_row, no_sets_message, weights_banner
from simages.gui.widgets.status_panel import StatusPanel
from simages.naming import display_name

log = logging.getLogger(__name__)

# The upload's header is replaced by a drop zone (Quasar's default shows "label 0.0B / 0.00%" before any file
# is chosen). The add trigger is Quasar's own file input laid over the zone, so a click opens the file picker;
# dropping a file anywhere on the uploader works as before.
_DROP_ZONE = """
<div class="upload-drop row no-wrap items-center q-px-md q-py-sm relative-position cursor-pointer">
  <q-icon name="add_photo_alternate" size="md" color="primary" class="q-mr-md"></q-icon>
  <div class="col" style="min-width: 0">
    <div class="text-body2 text-weight-medium">Drop an image here or click to choose, to search with it
      as the key</div>
    <div class="text-caption text-grey-7">JPEG, PNG, WebP, TIFF… up to LIMIT MB. It is compared with the set
      searched, not added to any set.</div>
  </div>
  <q-spinner v-if="props.isUploading" color="primary" size="sm" class="q-ml-sm"></q-spinner>
  <q-uploader-add-trigger></q-uploader-add-trigger>
</div>
"""


# A plain click on a key tile follows its link, except while the query settings are invalid: then the page
# says why (the handler) and stays. Other clicks (new tab, copy link) keep the browser's meaning.
CLICK_WHILE_INVALID = """(e) => {
  if (!e.currentTarget.closest("[data-invalid]")) return;
  if (e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  emit();
}"""


def _describer_ready(ctx: GuiContext) -> bool:
    """Whether the manager says its network is built (a manager that cannot tell: assume it is)."""
    ready = getattr(ctx.manager, "describer_ready", None)
    return True if ready is None else bool(ready())


@dataclass
class DrawnGrid:
    """The key grid as last drawn in this tab: what it was drawn for (redrawn only when that changes), its
    tiles with their image names and its element (links and validity are updated in place)."""

    signature: tuple | None = None
    tiles: list[tuple[ui.link, str]] = field(default_factory=list)
    element: ui.element | None = None


def build_home(ctx: GuiContext, params: dict[str, str]) -> None:
    """The start page. The URL carries its state (sets, grid page, shuffle order, query settings) and is
    kept up to date in place, so Back from a results page returns to it as it was."""
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
    tab = HomeTab.from_params(params, sets)
    grid = DrawnGrid()

    weights_problem = ctx.settings.check_weights()
    limit_mb = ctx.max_upload_bytes // (1024 * 1024)
    with ui.column().classes("w-full q-px-md q-pb-md q-pt-sm gap-3 page-body"):
        if weights_problem:
            weights_banner(weights_problem)

        with ui.row().classes("w-full items-start gap-4 page-columns"):
            with ui.column().classes("gap-3 side-column"):
                with ui.card().classes("w-full narrow-first q-pa-sm gap-1").props("flat bordered"):
                    ui.label("1. Choose the sets").classes("text-subtitle2 text-weight-medium")
                    choices = set_choices(sets)
                    key_select = ui.select(choices, value=tab.key_set, label="Pick a key image from")
                    key_select.classes("w-full").props("dense options-dense").mark("key-set")
                    join_select = ui.select(
                        choices, value=tab.join_set, label="Search for similar images in")
                    join_select.classes("w-full").props("dense options-dense").mark("join-set")
                    with ui.row().classes("w-full items-center no-wrap gap-1"):
                        hint = ui.label("").classes("text-caption text-grey-7 col").mark("follow-hint")
                        follow = ui.button("Follow", on_click=lambda: follow_key_set()).props(
                            "flat dense no-caps color=primary").mark("follow")
                        follow.tooltip("Search the key set again")

                with ui.card().classes("w-full narrow-first q-pa-sm gap-1").props("flat bordered"):
                    ui.label("2. Query settings").classes("text-subtitle2 text-weight-medium")
                    # The expansion switch is always shown here: it only matters for sets with `qe`.
                    controls = QueryControls(
                        metric, predicate, param, lambda m, e: threshold_for(ctx, tab.join_set, m, e),
                        expand=expand, expansion=expansion_of(ctx, tab.join_set),
                        on_change=lambda: settings_changed(),
                    )

                join_entry_card(ctx, tab.key_set)

                StatusPanel(ctx.manager, on_change=lambda statuses: sets_changed(statuses),
                            loose=lambda: loose_images(ctx.settings.image_sets))

            with ui.column().classes("col gap-2 main-column"):
                with ui.row().classes("w-full items-center gap-3"):
                    with ui.column().classes("col gap-0").style("min-width: 200px"):
                        grid_title = ui.label("").classes("text-subtitle1 text-weight-medium")
                        grid_title.mark("grid-title")
                        ui.label("Click an image to find the most similar ones (middle-click: in a new tab).",
                                 ).classes("text-caption text-grey-7")
                    shuffle = ui.switch("Shuffle", value=shuffled_link(params)).mark("shuffle")
                    random_button = ui.button("Random key", icon="casino").props("outline no-caps")
                    random_button.mark("random-key")
                # The upload sits right above the grid: where people look for it, and where its messages show.
                with ui.row().classes("w-full items-center no-wrap gap-3").mark("upload-card"):
                    upload = ui.upload(auto_upload=True, max_file_size=ctx.max_upload_bytes)
                    upload.props(f'accept="{ACCEPT}" flat color="blue-1" text-color="grey-9"')
                    upload.classes("col key-upload").mark("upload")
                    upload.add_slot("header", _DROP_ZONE.replace("LIMIT", str(limit_mb)))
                with ui.row().classes("items-center no-wrap gap-2"):
                    # Shown while an upload is described: it can take seconds, and the page must say why.
                    upload_spinner = ui.spinner(size="1.5em").mark("upload-spinner")
                    upload_spinner.set_visibility(False)
                    upload_status = ui.label("").classes("text-caption").mark("upload-status")
                note_area = ui.column().classes("w-full gap-0")
                grid_area = ui.column().classes("w-full gap-2")

    def results_for(**key: str | None) -> str:
        """The results URL for this key (key_set and image, or upload) with the settings as they are now."""
        m, p, text = controls.settings()
        return results_url(QueryState(tab.join_set or "", metric=m, predicate=p, param=text,
                                      expand=controls.expand_value, **key))

    def open_key(image: str) -> None:
        if controls.check():
            ui.navigate.to(results_for(key_set=tab.key_set, image=image))

    def remember() -> None:
        """Keep the URL in step with the page, in place (no history entry), so Back restores it."""
        m, p, text = controls.settings()
        ui.navigate.history.replace(tab.url(m, p, text, controls.expand_value, shuffle.value))

    def ordered_names() -> list[str]:
        """The key set's images in display order: its files even before (or without) descriptors."""
        if tab.key_set is None:
            return []
        return tab.ordered(browsable_images(ctx, tab.key_set, load_index(ctx, tab.key_set)), shuffle.value)

    def grid_signature() -> tuple:
        """What the grid depends on besides the page: redrawn only when this changes, not at every step of
        the indexing progress (the note above it follows that)."""
        key_set = tab.key_set
        status = status_of(ctx, key_set) if key_set else None
        return (key_set, getattr(status, "state", None), getattr(status, "count", None),
                key_set is not None and load_index(ctx, key_set) is not None)

    def draw_note() -> None:
        """A line above the grid while the key set cannot be searched yet: its images can still be browsed."""
        note_area.clear()
        key_set = tab.key_set
        if key_set is None:
            return
        status = status_of(ctx, key_set)
        note = key_set_note(getattr(status, "state", None), load_index(ctx, key_set) is not None)
        if note is None:
            return
        with note_area:
            key_set_note_row(key_set, note, status)

    def draw_grid() -> None:
        grid_area.clear()
        draw_note()
        # Cleared above: a later refresh must not update the deleted elements.
        grid.signature, grid.tiles, grid.element = grid_signature(), [], None
        key_set = tab.key_set
        with grid_area:
            if key_set is None:
                grid_title.text = "No image sets yet"
                no_sets_message(loose_images(ctx.settings.image_sets))
                return
            names = ordered_names()
            grid_title.text = f"Images of {display_name(key_set)} ({len(names):,})"
            if not names:
                empty = f"{display_name(key_set)} has no images yet."
                ui.label(empty).classes("text-grey-8 q-pa-md").mark("no-images")
                return
            shown = tab.grid_page(len(names))
            if shown.pages > 1:
                ui.pagination(1, shown.pages, direction_links=True, value=shown.page,
                              on_change=lambda e: go_to_page(e.value)).props("max-pages=9 boundary-numbers")
            with ui.element("div").classes("w-full thumb-grid").mark("key-grid") as element:
                grid.element = element
                if not controls.valid():
                    element.props["data-invalid"] = "1"
                for name in names[shown.start:shown.stop]:
                    # A real link to the key's results: open in a new tab and copy link work as everywhere.
                    tile = ui.link(target=results_for(key_set=key_set, image=name)).classes("thumb-tile")
                    tile.mark(f"thumb:{name}")
                    tile.props["title"] = display_name(name)
                    tile.on("click", lambda: controls.check(), js_handler=CLICK_WHILE_INVALID)
                    with tile:
                        thumbnail_img(ctx.thumbnails.url(key_set, name), alt=display_name(name))
                        name_caption(name)
                    grid.tiles.append((tile, name))

    def refresh_links() -> None:
        """Every tile's link carries the settings as they are now; while they are invalid, a plain click
        explains why instead of opening a search that cannot run."""
        for tile, name in grid.tiles:
            tile.props["href"] = results_for(key_set=tab.key_set, image=name)
            tile.update()
        if grid.element is not None:
            if controls.valid():
                grid.element.props.pop("data-invalid", None)
            else:
                grid.element.props["data-invalid"] = "1"
            grid.element.update()

    def settings_changed() -> None:
        refresh_links()
        remember()

    def show_rule() -> None:
        hint.text = tab.follow_hint()
        follow.set_visibility(tab.offers_follow())

    def go_to_page(page: int) -> None:
        tab.page = page
        draw_grid()
        remember()

    def key_set_chosen(e: events.ValueChangeEventArguments) -> None:
        if tab.choose_key_set(e.value):
            join_select.value = e.value  # runs join_set_chosen, which keeps it unpinned
        draw_grid()
        show_rule()
        remember()

    def join_set_chosen(e: events.ValueChangeEventArguments) -> None:
        tab.choose_join_set(e.value)
        controls.set_expansion(expansion_of(ctx, e.value))
        controls.refresh_default()
        show_rule()
        settings_changed()

    def follow_key_set() -> None:
        join_select.value = tab.follow_key_set()

    def shuffle_changed(e: events.ValueChangeEventArguments) -> None:
        tab.reshuffle()
        draw_grid()
        remember()

    def random_key() -> None:
        names = ordered_names()
        if not names:
            ui.notify("The key set has no images yet.", type="warning", position="top")
            return
        open_key(random.choice(names))

    def sets_changed(statuses: list[Any]) -> None:
        names = known_sets(ctx)
        choices = set_choices(names)
        if names != list(key_select.options):
            gone = tab.gone(names)
            if gone:
                # The page switches to another set: say why, rather than change under the user's eyes.
                ui.notify(removed_sets_text(gone), type="warning", position="top", multi_line=True)
            key_select.set_options(choices, value=tab.key_set if tab.key_set in names else None)
            join_select.set_options(choices, value=tab.join_set if tab.join_set in names else None)
            if tab.key_set not in names:
                tab.key_set = names[0] if names else None
                key_select.value = tab.key_set
            if tab.join_set not in names:
                tab.join_set, tab.pinned = tab.key_set, False
                join_select.value = tab.join_set
            show_rule()
        # The key set may have just finished indexing (or been re-indexed): show its current images; while
        # it is indexing only the note above the grid follows the progress.
        if not grid_area.default_slot.children or grid_signature() != grid.signature:
            draw_grid()
        elif any(s.name == tab.key_set for s in statuses):
            draw_note()
        controls.set_expansion(expansion_of(ctx, tab.join_set))
        controls.refresh_default()

    def upload_message(text: str, problem: bool) -> None:
        """Beside the drop zone, and for a problem also at the top of the window, where people look."""
        upload_status.text = text
        upload_status.classes(replace="text-caption " + ("text-negative" if problem else "text-grey-8"))
        if problem:
            ui.notify(text, type="negative", position="top", multi_line=True)

    async def uploaded(e: events.UploadEventArguments) -> None:
        if tab.join_set is None:
            upload_message("Choose a set to search first.", True)
            return
        if not controls.check():
            return
        upload_message(describing_message(e.file.name, _describer_ready(ctx)), False)
        upload_spinner.set_visibility(True)
        try:
            item = await describe_uploaded(ctx, e.file.name, await e.file.read())
        except UnreadableImage as error:
            upload_message(f"{e.file.name} is not an image we can read: {error}", True)
            upload.reset()
            return
        except Exception as error:  # the page must never stay on "Describing…": say what failed
            log.exception("describing the upload %s failed", e.file.name)
            upload_message(f"{e.file.name} could not be described: {error}", True)
            upload.reset()
            return
        finally:
            upload_spinner.set_visibility(False)
        ui.navigate.to(results_for(upload=item.id))

    def rejected(e: events.GenericEventArguments) -> None:
        upload_message(rejection_message(e.args, ctx.max_upload_bytes), True)

    key_select.on_value_change(key_set_chosen)
    join_select.on_value_change(join_set_chosen)
    shuffle.on_value_change(shuffle_changed)
    random_button.on_click(random_key)
    upload.on_upload(uploaded)
    upload.on("rejected", rejected, js_handler=REJECTED_JS)
    show_rule()
    draw_grid()
