"""The start page's "Join two sets / find duplicates" card: pick set A, set B (A itself, another set, or
all other sets), the metric and the predicate, then open `/join` with them.

Self-contained: the start page mounts it with one call and shares nothing else with it.
"""

from __future__ import annotations

from nicegui import ui

from simages.gui.context import GuiContext
from simages.gui.join.setup import suggested_threshold
from simages.gui.state.join import ALL_OTHERS, expansion_for
from simages.gui.state.sets import known_sets, set_choices
from simages.gui.urls.join import JoinState, join_url
from simages.gui.widgets.controls import QueryControls
from simages.gui.widgets.intent_picker import follow_intent, intent_picker
from simages.naming import url_quote
from simages.nearest.core.intents import DUPLICATES


def join_entry_card(ctx: GuiContext, default_set: str | None = None) -> None:
    """A card for the side column of the start page; `default_set` preselects A and B (a self-join)."""
    sets = known_sets(ctx)
    first = default_set if default_set in sets else (sets[0] if sets else None)
    with ui.card().classes("w-full").props("flat bordered").mark("join-entry"):
        ui.label("Or join two sets / find duplicates").classes("text-subtitle1 text-weight-medium")
        ui.label("Every image of set A against set B; B = A finds the duplicates within a set.").classes(
            "text-caption text-grey-7")
        intent_toggle = intent_picker(DUPLICATES.name).mark("entry-intent")
        a_select = ui.select(set_choices(sets), value=first, label="Set A (keys)")
        a_select.classes("w-full").mark("entry-a")
        b_select = ui.select(set_choices(sets) | {ALL_OTHERS: "All other sets"}, value=first,
                             label="Set B (searched)").classes("w-full").mark("entry-b")

        def draft(metric: str = "cosine", expand: bool = True) -> JoinState:
            b = None if b_select.value == ALL_OTHERS else b_select.value
            intent = intent_toggle.value
            return JoinState(a_select.value or "", b, metric=metric, expand=expand, intent=intent)

        with ui.expansion("Join settings", icon="tune").classes("w-full").props("dense"):
            controls = QueryControls(
                "cosine", "range", "",
                lambda m, e: suggested_threshold(ctx, draft(m, e)) if a_select.value else None,
                expansion=expansion_for(ctx, first, DUPLICATES.name), always_show_expansion=False,
            )
        # Markers of their own: the start page's key-search panel has the same controls.
        for element, name in ((controls.metric, "metric"), (controls.predicate, "predicate"),
                              (controls.param, "param"), (controls.expansion_box, "expansion-box"),
                              (controls.expansion, "expand"), (controls.expansion_note, "expand-hint")):
            element.mark(f"entry-{name}")

        def open_join() -> None:
            if not a_select.value or not b_select.value:
                ui.notify("Choose set A and set B.", type="warning")
                return
            if not controls.check():
                return
            metric, predicate, param = controls.settings()
            state = draft(metric, controls.expand_value).with_(predicate=predicate, param=param)
            ui.navigate.to(join_url(state))

        def b_chosen() -> None:
            b = None if b_select.value == ALL_OTHERS else b_select.value
            controls.set_expansion(expansion_for(ctx, b, intent_toggle.value))
            controls.refresh_default()

        def intent_chosen(intent: str) -> None:
            b_chosen()
            follow_intent(controls, intent)

        b_select.on_value_change(lambda _: b_chosen())
        intent_toggle.on_value_change(lambda e: intent_chosen(e.value))
        ui.button("Join", icon="join_inner", on_click=open_join).props("unelevated no-caps").classes(
            "w-full").mark("entry-run")

        def open_triage() -> None:
            # The curator's question about a new folder: set A against the whole collection.
            target = f"/triage?new={url_quote(a_select.value)}" if a_select.value else "/triage"
            ui.navigate.to(target)

        ui.button("Already in my collection? Check set A", icon="fact_check", on_click=open_triage).props(
            "outline no-caps").classes("w-full").mark("entry-triage")
