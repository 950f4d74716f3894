"""SocketJoiner: exact, reversed (server side), listener, wildcard, dual stack, UDP, namespaces, ids."""

from __future__ import annotations

from typing import Any

from rustnet.track.join import SocketJoiner, normalize_ip


def sock(
    proto: str,
    local: str,
    lport: int,
    remote: str = "",
    rport: int = 0,
    pid: int | None = 1,
    process: str | None = "p",
    netns: str | None = None,
) -> dict[str, Any]:
    return {
        "t": "sock",
        "ts": 0.0,
        "proto": proto,
        "local": local,
        "lport": lport,
        "remote": remote,
        "rport": rport,
        "listening": not remote,
        "pid": pid,
        "process": process,
        "cmdline": None,
        "user": "u",
        "netns": netns,
    }


def conn(src: str, sport: int, dst: str, dport: int, proto: str = "tcp", cid: Any = 1) -> dict[str, Any]:
    return {"t": "conn", "id": cid, "proto": proto, "src": src, "sport": sport, "dst": dst, "dport": dport}


def test_normalize() -> None:
    assert normalize_ip("::ffff:10.0.0.1") == "10.0.0.1"
    assert normalize_ip("FD00:0::1") == "fd00::1"
    assert normalize_ip("10.0.0.1") == "10.0.0.1"
    assert normalize_ip(None) == "" and normalize_ip("junk:::") == "junk:::"


def test_exact_client_side() -> None:
    j = SocketJoiner()
    j.add(sock("tcp", "10.0.0.1", 40000, "10.0.0.2", 80, pid=7, process="curl"))
    c = conn("10.0.0.1", 40000, "10.0.0.2", 80)
    assert j.annotate(c)
    assert (c["pid"], c["process"], c["user"]) == (7, "curl", "u")
    assert "netns" not in c  # host namespace: not said


def test_exact_server_side_accepted_socket() -> None:
    j = SocketJoiner()
    j.add(sock("tcp", "10.0.0.2", 80, "10.0.0.1", 40000, pid=9, process="nginx"))
    c = conn("10.0.0.1", 40000, "10.0.0.2", 80)
    assert j.annotate(c) and c["process"] == "nginx"


def test_listener_and_wildcards() -> None:
    j = SocketJoiner()
    j.add(sock("tcp", "0.0.0.0", 22, pid=3, process="sshd"))
    j.add(sock("tcp", "::", 8080, pid=4, process="java"))
    j.add(sock("tcp", "fd00::2", 443, pid=5, process="caddy"))
    j.add(sock("tcp", "127.0.0.1", 5432, pid=6, process="postgres"))
    assert j.lookup("tcp", "10.0.0.1", 50000, "10.0.0.2", 22)["process"] == "sshd"  # type: ignore[index]
    # A dual-stack "::" listener takes IPv4 and IPv6 connections.
    assert j.lookup("tcp", "10.0.0.1", 50000, "10.0.0.2", 8080)["process"] == "java"  # type: ignore[index]
    assert j.lookup("tcp", "fd00::1", 50000, "fd00::9", 8080)["process"] == "java"  # type: ignore[index]
    assert j.lookup("tcp", "fd00::1", 50000, "fd00::2", 443)["process"] == "caddy"  # type: ignore[index]
    # A specific listening address does not match another address; wrong proto/port never matches.
    assert j.lookup("tcp", "fd00::1", 50000, "fd00::3", 443) is None
    assert j.lookup("tcp", "10.0.0.1", 50000, "10.0.0.2", 5432) is None
    assert j.lookup("udp", "10.0.0.1", 50000, "10.0.0.2", 22) is None
    assert j.lookup("tcp", "10.0.0.1", 50000, "10.0.0.2", 23) is None
    # An IPv4 "0.0.0.0" listener does not take IPv6.
    assert j.lookup("tcp", "fd00::1", 50000, "fd00::2", 22) is None


def test_exact_beats_listener() -> None:
    j = SocketJoiner()
    j.add(sock("tcp", "0.0.0.0", 80, pid=1, process="master"))
    j.add(sock("tcp", "10.0.0.2", 80, "10.0.0.1", 40000, pid=2, process="worker"))
    assert j.lookup("tcp", "10.0.0.1", 40000, "10.0.0.2", 80)["process"] == "worker"  # type: ignore[index]
    assert j.lookup("tcp", "10.0.0.1", 40001, "10.0.0.2", 80)["process"] == "master"  # type: ignore[index]


def test_owned_listener_beats_connected_socket_without_owner() -> None:
    j = SocketJoiner()
    j.add(sock("tcp", "10.0.0.2", 80, "10.0.0.1", 40000, pid=None, process=None))
    assert j.lookup("tcp", "10.0.0.1", 40000, "10.0.0.2", 80)["pid"] is None  # type: ignore[index]
    j.add(sock("tcp", "0.0.0.0", 80, pid=1, process="master"))
    assert j.lookup("tcp", "10.0.0.1", 40000, "10.0.0.2", 80)["process"] == "master"  # type: ignore[index]
    assert j.lookup("tcp", "10.0.0.1", 40000, "10.0.0.2", 80, exact_only=True)["pid"] is None  # type: ignore[index]


