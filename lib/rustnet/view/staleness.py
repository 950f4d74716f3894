"""How near a connection is to its idle timeout, for the Overview's row colours.

The ratio is the time since the connection's last packet over the timeout rn-track applies to
it in its state (:mod:`rustnet.track.lifecycle`, the default table: an override given to
rn-track is not in the stream), measured on the stream's clock. As RustNet paints it: below
0.75 the row keeps its cell colours, from 0.75 the whole row is the warn colour, from 0.90 the
err colour, bold from 0.96.
"""

from __future__ import annotations

from typing import Final

from rustnet.track.lifecycle import C_QUIC_CLOSED, Timeouts, timeout_class
from rustnet.track.states import State
from rustnet.view.model import Row, num, text

WARN_AT: Final = 0.75
ERR_AT: Final = 0.90
BOLD_AT: Final = 0.96
_TIMEOUTS: Final = Timeouts()
_STATE_VALUES: Final = {s.name: s.value for s in State}


def timeout_of(row: Row) -> float:
    """Seconds of quiet after which rn-track ends ``row``'s connection in its current state."""
    rec = row.rec
    value = _STATE_VALUES.get(row.state)
    if value is None:
        return _TIMEOUTS.values["other"]
    cls = timeout_class(value, text(rec.get("app")) == "SSH")
    packets = rec.get("packets")
    n = packets if type(packets) is int else 2
    first, last = num(rec.get("first_seen")), num(rec.get("last_seen"))
    rtt = num(rec.get("rtt_ms")) / 1000.0 or -1.0
    if cls == C_QUIC_CLOSED:
        return _TIMEOUTS.quic_close(rtt)
    return _TIMEOUTS.timeout(cls, n, max(last - first, 0.0), rtt)


def ratio(row: Row, clock: float) -> float:
    """Time since the last packet over the timeout (0 when either is unknown)."""
    last = num(row.rec.get("last_seen"))
    if last <= 0 or clock <= last:
        return 0.0
    timeout = timeout_of(row)
    if timeout <= 0:
        return 1.0
    return (clock - last) / timeout


def tone(r: float) -> tuple[str, bool]:
    """(theme token or "", bold) of a row at staleness ratio ``r``."""
    if r < WARN_AT:
        return "", False
    if r < ERR_AT:
        return "warn", False
    return "err", r >= BOLD_AT
