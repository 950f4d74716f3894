"""Catch short-lived sockets: a background thread that notices new sockets within milliseconds,
but only while one is likely to come.

A curl to a nearby server holds its socket for one to a few milliseconds, while its
packets reach rn-enrich tens of milliseconds later (libpcap delivers in blocks, every
stage batches) and its connection record a refresh interval later. By then the socket
is gone or in TIME_WAIT, which has no owner. So a thread watches our own network
namespace: every ``interval`` it reads the namespace's own socket counters
(``/proc/self/net/sockstat``: TCP sockets hashed and in TIME_WAIT, UDP sockets bound,
about 2 µs; these change when a socket gets its ports, which is when its tuple can be
matched), and only when those change it lists the sockets through sock_diag; a socket
inode it has not seen before (or seen before it was connected) gets its owner looked up
at once (the /proc fd scan, newest processes first, where a just-started curl is) and the
process's name and command line read while the process still exists. The main thread
takes these finds and keeps them matchable after the socket is gone.

Polling every millisecond costs a few percent of a CPU in Python, so the thread does it
only while **armed**, and otherwise sleeps in ``select``:

* a program was started in our namespace (exec events of the kernel's process connector,
  :mod:`rustnet.enrich.procevents`; a new curl is seen before it connects; programs of
  other namespaces are ignored, their sockets are not ours to list);
* our namespace opened TCP connections or bound UDP sockets since the last idle check
  (``idle_check``, the counters again: a burst of new sockets);
* the main thread saw a local flow whose owner was already gone (:meth:`arm`).

Each arms it for a few seconds. A listing asks the kernel only for client sockets: local
port in the ephemeral range (``ip_local_port_range``, the ports connect() picks), not in
TIME_WAIT (no owner), so a server's thousands of accepted connections are never sent
(they are attributed through their listener anyway). Listings are also bounded by a
duty cycle: after a listing, the thread waits at least ``1/duty - 1`` times as long as
the listing took (5% of one CPU by default), so a host with many client sockets and much
churn is listed less often (and catches fewer short-lived sockets) rather than paying
more. A quiet host costs two counter reads a second.
"""

from __future__ import annotations

import collections
import os
import select
import threading
import time
from collections.abc import Iterator
from typing import Any

from rustnet.enrich import procevents, sockdiag
from rustnet.enrich import sockets as socktab
from rustnet.enrich.newprocs import StartedPrograms
from rustnet.enrich.processes import ProcessInfoCache, ProcInfo, scan_socket_inodes
from rustnet.enrich.sockets import SockEntry

# A socket found, its owner's pid and details, and how (join.OWNER_VIA: "exec-event" when the
# owner was one of the programs whose start the exec events announced, else "short-lived-watch").
# The last item is the namespace inode the socket is in (None: the watcher's own).
Find = tuple[SockEntry, int, ProcInfo | None, str, int | None]

ARM_EXEC = 3.0  # seconds of fast polling after a program started
ARM_BURST = 5.0  # ... after new sockets showed up between two idle checks
# Idle: exec events of other namespaces cost a wake-up each (~60 µs: select, recv, a stat); past
# this many a second, the events socket is left alone for _EXEC_PAUSE and read in one go after.
_EXEC_WAKES = 5
_EXEC_PAUSE = 0.25
_MAX_DEFER = 1.0  # seconds listings may wait for the watched programs
# Share of one CPU the polls of just-started programs may take: a curl's socket lives about a
# millisecond, so each is polled every quarter tick for the few milliseconds the curl runs.
PROGRAMS_DUTY = 0.2


