"""Plain reference versions of what the tracker's fast paths do, for tests/test_track_fastpath.py.

These are the straightforward implementations the tracker used before its hot paths were
inlined and table-driven (DPI folding, timeouts); the fast versions must agree with them on
any input.

Why it is kept (it must change with any change of these rules): the differential tests catch
what the behaviour tests do not. Planted, each failed only tests/test_track_fastpath.py: a
first-seen DPI field taken when the connection already holds MAX_FIELDS (track/dpi.py), and
the busy-connection timeout starting one packet late (Tracker._timeout).
"""

from __future__ import annotations

from typing import Any

from rustnet.track import lifecycle
from rustnet.track.conn import KIND_SSH, Conn
from rustnet.track.dpi import ACCUMULATE, LATEST, MAX_FIELDS, MAX_KEY, MAX_LIST, MAX_STR, NOT_COPIED
from rustnet.track.lifecycle import Timeouts, timeout_class
from rustnet.track.record import CORE_FIELDS
from rustnet.track.states import State
from rustnet.track.tcp_state import REUSABLE

_SCALARS = (str, int, float, bool)


def _clean(v: Any) -> Any:
    """A bounded copy of a value, or None when it is empty or of a type records do not carry."""
    if isinstance(v, str):
        return v[:MAX_STR] if v else None
    if isinstance(v, (int, float, bool)):
        return v
    if isinstance(v, bytes):
        return v[: MAX_STR // 2].hex() if v else None
    if isinstance(v, list):
        out = [_clean(x) for x in v[:MAX_LIST] if isinstance(x, (*_SCALARS, bytes, dict))]
        out = [x for x in out if x is not None]
        return out or None
    if isinstance(v, dict):
        # e.g. one DNS answer {"name": ..., "type": ..., "data": ...}: flat, small, scalar values only.
        flat = {
            k: _clean(x)
            for k, x in list(v.items())[:8]
            if isinstance(k, str) and len(k) <= MAX_KEY and isinstance(x, (*_SCALARS, bytes))
        }
        flat = {k: x for k, x in flat.items() if x is not None}
        return flat or None
    return None


def _valid_key(k: Any) -> bool:
    return isinstance(k, str) and 0 < len(k) <= MAX_KEY and k not in CORE_FIELDS and k.isidentifier()


def merge(d: dict[str, Any], info: dict[str, Any]) -> bool:
    """Fold one packet's ``info`` into the connection's field dict ``d``; True when ``d`` changed."""
    changed = False
    for k, v in info.items():
        if k in NOT_COPIED or not _valid_key(k):
            continue
        if k in ACCUMULATE or k == "dns_query":
            changed |= _accumulate(d, "dns_queries" if k == "dns_query" else k, v)
            if k != "dns_query":
                continue
        if (k in d and k not in LATEST) or len(d) >= MAX_FIELDS:
            continue
        v = _clean(v)
        if v is not None:
            d[k] = v
            changed = True
    return changed


def _accumulate(d: dict[str, Any], k: str, v: Any) -> bool:
    items = v if isinstance(v, list) else [v]
    have = d.get(k)
    if have is None:
        if len(d) >= MAX_FIELDS:
            return False
        have = d[k] = []
    changed = False
    for x in items[:MAX_LIST]:
        x = _clean(x)
        if x is None or isinstance(x, list) or x in have or len(have) >= MAX_LIST:
            continue
        have.append(x)
        changed = True
    if not have:
        del d[k]
    return changed


def timeout(t: Timeouts, c: Conn) -> float:
    """Seconds of quiet after which ``c`` expires, by the documented rules of rustnet.track.lifecycle."""
    if c.proto == 6:
        if c.so in REUSABLE or c.sr in REUSABLE:
            cls = lifecycle.C_TCP_CLOSED
        else:
            cls = timeout_class(c.sr if c.local == 2 else c.so, c.kind == KIND_SSH)
    elif c.so == State.QUIC_DRAINING and c.dpi is not None and "quic_close" in c.dpi:
        cls = lifecycle.C_QUIC_CLOSED
    else:
        cls = timeout_class(c.so, False)
    return t.timeout(cls, c.ps + c.pd, c.last - c.first, c.rtt)
