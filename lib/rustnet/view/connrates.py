"""The selected connection's rx/tx rates over time, for the charts in Details.

Only the connection under the cursor is followed, from when it was selected: one sample per
500 ms of stream time, at most 120 (60 s), so the cost is the same with 10 or 50,000
connections. Between two records of the connection its rates hold, so a gap of stream time is
filled with the last rates (at most 120 of them), and a jump backwards in time (a
concatenated recording) starts the series again.
"""

from __future__ import annotations

import collections
from typing import Any, Final

from rustnet.view.model import Row

SAMPLE: Final = 0.5  # seconds of stream time per sample
KEEP: Final = 120  # samples: 60 s


class ConnRates:
    """rx and tx bytes/s of one connection, oldest first."""

    __slots__ = ("conn_id", "rx", "tx", "_bucket")

    def __init__(self) -> None:
        self.conn_id: Any = None
        self.rx: collections.deque[float] = collections.deque(maxlen=KEEP)
        self.tx: collections.deque[float] = collections.deque(maxlen=KEEP)
        self._bucket = -1

    def clear(self) -> None:
        self.conn_id = None
        self.rx.clear()
        self.tx.clear()
        self._bucket = -1

    def observe(self, row: Row | None, clock: float) -> None:
        """Note ``row``'s current rates at stream time ``clock`` (a new row starts a new series)."""
        if row is None:
            return
        try:
            same = row.id == self.conn_id
        except Exception:  # a hostile id that does not compare
            same = False
        if not same:
            self.clear()
            self.conn_id = row.id
        if not clock > 0 or clock == float("inf"):
            return
        bucket = int(clock / SAMPLE)
        if bucket < self._bucket:
            self.rx.clear()
            self.tx.clear()
        elif bucket == self._bucket and self.rx:
            self.rx[-1], self.tx[-1] = row.rate_rx, row.rate_tx  # the latest record in this sample
            return
        if self.rx and self._bucket >= 0:
            held_rx, held_tx = self.rx[-1], self.tx[-1]
            for _ in range(min(bucket - self._bucket - 1, KEEP)):
                self.rx.append(held_rx)
                self.tx.append(held_tx)
        self.rx.append(row.rate_rx)
        self.tx.append(row.rate_tx)
        self._bucket = bucket
