"""The short-lived watcher: its counters and events on literal bytes, arming, and what it reports."""

from __future__ import annotations

import os
import socket
import struct
import time
from typing import Any

import pytest
from rustnet.enrich import procevents, watch
from rustnet.enrich.watch import ShortLivedWatcher

SOCKSTAT = (
    b"sockets: used 171\nTCP: inuse 7 orphan 1 tw 3 alloc 12 mem 5\nUDP: inuse 2 mem 4\n"
    b"UDPLITE: inuse 0\nRAW: inuse 0\nFRAG: inuse 0 memory 0\n"
)
SNMP = (
    b"Ip: Forwarding DefaultTTL\nIp: 1 64\n"
    b"Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails\n"
    b"Tcp: 1 200 120000 -1 4242 17 3\nUdp: InDatagrams NoPorts\nUdp: 5 6\n"
)


def test_sockstat_keeps_only_the_namespace_counters() -> None:
    assert watch.parse_sockstat(SOCKSTAT) == {"tcp": (b"7", b"3"), "udp": (b"2",)}
    # Host-wide counters (orphan, alloc, mem) change with any traffic: no listing for them.
    other = SOCKSTAT.replace(b"alloc 12 mem 5", b"alloc 99 mem 77").replace(
        b"UDP: inuse 2 mem 4", b"UDP: inuse 2 mem 9"
    )
    assert watch.parse_sockstat(other) == watch.parse_sockstat(SOCKSTAT)
    assert watch.parse_sockstat(b"garbage\nTCP: inuse\n") == {"tcp": (b"", b"")}


def test_active_opens_from_snmp() -> None:
    assert watch._active_opens(SNMP) == 4242
    assert watch._active_opens(b"Ip: a\nIp: 1\n") == -1
    assert watch._active_opens(b"Tcp: ActiveOpens\nTcp: x\n") == -1
    before = watch._active_opens(_snmp())
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen()
    with socket.create_connection(lst.getsockname()):
        pass
    lst.close()
    assert watch._active_opens(_snmp()) > before >= 0


def _snmp() -> bytes:
    with open("/proc/self/net/snmp", "rb") as f:
        return f.read()


def _proc_event(what: int, pid: int, tgid: int) -> bytes:
    event = struct.pack("=IIQ", what, 0, 123) + struct.pack("=ii", pid, tgid)
    cn = struct.pack("=IIIIHH", 1, 1, 0, 0, len(event), 0) + event
    return struct.pack("=IHHII", 16 + len(cn), 3, 0, 0, 0) + cn


def test_exec_events_literal() -> None:
    data = _proc_event(procevents.PROC_EVENT_EXEC, 101, 100) + _proc_event(0x80000000, 7, 7)
    assert procevents.exec_pids(data) == [100]
    assert procevents.exec_pids(data[:20]) == []
    assert procevents.exec_pids(b"") == []


class _EventsSocket:
    """What a netlink socket's recv gives, in turn: datagrams, errors, then nothing (EAGAIN)."""

    def __init__(self, *replies: bytes | OSError) -> None:
        self.replies = list(replies)

    def recv(self, size: int) -> bytes:
        if not self.replies:
            raise BlockingIOError
        reply = self.replies.pop(0)
        if isinstance(reply, OSError):
            raise reply
        return reply


def test_drain_says_when_events_were_lost() -> None:
    """ENOBUFS: the kernel dropped events that did not fit. The ones after it are still read, and
    the caller learns of the loss (one of the lost events may have been its own program)."""
    import errno

    ours, other = (
        _proc_event(procevents.PROC_EVENT_EXEC, 11, 10),
        _proc_event(procevents.PROC_EVENT_EXEC, 21, 20),
    )
    sock: Any = _EventsSocket(ours)
    assert procevents.drain(sock) == ([10], False)
    sock = _EventsSocket(ours, OSError(errno.ENOBUFS, "No buffer space available"), other)
    assert procevents.drain(sock) == ([10, 20], True)


def test_a_lost_exec_event_arms_the_watcher(monkeypatch: pytest.MonkeyPatch) -> None:
    w = ShortLivedWatcher(idle_check=60.0, exec_events=False)
    try:
        monkeypatch.setattr(w, "_events", object())
        monkeypatch.setattr(procevents, "drain", lambda sock: ([], True))
        monkeypatch.setattr(watch.select, "select", lambda r, w_, x, t: (r, [], []))
        w._pause(0.0)
        assert w.armed and w.reasons["exec"] >= 1
    finally:
        monkeypatch.undo()
        w.close()


