"""Hostnames for addresses: names learned from DNS answers on the wire, optional reverse DNS.

Learned names beat reverse DNS: a CDN address's PTR says ``server-1-2-3-4.cdn.net``
while the client asked for ``www.example.org``; the DNS answer seen on the wire ties
the address to the name the client actually used. Only answers to queries seen count:
rn-dissect pairs each response with its query (same id, addresses and ports swapped,
within seconds) and lists what a paired response resolved in ``dns_resolved``
(``"address name"`` strings); a spoofed or stray answer is left out there, so it names
nothing here. ``dns_answers`` is never read for names.

``dns_resolved`` comes from packets (or a hostile stream) and is read tolerantly: items
that are not two words with an IP address first are skipped. Names are cut to 253
characters with control characters escaped.

Each name says how it was learned (:data:`VIA_DNS`: inferred from DNS seen on the wire,
shown ``~name``; :data:`VIA_PTR`: a reverse lookup), written by rn-enrich as
``hostname_src_via`` / ``hostname_dst_via``.

Reverse lookups (:mod:`rustnet.enrich.rdns`) run in background threads, bounded in rate,
concurrency and memory, so the pipeline never waits: a name found later reaches the
viewer in a ``name`` record, and a connection's later records carry it.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections import OrderedDict
from typing import Any, Final

from rustnet.enrich.rdns import ReverseResolver
from rustnet.enrich.text import printable

_MAX_NAME: Final = 253
VIA_DNS: Final = "dns"  # from a DNS answer seen on the wire (to a query seen): inferred
VIA_PTR: Final = "ptr"  # from a reverse lookup of the address


@functools.lru_cache(maxsize=8192)  # answers repeat (popular names): parse each address once
def _as_ip(token: str) -> str | None:
    token = token.strip().rstrip(",;")
    if ":" not in token:
        try:  # an IPv4 address already in canonical form (the usual case) needs no ipaddress object
            if socket.inet_ntop(socket.AF_INET, socket.inet_pton(socket.AF_INET, token)) == token:
                return token
        except OSError:
            pass  # not an IPv4 address by the C parser: ipaddress has the last word
    try:
        addr = ipaddress.ip_address(token)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


def resolved_pairs(resolved: Any, limit: int = 64) -> list[tuple[str, str]]:
    """(address, name) from a ``dns_resolved`` value (see the module doc), at most ``limit``."""
    if not isinstance(resolved, list):
        return []
    out: list[tuple[str, str]] = []
    for item in resolved[:limit]:
        if not isinstance(item, str) or len(item) > 512:
            continue
        words = item.split()
        if len(words) != 2:
            continue
        ip = _as_ip(words[0])
        if ip is not None:
            out.append((ip, words[1]))
    return out


class HostNames:
    """Address text -> hostname, learned from DNS answers and (when on) reverse lookups."""

    def __init__(
        self, reverse_dns: bool = False, max_entries: int = 65536, resolver: ReverseResolver | None = None
    ) -> None:
        self.max_entries = max_entries
        self._learned: OrderedDict[str, str] = OrderedDict()
        self.resolver: ReverseResolver | None = resolver
        if reverse_dns and resolver is None:
            self.resolver = ReverseResolver()

    def set_reverse(self, on: bool) -> None:
        """Turn reverse lookups on (a resolver whose threads start with the first lookup) or off."""
        if on and self.resolver is None:
            self.resolver = ReverseResolver()
        elif not on and self.resolver is not None:
            self.resolver.close()
            self.resolver = None

    # --- learning from DNS answers -------------------------------------------------------
    def learn(self, ip: str, name: str) -> None:
        name = printable(name.rstrip("."), _MAX_NAME)
        if not name:
            return
        self._learned[ip] = name
        self._learned.move_to_end(ip)
        if len(self._learned) > self.max_entries:
            self._learned.popitem(last=False)

    def learn_from(self, rec: dict[str, Any]) -> int:
        """Learn from a record's ``dns_resolved``; returns how many addresses."""
        pairs = resolved_pairs(rec.get("dns_resolved"))
        for ip, name in pairs:
            self.learn(ip, name)
        return len(pairs)

    # --- looking up --------------------------------------------------------------------
    def lookup(self, ip: Any, reverse: bool = True) -> tuple[str, str] | None:
        """The best known name for an address and how it was learned (``VIA_DNS``,
        ``VIA_PTR``); with reverse DNS on (and ``reverse``), an unknown address is queued."""
        if not isinstance(ip, str) or not ip:
            return None
        name = self._learned.get(ip)
        if name is not None:
            return name, VIA_DNS
        if self.resolver is None or not reverse or len(ip) > 64:
            return None
        rname = self.resolver.lookup(ip)
        return None if rname is None else (rname, VIA_PTR)

    def name_for(self, ip: Any) -> str | None:
        """The best known name for an address (see :meth:`lookup`)."""
        got = self.lookup(ip)
        return None if got is None else got[0]
