"""Traffic rates per direction: bytes/s over a sliding window, smoothed.

Nothing happens per packet (the byte counters exist anyway). When a record is
about to be written, the tracker (``Tracker._record`` in rustnet.track.table, the one
place the rule is applied) turns the bytes added since the previous sample (the
window: at least one refresh interval) into a rate and folds it into
an exponentially weighted average with time constant ``tau``: the weight of a
sample grows with the time it covers, so the result does not depend on how often
records are written. A window without any byte, or ``window`` seconds without a
packet, reads exactly 0 (an average would only approach it): a connection that
goes quiet gets one more record showing 0, then no more until it changes. Except
a connection that is over (``rustnet.track.states.ENDED_NAMES``: TCP shown TIME_WAIT or
CLOSED, DNS answered): it gets no such record; readers take its rate as 0 once ``WINDOW``
seconds have passed since its ``last_seen`` (the viewer does, rustnet.view.model). When the
input ends (``end: eof``) no such time is left: a TCP one's final record shows rate 0 itself.
"""

from __future__ import annotations

from typing import Final

TAU: Final = 2.0  # smoothing time constant, seconds
WINDOW: Final = 5.0  # idle seconds after which the rate is 0
MIN_SPAN: Final = 0.25  # a first sample never divides by less (avoids a spike from one packet)
