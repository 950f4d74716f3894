"""Flows with no local address skip the socket lookups; local ones are looked up as cheaply as
the table allows (the local address set, the closed-socket and fresh-table shortcuts, lazy polls).

Each shortcut is checked against the answer the full lookup gives, on real sockets.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import time
from typing import Any

import psutil
import pytest
from rustnet.enrich import localaddr, sockdiag
from rustnet.enrich.localaddr import NOT_LOCAL, OTHER_NETNS, OWN_NETNS, LocalAddresses, parse_addr_dump
from rustnet.enrich.owners import SocketOwners
from rustnet.enrich.sockets import netns_inode
from rustnet.enrich.stage import Enricher
from rustnet.stream.records import make_header

REMOTE_A, REMOTE_B = "198.18.7.1", "198.18.7.2"  # the benchmarking range: never a local address here


def hdr() -> dict[str, Any]:
    return make_header("rn-track 0.1.0", 1, "lo", True, 262144, time.time(), ["rn-capture", "rn-dissect"])


def conn(cid: Any, src: str, sport: int, dst: str, dport: int) -> dict[str, Any]:
    return {
        "t": "conn",
        "id": cid,
        "proto": "tcp",
        "src": src,
        "sport": sport,
        "dst": dst,
        "dport": dport,
        "state": "ESTABLISHED",
    }


# --- the address dump, on literal bytes and on the real one ---------------------------------------
def _newaddr(family: int, attrs: list[tuple[int, bytes]]) -> bytes:
    body = struct.pack("=BBBBI", family, 24, 0, 0, 1)
    for rtype, value in attrs:
        rlen = 4 + len(value)
        body += struct.pack("=HH", rlen, rtype) + value + b"\0" * ((4 - rlen % 4) % 4)
    return struct.pack("=IHHII", 16 + len(body), localaddr.RTM_NEWADDR, 2, 1, 0) + body


def test_parse_addr_dump_literal_messages() -> None:
    v4 = _newaddr(
        socket.AF_INET,
        [
            (localaddr.IFA_ADDRESS, bytes([10, 0, 0, 9])),  # point-to-point peer
            (localaddr.IFA_LOCAL, bytes([10, 0, 0, 1])),
            (localaddr.IFA_BROADCAST, bytes([10, 0, 0, 255])),
            (3, b"eth0\0"),
        ],
    )  # IFA_LABEL: not an address
    v6 = _newaddr(socket.AF_INET6, [(localaddr.IFA_ADDRESS, socket.inet_pton(socket.AF_INET6, "fd00::5"))])
    done = struct.pack("=IHHII", 20, sockdiag.NLMSG_DONE, 2, 1, 0) + b"\0" * 4
    addrs, finished = parse_addr_dump(v4 + v6)
    assert addrs == {"10.0.0.9", "10.0.0.1", "10.0.0.255", "fd00::5"} and not finished
    assert parse_addr_dump(v4 + done) == ({"10.0.0.9", "10.0.0.1", "10.0.0.255"}, True)
    with pytest.raises(sockdiag.DiagError):
        parse_addr_dump(struct.pack("=IHHII", 200, localaddr.RTM_NEWADDR, 0, 1, 0))  # longer than the data
    err = struct.pack("=IHHII", 20, sockdiag.NLMSG_ERROR, 0, 1, 0) + struct.pack("=i", -1)
    with pytest.raises(sockdiag.DiagError):
        parse_addr_dump(err)


def test_dump_addresses_agrees_with_psutil() -> None:
    """The rtnetlink dump of our namespace against getifaddrs (psutil), an independent source."""
    with sockdiag.open_netlink(socket.NETLINK_ROUTE) as nl:
        got = localaddr.dump_addresses(nl)
    want = {
        a.address.split("%")[0]
        for addrs in psutil.net_if_addrs().values()
        for a in addrs
        if a.family in (socket.AF_INET, socket.AF_INET6)
    }
    assert "127.0.0.1" in got
    assert want <= got


@pytest.mark.parametrize(
    "addr,special",
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("0.0.0.0", True),
        ("::", True),
        ("255.255.255.255", True),
        ("224.0.0.251", True),
        ("239.255.255.250", True),
        ("ff02::fb", True),
        ("FF05::2", True),
        ("10.0.0.1", False),
        ("223.1.1.1", False),
        ("240.0.0.1", False),
        ("fe80::1", False),
        ("2001:db8::1", False),
        ("bad", False),
        ("", False),
    ],
)
def test_special_addresses(addr: str, special: bool) -> None:
    assert localaddr.is_special(addr) is special


def test_locality_sets_spellings_and_unknown_namespaces() -> None:
    la = LocalAddresses()
    assert la.locality(REMOTE_A) == OWN_NETNS  # nothing read yet: nothing can be ruled out
    la._by_ns = {1: {"10.1.1.1", "fd00::1"}, 2: {"10.2.2.2"}}
    la.own_ns = 1
    la.rebuild()
    assert la.locality("10.1.1.1") == OWN_NETNS and la.locality("10.2.2.2") == OTHER_NETNS
    assert la.locality(REMOTE_A) == NOT_LOCAL and la.locality("224.0.0.1") == OWN_NETNS
    assert la.locality("fd00:0:0:0:0:0:0:1") == OWN_NETNS  # an uncompressed spelling
    assert la.locality("::ffff:10.2.2.2") == OTHER_NETNS  # IPv4-mapped
    assert la.flow_locality(REMOTE_A, "10.2.2.2") == OTHER_NETNS
    assert la.flow_locality("10.2.2.2", "10.1.1.1") == OWN_NETNS
    assert la.flow_locality(REMOTE_A, REMOTE_B) == NOT_LOCAL
    la.add_socket_addresses({REMOTE_B})  # a transparent proxy bound to a foreign address
    la.rebuild()
    assert la.locality(REMOTE_B) == OWN_NETNS
    la._by_ns[3] = None  # a namespace whose addresses could not be read
    la.rebuild()
    assert la.locality(REMOTE_A) == OWN_NETNS


def test_verdicts_outlive_a_rebuild_with_the_same_addresses_but_not_a_change() -> None:
    """Addresses are read again every second on a busy link: what did not change is not
    classified again, and any change (ours, another namespace's, the capture's) counts at once."""
    la = LocalAddresses()
    la._by_ns = {1: {"10.1.1.1"}, 2: {"10.2.2.2"}}
    la.own_ns = 1
    la.rebuild()
    assert la.locality(REMOTE_A) == NOT_LOCAL and la.in_capture_ns("10.2.2.2") is False
    classified: list[str] = []
    real = la._classify

    def counting(addr: str) -> int:
        classified.append(addr)
        return real(addr)

    la._classify = counting  # type: ignore[method-assign]
    la._by_ns = {1: {"10.1.1.1"}, 2: {"10.2.2.2"}}  # read again: the same
    la.rebuild()
    assert la.locality(REMOTE_A) == NOT_LOCAL and classified == []
    la._by_ns[2] = {"10.2.2.2", REMOTE_A}  # a container took the address
    la.rebuild()
    assert la.locality(REMOTE_A) == OTHER_NETNS
    la._by_ns = {1: {"10.1.1.1", REMOTE_A}, 2: {"10.2.2.2"}}  # now ours
    la.rebuild()
    assert la.locality(REMOTE_A) == OWN_NETNS
    la._by_ns[3] = None  # unreadable: nothing can be ruled out
    la.rebuild()
    assert la.locality(REMOTE_B) == OWN_NETNS
    la.capture_ns = 2  # the capture runs in the container
    la.rebuild()
    assert la.in_capture_ns("10.2.2.2") is True and la.in_capture_ns("10.1.1.1") is False
    la._by_ns[2] = {"10.2.2.3"}
    la.rebuild()
    assert la.in_capture_ns("10.2.2.2") is False and la.in_capture_ns("10.2.2.3") is True


def test_a_process_gone_before_its_namespace_is_read_leaves_the_filter_whole() -> None:
    """Processes of other namespaces come and go all the time (containers, `ip netns exec`): one
    that exits between the process listing and the read of its namespace says nothing about that
    namespace. It must not count as an unreadable one (every address then counts as local, and
    every routed flow costs lookups), nor be remembered as one for the socket tables."""
    gone = subprocess.Popen(["true"])
    gone.wait()
    la = LocalAddresses()
    owners = SocketOwners(watch_interval=0)
    try:
        la.read_ns(netns_inode("self"), None)
        la.read_ns(4026599999, gone.pid)  # a namespace whose process has just left
        la.rebuild()
        assert la.complete and la.locality(REMOTE_A) == NOT_LOCAL
        assert owners._read_ns(4026599999, gone.pid) is None  # nothing read...
        assert 4026599999 not in owners._diag  # ...and nothing remembered: ask its next process
    finally:
        la.close()
        owners.close()


# --- the stage: what is looked up, and the answers --------------------------------------------------
class CountingOwners(SocketOwners):
    """Real owners that count the lookups made on first sight of a flow."""

    def __init__(self) -> None:
        super().__init__(watch_interval=0)
        self.resolves = 0

    def resolve_flow(self, *args: Any, **kw: Any) -> tuple[dict[str, Any] | None, bool]:
        self.resolves += 1
        return super().resolve_flow(*args, **kw)


@pytest.fixture
def listener() -> Any:
    lst = socket.socket()
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind(("0.0.0.0", 0))
    lst.listen(16)
    yield lst
    lst.close()


def test_non_local_flows_are_not_looked_up_nor_matched_to_a_wildcard(listener: socket.socket) -> None:
    owners = CountingOwners()
    st = Enricher(owners=owners)
    try:
        port = listener.getsockname()[1]
        out = st.process(
            [
                hdr(),
                conn(1, REMOTE_A, 40000, REMOTE_B, port),  # routed past us
                conn(2, REMOTE_A, 40001, "127.0.0.1", port),
            ]
        )  # to us: the listener's
        assert owners.resolves == 1 and owners.skipped == 1
        assert "pid" not in out[1]  # type: ignore[operator]
        assert out[2]["pid"] == os.getpid()  # type: ignore[index]
        # Later records of the routed flow cost no lookup either; the local one keeps its owner.
        again = st.process(
            [conn(1, REMOTE_A, 40000, REMOTE_B, port), conn(2, REMOTE_A, 40001, "127.0.0.1", port)]
        )
        assert owners.resolves == 1 and "pid" not in again[0] and "pid" in again[1]  # type: ignore[operator]
    finally:
        st.finish()


def test_the_full_lookup_agrees_on_random_flows(listener: socket.socket) -> None:
    """The shortcut only drops flows the full lookup cannot attribute to our namespace either."""
    import random

    rng = random.Random(8)
    owners = SocketOwners(watch_interval=0)
    owners.refresh()
    try:
        port = listener.getsockname()[1]
        addrs = [REMOTE_A, REMOTE_B, "127.0.0.1", "10.250.3.4", "::1", "2001:db8::7", "224.0.0.251"]
        for _ in range(300):
            src, dst = rng.choice(addrs), rng.choice(addrs)
            if (":" in src) != (":" in dst):
                continue
            flow = ("tcp", src, rng.randrange(1, 65536), dst, rng.choice([port, 80]))
            full = owners.lookup(*flow)
            if owners.locality(src, dst) == NOT_LOCAL:
                wildcard = full is not None and full["local"] in ("0.0.0.0", "::")
                assert full is None or full["netns"] != owners.own_label or wildcard, flow
    finally:
        owners.close()


def test_closed_socket_and_fresh_table_answers_are_final_without_a_refresh() -> None:
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen()
    cli = socket.create_connection(lst.getsockname())
    acc, _ = lst.accept()
    cport, port = cli.getsockname()[1], lst.getsockname()[1]
    cli.close()  # the client closes first: its end goes to TIME_WAIT (no owner)
    acc.close()
    owners = SocketOwners(watch_interval=0)
    try:
        owners.refresh()
        flow = ("tcp", "127.0.0.1", cport, "127.0.0.1", port)
        e = sockdiag.query(owners._diag_socket(owners.own_netns, None), *flow)  # type: ignore[arg-type]
        assert e is not None and e.inode == 0 and e.state == 6
        before = owners.refreshes
        sock, final = owners.resolve_flow(*flow, max_age=60.0)
        assert final and owners.refreshes == before  # a refresh could not name the owner either
        assert sock is None or sock["listening"]  # at most the listener
        # A table read after the flow was seen holds every socket that still exists: no queries.
        seen = time.monotonic()
        owners.refresh()
        calls = []
        real = sockdiag.query
        sockdiag.query = lambda *a, **k: calls.append(a) or real(*a, **k)  # type: ignore[assignment]
        try:
            assert owners.resolve_flow("tcp", "127.0.0.1", 1, "127.0.0.1", 2, seen_at=seen) == (None, True)
        finally:
            sockdiag.query = real  # type: ignore[assignment]
        assert calls == []
    finally:
        owners.close()
        lst.close()


def test_dumps_leave_out_time_wait() -> None:
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen()
    cli = socket.create_connection(lst.getsockname())
    acc, _ = lst.accept()
    tup = ("127.0.0.1", cli.getsockname()[1], "127.0.0.1", lst.getsockname()[1])
    cli.close()
    acc.close()
    try:
        with sockdiag.open_diag() as diag:
            every = [r for r in sockdiag.dump(diag, ("tcp",)) if (r.local, r.lport, r.remote, r.rport) == tup]
            owned = [
                r
                for r in sockdiag.dump(diag, ("tcp",), states=sockdiag.OWNED_STATES)
                if (r.local, r.lport, r.remote, r.rport) == tup
            ]
        assert [r.state for r in every] == [6] and owned == []
    finally:
        lst.close()


def test_an_idle_stream_does_not_poll(listener: socket.socket) -> None:
    st = Enricher(watch_interval=0, poll_interval=0.05)
    try:
        st.process([hdr()])
        owners = st.owners()
        assert isinstance(owners, SocketOwners)
        before = owners.refreshes
        for _ in range(4):
            time.sleep(0.06)
            st.tick(time.time())
            st.process([conn(1, REMOTE_A, 40000, REMOTE_B, 80)])  # records, but none local
        assert owners.refreshes == before
        st.process([conn(2, REMOTE_A, 40001, "127.0.0.1", listener.getsockname()[1])])
        time.sleep(0.06)
        st.tick(time.time())
        assert owners.refreshes > before  # a local flow wants a fresh table at the next poll
    finally:
        st.finish()


def test_an_unowned_local_flow_arms_the_watcher() -> None:
    st = Enricher(watch_interval=0.001)
    try:
        st.process([hdr()])
        owners = st.owners()
        assert isinstance(owners, SocketOwners) and owners.watcher is not None
        before = owners.watcher.reasons["flow"]
        st.process([conn(1, REMOTE_A, 40000, REMOTE_B, 80)])  # not local: nothing
        assert owners.watcher.reasons["flow"] == before
        st.process([conn(2, "127.0.0.1", 1, "127.0.0.1", 2)])  # local, no socket: arm
        assert owners.watcher.reasons["flow"] == before + 1 and owners.watcher.armed
    finally:
        st.finish()


def _frame(src: str, sport: int, dst: str, dport: int) -> bytes:
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, 0x02, 65535, 0, 0)
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(tcp),
        1,
        0x4000,
        64,
        6,
        0,
        socket.inet_aton(src),
        socket.inet_aton(dst),
    )
    return b"\x00" * 12 + b"\x08\x00" + ip + tcp


def test_after_capture_a_foreign_flow_gets_no_lookup_and_no_sock_record(listener: socket.socket) -> None:
    """Placement 2 (right after rn-capture): packets pass untouched either way; only the local
    flow is looked up (and its listener's sock record written before the packet)."""
    owners = CountingOwners()
    st = Enricher(owners=owners)
    try:
        port = listener.getsockname()[1]
        foreign = ["pkt", time.time(), 54, _frame(REMOTE_A, 40000, REMOTE_B, port)]
        local = ["pkt", time.time(), 54, _frame(REMOTE_A, 40001, "127.0.0.1", port)]
        out = st.process([hdr(), list(foreign), list(local)])
        assert owners.resolves == 1 and st.flows_new == 2
        assert [r for r in out if isinstance(r, list)] == [foreign, local]
        socks = [r for r in out if isinstance(r, dict) and r.get("t") == "sock"]
        assert socks and all(s["lport"] == port for s in socks)
        assert out.index(socks[0]) > out.index(foreign)  # nothing emitted for the foreign flow
        assert not st._pending or all(f[3] != REMOTE_B for f in st._pending)
    finally:
        st.finish()


def test_an_unaccepted_connection_is_not_taken_for_a_closed_one() -> None:
    """A connection waiting in a listener's accept queue has no inode either, but its owner is
    coming: no shortcut there, the full lookup runs (and finds the listener)."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(4)
    cli = socket.create_connection(lst.getsockname())  # never accepted
    owners = SocketOwners(watch_interval=0)
    try:
        owners.refresh()
        flow = ("tcp", "127.0.0.1", cli.getsockname()[1], "127.0.0.1", lst.getsockname()[1])
        server_end = sockdiag.query(
            owners._diag_socket(owners.own_netns, None),  # type: ignore[arg-type]
            "tcp",
            flow[3],
            flow[4],
            flow[1],
            flow[2],
        )
        assert server_end is not None and server_end.inode == 0 and server_end.state == 1
        sock, final = owners.resolve_flow(*flow, max_age=60.0)
        assert final and sock is not None and sock["pid"] == os.getpid()  # the client's own socket
    finally:
        owners.close()
        cli.close()
        lst.close()


def test_a_lookup_cut_short_is_answered_from_a_table_read_after_the_first_sight(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first records of two local flows find no connected socket and the refresh is skipped
    (rate limit): not final. One flow's socket appears, the other's never does (a short connection
    gone by then); a refresh reads the table. The next records ask again, as of the first sight,
    and the table answers both from the index: the owner of the one, nobody for the other, with no
    exact query made again. Then both answers are final: the records after them do not ask."""
    cli, srv = socket.socket(), socket.socket()
    cli.bind(("127.0.0.1", 0))
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    appears = ("127.0.0.1", cli.getsockname()[1], "127.0.0.1", srv.getsockname()[1])
    gone = ("127.0.0.1", 1, "127.0.0.1", 2)  # no socket can be connected from port 1 to port 2 here
    queries = [0]
    real_query = sockdiag.query

    def counting_query(*args: Any, **kw: Any) -> Any:
        queries[0] += 1
        return real_query(*args, **kw)

    monkeypatch.setattr(sockdiag, "query", counting_query)
    owners = CountingOwners()
    st = Enricher(owners=owners)
    acc = None
    try:
        st.process([hdr()])
        owners.refresh()
        owners.last_cost = 10.0  # as if that refresh took 10 s: the one a miss asks for is held back
        st.process([conn(7, *appears), conn(8, *gone)])
        assert owners.resolves == 2 and queries[0] > 0  # looked up exactly: no connected socket yet
        srv.listen(1)
        cli.connect(srv.getsockname())
        acc, _ = srv.accept()
        owners.refresh()
        queries[0] = 0
        later = st.process([conn(7, *appears), conn(8, *gone)])
        assert owners.resolves == 4 and queries[0] == 0
        assert later[0].get("pid") == os.getpid() and later[0].get("owner_via") == "exact-tuple"  # type: ignore[union-attr]
        assert "pid" not in later[1]  # type: ignore[operator]
        again = st.process([conn(7, *appears), conn(8, *gone)])
        assert owners.resolves == 4 and queries[0] == 0
        assert again[0].get("pid") == os.getpid() and "pid" not in again[1]  # type: ignore[union-attr,operator]
    finally:
        st.finish()
        for s in (cli, srv, acc):
            if s is not None:
                s.close()
