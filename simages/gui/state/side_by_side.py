"""The side-by-side page (`/side`) apart from drawing: one tab's two settings and how a side's controls
change its setting; the comparison itself is operations.compare's."""

from __future__ import annotations

from dataclasses import dataclass

from simages.operations.compare import Setting, Side
from simages.wording import plural

SIDES = ("left", "right")


@dataclass
class SideBySideTab:
    """One browser tab's two settings (the page's URL), made by the page builder for that tab."""

    left: Setting
    right: Setting

    def setting(self, side: str) -> Setting:
        return self.left if side == "left" else self.right

    def change(self, side: str, metric: str, predicate: str, param: str, view: str) -> bool:
        """A side's controls changed: its new setting. Another metric or predicate starts from the default
        parameter (a k is no threshold, a similarity no distance). Whether the parameter was reset (its
        field must be emptied)."""
        before = self.setting(side)
        reset = predicate != before.predicate or metric != before.metric
        new = Setting(metric, predicate, "" if reset else param.strip(), view)
        if side == "left":
            self.left = new
        else:
            self.right = new
        return reset


def comparison_summary(left: Side, right: Side) -> str:
    """The line above the two answers: whether they list the same images."""
    if not left.only_here and not right.only_here:
        return "Both settings list the same images."
    left_only = plural(len(left.only_here), "image")
    return f"{left_only} only on the left, {len(right.only_here)} only on the right."