class ShortLivedWatcher:
    """Polls the own namespace's sockets in a daemon thread; :meth:`take` returns new owners."""

    def __init__(
        self,
        interval: float = 0.001,
        duty: float = 0.05,
        protos: tuple[str, ...] = ("tcp", "udp"),
        max_finds: int = 65536,
        idle_check: float = 0.5,
        exec_events: bool = True,
        armed: float = 0.0,
    ) -> None:
        self.interval = interval
        self.duty = duty
        self.protos = protos
        self.idle_check = idle_check
        self.passes = 0  # socket listings done
        self.checks = 0  # counter reads done while armed
        self.wakeups = 0  # idle checks and events while not armed
        self.arms = 0  # times it went from idle to armed
        self.reasons = {"exec": 0, "burst": 0, "flow": 0}  # arm() calls by cause
        self.last_cost = 0.0
        self._armed_until = time.monotonic() + armed
        self._finds: collections.deque[Find] = collections.deque(maxlen=max_finds)
        self._stop = threading.Event()
        self._diag = sockdiag.open_diag()  # raises DiagError when sock_diag is unavailable
        self._events = procevents.open_exec_events() if exec_events else None
        # Programs just started here, watched one by one (rustnet.enrich.newprocs).
        self._own_ns = socktab.netns_inode("self")
        self._programs = StartedPrograms(ARM_EXEC, PROGRAMS_DUTY) if self._events is not None else None
        self.program_finds = 0
        # Namespaces whose new programs are watched: ours, and the capture's (watch_programs_in).
        self._program_ns: set[int | None] = {self._own_ns}
        self._own_ns = socktab.netns_inode("self")
        self._bytecode = client_ports_filter()
        self._started: collections.deque[int] = collections.deque(maxlen=32)  # programs started here
        self._next_check = time.monotonic() + idle_check
        self._foreign = (0.0, 0)  # (start of the current second, exec wake-ups for others)
        self._events_paused_until = 0.0
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._thread = threading.Thread(target=self._run, name="rn-enrich-watch", daemon=True)
        self._thread.start()

    @property
    def exec_events(self) -> bool:
        """Whether program starts arm the watcher (root, Linux 6.6+)."""
        return self._events is not None

    @property
    def armed(self) -> bool:
        return time.monotonic() < self._armed_until

    def arm(self, seconds: float, reason: str = "flow") -> None:
        """Poll fast for at least ``seconds`` from now (called from any thread)."""
        self.reasons[reason] = self.reasons.get(reason, 0) + 1
        now = time.monotonic()
        until = now + seconds
        idle = self._armed_until <= now
        if not idle and until < self._armed_until + 0.5:
            return  # armed about that long already: one update per half second at most
        self._armed_until = until
        if idle:
            try:
                os.write(self._wake_w, b"a")
            except OSError:
                pass  # the pipe is full: a wake-up is pending anyway

    def take(self) -> list[Find]:
        """The sockets found since the last call: (row, pid, process info at the time)."""
        out: list[Find] = []
        while self._finds:
            out.append(self._finds.popleft())
        return out

    def close(self) -> None:
        self._stop.set()
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass
        self._thread.join(timeout=2)
        if self._programs is not None and not self._thread.is_alive():
            self._programs.close()
        self._diag.close()
        if self._events is not None:
            self._events.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    # --- the thread ---------------------------------------------------------------------
    def _run(self) -> None:
        known: dict[str, dict[int, tuple[Any, ...]]] = {p: {} for p in self.protos}  # inode -> tuple
        procs = ProcessInfoCache(max_entries=1024)
        cache: dict[bytes, Any] = {}
        counters = _Counters()
        try:
            self._list(self.protos, known, cache, procs, True)  # learns what exists already
            self.passes += 1
            counters.changed(self.protos)
            next_listing = last_listing = 0.0
            was_armed = True
            deferred_since: float | None = None  # since when watched programs held off listings
            while not self._stop.is_set():
                if not self.armed:
                    if not self._idle_wait(counters, was_armed):
                        was_armed = False
                        continue
                    self.arms += 1
                was_armed = True
                if self._programs is not None and len(self._programs):
                    self._poll_programs(procs)
                now = time.monotonic()
                if counters.fd is None or now - last_listing >= 1.0:
                    changed = list(self.protos)  # no counters, or a listing once a second anyway
                else:
                    changed = counters.changed(self.protos)
                # A listing costs milliseconds (its owner search walks every process once the
                # socket is gone), time in which a just-started program's whole connection comes
                # and goes unpolled: while programs are watched, listings wait (a second at most).
                if not self._watching_programs():
                    deferred_since = None
                elif deferred_since is None:
                    deferred_since = now
                defer = deferred_since is not None and now - deferred_since < _MAX_DEFER
                if changed and now >= next_listing and not defer:
                    t0 = time.perf_counter()
                    self._list(tuple(changed), known, cache, procs, False)
                    self.passes += 1
                    self.last_cost = time.perf_counter() - t0
                    last_listing = time.monotonic()
                    next_listing = last_listing + self.last_cost * (1.0 / self.duty - 1.0)
                elif changed:
                    counters.forget(changed)  # seen again at the next read, when a listing is allowed
                self.checks += 1
                # A watched program's socket may live a millisecond: look four times as often.
                self._pause(self.interval / 4 if self._watching_programs() else self.interval)
        except OSError:
            return  # sock_diag went away: the regular polls still work
        finally:
            counters.close()

    def _watching_programs(self) -> bool:
        return self._programs is not None and len(self._programs) > 0

    def _pause(self, seconds: float) -> None:
        """Sleep while armed; a program start during the pause extends the arming."""
        if self._events is None:
            time.sleep(seconds)  # cheaper than Event.wait: no lock round trip per tick
            return
        ready, _, _ = select.select([self._events], [], [], seconds)
        if ready:
            self._read_exec_events()

    def _read_exec_events(self) -> bool:
        """Read the waiting exec events; arm when a program started here, or when events were
        lost (one of them may have been ours). Whether it armed."""
        assert self._events is not None
        pids, lost = procevents.drain(self._events)
        if self._started_here(pids) or lost:
            self.arm(ARM_EXEC, "exec")
            return True
        return False

    def _pace_foreign_execs(self) -> None:
        """Many programs starting in other namespaces (a build, a test suite): read their events
        in batches, a quarter of a second apart, instead of waking up for each."""
        now = time.monotonic()
        start, count = self._foreign
        if now - start >= 1.0:
            start, count = now, 0
        self._foreign = (start, count + 1)
        if count + 1 > _EXEC_WAKES:
            self._events_paused_until = now + _EXEC_PAUSE

    def _started_here(self, pids: list[int]) -> bool:
        """Whether one of these just-started programs runs in our network namespace (a stat each,
        a few µs: a host starting hundreds of programs a second costs a fraction of a percent)."""
        where = [(pid, socktab.netns_inode(pid)) for pid in pids]
        here = [pid for pid, ino in where if ino == self._own_ns]
        self._started.extend(here)
        watched = False
        if self._programs is not None:
            for pid, ino in where:
                if ino is not None and ino in self._program_ns:
                    self._programs.add(pid, ino)
                    watched = True
        return bool(here) or watched

    def watch_programs_in(self, netns: int | None) -> None:
        """Also watch the programs started in ``netns`` (the capture's, when it is not ours)."""
        if netns is not None:
            self._program_ns = {self._own_ns, netns}

    def _poll_programs(self, procs: ProcessInfoCache) -> None:
        """The new sockets of the programs just started (their details read while they live)."""
        assert self._programs is not None
        for entry, pid, ino in self._programs.poll():
            ns = None if ino == self._own_ns else ino
            info = procs.get(pid)
            if info is None:  # exited already: the name it started with is still known
                info = ProcInfo(self._programs.name_of(pid), None, None, False)
            self._finds.append((entry, pid, info, "exec-event", ns))
            self.program_finds += 1

    def _owner_candidates(self) -> Iterator[int]:
        """Pids to search for new sockets' owners: the programs just started here first (a
        curl is found before /proc is even listed), then every process, newest first."""
        recent = list(reversed(self._started))
        yield from recent
        tried = set(recent)
        for pid in socktab.pids():
            if pid not in tried:
                yield pid

    def _idle_wait(self, counters: _Counters, just_disarmed: bool) -> bool:
        """Sleep until armed; True when the thread should poll fast now."""
        now = time.monotonic()
        if just_disarmed:
            counters.opened_since_idle_check()  # the mark from here: what the armed time did is done
            self._next_check = now + self.idle_check
        until = self._next_check
        waits: list[Any] = [self._wake_r]
        if self._events is not None and now >= self._events_paused_until:
            waits.append(self._events)
        elif self._events is not None:
            until = min(until, self._events_paused_until)
        ready, _, _ = select.select(waits, [], [], max(0.0, until - now))
        if self._stop.is_set():
            return False
        self.wakeups += 1
        if self._events is not None and self._events in ready and not self._read_exec_events():
            self._pace_foreign_execs()
        if self._wake_r in ready:
            try:
                os.read(self._wake_r, 4096)
            except OSError:
                pass
        if time.monotonic() >= self._next_check:  # on time even while other namespaces exec a lot
            self._next_check = time.monotonic() + self.idle_check
            if counters.opened_since_idle_check():
                self.arm(ARM_BURST, "burst")
        return self.armed

    def _list(
        self,
        protos: tuple[str, ...],
        known: dict[str, dict[int, tuple[Any, ...]]],
        cache: dict[bytes, Any],
        procs: ProcessInfoCache,
        first: bool,
    ) -> None:
        rows = sockdiag.dump(self._diag, protos, cache, states=sockdiag.OWNED_STATES, bytecode=self._bytecode)
        current: dict[str, dict[int, tuple[Any, ...]]] = {p: {} for p in protos}
        for r in rows:
            if r.inode:
                current[r.proto][r.inode] = r[:5]
        fresh: set[int] = set()
        for p in protos:
            before = known[p]
            for inode, tup in current[p].items():
                if before.get(inode) != tup:  # new, or newly connected (seen before its connect)
                    fresh.add(inode)
            known[p] = current[p]
        if fresh and not first:  # the first listing only learns what already exists
            found = scan_socket_inodes(fresh, self._owner_candidates()).found
            started = set(self._started)
            for r in rows:
                pid = found.get(r.inode)
                if pid is not None:
                    via = "exec-event" if pid in started else "short-lived-watch"
                    self._finds.append((r, pid, procs.get(pid), via, None))


