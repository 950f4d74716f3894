"""Catch short-lived sockets: a background thread that notices new sockets within milliseconds.

A curl to a nearby server holds its socket for one to a few milliseconds, while its
packets reach rn-enrich tens of milliseconds later (libpcap delivers in blocks, every
stage batches). By then the socket is gone or in TIME_WAIT, which has no owner. So a
thread watches our own network namespace: every ``interval`` it reads
``/proc/self/net/sockstat`` (socket counters, about 2 µs), and only when those change it
lists the sockets through sock_diag; a socket inode it has not seen before gets its
owner looked up at once (the /proc fd scan, newest processes first, where a just-started
curl is) and the process's name and command line read while the process still exists.
The main thread takes these finds and keeps them matchable after the socket is gone.

The cost is bounded by a duty cycle: after a listing, the thread waits at least
``1/duty - 1`` times as long as the listing took (5% of one CPU by default), so a host
with many sockets and much churn is listed less often (and catches fewer short-lived
sockets) rather than paying more. A quiet host costs the counter reads only.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from typing import Any

from rustnet.enrich import sockdiag
from rustnet.enrich import sockets as socktab
from rustnet.enrich.processes import ProcessInfoCache, ProcInfo, scan_socket_inodes
from rustnet.enrich.sockets import SockEntry

Find = tuple[SockEntry, int, ProcInfo | None]


class ShortLivedWatcher:
    """Polls the own namespace's sockets in a daemon thread; :meth:`take` returns new owners."""

    def __init__(self, interval: float = 0.001, duty: float = 0.05, protos: tuple[str, ...] = ("tcp", "udp"),
                 max_finds: int = 65536) -> None:
        self.interval = interval
        self.duty = duty
        self.protos = protos
        self.passes = 0       # socket listings done
        self.checks = 0       # counter reads done
        self.last_cost = 0.0
        self._finds: collections.deque[Find] = collections.deque(maxlen=max_finds)
        self._stop = threading.Event()
        self._diag = sockdiag.open_diag()   # raises DiagError when sock_diag is unavailable
        self._thread = threading.Thread(target=self._run, name="rn-enrich-watch", daemon=True)
        self._thread.start()

    def take(self) -> list[Find]:
        """The sockets found since the last call: (row, pid, process info at the time)."""
        out: list[Find] = []
        while self._finds:
            out.append(self._finds.popleft())
        return out

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._diag.close()

    def _run(self) -> None:
        known: dict[str, set[int]] = {p: set() for p in self.protos}   # inodes seen, per protocol
        procs = ProcessInfoCache(max_entries=1024)
        cache: dict[bytes, Any] = {}
        try:
            counters_fd: int | None = os.open("/proc/self/net/sockstat", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            counters_fd = None  # no counters: list every interval (the duty cycle still bounds it)
        last: dict[str, bytes] = {}
        last_raw = b""
        next_listing = 0.0
        first = True
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if counters_fd is not None and now - next_listing < 1.0:
                    raw = os.pread(counters_fd, 4096, 0)
                    self.checks += 1
                    if raw == last_raw:  # the common case: nothing was created or closed
                        changed = []
                    else:
                        counters = _proto_counters(raw)
                        changed = [p for p in self.protos if counters.get(p) != last.get(p)]
                        last, last_raw = counters, raw
                else:
                    changed = list(self.protos)  # no counters, or a listing once a second anyway
                if changed and now >= next_listing:
                    t0 = time.perf_counter()
                    try:
                        self._list(tuple(changed), known, cache, procs, first)
                    except OSError:
                        return  # sock_diag went away: the regular polls still work
                    first = False
                    self.passes += 1
                    self.last_cost = time.perf_counter() - t0
                    next_listing = time.monotonic() + self.last_cost * (1.0 / self.duty - 1.0)
                time.sleep(self.interval)  # cheaper than Event.wait: no lock round trip per tick
        finally:
            if counters_fd is not None:
                os.close(counters_fd)

    def _list(self, protos: tuple[str, ...], known: dict[str, set[int]], cache: dict[bytes, Any],
              procs: ProcessInfoCache, first: bool) -> None:
        rows = sockdiag.dump(self._diag, protos, cache)
        current: dict[str, set[int]] = {p: set() for p in protos}
        for r in rows:
            if r.inode:
                current[r.proto].add(r.inode)
        new: set[int] = set()
        for p in protos:
            new |= current[p] - known[p]
            known[p] = current[p]
        if new and not first:  # the first listing only learns what already exists
            found = scan_socket_inodes(new, socktab.pids()).found
            for r in rows:
                pid = found.get(r.inode)
                if pid is not None:
                    self._finds.append((r, pid, procs.get(pid)))


def _proto_counters(text: bytes) -> dict[str, bytes]:
    """The sockstat line of each protocol (``TCP: inuse 3 orphan 0 tw 2 alloc 5 mem 1``)."""
    out: dict[str, bytes] = {}
    for line in text.split(b"\n"):
        if line.startswith(b"TCP:"):
            out["tcp"] = line
        elif line.startswith(b"UDP:"):
            out["udp"] = line
    return out
