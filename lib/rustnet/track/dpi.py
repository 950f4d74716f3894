"""Folding the DPI fields of packet summaries (``info``) into a connection.

rn-dissect puts a small dict on the packets where it learned something (the
ClientHello, the HTTP request, each DNS message). Each field merges as its declaration in
:data:`rustnet.stream.fields.CONN` says: the first non-empty value stays, except the lists
``dns_queries``, ``dns_answers`` and ``dns_resolved``, which accumulate distinct values (every
``dns_query`` goes into ``dns_queries`` too), and ``quic_version`` and ``ssh_stage``, where the
latest wins (the version in use after a Version Negotiation). Names other stages own
(rn-track's counters, rn-enrich's process) are never taken from a packet.
Everything is bounded: the input may be hostile, so only short identifier keys that
do not collide with the tracker's own fields are kept, strings are cut, lists and the
number of fields are capped. Per-packet markers (``frag``, ``trunc``, ``malformed``)
and hints the tracker consumes itself (``quic_state``) are not copied.
"""

from __future__ import annotations

from typing import Any, Final

from rustnet.stream import fields
from rustnet.stream.bounds import MAX_INT, MIN_INT
from rustnet.track.record import CORE_FIELDS

# The limits and merge rules declared in rustnet.stream.fields (documented in rustnet-records(5)).
MAX_FIELDS: Final = fields.MAX_DPI_FIELDS
MAX_STR: Final = fields.MAX_DPI_TEXT
MAX_LIST: Final = fields.MAX_DPI_LIST
MAX_KEY: Final = fields.MAX_DPI_KEY
ACCUMULATE: Final = frozenset(f.name for f in fields.CONN if f.merge == fields.ACCUMULATE)
# The latest value wins: after a Version Negotiation the client's next Initials carry the real version.
LATEST: Final = frozenset(f.name for f in fields.CONN if f.merge == fields.LATEST)
# Keys that describe one packet (fields.INFO), not the connection.
NOT_COPIED: Final = frozenset(f.name for f in fields.INFO)
_SCALARS: Final = (str, int, float, bool)
_ITEMS: Final = (*_SCALARS, bytes, dict)  # what a list value may hold


def _clean(v: Any) -> Any:
    """A bounded copy of a value, or None when it is empty or of a type records do not carry."""
    if isinstance(v, list):  # first: merge() handles plain strings itself, lists come here (ALPN, ...)
        out = []
        for x in v if len(v) <= MAX_LIST else v[:MAX_LIST]:
            if type(x) is str:  # the usual item (ALPN, DNS names): _clean(x) without the call
                if x:
                    out.append(x if len(x) <= MAX_STR else x[:MAX_STR])
            elif isinstance(x, _ITEMS):
                x = _clean(x)
                if x is not None:
                    out.append(x)
        return out or None
    if isinstance(v, str):
        return v[:MAX_STR] if v else None
    if type(v) is bool:  # apart: compiled, an isinstance(v, int) narrowing would make True a 1
        return v
    if isinstance(v, int):
        return v if MIN_INT <= v <= MAX_INT else None  # beyond 64 bits: no record can carry it
    if isinstance(v, float):
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


_KINDS: Final = {
    fields.FIRST: _FIRST,
    fields.LATEST: _LATEST,
    fields.ACCUMULATE: _ACCUMULATE,
    fields.QUERY: _QUERY,
}


def _kind(k: Any) -> int:
    if k in NOT_COPIED or not _valid_key(k):
        return _SKIP
    declared = fields.CONN_BY_NAME.get(k)
    # A name nobody declared is kept as the first value: the pipeline test (tests/test_fields.py)
    # then sees it in the records and asks for its declaration.
    return _FIRST if declared is None else _KINDS.get(declared.merge, _SKIP)


def merge(d: dict[str, Any], info: dict[Any, Any]) -> bool:
    """Fold one packet's ``info`` into the connection's field dict ``d``; True when ``d`` changed.

    ``info`` may have keys of any type (a hostile stream): they are skipped, never checked on the way in
    (compiled, a ``dict[str, Any]`` would raise on the first such key)."""
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
        if type(v) is str:  # the usual value: _clean(v) without the call
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
    old = d.get(k)
    if old is None and len(d) >= MAX_FIELDS:
        return False
    # A new list, never the old one grown: records already written out hold the old one (a
    # record is built from these fields), and must keep saying what they said.
    have: list[Any] = [] if old is None else old
    grown = False
    for x in items if len(items) <= MAX_LIST else items[:MAX_LIST]:
        if type(x) is str:  # the usual item: _clean(x) without the call
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
        if not grown and old is not None:
            have = list(old)
        grown = True
        have.append(x)
    if grown:
        d[k] = have
    return grown
