"""Process traffic accounting for the Activity tab: who sends and receives, now and over 60 s.

:class:`ProcessWindow` lives in the connection table and costs O(1) per connection record:
the bytes a record adds to its connection's previous one go to the connection's process, in
1 s buckets of stream time, 60 of them kept. :func:`snapshot` reads the rows (open and
closed ones still held) for what the tab shows besides: rate now, retained bytes,
connections, distinct remotes, the top remote peer. It runs only while the tab is drawn, at
most once a second, so a hidden tab costs nothing per frame.

Processes are ``name (pid)``; connections without one are ``Unknown``. At most
:data:`MAX_PROCESSES` identities are kept; the rest are summed as ``Other``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from rustnet.stream.bounds import MAX_TEXT
from rustnet.view.model import ConnTable, num, text
from rustnet.view.traffic import MAX_NAME, MAX_PROCESSES, OTHER_KEY, Key, ProcessWindow

MAX_REMOTES: Final = 256  # distinct remote endpoints counted per process (then "256+")
RECOMPUTE: Final = 1.0  # seconds between two snapshots of the rows
UNKNOWN: Final = "Unknown"
OTHER: Final = "Other"

# Sort metrics, in the order ``s`` cycles through them.
RETAINED: Final = "retained"
WINDOW: Final = "window"
RATE: Final = "rate"
PEAK: Final = "peak"
CONNECTIONS: Final = "connections"
DESTINATIONS: Final = "destinations"
PROCESS: Final = "process"
SORTS: Final = (RETAINED, WINDOW, RATE, PEAK, CONNECTIONS, DESTINATIONS, PROCESS)


def sort_title(metric: str, direction: str) -> str:
    d = direction.upper()
    return {
        RETAINED: f"Retained {d}",
        WINDOW: f"60s {d}",
        RATE: f"{d} Rate",
        PEAK: f"Peak {d}",
        CONNECTIONS: "Connections",
        DESTINATIONS: "Destinations",
        PROCESS: "Process",
    }[metric]


def label(key: Key) -> str:
    name, pid = key
    if key == OTHER_KEY:
        return OTHER
    if not name:
        return UNKNOWN
    return f"{name} ({pid})" if pid is not None else name


@dataclass
class ProcessLine:
    """One process of the ranking: numbers for both directions ([tx, rx])."""

    key: Key
    rate: list[float] = field(default_factory=lambda: [0.0, 0.0])
    peak: list[float] = field(default_factory=lambda: [0.0, 0.0])
    window: list[float] = field(default_factory=lambda: [0.0, 0.0])
    retained: list[float] = field(default_factory=lambda: [0.0, 0.0])
    active: int = 0
    total: int = 0
    remotes: set[tuple[str, int]] = field(default_factory=set)
    # remote endpoint -> [tx, rx, SNI/Host name or None, endpoint]
    peers: dict[tuple[str, int], list[Any]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return label(self.key)

    @property
    def unknown(self) -> bool:
        return not self.key[0]

    def remote_count(self) -> str:
        n = len(self.remotes)
        return f"{MAX_REMOTES}+" if n > MAX_REMOTES else str(n)

    def top_peer(self, d: int) -> str:
        best = max(self.peers.values(), key=lambda p: p[d], default=None)
        if best is None or best[d] <= 0:
            return "-"
        host, (addr, port) = best[2], best[3]
        if host:
            return f"{host}:{port}"
        return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


@dataclass
class Snapshot:
    """What the Activity tab shows, worked out from the rows at one moment."""

    lines: list[ProcessLine]
    rate: list[float]  # [tx, rx] of every connection now
    retained: list[float]
    unknown: list[float]  # retained bytes without a process
    window: list[float]  # 60 s bytes of every process (the share's whole)
    made: float = 0.0
    version: int = -1
    generation: int = -1


def _number(v: Any) -> float:
    """A byte count or rate from a record: ints and finite floats above 0, else 0."""
    if type(v) is int:
        return float(v) if v > 0 else 0.0
    n = num(v)
    return n if n > 0 else 0.0


def snapshot(table: ConnTable, hide_localhost: bool = False, rows: Iterable[Any] | None = None) -> Snapshot:
    """The ranking's numbers from every row held (open and closed) and the 60 s window."""
    # One pass, written for speed (10,000 rows in a few ms): per process an accumulator
    # [rate tx, rate rx, bytes tx, bytes rx, active, total, remotes, peers].
    acc: dict[Key, list[Any]] = {}
    in_history = table.in_history
    for row in table.rows.values() if rows is None else rows:
        if hide_localhost and row.loopback():
            continue
        rec = row.rec
        name = rec.get("process")
        if type(name) is str and name:
            pid = rec.get("pid")
            key: Key = (name[:MAX_NAME], pid if type(pid) is int else None)
        else:
            key = ("", None)
        a = acc.get(key)
        if a is None:
            if len(acc) >= MAX_PROCESSES:
                key = OTHER_KEY
                a = acc.get(key)
            if a is None:
                a = acc[key] = [0.0, 0.0, 0.0, 0.0, 0, 0, set(), {}]
        local_src = rec.get("local_side") != "dst"
        bs, bd = _number(rec.get("bytes_src")), _number(rec.get("bytes_dst"))
        tx, rx = (bs, bd) if local_src else (bd, bs)
        a[2] += tx
        a[3] += rx
        a[5] += 1
        if row.final_seq < 0 or not in_history(row):  # open, or ended with its input (a file)
            a[4] += 1
            rs, rd = _number(rec.get("rate_src")), _number(rec.get("rate_dst"))
            if local_src:
                a[0] += rs
                a[1] += rd
            else:
                a[0] += rd
                a[1] += rs
        addr = rec.get("dst" if local_src else "src")
        if type(addr) is not str:
            addr = text(addr)[:MAX_TEXT]
        port = rec.get("dport" if local_src else "sport")
        endpoint = (addr, port if type(port) is int else 0)
        remotes: set[tuple[str, int]] = a[6]
        if len(remotes) <= MAX_REMOTES:
            remotes.add(endpoint)
        peers: dict[tuple[str, int], list[Any]] = a[7]
        peer = peers.get(endpoint)
        if peer is None:
            if len(peers) < MAX_REMOTES:
                peers[endpoint] = [tx, rx, None, endpoint]
        else:
            peer[0] += tx
            peer[1] += rx
        if peer is None or peer[2] is None:
            host = rec.get("sni") or rec.get("http_host")
            if type(host) is str and host and endpoint in peers:
                peers[endpoint][2] = host[:MAX_NAME]
    lines: dict[Key, ProcessLine] = {}
    rate = [0.0, 0.0]
    retained = [0.0, 0.0]
    unknown = [0.0, 0.0]
    for key, a in acc.items():
        line = lines[key] = ProcessLine(key, [a[0], a[1]], retained=[a[2], a[3]], active=a[4], total=a[5])
        line.remotes = a[6]
        line.peers = a[7]
        rate[0] += a[0]
        rate[1] += a[1]
        retained[0] += a[2]
        retained[1] += a[3]
        if line.unknown:
            unknown[0] += a[2]
            unknown[1] += a[3]
    pw: ProcessWindow = table.process_window
    window = [0.0, 0.0]
    for key, (tx, rx) in pw.totals().items():
        if hide_localhost and key not in lines:
            continue
        found = lines.get(key)
        if found is None:
            if len(lines) >= MAX_PROCESSES:
                key = OTHER_KEY
                found = lines.get(key)
            if found is None:
                found = lines[key] = ProcessLine(key)
        line = found
        line.window[0] += tx
        line.window[1] += rx
        window[0] += tx
        window[1] += rx
    # Peaks: the highest rate now seen while the process stays listed.
    peaks = pw.peaks
    for key in [k for k in peaks if k not in lines]:
        del peaks[key]
    for key, line in lines.items():
        peak = peaks.get(key)
        if peak is None:
            peak = peaks[key] = [0.0, 0.0]
        peak[0] = max(peak[0], line.rate[0])
        peak[1] = max(peak[1], line.rate[1])
        line.peak = list(peak)
    return Snapshot(
        list(lines.values()), rate, retained, unknown, window, time.monotonic(), table.version, pw.generation
    )


