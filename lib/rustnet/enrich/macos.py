"""Socket owners through psutil alone: the path for macOS (and any system without /proc).

UNVERIFIED ON MACOS: nothing here has run on a Mac. The code only uses
``psutil.net_connections`` and ``psutil.Process`` (which psutil implements on macOS
through libproc), and its tests run it on Linux, where psutil provides the same API.
Known limits there: ``net_connections`` needs root on macOS (AccessDenied otherwise: the
stage then attributes nothing and says so once); there is no namespace notion; every
refresh walks every process (slow with many sockets, so polls are rate-limited the same
way); short-lived sockets are only caught by the refresh on a miss. RustNet's PKTAP
path (process names in packet metadata) is not implemented.

It offers the same methods the Enricher uses from
:class:`rustnet.enrich.owners.SocketOwners`.
"""

from __future__ import annotations

import socket
import time
from collections import deque
from typing import Any

import psutil

from rustnet.enrich.localaddr import OWN_NETNS
from rustnet.enrich.owners import DENIED_HINT
from rustnet.enrich.processes import ProcessInfoCache
from rustnet.stream.records import SOCK
from rustnet.track.join import SocketJoiner

__all__ = ["DENIED_HINT", "PsutilSocketOwners"]

_PROTO = {socket.SOCK_STREAM: "tcp", socket.SOCK_DGRAM: "udp"}


class PsutilSocketOwners:
    """Local sockets and their owners from ``psutil.net_connections`` (one namespace)."""

    def __init__(self, linger: float = 10.0) -> None:
        self.linger = linger
        self.joiner = SocketJoiner()
        self.procs = ProcessInfoCache()
        self.denied = False
        self.watcher = None
        self.refreshes = 0
        self.last_cost = 0.0
        self._last_end = 0.0
        self._socks: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._gone: deque[tuple[float, dict[str, Any]]] = deque()
        self.built = 0  # sock records built (new sockets, newly known owners)

    def refresh(self, now: float | None = None) -> None:
        t0 = time.perf_counter()
        wall = time.time() if now is None else now
        try:
            conns = psutil.net_connections(kind="inet")
        except psutil.AccessDenied:
            self.denied = True
            conns = []
        seen: dict[tuple[Any, ...], dict[str, Any]] = {}
        for c in conns:
            proto = _PROTO.get(c.type)
            if proto is None or not c.laddr:
                continue
            remote = c.raddr.ip if c.raddr else ""
            rport = c.raddr.port if c.raddr else 0
            key = (proto, c.laddr.ip, c.laddr.port, remote, rport, c.pid)
            sock = self._socks.get(key)
            if sock is None:
                sock = self._make_sock(proto, c.laddr.ip, c.laddr.port, remote, rport, c.status, c.pid, wall)
                self.joiner.add(sock)
                self.built += 1
            seen[key] = sock
        mono = time.monotonic()
        for key, sock in self._socks.items():
            if key not in seen:
                self._gone.append((mono, sock))
        self._socks = seen
        while self._gone and mono - self._gone[0][0] > self.linger:
            self.joiner.remove(self._gone.popleft()[1])
        self.refreshes += 1
        self.last_cost = time.perf_counter() - t0
        self._last_end = time.monotonic()

    def _make_sock(
        self,
        proto: str,
        local: str,
        lport: int,
        remote: str,
        rport: int,
        status: str,
        pid: int | None,
        wall: float,
    ) -> dict[str, Any]:
        process = cmdline = user = None
        if pid is not None:
            info = self.procs.get(pid)
            if info is not None:
                process, cmdline, user = info.name, info.cmdline, info.user
                self.denied = self.denied or info.denied
        else:
            self.denied = True
        return {
            "t": SOCK,
            "ts": wall,
            "proto": proto,
            "local": local,
            "lport": lport,
            "remote": remote,
            "rport": rport,
            "listening": status == psutil.CONN_LISTEN or (proto == "udp" and not rport),
            "pid": pid,
            "process": process,
            "cmdline": cmdline,
            "user": user,
            "netns": None,
        }

    def refresh_due(self, min_gap: float = 0.05) -> bool:
        return time.monotonic() - self._last_end >= max(min_gap, 4 * self.last_cost)

    def refresh_on_miss(self, now: float | None = None, min_gap: float = 0.05) -> bool:
        if not self.refresh_due(min_gap):
            return False
        self.refresh(now)
        return True

    def locality(self, src: str, dst: str) -> int:
        """Every flow may be local here (psutil gives no address list per namespace)."""
        return OWN_NETNS

    def arm_watch(self, seconds: float) -> None:
        return None  # no background watcher on this path

    def resolve_flow(
        self,
        proto: str,
        src: str,
        sport: int,
        dst: str,
        dport: int,
        now: float | None = None,
        where: int = OWN_NETNS,
        max_age: float = 1.0,
        seen_at: float | None = None,
    ) -> tuple[dict[str, Any] | None, bool]:
        sock = self.joiner.lookup(proto, src, sport, dst, dport, exact_only=True)
        if sock is not None and sock["pid"] is not None:
            return sock, True
        refreshed = self.refresh_on_miss(now)
        return self.lookup(proto, src, sport, dst, dport), refreshed

    def lookup(self, proto: str, src: str, sport: int, dst: str, dport: int) -> dict[str, Any] | None:
        return self.joiner.lookup(proto, src, sport, dst, dport)

    def absorb_watch(self, now: float | None = None) -> int:
        return 0  # no background watcher on this path

    def close(self) -> None:
        return None

    def __len__(self) -> int:
        return len(self._socks)
