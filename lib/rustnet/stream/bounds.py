"""Size limits on what a consumer keeps from a record stream.

Record streams are untrusted input like packets: a recording may hold connection records
with megabyte strings or lists of a million items, and a viewer keeps up to
``--max-connections`` of them. A record that is kept (the viewer's table, ``rustnet --json``'s
open connections) passes :func:`bound_record` first, which cuts

* a text field to :data:`MAX_TEXT` characters (plus ``…``);
* a list to :data:`MAX_LIST` items, an item's text to :data:`MAX_ITEM_TEXT` characters,
  and drops items that are themselves lists or maps;
* a record to :data:`MAX_FIELDS` fields, each named by text of at most :data:`MAX_KEY`
  characters (other fields are dropped); a field that is a map keeps :data:`MAX_LIST`
  entries of plain values;

and says how many values it cut (the commands count them and say so). Records our own
stages write are far within these limits and pass unchanged, at the cost of one look at
each value.

Integers: a summary's ``wirelen`` is at most :data:`MAX_WIRELEN` (a captured frame's length is
a 32-bit field in pcap and pcapng) and its ``window`` at most :data:`MAX_WINDOW` (TCP's
16-bit field); rn-track counts a summary beyond either as damaged. MessagePack
holds integers from :data:`MIN_INT` to :data:`MAX_INT`: a writer saturates any integer beyond
them (:func:`saturate`), so a counter that passed 64 bits is written as ``MAX_INT``.
"""

from __future__ import annotations

from typing import Any, Final

# Connections a command keeps at most unless told (--max-connections of rn-track, rn-view, rustnet).
DEFAULT_MAX_CONNECTIONS: Final = 200_000
MAX_TEXT: Final = 4096
MAX_ITEM_TEXT: Final = 1024
MAX_LIST: Final = 64
MAX_FIELDS: Final = 64
MAX_KEY: Final = 64
ELLIPSIS: Final = "\u2026"
MAX_WIRELEN: Final = 0xFFFF_FFFF
MAX_PORT: Final = 0xFFFF
MAX_WINDOW: Final = 0xFFFF  # a summary's TCP window: the header's 16 bits, unscaled
MAX_VLAN: Final = 0xFFF
MAX_INT: Final = 0xFFFF_FFFF_FFFF_FFFF
# Interface counters (ifstats records): interfaces a consumer keeps, characters of a name.
MAX_IFACES: Final = 256
MAX_IFNAME: Final = 64
MIN_INT: Final = -(1 << 63)
_MAX_DEPTH: Final = 64
_PLAIN: Final = (int, float, bool, type(None))
_CONTAINERS: Final = frozenset({list, dict, tuple})


def bound_record(rec: dict[Any, Any]) -> tuple[dict[Any, Any], int]:
    """``rec`` within the limits (the same object when it already is) and how many values were cut."""
    if len(rec) > MAX_FIELDS:
        return _cut(rec)
    # type(), not isinstance: what msgpack and JSON decode is never a subclass (and mypyc makes
    # ``type(v) is str`` one pointer compare; this runs for every record a viewer keeps).
    for k, v in rec.items():
        if type(k) is not str or len(k) > MAX_KEY:
            return _cut(rec)
        c = type(v)
        if c is int or c is float or c is bool or v is None:
            continue
        if c is str:
            if len(v) > MAX_TEXT:
                return _cut(rec)
        elif c is list:
            if len(v) > MAX_LIST:
                return _cut(rec)
            for x in v:
                cx = type(x)
                if cx is str:
                    if len(x) > MAX_ITEM_TEXT:
                        return _cut(rec)
                elif cx is list or cx is dict or cx is tuple:
                    return _cut(rec)
        elif c is dict or c is tuple or c is bytes:
            return _cut(rec)
    return rec, 0


def cut_message(count: int) -> str:
    """The one line a command writes when it cut ``count`` values."""
    return f"{count:,} values of records cut to the record limits (see rustnet-records(5))"


def _cut(rec: dict[Any, Any]) -> tuple[dict[Any, Any], int]:
    out: dict[Any, Any] = {}
    cut = max(len(rec) - MAX_FIELDS, 0)
    for i, (k, v) in enumerate(rec.items()):
        if i >= MAX_FIELDS:
            break
        if not isinstance(k, str) or len(k) > MAX_KEY:
            cut += 1
            continue
        v, n = _value(v, MAX_TEXT, True)
        out[k] = v
        cut += n
    return out, cut


def _value(v: Any, text_limit: int, nested: bool) -> tuple[Any, int]:
    """A bounded copy of one value and how many values were cut from it."""
    if isinstance(v, str):
        return (v, 0) if len(v) <= text_limit else (v[:text_limit] + ELLIPSIS, 1)
    if isinstance(v, (bytes, bytearray)):
        return (bytes(v), 0) if len(v) <= text_limit else (bytes(v[:text_limit]), 1)
    if isinstance(v, _PLAIN):
        return v, 0
    if not nested:
        return None, 1  # a container inside a container: records carry none
    if isinstance(v, (list, tuple)):
        items: list[Any] = []
        cut = int(len(v) > MAX_LIST)  # a list cut short counts once
        for x in v[:MAX_LIST]:
            x, n = _value(x, MAX_ITEM_TEXT, False)
            cut += n
            if x is not None or n == 0:
                items.append(x)
        return items, cut
    if isinstance(v, dict):
        entries: dict[Any, Any] = {}
        cut = int(len(v) > MAX_LIST)
        for i, (k, x) in enumerate(v.items()):
            if i >= MAX_LIST:
                break
            if not isinstance(k, str) or len(k) > MAX_KEY:
                cut += 1
                continue
            x, n = _value(x, MAX_ITEM_TEXT, False)
            cut += n
            if x is not None or n == 0:
                entries[k] = x
        return entries, cut
    return None, 1


def saturate(v: Any, depth: int = 0) -> Any:
    """A copy of ``v`` with every integer beyond MessagePack's range (:data:`MIN_INT` to
    :data:`MAX_INT`) held at the nearest end; only called when a frame would not encode."""
    c = v.__class__
    if c is int or (isinstance(v, int) and c is not bool):
        return MAX_INT if v > MAX_INT else MIN_INT if v < MIN_INT else v
    if depth >= _MAX_DEPTH:
        return v
    if isinstance(v, (list, tuple)):
        return [saturate(x, depth + 1) for x in v]
    if isinstance(v, dict):
        return {saturate(k, depth + 1): saturate(x, depth + 1) for k, x in v.items()}
    return v
