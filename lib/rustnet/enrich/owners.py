"""The local socket table with each socket's owner, kept fresh by polling and on demand.

One :meth:`SocketOwners.refresh` lists the sockets of every network namespace
(sock_diag netlink, :mod:`rustnet.enrich.sockdiag`; /proc/<pid>/net text,
:mod:`rustnet.enrich.sockets`, where sock_diag is refused), looks up the owners of
sockets it has not seen before (:mod:`rustnet.enrich.processes`; known sockets cost
one dict lookup), and keeps a :class:`~rustnet.track.join.SocketJoiner` indexed
with one ``sock`` record per socket. Callers poll on a schedule and call
:meth:`SocketOwners.resolve_flow` the first time they see a flow: an exact sock_diag
query for that one tuple, else a full refresh that is rate-limited (at most a fifth of
the time goes to refreshing) so a flood of new flows (a port scan) cannot turn the
poller into a busy loop. Optionally a :class:`~rustnet.enrich.watch.ShortLivedWatcher`
thread catches sockets that live only milliseconds, between two polls.

Sockets that disappear stay matchable for ``linger`` seconds: a connection's first
record often arrives after a short-lived client has already closed its socket.

Flows with no local end are not looked up at all: :meth:`SocketOwners.locality` checks
both addresses against the addresses of every namespace read
(:mod:`rustnet.enrich.localaddr`), and says whether an exact query in our own namespace
can find the socket.
"""

from __future__ import annotations

import os
import socket
import time
from collections import deque
from typing import Any

from rustnet.enrich import sockdiag
from rustnet.enrich import sockets as socktab
from rustnet.enrich.localaddr import NOT_LOCAL, OWN_NETNS, LocalAddresses
from rustnet.enrich.processes import ProcessInfoCache, ProcInfo, scan_socket_inodes
from rustnet.enrich.sockets import SockEntry
from rustnet.enrich.watch import ShortLivedWatcher
from rustnet.stream.records import SOCK
from rustnet.track.join import SocketJoiner

DENIED_HINT = (
    "some sockets' processes are not readable, so those connections show only a user; "
    "run rn-enrich as root to see every process"
)

# Inodes no process was found for are looked for again after this many seconds.
_UNRESOLVED_RETRY = 5.0
# TCP states of a socket whose process has closed it (orphaned: no inode, no owner any more).
# Not ESTABLISHED/CLOSE_WAIT/SYN_RECV without an inode: those wait in an accept queue.
_CLOSED_BY_OWNER = frozenset({4, 5, 6, 7, 9, 11})  # FIN_WAIT1/2, TIME_WAIT, CLOSE, LAST_ACK, CLOSING
# The local addresses are read again when older than this, before a flow is called not local.
_ADDR_MAX_AGE = 1.0