def test_mapped_addresses_from_dual_stack_sockets() -> None:
    j = SocketJoiner()
    j.add(sock("tcp", "::ffff:10.0.0.2", 80, "::ffff:10.0.0.1", 40000, pid=2, process="srv"))
    assert j.lookup("tcp", "10.0.0.1", 40000, "10.0.0.2", 80)["process"] == "srv"  # type: ignore[index]


def test_udp_bound_server_and_unconnected_client() -> None:
    j = SocketJoiner()
    j.add(sock("udp", "0.0.0.0", 53, pid=1, process="dnsmasq"))
    j.add(sock("udp", "0.0.0.0", 41000, pid=2, process="dig"))
    assert j.lookup("udp", "10.0.0.1", 41000, "10.0.0.9", 53)["process"] == "dnsmasq"  # type: ignore[index]
    assert j.lookup("udp", "10.0.0.1", 41000, "10.0.0.9", 5353)["process"] == "dig"  # type: ignore[index]


def test_namespace_preference_for_both_ends_local() -> None:
    client = sock("tcp", "10.0.0.1", 40000, "10.0.0.2", 80, pid=1, process="client", netns="a")
    server = sock("tcp", "10.0.0.2", 80, "10.0.0.1", 40000, pid=2, process="server", netns="b")
    for prefer, want in ((None, "client"), ("a", "client"), ("b", "server")):
        j = SocketJoiner(prefer_netns=prefer)
        j.add(server)
        j.add(client)
        c = conn("10.0.0.1", 40000, "10.0.0.2", 80)
        assert j.annotate(c) and c["process"] == want
        if want != "x":
            assert c["netns"] in ("a", "b")


def test_udp_both_ends_bound_in_two_namespaces() -> None:
    client = sock("udp", "0.0.0.0", 41000, pid=1, process="pinger", netns="a")
    server = sock("udp", "0.0.0.0", 9999, pid=2, process="echo", netns="b")
    for prefer, want in ((None, "echo"), ("a", "pinger"), ("b", "echo")):
        j = SocketJoiner(prefer_netns=prefer)
        j.add(client)
        j.add(server)
        assert j.lookup("udp", "10.0.0.1", 41000, "10.0.0.2", 9999)["process"] == want  # type: ignore[index]


def test_same_tuple_in_two_namespaces() -> None:
    j = SocketJoiner(prefer_netns="ctr")
    j.add(sock("tcp", "0.0.0.0", 80, pid=1, process="host-web"))
    j.add(sock("tcp", "0.0.0.0", 80, pid=2, process="ctr-web", netns="ctr"))
    assert j.lookup("tcp", "1.1.1.1", 9, "2.2.2.2", 80)["process"] == "ctr-web"  # type: ignore[index]
    j.add(sock("tcp", "0.0.0.0", 80, pid=3, process="host-web2"))  # replaces the host one only
    j.prefer_netns = None
    assert j.lookup("tcp", "1.1.1.1", 9, "2.2.2.2", 80)["process"] == "host-web2"  # type: ignore[index]


def test_connection_keeps_its_process_by_id_after_the_socket_goes() -> None:
    j = SocketJoiner()
    s = sock("tcp", "10.0.0.1", 40000, "10.0.0.2", 80, pid=7, process="curl")
    j.add(s)
    assert j.annotate(conn("10.0.0.1", 40000, "10.0.0.2", 80, cid="c1"))
    j.remove(s)
    assert len(j) == 0
    later = conn("10.0.0.1", 40000, "10.0.0.2", 80, cid="c1")
    assert j.annotate(later) and later["process"] == "curl"
    other = conn("10.0.0.1", 40000, "10.0.0.2", 80, cid="c2")
    assert not j.annotate(other) and "process" not in other


def test_fields_already_present_are_kept_and_unowned_sockets_retry() -> None:
    j = SocketJoiner()
    j.add(sock("tcp", "10.0.0.1", 40000, "10.0.0.2", 80, pid=None, process=None))
    c = conn("10.0.0.1", 40000, "10.0.0.2", 80, cid=5)
    assert j.annotate(c) and c["user"] == "u" and "pid" not in c
    j.add(sock("tcp", "10.0.0.1", 40000, "10.0.0.2", 80, pid=8, process="late"))
    c2 = conn("10.0.0.1", 40000, "10.0.0.2", 80, cid=5)
    c2["process"] = "from-upstream"
    assert j.annotate(c2) and c2["pid"] == 8 and c2["process"] == "from-upstream"