@pytest.mark.parametrize(
    "release,ok",
    [
        ("6.6.0", True),
        ("6.18.44-fc-v595", True),
        ("7.0", True),
        ("6.5.13-arch1", False),
        ("5.15.0-91-generic", False),
        ("6", False),
        ("x.y", False),
        ("6.6rc1", True),
    ],
)
def test_kernel_filter_support(release: str, ok: bool) -> None:
    assert procevents.kernel_filters_events(release) is ok


def _settled(w: ShortLivedWatcher, quiet: float = 0.3, within: float = 10.0) -> int:
    """The watcher's check count once it has stayed the same for ``quiet`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        before = w.checks
        time.sleep(quiet)
        if w.checks == before:
            return before
    pytest.fail(f"the watcher kept checking: {w.checks}")


def test_arming_starts_and_stops_fast_polling() -> None:
    """Idle, the watcher reads no counters; armed, it reads them many times; once the armed
    time is over it stops again. Waits on the counters (with deadlines), not on fixed sleeps."""
    w = ShortLivedWatcher(exec_events=False, idle_check=60.0)
    try:
        assert _settled(w) == 0 and not w.armed  # running, and not polling
        armed_at = time.monotonic()
        w.arm(1.0)
        assert w.armed and w.reasons["flow"] == 1
        deadline = armed_at + 10.0
        while w.checks <= 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert w.checks > 20
        stopped = _settled(w)
        assert not w.armed and time.monotonic() - armed_at >= 1.0
        w.arm(0.2, reason="exec")  # armed again: polling starts again, counted by reason
        deadline = time.monotonic() + 10.0
        while w.checks == stopped and time.monotonic() < deadline:
            time.sleep(0.01)
        assert w.checks > stopped and w.reasons["flow"] == 1 and w.reasons["exec"] >= 1
        _settled(w)
    finally:
        w.close()


def test_a_socket_seen_before_its_connect_is_reported_once_connected() -> None:
    """A UDP socket listed while only bound, then connected: the connected tuple is reported."""
    w = ShortLivedWatcher(exec_events=False, armed=60.0)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        deadline = time.monotonic() + 5
        while w.passes == 0 and time.monotonic() < deadline:
            time.sleep(0.01)  # the first listing learns what exists already: bind after it
        peer.bind(("127.0.0.1", 0))
        udp.bind(("127.0.0.1", 0))
        inode = os.fstat(udp.fileno()).st_ino
        deadline = time.monotonic() + 5
        finds: list[tuple[object, int, object, str, object]] = []
        while not any(r.inode == inode for r, _p, _i, _v, _ns in finds) and time.monotonic() < deadline:
            finds += w.take()
            time.sleep(0.01)
        assert any(r.inode == inode and r.rport == 0 for r, _p, _i, _v, _ns in finds)
        udp.connect(peer.getsockname())
        deadline = time.monotonic() + 5
        connected = []
        while not connected and time.monotonic() < deadline:
            connected = [(r, p) for r, p, _i, _via, _ns in w.take() if r.inode == inode and r.rport]
            time.sleep(0.01)
        assert connected and connected[0][0].rport == peer.getsockname()[1] and connected[0][1] == os.getpid()
    finally:
        w.close()
        udp.close()
        peer.close()


def test_client_port_filter_keeps_exactly_the_ephemeral_ports(tmp_path: object) -> None:
    """The kernel-side filter against the unfiltered dump, on a listener, its accepted socket
    (server port) and the client socket (ephemeral port)."""
    from rustnet.enrich import sockdiag

    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen()
    port = lst.getsockname()[1]
    cli = socket.create_connection(("127.0.0.1", port))
    acc, _ = lst.accept()
    try:
        cport = cli.getsockname()[1]
        low, high = sorted((cport, port))
        for lo, hi in ((cport, cport), (low, high), (1, 65535), (port, port)):
            with sockdiag.open_diag() as diag:
                every = sockdiag.dump(diag, ("tcp", "udp"))
                kept = sockdiag.dump(diag, ("tcp", "udp"), bytecode=sockdiag.sport_filter(lo, hi))
            want = {r for r in every if lo <= r.lport <= hi and port in (r.lport, r.rport)}
            assert {r for r in kept if port in (r.lport, r.rport)} == want, (lo, hi)
            assert all(lo <= r.lport <= hi for r in kept)
    finally:
        for s in (cli, acc, lst):
            s.close()


def test_client_ports_filter_reads_the_range(tmp_path: object) -> None:
    from pathlib import Path

    from rustnet.enrich import sockdiag

    d = Path(str(tmp_path))
    (d / "range").write_text("32768\t60999\n")
    assert watch.client_ports_filter(str(d / "range")) == sockdiag.sport_filter(32768, 60999)
    for bad in ("", "x y", "0 10", "70000 80000", "9 3"):
        (d / "range").write_text(bad)
        assert watch.client_ports_filter(str(d / "range")) == b""
    assert watch.client_ports_filter(str(d / "missing")) == b""