class SocketOwners:
    """Socket inode -> sock record (tuple, owner, namespace), for every namespace on the host."""

    def __init__(
        self,
        all_netns: bool = True,
        linger: float = 10.0,
        protos: tuple[str, ...] = ("tcp", "udp"),
        max_sockets: int = 200_000,
        use_diag: bool = True,
        watch_interval: float = 0.0,
    ) -> None:
        self.all_netns = all_netns
        self.use_diag = use_diag
        self.watcher: ShortLivedWatcher | None = None
        if watch_interval > 0 and use_diag:
            try:
                self.watcher = ShortLivedWatcher(interval=watch_interval, protos=protos)
            except OSError:
                self.watcher = None  # no sock_diag: short-lived sockets are caught only by polls
        # Namespace inode -> its sock_diag socket (None: diag failed there, read /proc instead).
        self._diag: dict[int | None, socket.socket | None] = {}
        self._diag_cache: dict[int | None, dict[bytes, Any]] = {}
        self.linger = linger
        self.protos = protos
        self.max_sockets = max_sockets
        self.own_netns = socktab.netns_inode("self")
        self.host_netns = socktab.host_netns_inode()
        self._ns_names: dict[int, str] = socktab.named_netns()  # re-read at every poll
        self.own_label = self.netns_label(self.own_netns)
        self.joiner = SocketJoiner(prefer_netns=self.own_label, max_sockets=max_sockets)
        self.procs = ProcessInfoCache()
        self._socks: dict[int, tuple[SockEntry, dict[str, Any]]] = {}
        self._inode_pid: dict[int, int] = {}
        self._unresolved: dict[int, float] = {}
        self._gone: deque[tuple[float, dict[str, Any]]] = deque()
        self._addr_cache: dict[str, str] = {}
        self.built = 0  # sock records built (new sockets, newly known owners)
        self.denied = False  # some owner could not be read (for a one-time hint)
        self.refreshes = 0
        self.last_cost = 0.0  # seconds the last refresh took
        self._last_end = 0.0
        self._last_start = -1.0  # monotonic time the last refresh began reading
        self._query_cost = 0.0  # seconds of exact queries since the last refresh
        self.local = LocalAddresses()
        self._addr_time = -_ADDR_MAX_AGE
        self.skipped = 0  # flows not looked up: no local address
        self.joiner.near = self.local.near_ends

    def set_capture_netns(self, ino: int | None) -> None:
        """The namespace the capture runs in (the stream header's ``netns``; None: ours): a flow's
        own end is the one whose address is that namespace's (:mod:`rustnet.track.join`)."""
        if ino is None:
            ino = self.own_netns
        self.local.capture_ns = ino
        if self.watcher is not None and ino != self.own_netns:
            self.watcher.watch_programs_in(ino)
        self.joiner.prefer_netns = self.netns_label(ino)
        self.local.rebuild()

    # --- namespaces ---------------------------------------------------------------------
    def netns_label(self, ino: int | None, pid: int | None = None) -> str | None:
        """None for the host's namespace; else the ``ip netns`` name, or the container of a
        process in it (``docker:0123456789ab``, from its cgroup), or ``net:[inode]``."""
        if ino is None or ino == self.host_netns:
            return None
        name = self._ns_names.get(ino)
        if name is None:
            name = socktab.container_of(pid) if pid is not None else None
            if name is None:
                name = f"net:[{ino}]"
            self._ns_names[ino] = name
        return name

    def _diag_socket(self, ino: int | None, pid: int | None) -> socket.socket | None:
        if not self.use_diag:
            return None
        if ino in self._diag:
            return self._diag[ino]
        sock: socket.socket | None
        try:
            sock = sockdiag.open_diag() if pid is None else sockdiag.open_diag_in(f"/proc/{pid}/ns/net")
        except OSError as exc:
            if pid is not None and sockdiag.process_gone(exc):
                return None  # exited meanwhile: another of the namespace's processes, or next time
            sock = None
        self._diag[ino] = sock
        return sock

    def _read_ns(self, ino: int | None, pid: int | None) -> list[SockEntry] | None:
        """One namespace's sockets: sock_diag when it works there, else /proc/<pid>/net."""
        sock = self._diag_socket(ino, pid)
        if sock is not None:
            try:
                return sockdiag.dump(
                    sock, self.protos, self._diag_cache.setdefault(ino, {}), states=sockdiag.OWNED_STATES
                )
            except OSError:
                sock.close()
                del self._diag[ino]  # opened again next time: one failed dump must not last
        net_dir = f"/proc/{pid if pid is not None else 'self'}/net"
        rows = socktab.read_tables(net_dir, self.protos, self._addr_cache)
        # An empty table is a namespace without sockets, not one we cannot read.
        return rows if rows or os.access(f"{net_dir}/tcp", os.R_OK) else None

    def _read_all_tables(self) -> list[tuple[int | None, list[SockEntry]]]:
        own_rows = self._read_ns(self.own_netns, None) or []
        out: list[tuple[int | None, list[SockEntry]]] = [(self.own_netns, own_rows)]
        self.local.read_ns(self.own_netns, None)
        if self.all_netns:
            groups = socktab.group_by_netns(socktab.pids())
            for ino, members in groups.items():
                if ino == self.own_netns:
                    continue
                for pid in members[-3:]:  # the oldest few: the namespace's long-lived init is the likeliest
                    rows = self._read_ns(ino, pid)
                    if rows is not None:
                        out.append((ino, rows))
                        self.local.read_ns(ino, pid)
                        break
            for stale in [i for i in self._diag if i != self.own_netns and i not in groups]:
                gone = self._diag.pop(stale)  # the namespace has no processes left
                self._diag_cache.pop(stale, None)
                if gone is not None:
                    gone.close()
            self.local.forget_except({ino for ino, _rows in out})
        self.local.add_socket_addresses({e.local for _ino, rows in out for e in rows})
        self.local.rebuild()
        self._addr_time = time.monotonic()
        return out

    def _refresh_addresses(self) -> None:
        """Re-read the addresses of our namespace and every other one (no socket tables)."""
        self.local.read_ns(self.own_netns, None)
        if self.all_netns:
            groups = socktab.group_by_netns(socktab.pids())
            for ino, members in groups.items():
                if ino != self.own_netns:
                    self.local.read_ns(ino, members[-1])
            self.local.forget_except(set(groups))
        self.local.rebuild()
        self._addr_time = time.monotonic()

    def locality(self, src: str, dst: str) -> int:
        """Whether the flow has a local end (:mod:`rustnet.enrich.localaddr`): NOT_LOCAL,
        OTHER_NETNS or OWN_NETNS. A flow found not local with addresses older than a second
        is checked again against freshly read ones (a new address, a new container)."""
        where = self.local.flow_locality(src, dst)
        if where == NOT_LOCAL and time.monotonic() - self._addr_time > _ADDR_MAX_AGE:
            self._refresh_addresses()
            where = self.local.flow_locality(src, dst)
        if where == NOT_LOCAL:
            self.skipped += 1
        return where

    def absorb_watch(self, now: float | None = None) -> int:
        """Index what the short-lived watcher found (owners read while the processes lived)."""
        if self.watcher is None:
            return 0
        finds = self.watcher.take()
        wall = time.time() if now is None else now
        for e, pid, info, via, ns in finds:
            prev = self._socks.get(e.inode)
            if prev is not None and prev[1]["pid"] is not None:
                continue
            if prev is not None:  # indexed ownerless (its owner gone by the time it was asked)
                self.joiner.remove(prev[1])
            sock = self._make_sock(e, self.own_netns if ns is None else ns, pid, wall, info, via)
            self._socks[e.inode] = (e, sock)
            self._inode_pid[e.inode] = pid
            self.joiner.add(sock)
            self.built += 1
        return len(finds)

    def close(self) -> None:
        if self.watcher is not None:
            self.watcher.close()
            self.watcher = None
        for sock in self._diag.values():
            if sock is not None:
                sock.close()
        self._diag.clear()
        self.local.close()

    # --- refreshing -----------------------------------------------------------------------
    def refresh(self, now: float | None = None) -> None:
        """Read every socket table now; new and changed sockets get their owners looked up."""
        t0 = time.perf_counter()
        mono = self._last_start = time.monotonic()
        self._query_cost = 0.0
        wall = time.time() if now is None else now
        self.absorb_watch(wall)
        self._ns_names = socktab.named_netns()
        tables = self._read_all_tables()
        seen: dict[int, tuple[int | None, SockEntry]] = {}
        for ino, rows in tables:
            for e in rows:
                if e.inode:
                    seen[e.inode] = (ino, e)
        # Owners of inodes we do not know yet (a fresh pid list: a process may be newer than the tables).
        unknown = {
            i
            for i in seen
            if i not in self._inode_pid
            and mono - self._unresolved.get(i, -_UNRESOLVED_RETRY) >= _UNRESOLVED_RETRY
        }
        if unknown:
            res = scan_socket_inodes(unknown, socktab.pids())
            self._inode_pid.update(res.found)
            for i in unknown.difference(res.found):
                self._unresolved[i] = mono
            if res.denied and len(res.found) < len(unknown):
                self.denied = True
        self._update(seen, wall, mono)
        self.refreshes += 1
        end = time.monotonic()
        self.last_cost = time.perf_counter() - t0
        self._last_end = end

    def _update(self, seen: dict[int, tuple[int | None, SockEntry]], wall: float, mono: float) -> None:
        old = self._socks
        new: dict[int, tuple[SockEntry, dict[str, Any]]] = {}
        for inode, (ns, e) in seen.items():
            prev = old.get(inode)
            pid = self._inode_pid.get(inode)
            if prev is not None and prev[0][:5] == e[:5] and prev[1]["pid"] == pid:
                new[inode] = prev
                continue
            sock = self._make_sock(e, ns, pid, wall)
            new[inode] = (e, sock)
            if prev is not None:
                self.joiner.remove(prev[1])
            self.joiner.add(sock)
            self.built += 1
        for inode, (_e, sock) in old.items():
            if inode not in new:
                self._gone.append((mono, sock))
                self._inode_pid.pop(inode, None)
        self._socks = new
        while self._gone and mono - self._gone[0][0] > self.linger:
            self.joiner.remove(self._gone.popleft()[1])
        if len(self._unresolved) > 4 * len(seen) + 1024:
            self._unresolved = {i: t for i, t in self._unresolved.items() if i in seen}

    def _make_sock(
        self,
        e: SockEntry,
        ns: int | None,
        pid: int | None,
        wall: float,
        info: ProcInfo | None = None,
        via: str | None = None,
    ) -> dict[str, Any]:
        process = cmdline = None
        user = self.procs.user_for_uid(e.uid)
        if pid is not None:
            if info is None:
                info = self.procs.get(pid)
            if info is not None:
                process, cmdline = info.name, info.cmdline
                if info.denied:
                    self.denied = True
        connected = e.rport != 0
        sock = {
            "t": SOCK,
            "ts": wall,
            "proto": e.proto,
            "local": e.local,
            "lport": e.lport,
            "remote": e.remote if connected else "",
            "rport": e.rport if connected else 0,
            "listening": e.listening,
            "pid": pid,
            "process": process,
            "cmdline": cmdline,
            "user": user,
            "netns": self.netns_label(ns, pid),
        }
        if info is not None:
            for k, v in (("group", info.group), ("ppid", info.ppid), ("exe", info.exe)):
                if v is not None:
                    sock[k] = v
            if info.ancestors:
                sock["ancestors"] = list(info.ancestors)
        if via is not None:
            sock["via"] = via
        return sock

    def refresh_due(self, min_gap: float = 0.02) -> bool:
        """Whether :meth:`refresh_on_miss` would refresh now."""
        return time.monotonic() - self._last_end >= max(min_gap, 4 * self.last_cost)

    def refresh_on_miss(self, now: float | None = None, min_gap: float = 0.02) -> bool:
        """Refresh at once unless the last refresh was too recent (keeps refreshing under ~20% of
        the time); True when it refreshed."""
        if not self.refresh_due(min_gap):
            return False
        self.refresh(now)
        return True

    def arm_watch(self, seconds: float) -> None:
        """Have the short-lived watcher poll fast for ``seconds`` (a local flow went unowned)."""
        if self.watcher is not None:
            self.watcher.arm(seconds)

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
        """The owner of a flow seen for the first time: a connected socket in the index, else an
        exact sock_diag query in our namespace (one socket, microseconds), else a rate-limited
        full refresh; then whatever matches best (a listener, perhaps).

        ``where`` is the flow's :meth:`locality`: exact queries are made only for the ends
        that are addresses of our namespace. When a query finds the socket closed (TIME_WAIT or
        orphaned: no owner any more), the table is younger than ``max_age`` and it holds a
        socket for the other end (the server's listener), no refresh is made: it could not name
        the owner either. A connection not accepted yet (in a listener's queue, no inode either)
        is not closed: its owner is coming. ``seen_at`` (monotonic) is when the flow reached us: a
        table read after that holds its socket if it still exists, so a miss there is final.
        When the exact queries since the last refresh cost as much as a refresh, a refresh is
        made instead (a burst of new local flows: one listing serves them all).

        A listener alone is not trusted at first sight: on a veth pair between two local
        namespaces, the server's listener is indexed long before the client's new socket.
        Returns the socket and whether the answer is final: False when the refresh was
        skipped by the rate limit (the caller should ask again later).
        """
        self.absorb_watch(now)
        sock = self.joiner.lookup(proto, src, sport, dst, dport, exact_only=True)
        if sock is not None and sock["pid"] is not None:
            return sock, True
        if seen_at is not None and self._last_start >= seen_at:
            return self.lookup(proto, src, sport, dst, dport), True
        if self.refreshes and self._query_cost >= self.last_cost:
            self.refresh(now)
            return self.lookup(proto, src, sport, dst, dport), True
        diag = self._diag_socket(self.own_netns, None) if where == OWN_NETNS else None
        closed = False
        t0 = time.perf_counter()
        if diag is not None:
            local_of = self.local.locality
            for local, lport, remote, rport in ((src, sport, dst, dport), (dst, dport, src, sport)):
                if local_of(local) != OWN_NETNS:
                    continue
                try:
                    e = sockdiag.query(diag, proto, local, lport, remote, rport)
                    if e is None and ":" not in local:  # dual-stack sockets hold IPv4 peers as ::ffff:a.b.c.d
                        e = sockdiag.query(diag, proto, "::ffff:" + local, lport, "::ffff:" + remote, rport)
                except OSError:
                    e = None
                if e is not None and e.inode:
                    sock = self._adopt(e, now)
                    if sock["pid"] is not None:
                        return sock, True
                    break
                if e is not None and proto == "tcp" and e.state in _CLOSED_BY_OWNER:
                    closed = True  # TIME_WAIT or orphaned: its process has let go of it
        self._query_cost += time.perf_counter() - t0
        if closed and time.monotonic() - self._last_end < max_age:
            sock = self.lookup(proto, src, sport, dst, dport)
            if sock is not None:
                return sock, True
        refreshed = self.refresh_on_miss(now)
        return self.lookup(proto, src, sport, dst, dport), refreshed

    def _adopt(self, e: SockEntry, now: float | None) -> dict[str, Any]:
        """Index one socket found by an exact query (owner looked up now, newest processes first)."""
        pid = self._inode_pid.get(e.inode)
        if pid is None:
            res = scan_socket_inodes({e.inode}, socktab.pids())
            pid = res.found.get(e.inode)
            if pid is not None:
                self._inode_pid[e.inode] = pid
            elif res.denied:
                self.denied = True
        prev = self._socks.get(e.inode)
        if prev is not None and prev[0][:5] == e[:5] and prev[1]["pid"] == pid:
            return prev[1]
        sock = self._make_sock(e, self.own_netns, pid, time.time() if now is None else now)
        if prev is not None:
            self.joiner.remove(prev[1])
        self._socks[e.inode] = (e, sock)
        self.joiner.add(sock)
        self.built += 1
        return sock

    # --- results ----------------------------------------------------------------------------
    def lookup(self, proto: str, src: str, sport: int, dst: str, dport: int) -> dict[str, Any] | None:
        return self.joiner.lookup(proto, src, sport, dst, dport)

    def __len__(self) -> int:
        return len(self._socks)
