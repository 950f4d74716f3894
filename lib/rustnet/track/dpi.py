"""Folding the DPI fields of packet summaries (``info``) into a connection.

rn-dissect puts a small dict on the packets where it learned something (the
ClientHello, the HTTP request, each DNS message). The connection keeps the first
non-empty value of each field, except the lists ``dns_queries`` and ``dns_answers``,
which accumulate distinct values (every ``dns_query`` goes into ``dns_queries`` too), and
``quic_version``, where the latest wins (the version in use after a Version Negotiation).
Everything is bounded: the input may be hostile, so only short identifier keys that
do not collide with the tracker's own fields are kept, strings are cut, lists and the
number of fields are capped. Per-packet markers (``frag``, ``trunc``, ``malformed``)
and hints the tracker consumes itself (``quic_state``) are not copied.
"""

from __future__ import annotations

from typing import Any, Final

from rustnet.track.record import CORE_FIELDS

MAX_FIELDS: Final = 32
MAX_STR: Final = 1024
MAX_LIST: Final = 32
MAX_KEY: Final = 32
ACCUMULATE: Final = frozenset({"dns_queries", "dns_answers"})
# The latest value wins: after a Version Negotiation the client's next Initials carry the real version.
LATEST: Final = frozenset({"quic_version", "ssh_stage"})
NOT_COPIED: Final = frozenset({"frag", "trunc", "malformed", "quic_state", "quic_pkt"})
_SCALARS: Final = (str, int, float, bool)


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
        flat = {k: _clean(x) for k, x in list(v.items())[:8]
                if isinstance(k, str) and len(k) <= MAX_KEY and isinstance(x, (*_SCALARS, bytes))}
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
