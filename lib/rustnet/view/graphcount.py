"""The Graph tab's counts of active connections: by TCP state, by application, rate by process.

Kept up to date by difference, only when the tab is drawn: each row's share (its state label,
application label, process and rate) is remembered with the record it came from. Records are
replaced, never changed in place, so a row whose record is the one remembered (and whose
history status is the same) is passed over at the cost of a lookup; only rows whose record
changed, rows that came and rows that went change the totals. A frame after 100 updates among
50,000 connections so costs one cheap pass plus 100 recounts, instead of 50,000 recounts.
"""

from __future__ import annotations

import gc
import heapq
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from rustnet.view.model import ConnTable, Row

UNKNOWN_PROCESS: Final = "<unknown>"
BULK: Final = 4096  # rows to count anew above which the garbage collector waits
MAX_RATE: Final = 1e15  # B/s above which a rate is not believed (a hostile 1e308 must not overflow sums)
TCP_LABEL: Final = {
    "ESTABLISHED": "ESTAB",
    "SYN_SENT": "SYN_SENT",
    "SYN_RECV": "SYN_RECV",
    "FIN_WAIT1": "FIN_WAIT1",
    "FIN_WAIT2": "FIN_WAIT2",
    "TIME_WAIT": "TIME_WAIT",
    "CLOSE_WAIT": "CLOSE_WAIT",
    "LAST_ACK": "LAST_ACK",
    "CLOSING": "CLOSING",
    "CLOSED": "CLOSED",
}
# The detected application (the app field) behind each label; anything else is Other.
APP_LABEL: Final = {
    "TLS": "HTTPS",
    "HTTPS": "HTTPS",
    "QUIC": "QUIC",
    "HTTP": "HTTP",
    "DNS": "DNS",
    "SSH": "SSH",
}

# A row's share: (TCP state label or None for non-TCP, application label, process, rate B/s),
# or None when the row does not count (history, or hidden loopback).
Share = tuple[str | None, str, str, float] | None


def share_of(row: Row) -> tuple[str | None, str, str, float]:
    get = row.rec.get
    label: str | None = None
    if get("proto") == "tcp":
        st = get("state")
        label = _TCP_GET(st, "UNKNOWN") if type(st) is str else "UNKNOWN"
    app = get("app")  # (a hostile stream's list or map is no key: Other)
    app_label = _APP_GET(app, "Other") if type(app) is str else "Other"
    a, b = get("rate_src"), get("rate_dst")
    rate = 0.0
    if (type(a) is float or type(a) is int) and 0 < a < MAX_RATE:
        rate = a
    if (type(b) is float or type(b) is int) and 0 < b < MAX_RATE:
        rate += b
    name = get("process")
    if type(name) is not str or not name:
        name = row.process or UNKNOWN_PROCESS
    return label, app_label, name, float(rate)


_TCP_GET: Final = TCP_LABEL.get
_APP_GET: Final = APP_LABEL.get


class ActiveTally:
    """Counts over the active connections of one table, brought up to date by :meth:`update`."""

    def __init__(self) -> None:
        self.reset(None, False)

    def reset(self, rows: object, hide_localhost: bool) -> None:
        self._rows_id = id(rows) if rows is not None else 0
        self._hide = hide_localhost
        self._memo: dict[Any, tuple[dict[str, Any], bool, Share]] = {}
        self.active = 0
        self.tcp_states: dict[str, int] = {}
        self.apps: dict[str, int] = {}
        self._rates: dict[str, float] = {}
        self._rated: dict[str, int] = {}  # rows with a rate per process: a sum ends at 0 exactly

    def _add(self, s: Share, sign: int) -> None:
        if s is None:
            return
        label, app, name, rate = s
        self.active += sign
        if label is not None:
            n = self.tcp_states.get(label, 0) + sign
            if n:
                self.tcp_states[label] = n
            else:
                del self.tcp_states[label]
        n = self.apps.get(app, 0) + sign
        if n:
            self.apps[app] = n
        else:
            del self.apps[app]
        if rate > 0:
            k = self._rated.get(name, 0) + sign
            if k:
                self._rated[name] = k
                self._rates[name] = self._rates.get(name, 0.0) + sign * rate
            else:
                del self._rated[name]
                del self._rates[name]

    def update(self, table: ConnTable, hide_localhost: bool) -> None:
        rows = table.rows
        if id(rows) != self._rows_id or hide_localhost != self._hide:
            self.reset(rows, hide_localhost)  # a cleared table (x) or another loopback rule
        # Counting many rows anew makes a tuple each: no cyclic garbage, so the collector (whose
        # full passes over every record held would double the cost) waits until the end.
        pause = len(rows) - len(self._memo) > BULK and gc.isenabled()
        if pause:
            gc.disable()
        try:
            self._update(table, rows, hide_localhost)
        finally:
            if pause:
                gc.enable()

    def _update(self, table: ConnTable, rows: dict[Any, Row], hide_localhost: bool) -> None:
        memo, in_history, add = self._memo, table.in_history, self._add
        for cid, row in rows.items():
            rec = row.rec
            hist = row.final_seq >= 0 and in_history(row)
            m = memo.get(cid)
            if m is not None:
                if m[0] is rec and m[1] == hist:
                    continue
                add(m[2], -1)
            s = None if hist or (hide_localhost and row.loopback()) else share_of(row)
            add(s, 1)
            memo[cid] = (rec, hist, s)
        if len(memo) > len(rows):
            for cid in [c for c in memo if c not in rows]:
                add(memo.pop(cid)[2], -1)

    def top_processes(self, n: int) -> list[tuple[str, float]]:
        """The ``n`` processes with the highest summed rate (ties by name)."""
        return heapq.nsmallest(
            n, ((name, r) for name, r in self._rates.items() if r > 0), key=lambda kv: (-kv[1], kv[0])
        )
