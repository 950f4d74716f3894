"""rn-enrich on real traffic between two network namespaces, with real processes.

The processes have distinctive names: copies of the Python binary named
``rn-dl-client-slowly`` (longer than the kernel's 15-character comm, so the full name
must come from the command line) and ``rn-web-server``. Every test checks the pids
against the processes it started itself.

Placements covered: the whole pipeline inside the namespace of the processes
(``rn-capture | rn-dissect | rn-track | rn-enrich``); rn-enrich in the root namespace
attributing sockets of another namespace (and naming it); and the remote layout
``rn-capture | rn-enrich`` (sock records) joined later by ``rn-track``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.netns import TwoHosts, can_make_namespaces

BIN = Path(sys.executable).parent
CAPTURE, DISSECT, TRACK, ENRICH = (
    str(BIN / n) for n in ("rn-capture", "rn-dissect", "rn-track", "rn-enrich")
)
CLIENT_NAME = "rn-dl-client-slowly"
SERVER_NAME = "rn-web-server"
# Downloads slowly (small receive buffer, pauses) so the connection lives for seconds.
SLOW_CLIENT = """
import socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect((host, port))
s.sendall(b"GET /big.bin HTTP/1.0\\r\\nHost: test\\r\\n\\r\\n")
print(s.getsockname()[1], flush=True)
while s.recv(2048):
    time.sleep(0.05)
