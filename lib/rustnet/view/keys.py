"""The keymap: key name -> action. The help screen and the key hints are generated from it.

Key names are blessed's (``KEY_UP``, ``KEY_ENTER``) for special keys and the character
itself for the rest. Actions only change the :class:`~rustnet.view.state.ViewState`;
side effects (copying to the clipboard, quitting) are requests the app carries out.
Filter mode has its own small keymap (:func:`filter_key`): there, letters are text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from rustnet.view.clipboard import NOT_COPYABLE, clip_text
from rustnet.view.state import ACTIVITY, DETAILS, HELP, OVERVIEW, PAGE, TABS, Group, ViewState


@dataclass(frozen=True)
class Action:
    help: str
    run: Callable[[ViewState], None]
    hint: str = ""  # short label for the hint line; empty = not in the hints


def _quit(s: ViewState) -> None:
    if s.quit_pending:
        s.quit = True
    else:
        s.quit_pending = True
        s.say("press q again to quit")


def _interrupt(s: ViewState) -> None:
    s.quit = True


def _enter(s: ViewState) -> None:
    if s.tab != OVERVIEW:
        return
    e = s.selected()
    if isinstance(e, Group):
        s.toggle_collapse(e.name)
    elif e is not None:
        s.set_tab(DETAILS)


def _escape(s: ViewState) -> None:
    if s.tab != OVERVIEW:
        s.set_tab(OVERVIEW)
    elif s.filter:
        s.clear_filter()
        s.say("filter cleared")
    else:
        s.say("")


def _copy(s: ViewState) -> None:
    row = s.selected_row()
    if row is None:
        s.say("nothing selected to copy")
        return
    text = clip_text(row.addr(row.remote), row.port(row.remote))
    if text is None:
        s.say(NOT_COPYABLE)  # a hostile recording's "address": never near a clipboard
        return
    s.copy_request = text


def _help(s: ViewState) -> None:
    s.set_tab(OVERVIEW if s.tab == HELP else HELP)


def _tab(i: int) -> Callable[[ViewState], None]:
    return lambda s: s.set_tab(TABS[i])


def _pause(s: ViewState) -> None:
    s.toggle_pause()
    s.say("display paused (p resumes)" if s.paused else "display resumed")


def _closed(s: ViewState) -> None:
    s.toggle_closed()
    if s.table.whole:
        s.say("a finite input shows every connection, closed ones dimmed")
    else:
        s.say("showing closed connections from history" if s.show_closed else "hiding closed connections")


def _group(s: ViewState) -> None:
    s.toggle_group()
    s.say("grouped by process (Enter folds a group)" if s.grouped else "grouping off")


QUIT = Action("quit (press twice)", _quit, "quit")
UP = Action("move up", lambda s: s.move(-1))
DOWN = Action("move down", lambda s: s.move(1))
PAGE_UP = Action(f"move up {PAGE} rows", lambda s: s.move(-PAGE))
PAGE_DOWN = Action(f"move down {PAGE} rows", lambda s: s.move(PAGE))
HOME = Action("first row", lambda s: s.move_to(0))
END = Action("last row", lambda s: s.move_to(-1))
ENTER = Action("details of the selection (folds a process group)", _enter, "details")
ESCAPE = Action("back to the overview / clear the filter", _escape)
FILTER = Action("filter (type to search, Enter keeps, Esc clears)", lambda s: s.start_filter(), "filter")
COPY = Action("copy the remote address (OSC 52 and the system clipboard)", _copy, "copy")
HELP_ACTION = Action("toggle this help", _help, "help")
NEXT_TAB = Action("next tab", lambda s: s.cycle_tab(1), "tabs")
PREV_TAB = Action("previous tab", lambda s: s.cycle_tab(-1))
SORT = Action("sort by the next column", lambda s: s.cycle_sort(), "sort")
REVERSE = Action("reverse the sort order", lambda s: s.reverse_sort())
PAUSE = Action("pause / resume the display", _pause, "pause")
GROUP = Action("group by process", _group, "group")
CLOSED = Action("show / hide closed connections (history)", _closed)
FOCUS_PREV = Action("select the column to the left (for resizing)", lambda s: s.focus_column(-1))
FOCUS_NEXT = Action("select the column to the right (for resizing)", lambda s: s.focus_column(1))
NARROW = Action("narrow the selected column", lambda s: s.resize_column(-1))
WIDEN = Action("widen the selected column", lambda s: s.resize_column(1))
RESET = Action("reset column widths", lambda s: s.reset_columns())
INTERRUPT = Action("quit at once", _interrupt)

KEYMAP: Final[dict[str, Action]] = {
    "q": QUIT,
    "^C": INTERRUPT,
    "KEY_TAB": NEXT_TAB,
    "KEY_BTAB": PREV_TAB,
    "1": Action("Overview tab", _tab(0)),
    "2": Action("Details tab", _tab(1)),
    "3": Action("Help tab", _tab(2)),
    "4": Action("Graph tab: traffic, connection lifecycle, health, TCP states, apps, processes", _tab(3)),
    "5": Action("Activity tab: processes by egress/ingress, interface statistics (i)", _tab(4)),
    "KEY_UP": UP,
    "k": UP,
    "KEY_DOWN": DOWN,
    "j": DOWN,
    "KEY_PGUP": PAGE_UP,
    "KEY_PGDOWN": PAGE_DOWN,
    "KEY_HOME": HOME,
    "g": HOME,
    "KEY_END": END,
    "G": END,
    "KEY_ENTER": ENTER,
    "KEY_ESCAPE": ESCAPE,
    "c": COPY,
    "h": HELP_ACTION,
    "/": FILTER,
    "s": SORT,
    "S": REVERSE,
    "p": PAUSE,
    "a": GROUP,
    "t": CLOSED,
    "[": FOCUS_PREV,
    "]": FOCUS_NEXT,
    "<": NARROW,
    ">": WIDEN,
    "=": RESET,
}

KEY_LABELS: Final = {
    "KEY_UP": "↑",
    "KEY_DOWN": "↓",
    "KEY_PGUP": "PgUp",
    "KEY_PGDOWN": "PgDn",
    "KEY_HOME": "Home",
    "KEY_END": "End",
    "KEY_ENTER": "Enter",
    "KEY_ESCAPE": "Esc",
    "KEY_TAB": "Tab",
    "KEY_BTAB": "Shift+Tab",
    "^C": "Ctrl+C",
}


def label(key: str) -> str:
    return KEY_LABELS.get(key, key)


def help_lines() -> list[tuple[str, str]]:
    """(keys, what they do) for every action in the keymap, in keymap order."""
    keys_of: dict[int, list[str]] = {}
    actions: dict[int, Action] = {}
    for key, action in KEYMAP.items():
        keys_of.setdefault(id(action), []).append(label(key))
        actions[id(action)] = action
    return [(" ".join(keys_of[i]), actions[i].help) for i in keys_of]


def hints() -> list[tuple[str, str]]:
    """(first key, short label) for the status line."""
    seen: set[int] = set()
    out = []
    for key, action in KEYMAP.items():
        if action.hint and id(action) not in seen:
            seen.add(id(action))
            out.append((label(key), action.hint))
    return out


def handle(state: ViewState, key: str) -> bool:
    """Run the action for ``key`` (filter mode first); False when the key means nothing here."""
    if state.filter_input is not None:
        return filter_key(state, key)
    action = KEYMAP.get(key)
    if state.tab == ACTIVITY:
        from rustnet.view.activity_view import KEYS

        tab_key = KEYS.get(key)
        if tab_key is not None:
            action = Action(*tab_key)
    if action is not QUIT and state.quit_pending:
        state.quit_pending = False
        state.say("")
    if action is None:
        return False
    action.run(state)
    return True


FILTER_HELP: Final = (
    ("Enter", "keep the filter"),
    ("Esc", "clear it"),
    ("↑↓ PgUp PgDn", "move while typing"),
)


def filter_key(state: ViewState, key: str) -> bool:
    """A key typed in filter mode: text edits the filter live; arrows still move."""
    text = state.filter_input or ""
    if key == "KEY_ENTER":
        state.keep_filter()
    elif key == "KEY_ESCAPE":
        state.clear_filter()
    elif key in ("KEY_BACKSPACE", "KEY_DELETE", "\x7f", "\x08"):
        state.set_filter(text[:-1])
    elif key == "^U":
        state.set_filter("")
    elif key == "^W":
        state.set_filter(text.rstrip().rpartition(" ")[0] + (" " if " " in text.rstrip() else ""))
    elif key in ("KEY_UP", "KEY_DOWN", "KEY_PGUP", "KEY_PGDOWN", "KEY_HOME", "KEY_END"):
        KEYMAP[key].run(state)
    elif key == "^C":
        INTERRUPT.run(state)
    elif len(key) == 1 and key.isprintable():
        if len(text) < 256:
            state.set_filter(text + key)
    else:
        return False
    return True
