"""What the user is looking at: tab, help, filter, sort, selection, grouping, pause; no terminal here.

:class:`ViewState` turns the :class:`~rustnet.view.model.ConnTable` into the list of
entries the Overview shows, caching the expensive steps: the sorted base list is
rebuilt only when the data or the sort changes (and then only the changed rows are
re-keyed and merged in), the filter pass only when the filter or the base list changes
(and then a row's score is reused until the row changes). The selection follows a
connection id, so rows moving under a live re-sort do not move the cursor to another
connection.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any, Final, cast

from rustnet.view.activity import ActivityView
from rustnet.view.columns import COLUMN_INDEX, COLUMNS, hidden_for
from rustnet.view.connrates import ConnRates
from rustnet.view.filter import Filter, haystack
from rustnet.view.model import ConnTable, Row, text
from rustnet.view.sort import DEFAULT_SORT, next_sort, sort_rows
from rustnet.view.traffic import InterfaceTable, TrafficHistory

OVERVIEW: Final = "Overview"
DETAILS: Final = "Details"
ACTIVITY: Final = "Activity"
GRAPH: Final = "Graph"
# The tabs in order (keys 1-4); what each one draws and which keys it takes: rustnet.view.tabs.
TABS: Final = (OVERVIEW, DETAILS, ACTIVITY, GRAPH)
UNKNOWN_GROUP: Final = "<unknown>"  # the group of connections whose process is not known
PAGE: Final = 10  # PgUp/PgDn move this many rows (RustNet's)
WIDTH_STEP: Final = 2
_SORT_KEY: Final = operator.attrgetter("sorted_by")
# Up to len/BISECT_SHARE changed rows move one by one (a binary search and a memmove each);
# more are merged in one pass over the list, which costs about as much as that many moves.
BISECT_SHARE: Final = 64


def _filtered_position(rows: list[Row], score: int, key: Any, desc: bool) -> int:
    """Where a row of rank ``score`` and sort key ``key`` belongs in a filtered list: best rank
    first, then the sorted list's order (each row's rank is ``Row.filter_score``, its key
    ``Row.filtered_by``)."""
    lo, hi = 0, len(rows)
    while lo < hi:
        mid = (lo + hi) // 2
        r = rows[mid]
        s, k = r.filter_score, r.filtered_by
        if s > score or (s == score and ((k > key) if desc else (k < key))):
            lo = mid + 1
        else:
            hi = mid
    return lo


def _position(rows: list[Row], key: Any, desc: bool) -> int:
    """Where ``key`` belongs in ``rows`` (sorted by their ``sk``, descending if ``desc``)."""
    lo, hi = 0, len(rows)
    while lo < hi:
        mid = (lo + hi) // 2
        k = rows[mid].sorted_by
        if (k > key) if desc else (k < key):
            lo = mid + 1
        else:
            hi = mid
    return lo


@dataclass
class Group:
    """A process and its connections, when grouping by process (``a``)."""

    name: str
    rows: list[Row]
    collapsed: bool
    id: tuple[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.id = ("group", self.name)


Entry = Row | Group


class ViewState:
    """The viewer's state, changed by key actions and read by render."""

    def __init__(
        self, table: ConnTable, hide_localhost: bool = False, show_ptr_lookups: bool = False
    ) -> None:
        self.table = table
        self.hide_localhost = hide_localhost
        # rn-enrich's own reverse lookups are listed too (fixed for a view: not in the sort key)
        self.show_ptr_lookups = show_ptr_lookups
        self.tab = OVERVIEW
        self.activity = ActivityView()  # the Activity tab's direction, sort and interface table
        self.help_open = False  # the help overlay (h), over whichever tab is shown
        self.help_scroll = 0
        self.help_overflow = False  # set by the renderer: the help is longer than its box
        self.show_system = True  # the System panel beside the Overview table (i)
        self.show_ports = False  # the Service column shows port numbers instead of names (p)
        self.show_ips = False  # Remote shows addresses instead of host names (d)
        self.clear_pending = False  # x pressed once: a second x clears everything
        self.filter = Filter("")
        self.filter_input: str | None = None  # the text being typed while in filter mode
        self.sort_code = DEFAULT_SORT
        self.sort_reverse = False
        self.grouped = False
        self.collapsed: set[str] = set()
        self.show_closed = False
        self.paused = False
        self.hold = False  # set by the app while drawing a key's frame: keep the sorted list as is
        self.adjust: dict[str, int] = {}  # column code -> extra cells
        self.focus_col = "remote"
        self.focus_visible = False  # underline the focused column once the user picks or resizes one
        self.quit_pending = False
        self.quit = False
        self.message = ""
        self.copy_label: str | None = None  # the Details field a click copies (its label)
        # Where the Details drew copyable values: (body row, first cell, cell after, label, value).
        self.copy_targets: list[tuple[int, int, int, str, str]] = []
        self.last_click: tuple[float, int] | None = None  # (when, entry) for double-clicks
        self.copy_request: str | None = None  # set by ``c``; the app does the copying
        self.selected_id: Any = None
        self.cursor = 0
        self.top = 0
        self.viewport = 10
        self.details_scroll = 0
        self.details_overflow = False  # set by the Details renderer: more lines than fit
        self.conn_rates = ConnRates()  # the selected connection's rates over time (Details' charts)
        self._frozen: list[Row] | None = None
        self._frozen_by_id: dict[Any, Row] = {}
        self._base_key: tuple[Any, ...] | None = None
        self._base: list[Row] = []
        self._base_gen = 0  # bumps whenever the sorted list changes
        self._mark: object = object()  # rows sorted by this view carry it (Row.sorted_in)
        self._log_pos = 0  # how far this view has read the table's change log
        self._entries_key: tuple[Any, ...] | None = None
        self._entries: list[Entry] = []
        self._index: dict[Any, int] | None = None  # entry id -> position, when grouped
        # Rows moved in the sorted list since the entries were made (None: it was rebuilt), and
        # the filter the entries were made with, rows in them carrying mark _fmark (Row.filtered_in).
        self._pending: list[Row] | None = None
        self._entries_filter: Filter | None = None
        self._fmark: object = object()
        self._shown = 0
        # The last filter pass: (base generation, filter, [(rank, row)] in base order).
        self._matched: tuple[int, Filter, list[tuple[int, Row]]] | None = None

    # --- the entry list -----------------------------------------------------------
    def _eligible(self, row: Row) -> bool:
        if not self.closed_shown and self.table.in_history(row):
            return False
        if not self.show_ptr_lookups and row.rec.get("ptr_lookup_own") is True:
            return False
        return not (self.hide_localhost and row.loopback())

    def base_rows(self) -> list[Row]:
        """Rows eligible to show (history and loopback rules), sorted; cached.

        Kept incrementally: each row carries its sort key, and after new data only the rows
        the table logged as changed get a new key and are merged into the sorted list (a
        near-sorted list sorts in about linear time), so a frame with 100,000 connections
        does not re-sort them all.
        """
        table = self.table
        params = (self.sort_code, self.sort_reverse, self.closed_shown, self.hide_localhost)
        if self._frozen is not None:
            key: tuple[Any, ...] = (-1, params, id(self._frozen))
            if key != self._base_key:
                rows = [r for r in self._frozen if self._eligible(r)]
                self._set_base(sort_rows(rows, self.sort_code, self.sort_reverse), key)
            return self._base
        key = (table.version, params)
        if key == self._base_key:
            return self._base
        held = self._base_key
        if self.hold and held is not None and held[0] != -1 and held[1] == params:
            return self._base  # a key's frame: the new data waits for the next data frame
        changed, pos = table.changes(self._log_pos)
        if (
            changed is None
            or self._base_key is None
            or self._base_key[1] != params
            or self._base_key[0] == -1
            or table.sort_owner is not self
        ):
            self._full_sort(key)
        else:
            self._merge_sort(changed, key)
        self._log_pos = pos
        return self._base

    def _set_base(self, rows: list[Row], key: tuple[Any, ...]) -> None:
        self._base = rows
        self._base_key = key
        self._base_gen += 1
        self._pending = None  # rebuilt: the filtered list is rebuilt too

    def _key_function(self) -> tuple[Any, bool]:
        col = COLUMNS[COLUMN_INDEX.get(self.sort_code, COLUMN_INDEX[DEFAULT_SORT])]
        return col.sort_key, col.descending != self.sort_reverse

    def _full_sort(self, key: tuple[Any, ...]) -> None:
        table = self.table
        table.sort_owner = self
        self._mark = mark = object()
        sort_key, desc = self._key_function()
        rows = [r for r in table.rows.values() if self._eligible(r)]
        # The creation order breaks ties (in the natural direction either way): stable, as before.
        for r in rows:
            r.sorted_by = (sort_key(r), -r.born if desc else r.born)
            r.sorted_in = mark
        rows.sort(key=_SORT_KEY, reverse=desc)
        self._set_base(rows, key)

    def _merge_sort(self, changed: list[Row], key: tuple[Any, ...]) -> None:
        table, mark, base = self.table, self._mark, self._base
        rows = list(dict.fromkeys(changed))  # each changed row once (rows hash by identity)
        if not rows and not (table.order_finals and not self.closed_shown):
            self._base_key = key
            return
        sort_key, desc = self._key_function()
        if len(rows) <= len(base) // BISECT_SHARE and not table.order_finals:
            # A few changes: move each row by binary search (memmove, no pass over every row).
            if self._move_rows(rows, sort_key, desc):
                self._base_key = key
                self._base_gen += 1
                if self._pending is not None:
                    self._pending += rows  # the filtered list follows the same few moves
            else:
                self._full_sort(key)
            return
        # Take the changed rows out in one pass, then merge them back in at their new keys
        # (sorting a sorted run plus a short tail is about linear).
        for r in rows:
            if r.sorted_in is mark:
                r.sorted_in = None
        if self.closed_shown or not table.order_finals:
            keep = [r for r in base if r.sorted_in is mark]
        else:
            hist = table.in_history  # a final record without a reason turns history later
            keep = [r for r in base if r.sorted_in is mark and (r.final_seq < 0 or not hist(r))]
        for r in rows:
            if r.bucket is not None and self._eligible(r):
                r.sorted_by = (sort_key(r), -r.born if desc else r.born)
                r.sorted_in = mark
                keep.append(r)
        keep.sort(key=_SORT_KEY, reverse=desc)
        self._set_base(keep, key)

    def _move_rows(self, rows: list[Row], sort_key: Any, desc: bool) -> bool:
        """Take ``rows`` out of the sorted list and put back those still shown, each at its
        new place; False if a row was not where its key says (then sort from scratch)."""
        mark, base = self._mark, self._base
        for r in rows:
            if r.sorted_in is mark:
                i = _position(base, r.sorted_by, desc)
                if i >= len(base) or base[i] is not r:
                    return False
                del base[i]
                r.sorted_in = None
        for r in rows:
            if r.bucket is not None and self._eligible(r):
                r.sorted_by = (sort_key(r), -r.born if desc else r.born)
                r.sorted_in = mark
                base.insert(_position(base, r.sorted_by, desc), r)
        return True

    def entries(self) -> list[Entry]:
        """What the Overview lists, in order; cached until something it depends on changes."""
        self.base_rows()
        base = self._base
        key = (self._base_gen, self.filter.query, self.grouped, tuple(sorted(self.collapsed)))
        if key != self._entries_key:
            f = self.filter
            old_key, self._entries_key = self._entries_key, key
            if (
                self._pending is not None
                and self._entries_filter is f
                and old_key is not None
                and old_key[1:] == key[1:]
                and self._patch_entries(f, list(dict.fromkeys(self._pending)))
            ):
                self._pending = []
                self._matched = None
                self._shown = len(self._entries)
                self._follow_selection()
                return self._entries
            self._pending = []
            self._entries_filter = None
            if not f:
                rows = base
                self._matched = None
            else:
                prev = self._matched
                if prev is not None and prev[0] == self._base_gen and f.narrows(prev[1]):
                    candidates: Any = (r for _, r in prev[2])
                else:
                    candidates = base
                # While the filter is typed, rows are only tested; scores are kept (for the
                # frames that follow) once the filter stays and the data changes.
                data_frame = old_key is not None and old_key[1:] == key[1:]
                scored = self._score(f, candidates) if data_frame else f.select(candidates)
                self._matched = (self._base_gen, f, scored)
                rows = f.rank(scored)
                if data_frame and not self.grouped:
                    # Where each row sits, so the next few changes can be patched in.
                    mark = self._fmark = object()
                    for r in rows:
                        r.filtered_by = r.sorted_by
                        r.filtered_in = mark
                    self._entries_filter = f
            self._shown = len(rows)
            if self.grouped:
                self._entries = self._group(rows)
                self._index = {e.id: i for i, e in enumerate(self._entries)}
            else:
                self._entries = list(rows)
                self._index = None
            self._follow_selection()
        return self._entries

    def _patch_entries(self, f: Filter, rows: list[Row]) -> bool:
        """Apply the rows the sorted list moved to the filtered list: each leaves its place
        and, if still shown and passing ``f``, goes to its new one. False: rebuild instead."""
        entries = cast(list[Row], self._entries)
        fmark, bmark = self._fmark, self._mark
        desc = self._key_function()[1]
        for r in rows:
            if r.filtered_in is fmark:
                i = _filtered_position(entries, r.filter_score, r.filtered_by, desc)
                if i >= len(entries) or entries[i] is not r:
                    return False
                del entries[i]
                r.filtered_in = None
        for r in rows:
            if r.sorted_in is not bmark:
                continue  # not in the sorted list (any more)
            if r.scored_for is f:
                s = r.filter_score
            else:
                s = r.filter_score = f.score(r)
                r.scored_for = f
            if s >= 0:
                r.filtered_by = r.sorted_by
                r.filtered_in = fmark
                entries.insert(_filtered_position(entries, s, r.sorted_by, desc), r)
        return True

    @staticmethod
    def _score(f: Filter, rows: Any) -> list[tuple[int, Row]]:
        """(rank, row) of the rows passing ``f``, in order; a row's score is kept until it changes."""
        out: list[tuple[int, Row]] = []
        score = f.score
        for r in rows:
            if r.scored_for is f:
                s = r.filter_score
            else:
                s = r.filter_score = score(r)
                r.scored_for = f
            if s >= 0:
                out.append((s, r))
        return out

    def shown_rows(self) -> int:
        """Connections passing the filter (group headers not counted)."""
        self.entries()
        return self._shown

    def _by_node(self) -> bool:
        """Several hosts: a process is grouped per host, hosts apart."""
        return len(getattr(self.table, "nodes", ())) > 1

    @staticmethod
    def _group_name(r: Row, by_node: bool) -> str:
        # As RustNet: no name, or the placeholder name Unknown, is one group.
        name = r.process
        name = name if name and name != "Unknown" else UNKNOWN_GROUP
        return f"{text(r.rec.get('node')) or '-'}: {name}" if by_node else name

    def _group(self, rows: list[Row]) -> list[Entry]:
        groups: dict[str, list[Row]] = {}
        by_node = self._by_node()
        for r in rows:
            groups.setdefault(self._group_name(r, by_node), []).append(r)
        out: list[Entry] = []
        # By name, case-insensitively (RustNet's: groups do not jump around as rates change).
        order = sorted(groups.items(), key=lambda kv: (kv[0].lower(), kv[0]))
        for name, members in order:
            g = Group(name, members, name in self.collapsed)
            out.append(g)
            if not g.collapsed:
                out.extend(members)
        return out

    def _find(self, eid: Any) -> int | None:
        """Where entry ``eid`` is in the list now, or None."""
        if self._index is not None:
            return self._index.get(eid)
        try:
            row = (self._frozen_by_id if self._frozen is not None else self.table.rows).get(eid)
        except TypeError:
            return None
        if row is None:
            return None
        entries = self._entries
        if self.cursor < len(entries) and entries[self.cursor] is row:
            return self.cursor
        try:
            return entries.index(row)  # identity comparisons in C: no id -> index map per frame
        except ValueError:
            return None

    def _follow_selection(self) -> None:
        n = len(self._entries)
        at = self._find(self.selected_id) if self.selected_id is not None else None
        if at is not None:
            self.cursor = at
        else:
            self.cursor = min(self.cursor, max(n - 1, 0))
            self.selected_id = self._entries[self.cursor].id if n else None

    def selected(self) -> Entry | None:
        entries = self.entries()
        if not entries:
            return None
        return entries[min(self.cursor, len(entries) - 1)]

    def selected_row(self) -> Row | None:
        e = self.selected()
        return e if isinstance(e, Row) else None

    def set_viewport(self, rows: int) -> None:
        """Keep the cursor on screen for a table ``rows`` high (called by render)."""
        self.viewport = max(rows, 1)
        n = len(self.entries())
        self.top = min(self.top, max(n - self.viewport, 0))
        if self.cursor < self.top:
            self.top = self.cursor
        elif self.cursor >= self.top + self.viewport:
            self.top = self.cursor - self.viewport + 1

    # --- movement -------------------------------------------------------------------
    def move(self, delta: int, wrap: bool = False, rows_only: bool = False) -> None:
        """Move the selection ``delta`` entries; ``wrap``: past an end to the other end (single
        steps, as RustNet's j/k); ``rows_only``: over connections only (Details skips groups)."""
        entries = self.entries()
        if not entries:
            return
        n = len(entries)
        if rows_only:
            rows = [i for i, e in enumerate(entries) if not isinstance(e, Group)]
            if not rows:
                return
            after = next((k for k, i in enumerate(rows) if i >= self.cursor), len(rows))
            on_row = after < len(rows) and rows[after] == self.cursor
            # From a group header, the next row is one step down and the previous one step up.
            at = after + delta if on_row or delta < 0 else after + delta - 1
            at = at % len(rows) if wrap else max(0, min(len(rows) - 1, at))
            self.cursor = rows[at]
        elif wrap:
            self.cursor = (self.cursor + delta) % n
        else:
            self.cursor = max(0, min(n - 1, self.cursor + delta))
        self.selected_id = entries[self.cursor].id
        self.details_scroll = 0

    def move_to(self, index: int) -> None:
        entries = self.entries()
        if entries:
            self.cursor = max(0, min(len(entries) - 1, index if index >= 0 else len(entries) - 1))
            self.selected_id = entries[self.cursor].id
            self.details_scroll = 0

    def select_at(self, index: int) -> bool:
        """Select the entry at ``index`` of the list (a mouse click); False if there is none."""
        entries = self.entries()
        if not 0 <= index < len(entries):
            return False
        self.cursor = index
        self.selected_id = entries[index].id
        return True

    def scroll_details(self, delta: int) -> None:
        self.details_scroll = max(0, self.details_scroll + delta)  # render clamps the far end

    def scroll_help(self, delta: int) -> None:
        self.help_scroll = max(0, min(self.help_scroll + delta, 1 << 30))  # render clamps

    def selected_group(self) -> str | None:
        """The group of the selection: the selected group header's, or the selected row's."""
        e = self.selected()
        if e is None:
            return None
        if isinstance(e, Group):
            return e.name
        return self._group_name(e, self._by_node())

    def fold_selected(self, mode: str) -> None:
        """Fold (``fold``), unfold (``unfold``) or flip (``toggle``) the group of the selection."""
        name = self.selected_group()
        if name is None:
            return
        folded = name in self.collapsed
        if mode == "toggle" or (mode == "fold") != folded:
            self.toggle_collapse(name)
            self.selected_id = ("group", name)  # a folded group's rows are gone: stay on its header

    # --- filter ---------------------------------------------------------------------
    def start_filter(self) -> None:
        self.tab = OVERVIEW
        self.filter_input = self.filter.query
        # Build the search text now, so the first keystroke only matches.
        for row in self.base_rows():
            if row.hay is None:
                haystack(row)

    def set_filter(self, query: str) -> None:
        self.filter = Filter(query)
        # As in fzf: a new query selects its best match.
        self.selected_id = None
        self.cursor = self.top = 0
        if self.filter_input is not None:
            self.filter_input = query

    def keep_filter(self) -> None:
        self.filter_input = None

    def clear_filter(self) -> None:
        self.filter = Filter("")
        self.filter_input = None

    # --- toggles --------------------------------------------------------------------
    def set_tab(self, tab: str) -> None:
        self.tab = tab
        self.details_scroll = 0
        self.help_scroll = 0  # an open help stays open, now for this tab

    def cycle_tab(self, step: int) -> None:
        self.set_tab(TABS[(TABS.index(self.tab) + step) % len(TABS)])

    def toggle_pause(self) -> None:
        self.paused = not self.paused
        if self.paused:
            self._frozen = [r.snapshot() for r in self.table.rows.values()]
            self._frozen_by_id = {r.id: r for r in self._frozen}
        else:
            self._frozen = None
            self._frozen_by_id = {}

    def toggle_group(self) -> None:
        self.grouped = not self.grouped

    def toggle_collapse(self, name: str) -> None:
        if name in self.collapsed:
            self.collapsed.discard(name)
        else:
            self.collapsed.add(name)

    def toggle_closed(self) -> None:
        self.show_closed = not self.show_closed

    @property
    def traffic(self) -> TrafficHistory:
        """Traffic over the last 60 s (the charts' series)."""
        return self.table.traffic

    @property
    def interfaces(self) -> InterfaceTable:
        """Each interface's latest counters and rates."""
        return self.table.interfaces

    @property
    def closed_shown(self) -> bool:
        """Closed connections are listed: asked for (``t``), or the input is finite (a file)."""
        return self.show_closed or self.table.whole

    def cycle_sort(self) -> None:
        self.sort_code = next_sort(self.sort_code, hidden_for(self.table))
        self.sort_reverse = False

    def reverse_sort(self) -> None:
        self.sort_reverse = not self.sort_reverse

    def focus_column(self, step: int) -> None:
        shown = [c.code for c in COLUMNS if c.code not in hidden_for(self.table)]
        i = shown.index(self.focus_col) if self.focus_col in shown else 0
        self.focus_col = shown[(i + step) % len(shown)]
        self.focus_visible = True

    def resize_column(self, step: int) -> None:
        self.adjust[self.focus_col] = self.adjust.get(self.focus_col, 0) + step * WIDTH_STEP
        self.focus_visible = True

    def reset_columns(self) -> None:
        self.adjust.clear()
        self.focus_visible = False

    def reset_view(self) -> None:
        """Grouping off, groups folded back, sort by creation time, no filter, history hidden,
        scrolled to the top (``r``); the System panel and column widths stay as they are."""
        self.grouped = False
        self.collapsed.clear()
        self.sort_code = DEFAULT_SORT
        self.sort_reverse = False
        self.clear_filter()
        self.show_closed = False
        self.activity.reset()
        self._home()

    def clear_all(self) -> None:
        """Forget every connection, history and counter (``x`` twice): the table clears itself
        and whatever hooked into it; the view lets go of its selection and hides history."""
        if self.paused:
            self.toggle_pause()
        self.table.clear()
        self.activity.cached = None  # its numbers are made again from the empty table
        self.conn_rates.clear()  # the selected connection's chart
        self.show_closed = False
        self._base_key = self._entries_key = None
        self._matched = None
        self._home()

    def _home(self) -> None:
        self.selected_id = None
        self.cursor = self.top = 0
        self.details_scroll = 0

    def say(self, message: str) -> None:
        self.message = message