def ranked(snap: Snapshot, metric: str, direction: str, reverse: bool) -> list[ProcessLine]:
    """The processes in the order of ``metric`` for ``direction`` ("tx"/"rx"): descending, except
    Process (by name, ascending); ``reverse`` flips it. Ties go by name, then pid."""
    d = 0 if direction == "tx" else 1

    def value(p: ProcessLine) -> Any:
        if metric == RETAINED:
            return p.retained[d]
        if metric == WINDOW:
            return p.window[d]
        if metric == RATE:
            return p.rate[d]
        if metric == PEAK:
            return p.peak[d]
        if metric == CONNECTIONS:
            return p.total
        if metric == DESTINATIONS:
            return len(p.remotes)
        return 0

    def tie(p: ProcessLine) -> tuple[str, int]:
        return (p.name.lower(), p.key[1] if p.key[1] is not None else -1)

    if metric == PROCESS:
        out = sorted(snap.lines, key=tie)
        return out[::-1] if reverse else out
    out = sorted(snap.lines, key=tie)
    out.sort(key=value, reverse=not reverse)  # stable: ties keep the name order
    return out


@dataclass
class ActivityView:
    """What the user chose on the Activity tab."""

    direction: str = "tx"  # "tx" Egress, "rx" Ingress (d)
    sort: str = RETAINED  # s cycles, S reverses
    reverse: bool = False
    interfaces: bool = False  # i: the Interface Statistics table instead
    scroll: int = 0  # first row of the interface table shown
    cached: Snapshot | None = None

    def reset(self) -> None:
        """Back to Egress sorted by retained bytes (``r``)."""
        self.direction = "tx"
        self.sort = RETAINED
        self.reverse = False

    def toggle_direction(self) -> None:
        self.direction = "rx" if self.direction == "tx" else "tx"

    def cycle_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self.reverse = False

    def reverse_sort(self) -> None:
        self.reverse = not self.reverse

    def toggle_interfaces(self) -> None:
        self.interfaces = not self.interfaces
        self.scroll = 0

    def scroll_by(self, delta: int) -> None:
        self.scroll = max(0, min(self.scroll + delta, 1 << 30))  # the renderer clamps the far end

    def numbers(self, table: ConnTable, hide_localhost: bool) -> Snapshot:
        """The snapshot to draw: made again when a second has passed and the table changed."""
        snap = self.cached
        now = time.monotonic()
        if (
            snap is None
            or snap.generation != table.process_window.generation  # cleared (x)
            or (snap.version != table.version and now - snap.made >= RECOMPUTE)
        ):
            snap = self.cached = snapshot(table, hide_localhost)
        return snap