"""

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not can_make_namespaces(), reason="needs root and ip netns"),
]


class Records:
    """Collects the JSON Lines a pipeline (a process group we started) writes."""

    def __init__(self, argv: list[str]) -> None:
        err_fd, self.err_path = tempfile.mkstemp(prefix="rnenrich-err-")
        try:
            self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err_fd, start_new_session=True)
        finally:
            os.close(err_fd)
        self.records: list[dict[str, Any]] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with self.proc.stdout:
            for line in self.proc.stdout:
                try:
                    self.records.append(json.loads(line))
                except ValueError:
                    pass

    def wait_for(self, pred: Callable[[list[dict[str, Any]]], bool], timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred(list(self.records)):
                return
            if self.proc.poll() is not None and not self._thread.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f"timed out; last records: {self.records[-5:]}; stderr: {self.stderr()}")

    def interrupt_and_drain(self, timeout: float = 20.0) -> None:
        """Ctrl+C to the whole pipeline: capture stops, every stage drains and writes final records."""
        try:
            os.killpg(self.proc.pid, signal.SIGINT)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=timeout)
        self._thread.join(timeout=10)

    def stderr(self) -> str:
        return Path(self.err_path).read_text(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)
        self._thread.join(timeout=5)
        os.unlink(self.err_path)


def conns(recs: list[dict[str, Any]], port: int) -> list[dict[str, Any]]:
    return [
        r
        for r in recs
        if r.get("t") == "conn" and r.get("proto") == "tcp" and port in (r.get("dport"), r.get("sport"))
    ]


@pytest.fixture
def net() -> Iterator[TwoHosts]:
    with TwoHosts() as hosts:
        yield hosts


@pytest.fixture
def bins(tmp_path: Path) -> dict[str, Path]:
    """Copies of the Python binary under distinctive names, and a 4 MB file to serve."""
    out = {}
    for name in (CLIENT_NAME, SERVER_NAME):
        out[name] = tmp_path / name
        shutil.copy2(os.path.realpath(sys.executable), out[name])
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "big.bin").write_bytes(os.urandom(4 << 20))
    (tmp_path / "client.py").write_text(SLOW_CLIENT)
    os.chmod(tmp_path, 0o755)
    return out


def start_server(net: TwoHosts, host: str, exe: Path | str, addr: str) -> subprocess.Popen[bytes]:
    www = Path(exe).parent / "www"
    srv = net.spawn(host, [str(exe), "-m", "http.server", "8000", "--bind", addr, "--directory", str(www)])
    net.wait_port(host, 8000)
    return srv


def start_slow_client(net: TwoHosts, host: str, exe: Path, addr: str) -> tuple[subprocess.Popen[bytes], int]:
    client = net.spawn(host, [str(exe), str(exe.parent / "client.py"), addr, "8000"], stdout=subprocess.PIPE)
    assert client.stdout is not None
    port = int(client.stdout.readline())
    client.stdout.close()
    return client, port


def started(recs: list[dict[str, Any]]) -> bool:
    return any(r.get("t") == "hdr" for r in recs)


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_long_lived_client_by_name_and_pid_through_its_final_record(
    net: TwoHosts, bins: dict[str, Path], family: str
) -> None:
    addr_b = net.addr_b if family == "ipv4" else net.addr6_b
    start_server(net, "b", bins[SERVER_NAME], "::" if family == "ipv6" else net.addr_b)
    pipe = Records(
        net.cmd(
            "a",
            [
                "sh",
                "-c",
                f"{CAPTURE} -i {net.if_a} tcp | {DISSECT} | {TRACK} -r 200 | "
                f"{ENRICH} --format json --poll-interval 500",
            ],
        )
    )
    try:
        pipe.wait_for(started)
        time.sleep(0.3)
        client, cport = start_slow_client(net, "a", bins[CLIENT_NAME], addr_b)
        pipe.wait_for(lambda recs: any(c.get("process") for c in conns(recs, cport)))
        first = [c for c in conns(pipe.records, cport) if c.get("process")][0]
        assert first["process"] == CLIENT_NAME and first["pid"] == client.pid, conns(pipe.records, cport)
        assert CLIENT_NAME in first["cmdline"] and first["user"] == "root"
        assert first["netns"] == net.ns_a  # not the host's namespace: named as ip netns knows it
        # The client goes away; the connection's final record still names it.
        client.kill()
        client.wait(timeout=5)
        time.sleep(0.5)
        pipe.interrupt_and_drain()
        recs = conns(pipe.records, cport)
        final = recs[-1]
        assert final["id"] == first["id"]
        assert final["process"] == CLIENT_NAME and final["pid"] == client.pid
        assert all(r.get("pid") == client.pid for r in recs if "pid" in r)
    finally:
        pipe.close()


def test_server_accepted_connections_are_attributed_to_the_server(
    net: TwoHosts, bins: dict[str, Path]
) -> None:
    srv = start_server(net, "a", bins[SERVER_NAME], net.addr_a)
    pipe = Records(
        net.cmd(
            "a",
            [
                "sh",
                "-c",
                f"{CAPTURE} -i {net.if_a} tcp port 8000 | {DISSECT} | "
                f"{TRACK} -r 200 | {ENRICH} --format json",
            ],
        )
    )
    try:
        pipe.wait_for(started)
        time.sleep(0.3)
        for _ in range(3):  # curl in the other namespace: short-lived clients, a long-lived server
            net.run("b", ["curl", "-s", "-o", "/dev/null", "--max-time", "10", f"http://{net.addr_a}:8000/"])
        pipe.wait_for(lambda recs: len({c["id"] for c in conns(recs, 8000)}) >= 3)
        pipe.interrupt_and_drain()
        finals: dict[Any, dict[str, Any]] = {}
        for c in conns(pipe.records, 8000):
            finals[c["id"]] = c
        assert len(finals) == 3
        for c in finals.values():
            assert c["src"] == net.addr_b and c["dport"] == 8000
            assert c["process"] == SERVER_NAME and c["pid"] == srv.pid  # srv: the process spawn started
    finally:
        pipe.close()


def test_root_namespace_attributes_another_namespace(net: TwoHosts, bins: dict[str, Path]) -> None:
    """Capture inside namespace a, rn-enrich in the root namespace: sockets of a are still found."""
    start_server(net, "b", bins[SERVER_NAME], net.addr_b)
    inner = " ".join(
        net.cmd("a", ["sh", "-c", f"'{CAPTURE} -i {net.if_a} tcp | {DISSECT} | {TRACK} -r 200'"])
    )
    pipe = Records(["sh", "-c", f"{inner} | {ENRICH} --format json --poll-interval 500"])
    try:
        pipe.wait_for(started)
        time.sleep(0.3)
        client, cport = start_slow_client(net, "a", bins[CLIENT_NAME], net.addr_b)
        pipe.wait_for(lambda recs: any(c.get("process") for c in conns(recs, cport)))
        c = [c for c in conns(pipe.records, cport) if c.get("process")][0]
        # Both ends are local to this host (namespaces a and b); the originator's side is reported.
        assert c["process"] == CLIENT_NAME and c["pid"] == client.pid and c["netns"] == net.ns_a
        pipe.interrupt_and_drain()
    finally:
        pipe.close()


def test_remote_layout_sock_records_joined_by_rn_track(net: TwoHosts, bins: dict[str, Path]) -> None:
    """``rn-capture | rn-enrich`` where the processes are (as over ssh), rn-dissect | rn-track elsewhere."""
    start_server(net, "b", bins[SERVER_NAME], net.addr_b)
    remote = " ".join(net.cmd("a", ["sh", "-c", f"'{CAPTURE} -i {net.if_a} tcp | {ENRICH}'"]))
    pipe = Records(["sh", "-c", f"{remote} | {DISSECT} | {TRACK} -r 200 --format json"])
    try:
        pipe.wait_for(started)
        time.sleep(0.3)
        client, cport = start_slow_client(net, "a", bins[CLIENT_NAME], net.addr_b)
        pipe.wait_for(lambda recs: any(c.get("process") for c in conns(recs, cport)))
        socks = [r for r in pipe.records if r.get("t") == "sock" and r.get("pid") == client.pid]
        assert socks and socks[0]["process"] == CLIENT_NAME and socks[0]["lport"] == cport
        c = [c for c in conns(pipe.records, cport) if c.get("process")][0]
        assert c["process"] == CLIENT_NAME and c["pid"] == client.pid
        pipe.interrupt_and_drain()
    finally:
        pipe.close()


UDP_PINGER = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)   # never connect()ed: matched by its bound port
s.bind(("0.0.0.0", 0))
print(s.getsockname()[1], flush=True)
while True:
    s.sendto(b"ping", (sys.argv[1], 9999))
    time.sleep(0.1)
"""
UDP_SERVER = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 9999))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(data, peer)
"""


def test_udp_client_and_server_attributed(net: TwoHosts, bins: dict[str, Path]) -> None:
    """UDP: an unconnected client socket (bound port only) in a, a bound server in b; with the
    pipeline in a, the flow is the client's (both ends are local to this host)."""
    server = net.spawn("b", [str(bins[SERVER_NAME]), "-c", UDP_SERVER])
    net.wait_port("b", 9999, udp=True)
    pipe = Records(
        net.cmd(
            "a",
            [
                "sh",
                "-c",
                f"{CAPTURE} -i {net.if_a} udp | {DISSECT} | {TRACK} -r 200 | {ENRICH} --format json",
            ],
        )
    )
    try:
        pipe.wait_for(started)
        time.sleep(0.3)
        Path(bins[CLIENT_NAME].parent / "pinger.py").write_text(UDP_PINGER)
        pinger = str(bins[CLIENT_NAME].parent / "pinger.py")
        client = net.spawn("a", [str(bins[CLIENT_NAME]), pinger, net.addr_b], stdout=subprocess.PIPE)
        assert client.stdout is not None
        cport = int(client.stdout.readline())
        client.stdout.close()

        def udp_named(recs: list[dict[str, Any]]) -> bool:
            return any(
                r.get("t") == "conn"
                and r.get("proto") == "udp"
                and r.get("sport") == cport
                and r.get("process")
                for r in recs
            )

        pipe.wait_for(udp_named)
        c = [
            r for r in pipe.records if r.get("t") == "conn" and r.get("sport") == cport and r.get("process")
        ][0]
        assert c["dport"] == 9999 and c["process"] == CLIENT_NAME and c["pid"] == client.pid
        assert server.poll() is None
        pipe.interrupt_and_drain()
    finally:
        pipe.close()