def client_ports_filter(path: str = "/proc/sys/net/ipv4/ip_local_port_range") -> bytes:
    """sock_diag bytecode for sockets on an ephemeral local port; empty (no filter) when the
    range cannot be read."""
    try:
        with open(path, encoding="ascii") as f:
            low, high = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        return b""
    if not 0 < low <= high <= 65535:
        return b""
    return sockdiag.sport_filter(low, high)


class _Counters:
    """The namespace's own socket counters from /proc/self/net/sockstat (the global ones, such as
    TCP memory, change with any traffic of the host and are left out), and for the idle checks
    the monotonic count of TCP connects from /proc/self/net/snmp (12 µs, too dear to read every
    millisecond) with the bound UDP sockets."""

    def __init__(self) -> None:
        self.fd = _open("/proc/self/net/sockstat")
        self._snmp = _open("/proc/self/net/snmp")
        self._raw = b""
        self._last: dict[str, tuple[bytes, ...]] = {}
        self._idle_mark: tuple[int, int] | None = None

    def _read(self) -> dict[str, tuple[bytes, ...]] | None:
        if self.fd is None:
            return None
        raw = os.pread(self.fd, 4096, 0)
        if raw == self._raw:
            return self._last
        self._raw = raw
        return parse_sockstat(raw)

    def changed(self, protos: tuple[str, ...]) -> list[str]:
        """The protocols whose counters changed since the last call."""
        now = self._read()
        if now is None or now is self._last:
            return []
        out = [p for p in protos if now.get(p) != self._last.get(p)]
        self._last = now
        return out

    def forget(self, protos: list[str]) -> None:
        for p in protos:
            self._last.pop(p, None)
        self._raw = b""

    def opened_since_idle_check(self) -> bool:
        """Whether TCP connections were opened, or more UDP sockets bound, since the previous
        idle check (closing ones, or TIME_WAIT expiring, is no sign of a new client)."""
        now = (
            _active_opens(os.pread(self._snmp, 8192, 0)) if self._snmp is not None else -1,
            _udp_inuse(self._read()),
        )
        before, self._idle_mark = self._idle_mark, now
        return before is not None and (now[0] > before[0] or now[1] > before[1])

    def close(self) -> None:
        for fd in (self.fd, self._snmp):
            if fd is not None:
                os.close(fd)
        self.fd = self._snmp = None


