"""Traffic rates per direction: bytes/s over a sliding window, smoothed.

Nothing happens per packet (the byte counters exist anyway). When a record is
about to be written, :func:`sample` turns the bytes added since the previous
sample (the window: at least one refresh interval) into a rate and folds it into
an exponentially weighted average with time constant ``tau``: the weight of a
sample grows with the time it covers, so the result does not depend on how often
records are written. A window without any byte, or ``window`` seconds without a
packet, reads exactly 0 (an average would only approach it): a connection that
goes quiet gets one more record showing 0, then no more until it changes. Except
a TCP connection shown TIME_WAIT or CLOSED: it is over, so it gets no such record;
readers take its rate as 0 once ``WINDOW`` seconds have passed since its
``last_seen`` (the viewer does, rustnet.view.model).
"""

from __future__ import annotations

import math
from typing import Final

from rustnet.track.conn import Conn

TAU: Final = 2.0  # smoothing time constant, seconds
WINDOW: Final = 5.0  # idle seconds after which the rate is 0
MIN_SPAN: Final = 0.25  # a first sample never divides by less (avoids a spike from one packet)


def sample(c: Conn, now: float, tau: float = TAU, window: float = WINDOW) -> None:
    """Update ``c.rate_src``/``c.rate_dst`` for time ``now`` (seconds)."""
    if now - c.last >= window or (c.bs == c.rate_bs and c.bd == c.rate_bd and c.rate_t > 0):
        c.rate_src = c.rate_dst = 0.0
        c.rate_t, c.rate_bs, c.rate_bd = now, c.bs, c.bd
        return
    start = c.rate_t if c.rate_t > 0 else c.first
    span = now - start
    if span <= 0:
        return
    first = c.rate_t <= 0
    if first:
        span = max(span, MIN_SPAN)
        alpha = 1.0
    else:
        alpha = 1.0 - math.exp(-span / tau)
    inst_s = (c.bs - c.rate_bs) / span
    inst_d = (c.bd - c.rate_bd) / span
    c.rate_src += alpha * (inst_s - c.rate_src)
    c.rate_dst += alpha * (inst_d - c.rate_dst)
    c.rate_t, c.rate_bs, c.rate_bd = now, c.bs, c.bd
