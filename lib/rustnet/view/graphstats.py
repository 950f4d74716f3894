"""What the Graph tab plots besides traffic: connections opened and closed, RTT, loss, TCP totals.

:class:`GraphMetrics` is fed by the connection table as records come, whatever tab is shown,
so it costs O(1) per record: a connection seen for the first time counts as opened, one moved
to history as closed; the growth of a record's ``retransmits``, ``out_of_order``,
``fast_retransmits`` and ``packets`` over the same connection's previous record adds to the
current second and to the lifetime totals; a new ``rtt_ms`` value is an RTT sample.

Samples are per second of stream time (the records' own clock), so a recording replays the
same curves it was recorded with. The last :data:`SECONDS` completed seconds are kept; a
jump of the clock fills the seconds between with quiet ones. Nothing here draws: the Graph
tab (:mod:`rustnet.view.graph`) reads the series when it is shown.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Iterable
from typing import Any, Final

SECONDS: Final = 60  # per-second samples kept
OPENED_AVERAGE: Final = 3  # OPENED x/s: mean of the last 3 seconds
CLOSED_AVERAGE: Final = 10  # CLOSED x/s: mean of the last 10 seconds
GAUGE_AVERAGE: Final = 3  # RTT and loss gauges: mean of the last 3 samples
MAX_DELTA: Final = 1 << 48  # a hostile counter jump counts this much at most
RTT_KIND: Final = "rtt_kind"  # which measurement rtt_ms holds
# Request/response timings are the far end's service time, not the path's: left out of the gauge.
NOT_PATH_RTT: Final = frozenset({"dns", "ntp", "stun", "llmnr", "netbios"})
COUNTERS: Final = ("retransmits", "out_of_order", "fast_retransmits")


def _int(value: Any) -> int | None:
    return value if type(value) is int and value >= 0 else None


def _growth(old: dict[str, Any] | None, new: dict[str, Any], key: str) -> int:
    """How much counter ``key`` grew since the connection's previous record (all of it when new)."""
    now = _int(new.get(key))
    if now is None:
        return 0
    before = _int(old.get(key)) if old is not None else 0
    if before is None or now < before:  # a counter that went down started again: all of it is new
        before = 0
    d = now - before
    return d if d < MAX_DELTA else MAX_DELTA  # not min(): compiled, that is a generic call


def _rtt(rec: dict[str, Any]) -> float | None:
    v = rec.get("rtt_ms")
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return None
    v = float(v)
    if not math.isfinite(v) or v < 0 or v > 3_600_000:
        return None
    kind = rec.get(RTT_KIND)
    if isinstance(kind, str) and kind.lower() in NOT_PATH_RTT:
        return None
    return v


def mean(values: Iterable[float | None]) -> float | None:
    got = [v for v in values if v is not None]
    return sum(got) / len(got) if got else None


def recent(series: Iterable[float | None], n: int) -> float | None:
    """The mean of the last ``n`` samples that exist (seconds without one are skipped)."""
    got: list[float] = []
    for v in reversed(list(series)):
        if v is not None:
            got.append(v)
            if len(got) == n:
                break
    return sum(got) / len(got) if got else None


class GraphMetrics:
    """Per-second connection lifecycle and health samples, and process-lifetime TCP totals."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        """Forget every sample and total (the ``x`` clear)."""
        self.opened: collections.deque[int] = collections.deque(maxlen=SECONDS)
        self.closed: collections.deque[int] = collections.deque(maxlen=SECONDS)
        self.rtt: collections.deque[float | None] = collections.deque(maxlen=SECONDS)  # mean ms
        self.loss: collections.deque[float | None] = collections.deque(maxlen=SECONDS)  # percent
        self.totals = dict.fromkeys(COUNTERS, 0)
        self._second: int | None = None
        self._reset_current()

    def _reset_current(self) -> None:
        self._opened = 0
        self._closed = 0
        self._rtt_sum = 0.0
        self._rtt_n = 0
        self._retransmits = 0
        self._packets = 0

    def _push(self) -> None:
        self.opened.append(self._opened)
        self.closed.append(self._closed)
        self.rtt.append(self._rtt_sum / self._rtt_n if self._rtt_n else None)
        self.loss.append(min(self._retransmits / self._packets * 100, 100.0) if self._packets else None)

    def advance(self, clock: float) -> None:
        """Close the seconds that ended before stream time ``clock``."""
        if not math.isfinite(clock):
            return
        second = int(clock)
        if self._second is None:
            self._second = second
            return
        if second <= self._second:
            return
        self._push()
        self._reset_current()
        for _ in range(min(second - self._second - 1, SECONDS)):
            self._push()  # quiet seconds the stream skipped
        self._second = second

    def conn(self, old: dict[str, Any] | None, new: dict[str, Any], clock: float) -> None:
        """A connection record at stream time ``clock``; ``old`` is the connection's previous one."""
        self.advance(clock)
        if old is None:
            self._opened += 1
        totals = self.totals
        for key in COUNTERS:
            d = _growth(old, new, key)
            if d:
                totals[key] += d
                if key == "retransmits":
                    self._retransmits += d
        self._packets += _growth(old, new, "packets")
        rtt = _rtt(new)
        if rtt is not None and (old is None or old.get("rtt_ms") != new.get("rtt_ms")):
            self._rtt_sum += rtt
            self._rtt_n += 1

    def archived(self, clock: float) -> None:
        """A connection moved to history (closed) at stream time ``clock``."""
        self.advance(clock)
        self._closed += 1

    # --- what the Graph shows ---------------------------------------------------------------
    def opened_rate(self) -> float:
        return recent_counts(self.opened, OPENED_AVERAGE)

    def closed_rate(self) -> float:
        return recent_counts(self.closed, CLOSED_AVERAGE)

    def rtt_now(self) -> float | None:
        return recent(self.rtt, GAUGE_AVERAGE)

    def loss_now(self) -> float | None:
        return recent(self.loss, GAUGE_AVERAGE)


def recent_counts(series: collections.deque[int], n: int) -> float:
    """Mean of the last ``n`` per-second counts (fewer while the history is shorter)."""
    if not series:
        return 0.0
    tail = list(series)[-n:]
    return sum(tail) / len(tail)
