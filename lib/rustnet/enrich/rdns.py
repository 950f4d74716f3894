"""Reverse DNS (PTR) lookups in the background, bounded in every direction.

The pipeline never waits for a name: :meth:`ReverseResolver.lookup` answers from the cache
at once, or queues the address and answers ``None``; the name arrives later through
:meth:`ReverseResolver.done` (rn-enrich turns each into a ``name`` record, so a viewer names
the connections it already shows). Lookups go through the system resolver
(``gethostbyaddr``: /etc/hosts, then DNS as nsswitch.conf says), like RustNet's.

Bounds, so a flood of distinct addresses (a scan, spoofed sources) costs neither memory
nor unbounded queries:

* at most ``workers`` lookups at once (threads started on the first lookup only);
* at most ``rate`` lookups a second (a token bucket with a burst of ``burst``);
* at most ``queue_size`` addresses waiting; past that an address is not queued (it is
  asked again when one of its later records comes);
* at most ``max_entries`` cached answers, the oldest evicted; a name is kept ``ttl``
  seconds, "no name" ``negative_ttl`` seconds (RustNet's 5 min and 1 min);
* the reverse names asked for (``4.3.2.1.in-addr.arpa``), by which rn-enrich recognises
  its own PTR queries on the wire, are kept ``asked_ttl`` seconds, at most 4096.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Final

from rustnet.enrich.text import printable

MAX_NAME: Final = 253
WORKERS: Final = 4
RATE: Final = 20.0  # lookups a second
BURST: Final = 20
QUEUE_SIZE: Final = 256
MAX_ENTRIES: Final = 10_000
TTL: Final = 300.0
NEGATIVE_TTL: Final = 60.0
ASKED_TTL: Final = 120.0
MAX_ASKED: Final = 4096


def system_reverse(ip: str) -> str | None:
    """The system resolver's name for ``ip`` (``gethostbyaddr``), or None.

    Not ``getnameinfo``: before Python 3.11.4 (Debian 12 has 3.11.2) it holds the interpreter's
    lock while it waits for the answer, so each slow lookup stopped rn-enrich as a whole."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    try:
        host = socket.gethostbyaddr(ip)[0]
    except (OSError, UnicodeError, ValueError):
        return None
    try:  # a "name" that is an address again (some resolvers answer so) names nothing
        socket.inet_pton(family, host)
        return None
    except OSError:
        return host


def reverse_name(ip: str) -> str | None:
    """``4.3.2.1.in-addr.arpa`` / the ip6.arpa nibble name: what a PTR query for ``ip`` asks."""
    try:
        return ipaddress.ip_address(ip).reverse_pointer
    except ValueError:
        return None


