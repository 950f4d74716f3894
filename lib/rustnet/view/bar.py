"""Where the tab bar puts things: its height and each tab title's cells (drawing and mouse)."""

from __future__ import annotations

from typing import Final

from rustnet.view.state import OVERVIEW, TABS, ViewState
from rustnet.view.text import width

TAB_PREFIX: Final = " rustnet   "


def bar_rows(height: int) -> int:
    """Rows of the tab bar: the titles, and the accent line under the shown one when there is room."""
    return 2 if height >= 8 else 1


def tab_label(state: ViewState, i: int, name: str) -> str:
    dot = "●" if name == OVERVIEW and (state.filter or state.filter_input is not None) else " "
    return f" {i + 1} {name}{dot} "


def tab_spans(state: ViewState, w: int) -> list[tuple[int, int, str]]:
    """(first cell, cell after the last, tab) of each tab title on the bar (for mouse clicks)."""
    labels = [tab_label(state, i, n) for i, n in enumerate(TABS)]
    total = sum(width(label) for label in labels)
    x = width(TAB_PREFIX) if width(TAB_PREFIX) + total <= w else 0
    if x + total > w:
        return [(0, min(w, width(labels[TABS.index(state.tab)])), state.tab)]
    out = []
    for name, label in zip(TABS, labels, strict=True):
        out.append((x, x + width(label), name))
        x += width(label)
    return out
