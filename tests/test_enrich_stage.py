"""The Enricher stage in-process, over real sockets on loopback held by real processes.

Placement 1 (conn records after rn-track) and placement 2 (pkt/sum records right after
rn-capture/rn-dissect, emitting sock records), live versus recorded streams, the id cache
after the process exits, upstream sock records, and degrading without permission.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rustnet.enrich.stage import Enricher
from rustnet.stream.records import make_header
from rustnet.track.join import SocketJoiner

from tests import nobody_install

LONG_NAME = "rn-dl-client-long-name"  # longer than the kernel's 15-character comm
# The child connects to the given port and holds the connection until its stdin closes.
CLIENT = (
    "import socket,sys; s=socket.create_connection(('127.0.0.1', int(sys.argv[1])));"
    "print(s.getsockname()[1], flush=True); sys.stdin.read()"
)


def hdr(live: bool) -> dict[str, Any]:
    return make_header("rn-track 0.1.0", 1, "lo", live, 262144, time.time(), ["rn-capture", "rn-dissect"])


class Client:
    """A real process with a distinctive long name holding a TCP connection to ``port``."""

    def __init__(self, exe: Path, port: int) -> None:
        self.proc = subprocess.Popen(
            [str(exe), "-c", CLIENT, str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())

    def exit(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
def exe(tmp_path: Path) -> Path:
    path = tmp_path / LONG_NAME
    shutil.copy2(os.path.realpath(sys.executable), path)
    return path


@pytest.fixture
def server() -> Iterator[socket.socket]:
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(16)
    yield lst
    lst.close()


def conn(cid: Any, sport: int, dport: int, **extra: Any) -> dict[str, Any]:
    return {
        "t": "conn",
        "id": cid,
        "proto": "tcp",
        "src": "127.0.0.1",
        "sport": sport,
        "dst": "127.0.0.1",
        "dport": dport,
        "state": "ESTABLISHED",
        **extra,
    }


def test_live_conn_gets_full_process_name_pid_cmdline_user(exe: Path, server: socket.socket) -> None:
    client = Client(exe, server.getsockname()[1])
    acc, _ = server.accept()
    try:
        st = Enricher()
        out = st.process([hdr(True), conn(1, client.port, server.getsockname()[1])])
        assert out[0]["stages"][-1] == "rn-enrich" and out[0]["live"] is True  # type: ignore[index]
        c = out[1]
        assert isinstance(c, dict)
        assert c["process"] == LONG_NAME and c["pid"] == client.proc.pid
        assert LONG_NAME in c["cmdline"] and c["user"] == ("root" if os.geteuid() == 0 else c["user"])
        assert "netns" not in c or c["netns"] is not None
        # It keeps the process through the final record, after the process has exited.
        client.exit()
        acc.close()
        time.sleep(0.05)
        st.tick(time.time())
        final = st.process([conn(1, client.port, server.getsockname()[1], state="CLOSED")])[0]
        assert isinstance(final, dict) and final["process"] == LONG_NAME and final["pid"] == client.proc.pid
        st.finish()
    finally:
        acc.close()
        client.exit()


def test_server_side_connection_is_attributed_to_the_listener_owner(exe: Path) -> None:
    srv = subprocess.Popen(
        [
            str(exe),
            "-c",
            "import socket,sys; l=socket.socket(); l.bind(('127.0.0.1',0)); l.listen();"
            "print(l.getsockname()[1], flush=True); c,_=l.accept(); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert srv.stdout is not None and srv.stdin is not None
    st = Enricher()
    try:
        port = int(srv.stdout.readline())
        st.process([hdr(True)])  # first poll: the listener is known, the connection not yet
        cli = socket.create_connection(("127.0.0.1", port))
        # Originator is us (this pytest process); the responder side is the server child.
        rec = conn(2, cli.getsockname()[1], port)
        # Looked from the server's side: the same flow with our end not local (pretend remote).
        remote_view = dict(rec, id=3, src="10.99.0.1")
        out = st.process([rec, remote_view])
        assert out[0]["pid"] == os.getpid()  # type: ignore[index]
        assert out[1]["pid"] == srv.pid and out[1]["process"] == LONG_NAME  # type: ignore[index]
        cli.close()
    finally:
        st.finish()
        srv.stdin.close()
        srv.wait(timeout=10)
        srv.stdout.close()


def test_recorded_stream_is_not_matched_to_todays_processes(exe: Path, server: socket.socket) -> None:
    client = Client(exe, server.getsockname()[1])
    acc, _ = server.accept()
    try:
        st = Enricher()
        dns = {
            "t": "conn",
            "id": 9,
            "proto": "udp",
            "src": "10.0.0.5",
            "sport": 40000,
            "dst": "10.0.0.53",
            "dport": 53,
            "dns_query": "www.example.org",
            "dns_answers": ["www.example.org A 10.7.7.7"],
            "dns_resolved": ["10.7.7.7 www.example.org"],
        }
        web = {
            "t": "conn",
            "id": 10,
            "proto": "tcp",
            "src": "10.0.0.5",
            "sport": 40001,
            "dst": "10.7.7.7",
            "dport": 443,
        }
        out = st.process([hdr(False), conn(1, client.port, server.getsockname()[1]), dns, web])
        assert all("pid" not in r and "process" not in r for r in out if isinstance(r, dict))
        assert out[2]["service"] == "domain"  # type: ignore[index]
        assert out[3]["service"] == "https" and out[3]["hostname_dst"] == "www.example.org"  # type: ignore[index]
        assert out[3]["hostname_dst_via"] == "dns"  # type: ignore[index]
        assert st._owners is None  # never even read the socket table
    finally:
        acc.close()
        client.exit()


def test_upstream_sock_records_attribute_recordings() -> None:
    st = Enricher()
    sock = {
        "t": "sock",
        "ts": 1.0,
        "proto": "tcp",
        "local": "10.0.0.5",
        "lport": 40001,
        "remote": "10.7.7.7",
        "rport": 443,
        "listening": False,
        "pid": 4242,
        "process": "remote-curl",
        "cmdline": "curl x",
        "user": "alice",
        "netns": None,
    }
    out = st.process(
        [
            hdr(False),
            sock,
            {
                "t": "conn",
                "id": 1,
                "proto": "tcp",
                "src": "10.0.0.5",
                "sport": 40001,
                "dst": "10.7.7.7",
                "dport": 443,
            },
        ]
    )
    assert out[1] is sock  # passed on for whoever is downstream
    assert out[2]["process"] == "remote-curl" and out[2]["user"] == "alice"  # type: ignore[index]


def lo_frame(sport: int, dport: int, flags: int = 0x02) -> bytes:
    """An Ethernet frame as captured on Linux loopback: 127.0.0.1:sport -> 127.0.0.1:dport, TCP."""
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, flags, 65535, 0, 0)
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
        socket.inet_aton("127.0.0.1"),
        socket.inet_aton("127.0.0.1"),
    )
    return b"\x00" * 12 + b"\x08\x00" + ip + tcp


def test_after_capture_packets_pass_and_sock_records_come_first(exe: Path, server: socket.socket) -> None:
    st = Enricher()
    st.process([hdr(True)])  # polled before the client exists: its socket is found on the miss
    client = Client(exe, server.getsockname()[1])
    acc, _ = server.accept()
    try:
        dport = server.getsockname()[1]
        pkts = [
            ["pkt", time.time(), 54, lo_frame(client.port, dport)],
            ["pkt", time.time(), 54, lo_frame(dport, client.port, 0x12)],
            ["pkt", time.time(), 54, lo_frame(client.port, dport, 0x10)],
        ]
        out = st.process([list(p) for p in pkts])
        socks = [r for r in out if isinstance(r, dict) and r.get("t") == "sock"]
        assert [r for r in out if isinstance(r, list)] == pkts  # untouched, in order
        assert socks and socks[0] is out[0]  # before the packet that showed the flow
        mine = [s for s in socks if s["pid"] == client.proc.pid]
        assert mine and mine[0]["process"] == LONG_NAME and mine[0]["lport"] == client.port
        # Downstream (rn-track / rn-view) joins them to the connection.
        joiner = SocketJoiner()
        for s in socks:
            joiner.add(s)
        c = conn("x", client.port, dport)
        assert joiner.annotate(c) and c["process"] == LONG_NAME
        # A flow already seen costs a set lookup and emits nothing new.
        again = st.process([["pkt", time.time(), 54, lo_frame(client.port, dport, 0x10)]])
        assert len(again) == 1
        assert st.tick(time.time()) == []
    finally:
        st.finish()
        acc.close()
        client.exit()


def test_after_dissect_summaries_give_sock_records(exe: Path, server: socket.socket) -> None:
    client = Client(exe, server.getsockname()[1])
    acc, _ = server.accept()
    try:
        lo = socket.inet_aton("127.0.0.1")
        dport = server.getsockname()[1]
        summ = ["sum", time.time(), 66, 6, lo, client.port, lo, dport, 0x02, 1, 0, 0, 65535, None, None]
        st = Enricher()
        out = st.process([hdr(True), summ])
        st.finish()
        socks = [r for r in out if isinstance(r, dict) and r.get("t") == "sock"]
        assert any(s["pid"] == client.proc.pid and s["process"] == LONG_NAME for s in socks)
        assert out[-1] is summ
    finally:
        acc.close()
        client.exit()


def test_no_process_option_and_hostile_records() -> None:
    st = Enricher(processes=False)
    weird: list[Any] = [
        hdr(True),
        ["pkt"],
        ["pkt", 1.0, 5, "notbytes"],
        ["pkt", 1.0, 5, b"\x00" * 3],
        ["sum", 1],
        ["sum", 1.0, 1, 6, "a", "b", "c", "d", 0, 0, 0, 0, 0, None, None],
        {"t": "conn", "id": [1], "proto": "tcp", "src": 5, "sport": "x"},
        {"t": "conn", "proto": "tcp", "src": "1.1.1.1", "sport": 99999, "dst": "2.2.2.2", "dport": 80},
        {"t": "sock"},
        {"t": "hdr", "live": "yes", "linktype": "x"},
        ["zzz", 1],
    ]
    out = st.process(weird)
    assert len(out) == len(weird)
    assert out[7]["service"] == "http" and "pid" not in out[7]  # type: ignore[index]
    assert st._owners is None
    live = Enricher()
    assert len(live.process(weird)) == len(weird)
    live.finish()


@pytest.fixture(scope="module")
def nobody_venv() -> Iterator[Path]:
    """rustnet installed where nobody can run it (the clone may sit in a private directory)."""
    base, why = nobody_install.base_python()
    if base is None:
        pytest.skip(why)
    venv = nobody_install.build(copies=False)
    yield venv
    nobody_install.remove(venv)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
def test_without_permission_it_degrades_to_the_user_and_warns_once(
    server: socket.socket, nobody_venv: Path
) -> None:
    """An unprivileged rn-enrich cannot read root's fds: the connection keeps its user, no crash."""
    cli = socket.create_connection(server.getsockname())
    acc, _ = server.accept()
    try:
        lines = [
            json.dumps(r)
            for r in (
                hdr(True),
                conn(1, cli.getsockname()[1], server.getsockname()[1]),
                conn(2, cli.getsockname()[1], server.getsockname()[1]),
            )
        ]
        p = subprocess.run(
            [
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
                "--bounding-set=-all",
                str(nobody_venv / "bin" / "rn-enrich"),
                "--format",
                "json",
            ],
            input=("\n".join(lines) + "\n").encode(),
            capture_output=True,
            timeout=30,
        )
        assert p.returncode == 0, p.stderr
        recs = [json.loads(x) for x in p.stdout.decode().splitlines()]
        conns = [r for r in recs if r["t"] == "conn"]
        warns = [r for r in recs if r["t"] == "warn"]
        assert all(c["user"] == "root" and "pid" not in c and "process" not in c for c in conns)
        assert len(warns) == 1 and "root" in warns[0]["msg"]
    finally:
        acc.close()
        cli.close()


