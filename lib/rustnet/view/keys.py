"""Key maps: key name -> action, one map per tab plus the global one; help and hints come from them.

Key names are blessed's (``KEY_UP``, ``KEY_ENTER``) for special keys, ``^X`` for control
characters and the character itself for the rest. Actions only change the
:class:`~rustnet.view.state.ViewState`; side effects (copying to the clipboard, quitting) are
requests the app carries out.

Order (as RustNet): the help overlay takes a key first, then filter typing (letters are text
there), then the shown tab's map (:mod:`rustnet.view.tabs`), then the global map. Any key
but ``q`` cancels a pending quit, any key but ``x`` a pending clear.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from rustnet.view.clipboard import NOT_COPYABLE, clip_text
from rustnet.view.state import DETAILS, OVERVIEW, TABS, Group, ViewState

QUIT_CONFIRM: Final = "Press 'q' again to quit or any other key to cancel"
CLEAR_CONFIRM: Final = "Press 'x' again to clear all connections or any other key to cancel"
CLEARED: Final = "All connections cleared"
DETAILS_STEP: Final = 5  # Ctrl+D / Ctrl+U scroll the Details by this many lines (RustNet's)


@dataclass(frozen=True)
class Action:
    help: str
    run: Callable[[ViewState], None]


KeyMap = Mapping[str, Action]


# --- global ----------------------------------------------------------------------------------
def _quit(s: ViewState) -> None:
    if s.quit_pending:
        s.quit = True
    else:
        s.quit_pending = True
        s.say(QUIT_CONFIRM)


def _interrupt(s: ViewState) -> None:
    s.quit = True


def _clear(s: ViewState) -> None:
    if s.clear_pending:
        s.clear_pending = False
        s.clear_all()
        s.say(CLEARED)
    else:
        s.clear_pending = True
        s.say(CLEAR_CONFIRM)


def _escape(s: ViewState) -> None:
    if s.filter or s.filter_input is not None:
        s.clear_filter()
        s.say("filter cleared")
    elif s.tab != OVERVIEW:
        s.set_tab(OVERVIEW)
    else:
        s.say("")


def _help(s: ViewState) -> None:
    s.help_open = not s.help_open
    s.help_scroll = 0


def _tab(i: int) -> Callable[[ViewState], None]:
    return lambda s: s.set_tab(TABS[i])


def _pause(s: ViewState) -> None:
    s.toggle_pause()
    s.say("display paused (P resumes)" if s.paused else "display resumed")


QUIT = Action("quit (press twice)", _quit)
CLEAR = Action("clear every connection, history and counter (press twice)", _clear)
NEXT_TAB = Action("next tab", lambda s: s.cycle_tab(1))
PREV_TAB = Action("previous tab", lambda s: s.cycle_tab(-1))
HELP = Action("open / close this help", _help)

GLOBAL_KEYS: Final[dict[str, Action]] = {
    "q": QUIT,
    "^C": Action("quit at once", _interrupt),
    "x": CLEAR,
    "KEY_TAB": NEXT_TAB,
    "]": NEXT_TAB,
    "KEY_BTAB": PREV_TAB,
    "[": PREV_TAB,
    "1": Action("Overview tab", _tab(0)),
    "2": Action("Details tab", _tab(1)),
    "3": Action("Activity tab", _tab(2)),
    "4": Action("Graph tab", _tab(3)),
    "h": HELP,
    "KEY_ESCAPE": Action("clear the filter, else back to the Overview", _escape),
    "P": Action("pause / resume the display", _pause),
}


# --- Overview and Details --------------------------------------------------------------------
def _enter(s: ViewState) -> None:
    e = s.selected()
    if isinstance(e, Group):
        s.toggle_collapse(e.name)  # ours: RustNet leaves Enter on a group header unbound
    elif e is not None:
        s.set_tab(DETAILS)


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


def _closed(s: ViewState) -> None:
    s.toggle_closed()
    s.cursor = s.top = 0
    s.selected_id = None
    if s.table.whole:
        s.say("a finite input shows every connection, closed ones dimmed")
    else:
        s.say("showing closed connections from history" if s.show_closed else "hiding closed connections")


def _group(s: ViewState) -> None:
    s.toggle_group()
    s.say("grouped by process (Space folds a group)" if s.grouped else "grouping off")


def _ports(s: ViewState) -> None:
    s.show_ports = not s.show_ports
    s.say("Service column: port numbers" if s.show_ports else "Service column: service names")


def _ips(s: ViewState) -> None:
    s.show_ips = not s.show_ips
    s.say("Remote: addresses" if s.show_ips else "Remote: host names")


def _system(s: ViewState) -> None:
    s.show_system = not s.show_system


def _reset(s: ViewState) -> None:
    s.reset_view()
    s.say("view reset")


def _fold(mode: str) -> Callable[[ViewState], None]:
    """Space toggles, ← folds, → and l unfold the selected group (or the selected row's group)."""

    def run(s: ViewState) -> None:
        if s.grouped:
            s.fold_selected(mode)

    return run


UP = Action("previous row (wraps)", lambda s: s.move(-1, wrap=True))
DOWN = Action("next row (wraps)", lambda s: s.move(1, wrap=True))
PAGE_UP = Action("one page up", lambda s: s.move(-s.viewport))
PAGE_DOWN = Action("one page down", lambda s: s.move(s.viewport))
HOME = Action("first row", lambda s: s.move_to(0))
END = Action("last row", lambda s: s.move_to(-1))
COPY = Action("copy the remote address (OSC 52 and the system clipboard)", _copy)

OVERVIEW_KEYS: Final[dict[str, Action]] = {
    "KEY_UP": UP,
    "k": UP,
    "KEY_DOWN": DOWN,
    "j": DOWN,
    "KEY_PGUP": PAGE_UP,
    "^B": PAGE_UP,
    "KEY_PGDOWN": PAGE_DOWN,
    "^F": PAGE_DOWN,
    "KEY_HOME": HOME,
    "g": HOME,
    "KEY_END": END,
    "G": END,
    "KEY_ENTER": Action("details of the selected connection (folds a group)", _enter),
    "/": Action("filter (type to search, Enter keeps, Esc clears)", lambda s: s.start_filter()),
    "c": COPY,
    "s": Action("sort by the next column", lambda s: s.cycle_sort()),
    "S": Action("reverse the sort order", lambda s: s.reverse_sort()),
    "p": Action("Service column: service names / port numbers", _ports),
    "d": Action("Remote: host names / addresses", _ips),
    "t": Action("show / hide closed connections (history)", _closed),
    "i": Action("show / hide the System panel", _system),
    "a": Action("group by process", _group),
    " ": Action("fold / unfold the selected group", _fold("toggle")),
    "KEY_LEFT": Action("fold the selected group", _fold("fold")),
    "KEY_RIGHT": Action("unfold the selected group", _fold("unfold")),
    "l": Action("unfold the selected group", _fold("unfold")),
    "r": Action("reset the view (grouping, sort, filter, history, scroll)", _reset),
    "{": Action("select the column to the left (for resizing)", lambda s: s.focus_column(-1)),
    "}": Action("select the column to the right (for resizing)", lambda s: s.focus_column(1)),
    "<": Action("narrow the selected column", lambda s: s.resize_column(-1)),
    ">": Action("widen the selected column", lambda s: s.resize_column(1)),
    "=": Action("reset column widths", lambda s: s.reset_columns()),
}

DETAILS_KEYS: Final[dict[str, Action]] = {
    "KEY_UP": Action("previous connection (wraps)", lambda s: s.move(-1, wrap=True, rows_only=True)),
    "k": Action("previous connection (wraps)", lambda s: s.move(-1, wrap=True, rows_only=True)),
    "KEY_DOWN": Action("next connection (wraps)", lambda s: s.move(1, wrap=True, rows_only=True)),
    "j": Action("next connection (wraps)", lambda s: s.move(1, wrap=True, rows_only=True)),
    "KEY_PGUP": PAGE_UP,
    "^B": PAGE_UP,
    "KEY_PGDOWN": PAGE_DOWN,
    "^F": PAGE_DOWN,
    "g": HOME,
    "G": END,
    "^D": Action(f"scroll the details down {DETAILS_STEP} lines", lambda s: s.scroll_details(DETAILS_STEP)),
    "^U": Action(f"scroll the details up {DETAILS_STEP} lines", lambda s: s.scroll_details(-DETAILS_STEP)),
    "c": COPY,
}

# Inside the help overlay: these scroll it; h and Esc close it; the rest of GLOBAL_THROUGH still
# works underneath; any other key is swallowed.
HELP_KEYS: Final[dict[str, Action]] = {
    "KEY_UP": Action("scroll up", lambda s: s.scroll_help(-1)),
    "k": Action("scroll up", lambda s: s.scroll_help(-1)),
    "KEY_DOWN": Action("scroll down", lambda s: s.scroll_help(1)),
    "j": Action("scroll down", lambda s: s.scroll_help(1)),
    "KEY_PGUP": Action("page up", lambda s: s.scroll_help(-s.viewport)),
    "^B": Action("page up", lambda s: s.scroll_help(-s.viewport)),
    "KEY_PGDOWN": Action("page down", lambda s: s.scroll_help(s.viewport)),
    "^F": Action("page down", lambda s: s.scroll_help(s.viewport)),
    "KEY_HOME": Action("top", lambda s: s.scroll_help(-(1 << 30))),
    "g": Action("top", lambda s: s.scroll_help(-(1 << 30))),
    "KEY_END": Action("bottom", lambda s: s.scroll_help(1 << 30)),
    "G": Action("bottom", lambda s: s.scroll_help(1 << 30)),
    "KEY_ESCAPE": HELP,
}
GLOBAL_THROUGH: Final = frozenset(("q", "^C", "x", "KEY_TAB", "KEY_BTAB", "[", "]", "1", "2", "3", "4", "h"))

KEY_LABELS: Final = {
    "KEY_UP": "↑",
    "KEY_DOWN": "↓",
    "KEY_LEFT": "←",
    "KEY_RIGHT": "→",
    "KEY_PGUP": "PgUp",
    "KEY_PGDOWN": "PgDn",
    "KEY_HOME": "Home",
    "KEY_END": "End",
    "KEY_ENTER": "Enter",
    "KEY_ESCAPE": "Esc",
    "KEY_TAB": "Tab",
    "KEY_BTAB": "Shift+Tab",
    " ": "Space",
}


def label(key: str) -> str:
    if key in KEY_LABELS:
        return KEY_LABELS[key]
    if len(key) == 2 and key[0] == "^":
        return "Ctrl+" + key[1]
    return key


def help_lines(keymap: KeyMap | None = None) -> list[tuple[str, str]]:
    """(keys, what they do) for each action of ``keymap`` in map order; without one, of every
    map (:func:`help_sections`)."""
    if keymap is None:
        return [line for _, lines in help_sections() for line in lines]
    keys_of: dict[str, list[str]] = {}
    for key, action in keymap.items():
        keys_of.setdefault(action.help, []).append(label(key))
    return [(" ".join(ks), what) for what, ks in keys_of.items()]


def help_sections() -> list[tuple[str, list[tuple[str, str]]]]:
    """(title, lines) for the global keys and each tab's own keys, in tab order."""
    from rustnet.view import tabs  # the registry imports this module: look it up when asked

    out = [("Global", help_lines(GLOBAL_KEYS))]
    out += [(t.name, help_lines(t.keys)) for t in tabs.TABS if t.keys]
    out.append(("Help", help_lines(HELP_KEYS)))
    return out


def tab_keymap(state: ViewState) -> KeyMap:
    from rustnet.view import tabs  # the registry imports this module: look it up when asked

    return tabs.tab(state.tab).keys


def handle(state: ViewState, key: str) -> bool:
    """Run the action for ``key``; False when the key means nothing here."""
    if key != "q" and state.quit_pending:
        state.quit_pending = False
        state.say("")
    if key != "x" and state.clear_pending:
        state.clear_pending = False
        state.say("")
    if state.help_open:
        action = HELP_KEYS.get(key)
        if action is None and key in GLOBAL_THROUGH:
            action = GLOBAL_KEYS[key]
        if action is None:
            return True  # swallowed: the help is in front
        action.run(state)
        return True
    if state.filter_input is not None:
        return filter_key(state, key)
    action = tab_keymap(state).get(key) or GLOBAL_KEYS.get(key)
    if action is None:
        return False
    action.run(state)
    return True


FILTER_HELP: Final = (("↑↓", "select"),)  # the hints while typing a filter (RustNet's)
FILTER_HELP_RIGHT: Final = (("enter", "apply"), ("esc", "cancel"))


def filter_key(state: ViewState, key: str) -> bool:
    """A key typed in filter mode: text edits the filter live; arrows still move."""
    text = state.filter_input or ""
    if key == "KEY_ENTER":
        state.keep_filter()
        if not state.filter.query.strip():
            state.clear_filter()  # a blank query is no filter (RustNet's)
    elif key == "KEY_ESCAPE":
        state.clear_filter()
    elif key in ("KEY_BACKSPACE", "KEY_DELETE", "\x7f", "\x08", "^H", "^?"):
        state.set_filter(text[:-1])
    elif key == "^U":
        state.set_filter("")
    elif key == "^W":
        state.set_filter(text.rstrip().rpartition(" ")[0] + (" " if " " in text.rstrip() else ""))
    elif key in ("KEY_UP", "KEY_DOWN", "KEY_PGUP", "KEY_PGDOWN", "KEY_HOME", "KEY_END"):
        OVERVIEW_KEYS[key].run(state)
    elif key == "^C":
        _interrupt(state)
    elif len(key) == 1 and key.isprintable():
        if len(text) < 256:
            state.set_filter(text + key)
    else:
        return False
    return True