def _open(path: str) -> int | None:
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None


def _udp_inuse(counters: dict[str, tuple[bytes, ...]] | None) -> int:
    value = (counters or {}).get("udp", (b"",))[0]
    return int(value) if value.isdigit() else -1


def _active_opens(snmp: bytes) -> int:
    """TCP ActiveOpens (connects made, ever) of the namespace, from /proc/net/snmp; -1 if absent."""
    names: list[bytes] | None = None
    for line in snmp.split(b"\n"):
        if not line.startswith(b"Tcp:"):
            continue
        if names is None:
            names = line.split()
            continue
        values = line.split()
        try:
            return int(values[names.index(b"ActiveOpens")])
        except (ValueError, IndexError):
            return -1
    return -1


def parse_sockstat(text: bytes) -> dict[str, tuple[bytes, ...]]:
    """Per-namespace counters by protocol: TCP ``inuse`` and ``tw``, UDP ``inuse``
    (``TCP: inuse 3 orphan 0 tw 2 alloc 5 mem 1``; orphan, alloc and mem are host-wide)."""
    out: dict[str, tuple[bytes, ...]] = {}
    for line in text.split(b"\n"):
        if line.startswith(b"TCP:"):
            f = line.split()
            out["tcp"] = _fields(f, (b"inuse", b"tw"))
        elif line.startswith(b"UDP:"):
            f = line.split()
            out["udp"] = _fields(f, (b"inuse",))
    return out


def _fields(words: list[bytes], names: tuple[bytes, ...]) -> tuple[bytes, ...]:
    out = []
    for name in names:
        try:
            out.append(words[words.index(name) + 1])
        except (ValueError, IndexError):
            out.append(b"")
    return tuple(out)