record_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 70000),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.binary(max_size=80),
    st.lists(st.text(max_size=8), max_size=3),
)
hostile_record = st.one_of(
    st.dictionaries(
        st.sampled_from(
            [
                "t",
                "id",
                "proto",
                "src",
                "sport",
                "dst",
                "dport",
                "dns_query",
                "dns_answers",
                "dns_resolved",
                "live",
                "linktype",
                "local",
                "lport",
                "remote",
                "rport",
                "pid",
                "service",
                "hostname_dst",
            ]
        ),
        record_values,
        max_size=10,
    ),
    st.lists(record_values, max_size=16).map(lambda x: ["pkt", *x]),
    st.lists(record_values, max_size=16).map(lambda x: ["sum", *x]),
    st.tuples(st.sampled_from([0, 1, 12, 108, 113, 276]), st.binary(max_size=90)).map(
        lambda x: {"t": "hdr", "live": True, "linktype": x[0]}
    ),
    st.binary(max_size=90).map(lambda b: ["pkt", 1.0, len(b), b]),
    st.fixed_dictionaries(
        {
            "t": st.just("conn"),
            "proto": st.sampled_from(["tcp", "udp"]),
            "id": record_values,
            "src": st.sampled_from(["127.0.0.1", "::1", "10.0.0.1", "bad", ""]),
            "dst": st.sampled_from(["127.0.0.1", "::ffff:1.2.3.4", "x"]),
            "sport": record_values,
            "dport": st.integers(-1, 70000),
            "dns_query": record_values,
            "dns_answers": record_values,
            "dns_resolved": record_values,
        }
    ),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(hostile_record, max_size=12), st.booleans())