def worth_asking(ip: str) -> bool:
    """Addresses no PTR record names: unspecified, multicast, the broadcast address."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return not (addr.is_unspecified or addr.is_multicast or ip == "255.255.255.255")


class ReverseResolver:
    """Address -> PTR name, looked up by worker threads (see the module doc for the bounds)."""

    def __init__(
        self,
        workers: int = WORKERS,
        rate: float = RATE,
        burst: int = BURST,
        queue_size: int = QUEUE_SIZE,
        max_entries: int = MAX_ENTRIES,
        ttl: float = TTL,
        negative_ttl: float = NEGATIVE_TTL,
        resolve: Callable[[str], str | None] = system_reverse,
    ) -> None:
        self.workers = max(1, workers)
        self.rate = max(rate, 0.001)
        self.burst = max(1, burst)
        self.queue_size = max(1, queue_size)
        self.max_entries = max(1, max_entries)
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self._resolve = resolve
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._cache: OrderedDict[str, tuple[str | None, float]] = OrderedDict()
        self._queue: deque[str] = deque()
        self._busy: set[str] = set()  # queued or being looked up
        self._done: deque[tuple[str, str]] = deque(maxlen=self.queue_size + self.workers)
        self._asked: OrderedDict[str, float] = OrderedDict()
        self._tokens = float(self.burst)
        self._refilled = time.monotonic()
        self._threads: list[threading.Thread] = []
        self._closed = False
        # Counters (the tests and the benchmark read them).
        self.queries = 0  # lookups made
        self.refused = 0  # addresses not queued: the queue was full
        self.in_flight_max = 0  # most lookups running at once

    # --- asking -----------------------------------------------------------------------------
    def lookup(self, ip: str) -> str | None:
        """The cached name of ``ip``; else None, the address queued (when there is room)."""
        now = time.monotonic()
        # Without the lock first: one dict lookup is atomic (the workers write under the lock), and
        # on a busy link most addresses are new while the queue is full: refused at once.
        hit = self._cache.get(ip)
        if hit is not None and hit[1] > now:
            return hit[0]
        if hit is None and len(self._queue) >= self.queue_size:
            if ip not in self._busy and not self._closed:
                self.refused += 1
            return None
        with self._lock:
            hit = self._cache.get(ip)
            if hit is not None:
                if hit[1] > now:
                    return hit[0]
                del self._cache[ip]  # expired: ask again
            if ip in self._busy or self._closed:
                return None
            if len(self._queue) >= self.queue_size:
                self.refused += 1
                return None
            if not worth_asking(ip):
                self._store(ip, None, now + self.ttl)
                return None
            self._queue.append(ip)
            self._busy.add(ip)
            if len(self._threads) < self.workers:
                self._start_worker()
            self._wake.notify()
        return None

    def done(self) -> list[tuple[str, str]]:
        """The (address, name) pairs found since the last call; addresses without a name are not listed."""
        with self._lock:
            out = list(self._done)
            self._done.clear()
        return out

    def asked(self, qname: str) -> bool:
        """True when ``qname`` (e.g. ``4.3.2.1.in-addr.arpa``) is a reverse name we queried lately."""
        key = qname.rstrip(".").lower()
        with self._lock:
            t = self._asked.get(key)
            return t is not None and time.monotonic() - t < ASKED_TTL

    @property
    def pending(self) -> int:
        """Addresses queued or being looked up."""
        with self._lock:
            return len(self._busy)

    def __len__(self) -> int:
        return len(self._cache)

    def close(self) -> None:
        """Stop the workers (a lookup under way finishes in the background; they are daemons)."""
        with self._lock:
            self._closed = True
            self._queue.clear()
            self._wake.notify_all()

    # --- the workers ------------------------------------------------------------------------
    def _start_worker(self) -> None:
        t = threading.Thread(target=self._work, name=f"rn-enrich-rdns-{len(self._threads)}", daemon=True)
        self._threads.append(t)
        t.start()

    def _store(self, ip: str, name: str | None, expires: float) -> None:
        self._cache[ip] = (name, expires)
        self._cache.move_to_end(ip)
        while len(self._cache) > self.max_entries:
            self._cache.popitem(last=False)

    def _take_token(self) -> bool:
        """Wait (lock held) until the rate allows one more lookup; False when closed meanwhile."""
        while not self._closed:
            now = time.monotonic()
            self._tokens = min(float(self.burst), self._tokens + (now - self._refilled) * self.rate)
            self._refilled = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            self._wake.wait((1.0 - self._tokens) / self.rate)
        return False

    def _work(self) -> None:
        in_flight = 0
        while True:
            with self._lock:
                while not self._queue and not self._closed:
                    self._wake.wait()
                if self._closed or not self._take_token():
                    return
                if not self._queue:  # another worker took it while this one waited for a token
                    self._tokens = min(float(self.burst), self._tokens + 1.0)
                    continue
                ip = self._queue.popleft()
                rname = reverse_name(ip)
                if rname is not None:
                    self._asked[rname] = time.monotonic()
                    self._asked.move_to_end(rname)
                    while len(self._asked) > MAX_ASKED:
                        self._asked.popitem(last=False)
                self.queries += 1
                in_flight = len(self._busy) - len(self._queue)
                self.in_flight_max = max(self.in_flight_max, in_flight)
            try:
                name = self._resolve(ip)
            except Exception:  # a resolver failure is "no name", never the end of the worker
                name = None
            name = printable(name.rstrip("."), MAX_NAME) if name else None
            with self._lock:
                self._busy.discard(ip)
                expires = time.monotonic() + (self.ttl if name else self.negative_ttl)
                self._store(ip, name or None, expires)
                if name:
                    self._done.append((ip, name))
