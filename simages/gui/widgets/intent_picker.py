"""The intent toggle of the join pages: "Similar images" or "Duplicates" (nearest/core/intents.py), and
what switching it does to the query settings beside it."""

from __future__ import annotations

from nicegui import ui

from simages.gui.widgets.controls import QueryControls
from simages.nearest.core.intents import DUPLICATES, INTENTS


def intent_picker(value: str) -> ui.toggle:
    """A toggle between the intents, labelled with their plain titles; its tooltip says what each answers."""
    toggle = ui.toggle({name: intent.title for name, intent in INTENTS.items()}, value=value)
    toggle.props("no-caps spread").classes("w-full").mark("intent")
    toggle.tooltip(" · ".join(intent.describe() for intent in INTENTS.values()))
    return toggle


def follow_intent(controls: QueryControls, intent: str) -> None:
    """Duplicates are found with a range join at the duplicate threshold: switch to it, with the threshold
    suggested afresh (a similarity threshold of the other intent means something else here)."""
    if intent == DUPLICATES.name:
        controls.predicate.value = "range"
    # The other intent scores in another space: neither a typed threshold nor the k-th score of the kNN
    # answer on screen means anything there.
    controls.suggest_afresh()
