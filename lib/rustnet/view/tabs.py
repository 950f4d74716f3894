"""The tab registry: each tab's body renderer, key map, status-bar hints and help, in one place.

The order of :data:`TABS` is the order of the tab bar and of the keys 1-4
(:data:`rustnet.view.state.TABS` names them). Only the shown tab's renderer runs, so a
hidden tab costs nothing per frame. A tab's keys come before the global ones
(:func:`rustnet.view.keys.handle`); its help lists them above the Global section.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from rustnet.view import activity_view, details, graph, keys, overview, pointer, state
from rustnet.view.bar import bar_rows, tab_spans
from rustnet.view.mouse import MouseEvent
from rustnet.view.state import ViewState
from rustnet.view.theme import Theme

# A hint on the status bar: (key, label, highlighted: the thing it toggles is on).
Hint = tuple[str, str, bool]


@dataclass(frozen=True)
class Tab:
    name: str
    draw: Callable[[ViewState, int, int, Theme], list[str]]  # the body's lines, width x height
    keys: keys.KeyMap
    hints: Callable[[ViewState], list[Hint]]
    # Extra help sections after the keys: (title, [(left, right)]).
    help_extra: Callable[[], list[tuple[str, list[tuple[str, str]]]]] = field(default=lambda: [])
    # A click or wheel over the body: (state, event, body row, now in seconds).
    mouse: Callable[[ViewState, MouseEvent, int, float], None] | None = None


def overview_hints(s: ViewState) -> list[Hint]:
    out: list[Hint] = []
    if s.filter:
        out.append(("esc", "clear filter", False))
    if s.grouped:
        group = s.selected_group()
        if group is not None:
            out.append(("space", "expand" if group in s.collapsed else "collapse", False))
    out += [
        ("↑↓", "select", False),
        ("/", "filter", False),
        ("a", "grouped" if s.grouped else "group", s.grouped),
        ("t", "history", s.show_closed),
        ("i", "info", False),
        ("c", "copy", False),
    ]
    return out


def details_hints(s: ViewState) -> list[Hint]:
    out: list[Hint] = [("j/k", "prev/next", False)]
    if s.details_overflow:
        out.append(("ctrl-d/u", "scroll", False))
    out += [("c", "copy remote addr", False), ("esc", "back", False)]
    return out


def back_hint(s: ViewState) -> list[Hint]:
    return [("esc", "back", False)]


def overview_help() -> list[tuple[str, list[tuple[str, str]]]]:
    from rustnet.view import filter as filt

    return [
        (
            "Connection Display",
            [
                ("normal", "an active connection"),
                ("yellow, then red", "nearing its idle timeout"),
                ("grey", "closed, kept in history (t): State closed, rates n/a"),
                ("~name", "a name inferred from DNS seen on the wire"),
                ("RTT", "green under 50 ms, yellow under 150 ms, red above"),
                ("Rx↓/Tx↑", "received green, sent blue; - for none"),
                ("App", "protocol, then what it carries (SNI, Host, ...)"),
            ],
        ),
        ("Filter", filt.help_lines()),
        ("Mouse", MOUSE_HELP),
    ]


MOUSE_HELP: Final = [
    ("click a tab", "show that tab"),
    ("click a row", "select it"),
    ("double-click", "Details of a connection / fold a group"),
    ("wheel", "move the selection (Details: scroll)"),
    ("click a Details line", "copy its value"),
    ("any click", "close this help"),
]


ACTIVITY_KEYS: Final[keys.KeyMap] = {k: keys.Action(h, run) for k, (h, run) in activity_view.KEYS.items()}


def activity_mouse(s: ViewState, ev: MouseEvent, y: int, now: float) -> None:
    """The wheel scrolls the interface table (the process view has nothing to scroll)."""
    if ev.wheel and s.activity.interfaces:
        s.activity.scroll_by(ev.wheel)


TABS: Final[tuple[Tab, ...]] = (
    Tab(state.OVERVIEW, overview.draw, keys.OVERVIEW_KEYS, overview_hints, overview_help, pointer.overview),
    Tab(state.DETAILS, details.draw, keys.DETAILS_KEYS, details_hints, mouse=pointer.details),
    Tab(state.ACTIVITY, activity_view.draw, ACTIVITY_KEYS, activity_view.hints, mouse=activity_mouse),
    Tab(state.GRAPH, graph.draw, {}, back_hint),
)
_BY_NAME: Final = {t.name: t for t in TABS}
assert tuple(_BY_NAME) == state.TABS, "the registry and the state's tab names must agree"


def tab(name: str) -> Tab:
    return _BY_NAME.get(name, TABS[0])


def pointer_event(s: ViewState, ev: MouseEvent, width: int, height: int, now: float) -> None:
    """A mouse event on a ``width`` x ``height`` screen: any click closes the help (the wheel
    scrolls it), a click on a tab title shows that tab, the rest goes to the shown tab."""
    if s.quit_pending or s.clear_pending:
        s.quit_pending = s.clear_pending = False  # like any key, a click cancels a confirmation
        s.say("")
    if s.help_open:
        if ev.click:
            s.help_open = False
        elif ev.wheel:
            s.scroll_help(ev.wheel)
        return
    top = bar_rows(height)
    if ev.y < top:
        if ev.click:
            for x0, x1, name in tab_spans(s, width):
                if x0 <= ev.x < x1:
                    s.set_tab(name)
        return
    handler = tab(s.tab).mouse
    if handler is not None and (ev.click or ev.wheel):
        handler(s, ev, ev.y - top, now)
