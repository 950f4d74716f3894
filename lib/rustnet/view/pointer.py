"""What a mouse click or wheel does in the Overview and the Details (RustNet's mouse table).

Positions are body-relative (row 0 is the first row under the tab bar); the tab bar, the
help overlay and the dispatch to a tab are in :func:`rustnet.view.tabs.pointer`.
"""

from __future__ import annotations

from typing import Final

from rustnet.view.mouse import MouseEvent
from rustnet.view.state import DETAILS, Group, ViewState

DOUBLE_CLICK: Final = 0.4  # seconds: a second click on the same row within it is a double-click
DETAILS_WHEEL: Final = 3  # lines the Details scroll per wheel notch


def overview(state: ViewState, ev: MouseEvent, y: int, now: float) -> None:
    """Click selects a row, a double-click opens its Details (folds a group); the wheel moves."""
    if ev.wheel:
        state.move(ev.wheel)
        return
    if not ev.click or y < 1 or y - 1 >= state.viewport:
        return  # the header, or below the table
    index = state.top + y - 1
    if not state.select_at(index):
        return
    last = state.last_click
    state.last_click = (now, index)
    if last is None or last[1] != index or now - last[0] >= DOUBLE_CLICK:
        return
    state.last_click = None  # a third click starts over
    e = state.selected()
    if isinstance(e, Group):
        state.toggle_collapse(e.name)
    elif e is not None:
        state.set_tab(DETAILS)


def details(state: ViewState, ev: MouseEvent, y: int, now: float) -> None:
    """The wheel scrolls; a click on a field copies its value (the renderer lists where they are)."""
    if ev.wheel:
        state.scroll_details(ev.wheel * DETAILS_WHEEL)
        return
    if not ev.click:
        return
    for ty, x0, x1, label, value in state.copy_targets:
        if ty == y and x0 <= ev.x < x1 and value and value != "-":
            state.copy_request = value
            state.copy_label = label
            return
