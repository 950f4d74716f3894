"""Folding the DPI fields of packet summaries (``info``) into a connection.

rn-dissect puts a small dict on the packets where it learned something (the
ClientHello, the HTTP request, each DNS message). The connection keeps the first
non-empty value of each field, except the lists ``dns_queries``, ``dns_answers`` and ``dns_resolved``,
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
ACCUMULATE: Final = frozenset({"dns_queries", "dns_answers", "dns_resolved"})
# The latest value wins: after a Version Negotiation the client's next Initials carry the real version.
LATEST: Final = frozenset({"quic_version", "ssh_stage"})
NOT_COPIED: Final = frozenset({"frag", "trunc", "malformed", "quic_state", "quic_pkt"})
_SCALARS: Final = (str, int, float, bool)
_ITEMS: Final = (*_SCALARS, bytes, dict)  # what a list value may hold


def _clean(v: Any) -> Any:
    """A bounded copy of a value, or None when it is empty or of a type records do not carry."""
    if isinstance(v, list):  # first: merge() handles plain strings itself, lists come here (ALPN, ...)
        out = []
        for x in v if len(v) <= MAX_LIST else v[:MAX_LIST]:
            if x.__class__ is str:  # the usual item (ALPN, DNS names): _clean(x) without the call
                if x:
                    out.append(x if len(x) <= MAX_STR else x[:MAX_STR])
            elif isinstance(x, _ITEMS):
                x = _clean(x)
                if x is not None:
                    out.append(x)
        return out or None
    if isinstance(v, str):
        return v[:MAX_STR] if v else None
    if isinstance(v, (int, float, bool)):
        return v
    if isinstance(v, bytes):
        return v[: MAX_STR // 2].hex() if v else None
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


# What merge() does with a key, learned once per distinct key: per packet, one dict lookup instead
# of the validity checks. Bounded, as a hostile stream may send endless distinct keys.
_SKIP: Final = 0
_FIRST: Final = 1  # the first non-empty value wins
_LATEST: Final = 2  # the latest value wins (LATEST)
_ACCUMULATE: Final = 3  # distinct values accumulate in a list (ACCUMULATE)
_QUERY: Final = 4  # dns_query: first value wins, and it accumulates in dns_queries
MAX_KNOWN_KEYS: Final = 4096
_kinds: dict[Any, int] = {}


def _kind(k: Any) -> int:
    if k in NOT_COPIED or not _valid_key(k):
        return _SKIP
    if k == "dns_query":
        return _QUERY
    if k in ACCUMULATE:
        return _ACCUMULATE
    return _LATEST if k in LATEST else _FIRST


def merge(d: dict[str, Any], info: dict[str, Any]) -> bool:
    """Fold one packet's ``info`` into the connection's field dict ``d``; True when ``d`` changed."""
    changed = False
    kinds = _kinds
    for k, v in info.items():
        kind = kinds.get(k)
        if kind is None:
            kind = _kind(k)
            if len(kinds) < MAX_KNOWN_KEYS:
                kinds[k] = kind
        if kind == _FIRST:
            if k in d or len(d) >= MAX_FIELDS:
                continue
        elif kind == _SKIP:
            continue
        elif kind == _ACCUMULATE:
            if _accumulate(d, k, v):
                changed = True
            continue
        elif kind == _QUERY:
            if _accumulate(d, "dns_queries", v):
                changed = True
            if k in d or len(d) >= MAX_FIELDS:
                continue
        elif len(d) >= MAX_FIELDS:  # _LATEST
            continue
        if v.__class__ is str:  # the usual value: _clean(v) without the call
            if not v:
                continue
            if len(v) > MAX_STR:
                v = v[:MAX_STR]
        else:
            v = _clean(v)
            if v is None:
                continue
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
    for x in items if len(items) <= MAX_LIST else items[:MAX_LIST]:
        if x.__class__ is str:  # the usual item: _clean(x) without the call
            if not x:
                continue
            if len(x) > MAX_STR:
                x = x[:MAX_STR]
        else:
            x = _clean(x)
            if x is None or isinstance(x, list):
                continue
        if x in have or len(have) >= MAX_LIST:
            continue
        have.append(x)
        changed = True
    if not have:
        del d[k]
    return changed
