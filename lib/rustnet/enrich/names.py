"""Hostnames for addresses: names learned from DNS answers on the wire, optional reverse DNS.

Learned names beat reverse DNS: a CDN address's PTR says ``server-1-2-3-4.cdn.net``
while the client asked for ``www.example.org``; the DNS answer seen on the wire ties
the address to the name the client actually used. So a DNS connection record (with
``dns_query`` and ``dns_answers``) teaches ``answer address -> query name``.

``dns_answers`` is read tolerantly (it comes from packets): a list whose items are
address strings, ``"name TYPE value"`` strings (rn-dissect's form; only A and AAAA count), or
maps with the address under ``data``/``addr``/``address``/``ip``/``value``; whatever
is not an IP address (CNAME targets, TXT) is ignored. Names are cut to 253
characters with control characters escaped.

Reverse DNS is off by default (it makes traffic of its own); when on, lookups run in
background threads with a bounded queue and a bounded cache, so the pipeline never
waits: a name shows up on a connection's later records.
"""

from __future__ import annotations

import functools
import ipaddress
import queue
import socket
import threading
from collections import OrderedDict
from typing import Any, Final

from rustnet.enrich.text import printable

_ADDR_KEYS: Final = ("data", "addr", "address", "ip", "value", "rdata")
_MAX_NAME: Final = 253


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


def answer_addresses(answers: Any, limit: int = 64) -> list[str]:
    """The IP addresses in a ``dns_answers`` value (see the module doc), at most ``limit``."""
    if isinstance(answers, (str, dict)):
        answers = [answers]
    if not isinstance(answers, list):
        return []
    out: list[str] = []
    for item in answers[:limit]:
        texts: list[str] = []
        if isinstance(item, str) and len(item) <= 512:
            words = item.split()
            # "name A 1.2.3.4" (rn-dissect's form): only address records; a bare address as is.
            if len(words) >= 3:
                texts = words[2:3] if words[1].upper() in ("A", "AAAA") else []
            else:
                texts = words[-1:]
        elif isinstance(item, dict):
            texts = [v for k in _ADDR_KEYS if isinstance(v := item.get(k), str) and len(v) <= 64]
        for t in texts:
            ip = _as_ip(t)
            if ip is not None:
                out.append(ip)
    return out


class HostNames:
    """Address text -> hostname, learned from DNS and (optionally) reverse lookups."""

    def __init__(self, reverse_dns: bool = False, max_entries: int = 65536, workers: int = 2) -> None:
        self.max_entries = max_entries
        self._learned: OrderedDict[str, str] = OrderedDict()
        self._reverse: OrderedDict[str, str | None] = OrderedDict()
        self._lock = threading.Lock()
        self._queue: queue.Queue[str] | None = None
        self._pending: set[str] = set()
        if reverse_dns:
            self._queue = queue.Queue(maxsize=1024)
            for i in range(workers):
                threading.Thread(target=self._worker, name=f"rn-enrich-rdns-{i}", daemon=True).start()

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
        """Learn from a record carrying ``dns_query`` and ``dns_answers``; returns how many."""
        answers = rec.get("dns_answers")
        query = rec.get("dns_query")
        if not answers or not isinstance(query, str) or not query:
            return 0
        ips = answer_addresses(answers)
        for ip in ips:
            self.learn(ip, query)
        return len(ips)

    # --- looking up --------------------------------------------------------------------
    def name_for(self, ip: Any) -> str | None:
        """The best known name for an address; with reverse DNS on, an unknown one is queued."""
        if not isinstance(ip, str) or not ip:
            return None
        name = self._learned.get(ip)
        if name is not None or self._queue is None:
            return name
        with self._lock:
            if ip in self._reverse:
                return self._reverse[ip]
            if ip in self._pending or len(self._pending) >= 4096:
                return None
            self._pending.add(ip)
        try:
            self._queue.put_nowait(ip)
        except queue.Full:
            with self._lock:
                self._pending.discard(ip)
        return None

    def _worker(self) -> None:
        assert self._queue is not None
        while True:
            ip = self._queue.get()
            try:
                name: str | None = printable(socket.gethostbyaddr(ip)[0], _MAX_NAME)
            except (OSError, UnicodeError, ValueError):
                name = None
            with self._lock:
                self._pending.discard(ip)
                self._reverse[ip] = name
                if len(self._reverse) > self.max_entries:
                    self._reverse.popitem(last=False)