def test_hostile_records_never_raise(recs: list[Any], processes: bool) -> None:
    """Live header, so packets, summaries and connections go through the socket lookups too."""
    enr = Enricher(processes=processes, watch_interval=0)
    out = enr.process([make_header("x", 1, "x", True, 1, 0.0), *recs])
    assert len(out) == len(recs) + 1
    enr.tick(time.time())
    enr.finish()


def test_packets_from_a_capture_file_get_no_sock_records(exe: Path, server: socket.socket) -> None:
    client = Client(exe, server.getsockname()[1])
    acc, _ = server.accept()
    try:
        enr = Enricher()
        pkt = ["pkt", time.time(), 54, lo_frame(client.port, server.getsockname()[1])]
        out = enr.process([hdr(False), pkt])
        assert out[1] is pkt and len(out) == 2 and enr._owners is None
        # The same packet in a live stream does get its socket.
        out = enr.process([hdr(True), list(pkt)])
        assert any(isinstance(r, dict) and r.get("t") == "sock" and r["pid"] == client.proc.pid for r in out)
        enr.finish()
    finally:
        acc.close()
        client.exit()


def test_the_header_says_how_processes_are_attributed() -> None:
    """The viewer's System panel shows it (Detection)."""
    for enricher, live, want in (
        (Enricher(), False, ("none (not a live capture)",)),
        (Enricher(processes=False), True, ("off",)),
        (Enricher(watch_interval=0.0), True, ("sock_diag + procfs", "/proc/net + procfs")),
    ):
        try:
            out = enricher.process([hdr(live=live)])
        finally:
            enricher.finish()
        if want[0] != "sock_diag + procfs" or sys.platform.startswith("linux"):
            assert out[0]["attribution"] in want, out[0]["attribution"]
