"""Traffic over time for the charts: interface counters when the stream has them, else captured bytes.

:class:`InterfaceTable` folds ``ifstats`` records (rn-capture reads every interface's
counters every 500 ms) into each interface's latest counters and rates (Δbytes / Δt between
two records) and the bytes of the last 60 s. :class:`TrafficHistory` keeps the last 120
samples (60 s) of the sum of every interface's rx and tx rates, one per ``ifstats`` record.

A stream without ``ifstats`` (a capture file, a stream from another host's rn-track) plots
what was captured instead: the growth of each connection's byte counters, spread over the
stream time between two records of it, in 500 ms buckets of stream time.

Records are untrusted: an interface list is read up to :data:`MAX_IFACES` entries, at most
that many interfaces are kept (the others counted in ``InterfaceTable.dropped``), a name is cut
to :data:`MAX_IFNAME` characters, and a counter that is not an integer from 0 to 2**64-1 is
counted in ``InterfaceTable.damaged`` and left out. A counter that goes down (the interface was
reset, or a concatenated recording starts over) gives no rate for that sample.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Sequence
from typing import Any, Final

from rustnet.stream.bounds import MAX_IFACES, MAX_IFNAME, MAX_INT
from rustnet.stream.fields import IFACE_COUNTERS

SAMPLE: Final = 0.5  # seconds per sample (rn-capture's ifstats interval)
KEEP: Final = 120  # samples kept: 60 s
WINDOW: Final = KEEP * SAMPLE
SPREAD: Final = 5.0  # seconds before a connection record its new bytes are spread over, at most
INTERFACES: Final = "interfaces"
CAPTURED: Final = "captured"
# Process accounting (the Activity tab): 1 s buckets of stream time, 60 kept.
BUCKET: Final = 1.0
WINDOW_BUCKETS: Final = 60
MAX_PROCESSES: Final = 1000  # identities kept; the rest are summed as Other
MAX_NAME: Final = 64
Key = tuple[str, int | None]  # (process name, pid); ("", None): no process known
OTHER_KEY: Final[Key] = ("Other", -1)
AGGREGATE: Final = ("any", "pktap")  # captures without counters of their own: compare with the sum


def _counter(value: Any) -> int | None:
    if type(value) is int and 0 <= value <= MAX_INT:
        return value
    return None


def _time(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            f = float(value)
        except OverflowError:
            return None
        return f if math.isfinite(f) and f > 0 else None
    return None


class InterfaceRow:
    """One interface: its latest counters, rates and the samples of the last 60 s."""

    __slots__ = ("name", "counters", "rx_rate", "tx_rate", "ts", "window")

    def __init__(self, name: str) -> None:
        self.name = name
        self.counters: dict[str, int] = {}
        self.rx_rate = 0.0  # bytes/s between the last two records
        self.tx_rate = 0.0
        self.ts = 0.0
        # (ts, rx_bytes, tx_bytes) of the samples within WINDOW of the newest.
        self.window: collections.deque[tuple[float, int, int]] = collections.deque(maxlen=KEEP + 1)

    def get(self, counter: str) -> int:
        return self.counters.get(counter, 0)

    def window_bytes(self) -> tuple[int, int]:
        """(rx, tx) bytes over the last 60 s: newest sample minus the oldest kept."""
        if len(self.window) < 2:
            return 0, 0
        _, rx0, tx0 = self.window[0]
        _, rx1, tx1 = self.window[-1]
        return max(rx1 - rx0, 0), max(tx1 - tx0, 0)


class InterfaceTable:
    """Per-interface latest counters and rates, from ``ifstats`` records."""

    def __init__(self) -> None:
        self._rows: dict[str, InterfaceRow] = {}
        self.captured: str | None = None
        self.ts = 0.0  # the newest record's time
        self.damaged = 0  # counters (or entries) that were not what the record type says
        self.dropped = 0  # interfaces beyond MAX_IFACES, not kept

    def clear(self) -> None:
        self._rows.clear()
        self.ts = 0.0

    def __len__(self) -> int:
        return len(self._rows)

    def rows(self) -> list[InterfaceRow]:
        """The interfaces, the captured one first, then by name."""
        cap = self.captured
        return sorted(self._rows.values(), key=lambda r: (r.name != cap, r.name))

    def get(self, name: str) -> InterfaceRow | None:
        return self._rows.get(name)

    def ingest(self, rec: dict[str, Any]) -> tuple[float, float] | None:
        """Fold one ``ifstats`` record in; the summed (rx, tx) rates it gives, or None when it
        gives none (the first record, a damaged one, or one not after the previous)."""
        ts = _time(rec.get("ts"))
        ifaces = rec.get("ifaces")
        if ts is None or not isinstance(ifaces, list):
            self.damaged += 1
            return None
        captured = rec.get("captured")
        self.captured = captured[:MAX_IFNAME] if isinstance(captured, str) else None
        dt = ts - self.ts if self.ts else 0.0
        if self.ts and dt <= 0:
            # Time went back (a concatenated recording starts over): begin again from here.
            self._rows.clear()
            dt = 0.0
        self.ts = ts
        rows = self._rows
        seen: set[str] = set()
        rx_sum = tx_sum = 0.0
        rated = False
        for entry in ifaces[:MAX_IFACES]:
            name = entry.get("name") if isinstance(entry, dict) else None
            if not isinstance(name, str) or not name:
                self.damaged += 1
                continue
            name = name[:MAX_IFNAME]
            if name in seen:
                continue
            row = rows.get(name)
            if row is None:
                if len(rows) >= MAX_IFACES:
                    self.dropped += 1
                    continue
                row = rows[name] = InterfaceRow(name)
            seen.add(name)
            counters: dict[str, int] = {}
            for key in IFACE_COUNTERS:
                v = _counter(entry.get(key))
                if v is None:
                    if key in entry:
                        self.damaged += 1
                    continue
                counters[key] = v
            old = row.counters
            rx, tx = counters.get("rx_bytes"), counters.get("tx_bytes")
            row.rx_rate = self._rate(old.get("rx_bytes"), rx, dt)
            row.tx_rate = self._rate(old.get("tx_bytes"), tx, dt)
            if dt > 0 and "rx_bytes" in old:
                rated = True
            row.counters = counters
            row.ts = ts
            if rx is not None and tx is not None:
                win = row.window
                if win and (win[-1][1] > rx or win[-1][2] > tx):
                    win.clear()  # reset counters: the window starts again
                win.append((ts, rx, tx))
                while len(win) > 2 and ts - win[1][0] >= WINDOW:
                    win.popleft()
            rx_sum += row.rx_rate
            tx_sum += row.tx_rate
        for gone in set(rows).difference(seen):
            del rows[gone]
        return (rx_sum, tx_sum) if rated else None

    @staticmethod
    def _rate(before: int | None, now: int | None, dt: float) -> float:
        if before is None or now is None or dt <= 0 or now < before:
            return 0.0
        return (now - before) / dt

    def window_bytes(self, name: str | None = None) -> tuple[int, int, bool]:
        """(rx, tx) interface bytes over the last 60 s of ``name`` (the captured interface when
        None), and whether that is an approximation: the sum of every interface, used when the
        capture is on ``any`` or the interface has no counters of its own."""
        name = self.captured if name is None else name
        row = self._rows.get(name) if name is not None and name not in AGGREGATE else None
        if row is not None and len(row.window) >= 2:
            rx, tx = row.window_bytes()
            return rx, tx, False
        rx = tx = 0
        for r in self._rows.values():
            a, b = r.window_bytes()
            rx += a
            tx += b
        return rx, tx, True


class TrafficHistory:
    """The last 60 s of traffic, rx and tx bytes/s, one value per 500 ms sample.

    From interface counters (``source`` "interfaces") once the stream carried an ``ifstats``
    record, else from captured bytes (``source`` "captured").
    """

    def __init__(self) -> None:
        self._rx: collections.deque[float] = collections.deque(maxlen=KEEP)
        self._tx: collections.deque[float] = collections.deque(maxlen=KEEP)
        # Captured bytes per 500 ms bucket of stream time: bucket -> [rx, tx].
        self._buckets: dict[int, list[float]] = {}
        self._newest = -1  # the newest bucket that has had bytes (or the clock's)
        self.source = CAPTURED

    def clear(self) -> None:
        self._rx.clear()
        self._tx.clear()
        self._buckets.clear()
        self._newest = -1
        self.source = CAPTURED

    def series(self, direction: str) -> Sequence[float]:
        """Bytes/s, oldest first, one value per 500 ms, at most 120."""
        if self.source == INTERFACES:
            return list(self._rx if direction == "rx" else self._tx)
        i = 0 if direction == "rx" else 1
        if self._newest < 0:
            return []
        first = min(self._buckets, default=self._newest)
        start = max(first, self._newest - KEEP + 1)
        get = self._buckets.get
        return [(b[i] if (b := get(k)) is not None else 0.0) / SAMPLE for k in range(start, self._newest + 1)]

    def add_sample(self, rx_rate: float, tx_rate: float) -> None:
        """One interface-counter sample (the sum of every interface's rates)."""
        if self.source != INTERFACES:
            self.source = INTERFACES
        self._rx.append(float(rx_rate))
        self._tx.append(float(tx_rate))

    def add_captured(self, t0: float, t1: float, rx: float, tx: float) -> None:
        """``rx`` and ``tx`` bytes captured between stream times ``t0`` and ``t1``, spread evenly."""
        if rx <= 0 and tx <= 0:
            return
        if not t1 > 0 or not math.isfinite(t1):
            return
        if not (t0 <= t1) or t1 - t0 > WINDOW:
            t0 = max(t1 - WINDOW, t0) if t0 <= t1 else t1
        last = int(t1 / SAMPLE)
        first = int(t0 / SAMPLE)
        buckets = self._buckets
        if last < self._newest - KEEP:
            return  # older than anything shown
        span = t1 - t0
        if first == last or span <= 0 or self.source == INTERFACES:
            # (With interface counters as the series, only 60 s sums are read: no need to spread.)
            b = buckets.get(last)
            if b is None:
                buckets[last] = [float(rx), float(tx)]  # (floats as the compiled build makes them)
            else:
                b[0] += rx
                b[1] += tx
        else:
            rx_s, tx_s = rx / span, tx / span  # bytes per second of the span
            k = first if first > last - KEEP else last - KEEP
            lo = t0 if k == first else k * SAMPLE
            while k <= last:
                edge = (k + 1) * SAMPLE
                d = (t1 if t1 < edge else edge) - lo
                if d > 0:
                    b = buckets.get(k)
                    if b is None:
                        buckets[k] = [rx_s * d, tx_s * d]
                    else:
                        b[0] += rx_s * d
                        b[1] += tx_s * d
                lo = edge
                k += 1
        if last > self._newest:
            self._newest = last
            self._prune()

    def advance(self, clock: float) -> None:
        """Stream time moved on to ``clock``: the captured series ends there (quiet buckets read 0)."""
        if self._newest >= 0 and clock > 0 and math.isfinite(clock):
            k = int(clock / SAMPLE)
            if k > self._newest and k - self._newest < 10 * KEEP:
                self._newest = k
                self._prune()

    def captured_window(self) -> tuple[float, float]:
        """Captured (rx, tx) bytes over the last 60 s of stream time."""
        lo = self._newest - KEEP + 1
        rx = tx = 0.0
        for k, (a, b) in self._buckets.items():
            if k >= lo:
                rx += a
                tx += b
        return rx, tx

    def _prune(self) -> None:
        lo = self._newest - KEEP
        if len(self._buckets) > KEEP + 8:
            for k in [k for k in self._buckets if k < lo]:
                del self._buckets[k]


def process_key(rec: dict[str, Any], old: dict[str, Any] | None = None) -> Key:
    name = rec.get("process")
    pid = rec.get("pid")
    if name is None and old is not None:  # learned downstream, kept from the record before
        name, pid = old.get("process"), old.get("pid")
    if not isinstance(name, str) or not name:
        return ("", None)
    return (name[:MAX_NAME], pid if type(pid) is int else None)


class ProcessWindow:
    """Bytes per process over the last 60 s of stream time; peak rates while listed."""

    def __init__(self) -> None:
        self._buckets: dict[int, dict[Key, list[float]]] = {}  # second -> key -> [tx, rx]
        self._newest = -1
        self.peaks: dict[Key, list[float]] = {}  # key -> [tx, rx] highest rate seen while listed
        self.generation = 0  # bumps on clear(): what was worked out from before is stale

    def clear(self) -> None:
        self._buckets.clear()
        self._newest = -1
        self.peaks.clear()
        self.generation += 1

    def add(self, key: Key, t: float, tx: float, rx: float) -> None:
        """``tx``/``rx`` bytes of ``key`` that a record of stream time ``t`` added (rn-track writes
        a moving connection every second: spreading them would not change a 60 s sum)."""
        if not (t > 0 and math.isfinite(t)):
            return
        k = int(t / BUCKET)
        if k <= self._newest - WINDOW_BUCKETS:
            return  # older than the window
        bucket = self._buckets.get(k)
        if bucket is None:
            bucket = self._buckets[k] = {}
        cell = bucket.get(key)
        if cell is None:
            if len(bucket) >= MAX_PROCESSES:
                key = OTHER_KEY
                cell = bucket.get(key)
            if cell is None:
                bucket[key] = [float(tx), float(rx)]  # (floats as the compiled build makes them)
                cell = None
        if cell is not None:
            cell[0] += tx
            cell[1] += rx
        if k > self._newest:
            self._newest = k
            self._prune()

    def advance(self, clock: float) -> None:
        if self._newest >= 0 and clock > 0 and math.isfinite(clock):
            k = int(clock / BUCKET)
            if self._newest < k < self._newest + 10 * WINDOW_BUCKETS:
                self._newest = k
                self._prune()

    def _prune(self) -> None:
        lo = self._newest - WINDOW_BUCKETS
        if len(self._buckets) > WINDOW_BUCKETS:
            for k in [k for k in self._buckets if k <= lo]:
                del self._buckets[k]

    def totals(self) -> dict[Key, list[float]]:
        """[tx, rx] bytes of each process over the last 60 s (the newest second and the 59 before)."""
        lo = self._newest - WINDOW_BUCKETS
        out: dict[Key, list[float]] = {}
        for k, bucket in self._buckets.items():
            if k <= lo:
                continue
            for key, (tx, rx) in bucket.items():
                cell = out.get(key)
                if cell is None and len(out) >= MAX_PROCESSES:
                    cell = out.get(OTHER_KEY)  # each second keeps its own; the sum is bounded too
                    key = OTHER_KEY
                if cell is None:
                    out[key] = [tx, rx]
                else:
                    cell[0] += tx
                    cell[1] += rx
        return out