def test_hostile_records_do_not_raise() -> None:
    j = SocketJoiner(max_sockets=10, max_ids=10)
    for bad in (
        {},
        {"proto": 5},
        {"proto": "tcp", "lport": "x"},
        {"proto": "tcp", "lport": 70000},
        {"proto": "tcp", "lport": 1, "local": ["x"], "remote": {}, "rport": -5},
    ):
        j.add(bad)
        j.remove(bad)
    for i in range(50):
        j.add(sock("tcp", "10.0.0.1", i, "10.0.0.2", 80))
        j.annotate(conn("10.0.0.1", i, "10.0.0.2", 80, cid=i))
    assert len(j) <= 11
    for c in (
        {"proto": "tcp"},
        {"proto": "tcp", "id": [1], "src": 1, "sport": "a"},
        {"proto": "icmp", "src": "1.1.1.1", "dst": "2.2.2.2"},
        conn("a", 1, "b", 2, cid={"x": 1}),
    ):
        assert not j.annotate(c)


def capture_in(addrs: set[str]) -> Any:
    """The ``near`` rn-enrich gives its joiner: which ends are the capture namespace's addresses."""
    return lambda src, dst: (src in addrs, dst in addrs)


def test_far_end_in_another_namespace_is_the_peer_never_the_owner() -> None:
    # Capture in namespace a (10.0.0.1); a short-lived client there is gone, the server in b is not.
    j = SocketJoiner(prefer_netns="a")
    j.near = capture_in({"10.0.0.1"})
    j.add(sock("tcp", "10.0.0.2", 80, "10.0.0.1", 40000, pid=2, process="server", netns="b"))
    j.add(sock("tcp", "0.0.0.0", 80, pid=2, process="server", netns="b"))
    c = conn("10.0.0.1", 40000, "10.0.0.2", 80)
    assert j.annotate(c)
    assert "pid" not in c and "process" not in c and "owner_via" not in c
    assert (c["peer_process"], c["peer_pid"], c["peer_netns"]) == ("server", 2, "b")
    # The client's socket found later (the watcher): the owner, found by that tuple.
    j.add(sock("tcp", "10.0.0.1", 40000, "10.0.0.2", 80, pid=7, process="curl", netns="a"))
    c = conn("10.0.0.1", 40000, "10.0.0.2", 80, cid=2)
    assert j.annotate(c) and (c["process"], c["owner_via"], c["peer_process"]) == (
        "curl",
        "exact-tuple",
        "server",
    )


def test_inbound_owner_is_the_listener_of_the_capture_namespace() -> None:
    # Capture in b: a connection from a's client to b's server is the server's; the client is the peer.
    j = SocketJoiner(prefer_netns="b")
    j.near = capture_in({"10.0.0.2"})
    j.add(sock("tcp", "0.0.0.0", 80, pid=2, process="server", netns="b"))
    j.add(sock("tcp", "10.0.0.1", 40000, "10.0.0.2", 80, pid=7, process="curl", netns="a"))
    c = conn("10.0.0.1", 40000, "10.0.0.2", 80)
    assert j.annotate(c)
    assert (c["process"], c["owner_via"], c["peer_process"]) == ("server", "listener-socket", "curl")


def test_loopback_client_gone_names_no_owner_and_the_server_as_peer() -> None:
    j = SocketJoiner(prefer_netns=None)
    j.near = capture_in({"127.0.0.1"})
    j.add(sock("tcp", "127.0.0.1", 8000, "127.0.0.1", 50000, pid=2, process="server"))
    c = conn("127.0.0.1", 50000, "127.0.0.1", 8000)
    assert j.annotate(c) and "process" not in c and c["peer_process"] == "server"
    # A server of the same address and port in another namespace is nobody's peer here.
    j2 = SocketJoiner(prefer_netns=None)
    j2.near = capture_in({"127.0.0.1"})
    j2.add(sock("tcp", "127.0.0.1", 8000, "127.0.0.1", 50000, pid=3, process="other", netns="c"))
    assert not j2.annotate(conn("127.0.0.1", 50000, "127.0.0.1", 8000))


def test_unknown_capture_addresses_still_never_name_the_far_end() -> None:
    j = SocketJoiner(prefer_netns="a")
    j.near = lambda src, dst: None
    j.add(sock("tcp", "10.0.0.2", 80, "10.0.0.1", 40000, pid=2, process="server", netns="b"))
    j.add(sock("tcp", "0.0.0.0", 80, pid=2, process="server", netns="b"))
    assert j.lookup("tcp", "10.0.0.1", 40000, "10.0.0.2", 80) is None


def test_upstream_peer_records_give_only_peer_fields() -> None:
    # Downstream of ``rn-capture | rn-enrich``: sock records marked peer never become the owner.
    j = SocketJoiner()
    j.add(
        {**sock("tcp", "10.0.0.2", 80, "10.0.0.1", 40000, pid=2, process="server", netns="b"), "peer": True}
    )
    c = conn("10.0.0.1", 40000, "10.0.0.2", 80)
    assert j.annotate(c) and "process" not in c and c["peer_process"] == "server"
    j.add({**sock("tcp", "10.0.0.1", 40000, "10.0.0.2", 80, pid=7, process="curl"), "via": "exec-event"})
    c = conn("10.0.0.1", 40000, "10.0.0.2", 80, cid=2)
    assert j.annotate(c) and (c["process"], c["owner_via"], c["peer_pid"]) == ("curl", "exec-event", 2)
