"""What a packet's pcapng comment says, from the connection records the viewer gets.

Connection records arrive from rn-enrich well after their packets went by. They are
indexed here by a direction-free key (protocol, both endpoints) that a packet's own
summary gives too, and by generation: the record whose connection began at or before the
packet (``first_seen``) is the packet's. Bounded: at most ``max_keys`` keys (the least
recently updated go first), two generations each.
"""

from __future__ import annotations

import collections
import threading
from typing import Any, Final

from rustnet.export import rustnet_fields
from rustnet.export.rustnet_fields import number
from rustnet.stream.records import ip_packed

Key = tuple[Any, ...]
_PORTED: Final = frozenset({"tcp", "udp"})
GENERATIONS: Final = 2


def flow_key(proto: Any, src: Any, sport: Any, dst: Any, dport: Any) -> Key:
    """Direction-free: the lower endpoint first; ports only for TCP and UDP (as rn-track keys).
    ``proto`` is the record's name (``tcp``), addresses packed."""
    if proto not in _PORTED:
        sport = dport = 0
    a, b = (src, sport), (dst, dport)
    try:
        first = a <= b
    except TypeError:  # mixed types from a hostile stream: any fixed order will do
        first = repr(a) <= repr(b)
    return (proto, a, b) if first else (proto, b, a)


def sanitise(value: Any) -> str:
    """A comment value: whitespace and control characters become ``_``, outer ``_`` trimmed."""
    text = str(value)
    return "".join("_" if ch.isspace() or not ch.isprintable() else ch for ch in text).strip("_")


def comment(rec: dict[str, Any], local_ids: bool = False) -> str | None:
    """``rustnet process=… pid=… ppid=… uid=… attr=… direction=… app=… sni=… country=… asn=…``;
    None when nothing is known. ``uid=`` only when the record's user is this host's (``local_ids``)."""
    values = (
        ("process", rec.get("process")),
        ("pid", rec.get("pid") if type(rec.get("pid")) is int else None),
        ("ppid", rec.get("ppid") if type(rec.get("ppid")) is int else None),
        ("uid", rustnet_fields.process_ids(rec, local_ids)[0]),
        ("attr", rustnet_fields.attribution_match(rec)),
        ("direction", rustnet_fields.direction(rec)),
        ("app", rustnet_fields.dpi_display(rec)),
        ("sni", rustnet_fields.dpi_domain(rec)),
        ("country", rec.get("geo_country") if isinstance(rec.get("geo_country"), str) else None),
        ("asn", rec.get("geo_asn") if type(rec.get("geo_asn")) is int else None),
    )
    tokens = []
    for key, value in values:
        if value is None or value == "":
            continue
        text = sanitise(value)
        if text:
            tokens.append(f"{key}={text}")
    return "rustnet " + " ".join(tokens) if tokens else None


class Meta:
    """A connection as a comment needs it: its comment, whether its process is known, its times."""

    __slots__ = ("first_seen", "last_seen", "comment", "attributed", "final")

    def __init__(self, rec: dict[str, Any], local_ids: bool = False) -> None:
        first, last = number(rec.get("first_seen")), number(rec.get("last_seen"))
        self.first_seen = 0.0 if first is None else first
        self.last_seen = self.first_seen if last is None else last
        self.comment = comment(rec, local_ids)
        self.attributed = type(rec.get("pid")) is int
        self.final = rec.get("final") is True


class AttributionTable:
    """Connection metadata by flow key and generation; updated by one thread, read by another."""

    def __init__(self, max_keys: int, local_ids: bool = False) -> None:
        self.max_keys = max(1, max_keys)
        self.local_ids = local_ids
        self._lock = threading.Lock()
        self._by_key: collections.OrderedDict[Key, list[Meta]] = collections.OrderedDict()
        # The latest packet time any record reported: every connection's record is current
        # up to about then (rn-track reports each changed connection at every refresh).
        self.watermark = 0.0

    def __len__(self) -> int:
        return len(self._by_key)

    def update(self, rec: dict[str, Any]) -> None:
        proto = rec.get("proto")
        if not isinstance(proto, str):
            return
        src, dst = ip_packed(rec.get("src")), ip_packed(rec.get("dst"))
        key = flow_key(proto, src, rec.get("sport") or 0, dst, rec.get("dport") or 0)
        meta = Meta(rec, self.local_ids)
        with self._lock:
            if meta.last_seen > self.watermark and meta.last_seen < 1 << 40:
                self.watermark = meta.last_seen
            gens = self._by_key.get(key)
            if gens is None:
                self._by_key[key] = [meta]
                if len(self._by_key) > self.max_keys:
                    self._by_key.popitem(last=False)
                return
            self._by_key.move_to_end(key)
            for i, old in enumerate(gens):
                if old.first_seen == meta.first_seen:
                    gens[i] = meta
                    return
            gens.append(meta)
            gens.sort(key=lambda m: m.first_seen)
            del gens[:-GENERATIONS]

    def lookup(self, key: Key, ts: float) -> Meta | None:
        """The generation the packet at ``ts`` belongs to: the latest begun by then."""
        with self._lock:
            gens = self._by_key.get(key)
            if not gens:
                return None
            found = None
            for meta in gens:
                if meta.first_seen <= ts + 1e-6:
                    found = meta
            return found
