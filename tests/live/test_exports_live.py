"""rustnet's exports from a live capture and from --remote, in test namespaces.

A client process of known pid talks HTTP to a server in the other namespace while rustnet
captures; tshark reads the pcap and pcapng back (``frame.comment``), a JSON parser the
event log and the sidecar. The process named in them must be the client (live here) or
the server (captured and attributed on the remote host).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.netns import TwoHosts, can_make_namespaces
from tests.test_rustnet_live import (
    RUSTNET,
    net,  # noqa: F401  (fixture)
    ssh_env,  # noqa: F401  (fixture)
    stage_pids,
    wait_capturing,
)

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not can_make_namespaces(), reason="needs root and ip netns"),
]

CLIENT = (
    "import socket, sys, time\n"
    "s = socket.create_connection((sys.argv[1], int(sys.argv[2])))\n"
    "s.sendall(b'GET / HTTP/1.0\\r\\nHost: exports.test\\r\\n\\r\\n')\n"
    "time.sleep(2.5)\n"  # the socket stays open while rn-enrich looks for its owner
    "while s.recv(65536): pass\n"
)


def tshark(path: Path, display: str, *fields: str) -> list[list[str]]:
    argv = ["tshark", "-r", str(path), "-Y", display, "-T", "fields", "-E", "occurrence=f"]
    for f in fields:
        argv += ["-e", f]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return [line.split("\t") for line in p.stdout.splitlines()]


def json_lines(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in path.read_text().splitlines():
        obj = json.loads(line)
        assert list(obj) == sorted(obj)
        out.append(obj)
    return out


def serve_and_fetch(hosts: TwoHosts, port: int) -> tuple[int, int]:
    """An HTTP server in b, a client of ours in a; their pids once the client is done."""
    server = hosts.spawn(
        "b", [sys.executable, "-m", "http.server", str(port), "--bind", hosts.addr_b], cwd="/"
    )
    hosts.wait_port("b", port)
    client = hosts.spawn("a", [sys.executable, "-c", CLIENT, hosts.addr_b, str(port)])
    assert client.wait(timeout=30) == 0
    return server.pid, client.pid


def test_live_exports_name_the_process_of_each_packet(net: TwoHosts, tmp_path: Path) -> None:  # noqa: F811
    pcap, pcapng, log = tmp_path / "out.pcap", tmp_path / "out.pcapng", tmp_path / "events.jsonl"
    p = subprocess.Popen(
        net.cmd(
            "a",
            [
                RUSTNET,
                "-i",
                net.iface("a"),
                "--json",
                "-B",
                "4",
                "--pcap-export",
                str(pcap),
                "--pcapng-export",
                str(pcapng),
                "--json-log",
                str(log),
            ],
        ),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        stage_pids(p.pid)
        wait_capturing(net)
        _, pid = serve_and_fetch(net, 8000)
        time.sleep(3)  # the records (and the waiting packets) come through
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    flow = f"tcp.port == 8000 && ip.src == {net.addr_a}"
    frames = tshark(pcapng, flow, "frame.comment", "tcp.flags.syn")
    assert frames and len(frames) == len(tshark(pcap, flow, "frame.number"))
    named = [c for c, _ in frames if f" pid={pid} " in c + " "]
    # Each packet waited for its process: all of them name it (the SYN too), as outgoing HTTP.
    assert len(named) == len(frames), frames
    for comment, _ in frames:
        assert comment.startswith("rustnet process=python") and "direction=outgoing" in comment, comment
        assert f" uid={os.getuid()} " in comment, comment  # the client runs as we do
        assert "app=HTTP_(exports.test)" in comment and "sni=exports.test" in comment, comment
    # The sidecar: this connection, with its process, from this host's side.
    side = [
        s for s in json_lines(Path(f"{pcap}.connections.jsonl")) if s["remote_addr"] == f"{net.addr_b}:8000"
    ]
    assert len(side) == 1 and side[0]["pid"] == pid and side[0]["local_addr"].startswith(net.addr_a + ":")
    assert side[0]["process_name"].startswith("python") and side[0]["attribution_match"] == "exact-tuple"
    assert (side[0]["process_uid"], side[0]["process_gid"]) == (os.getuid(), os.getegid())
    events = [e for e in json_lines(log) if e["destination_port"] == 8000]
    assert [e["event"] for e in events] == ["new_connection"]  # still open when rustnet ended
    assert events[0]["source_ip"] == net.addr_a and events[0]["protocol"] == "TCP"


def test_remote_exports_carry_the_remote_hosts_processes(
    net: TwoHosts,  # noqa: F811
    ssh_env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    pcap, pcapng, log = tmp_path / "out.pcap", tmp_path / "out.pcapng", tmp_path / "events.jsonl"
    argv = [RUSTNET, "--remote", f"root@{net.addr_b}", "-i", net.iface("b"), "--json"]
    argv += ["--pcap-export", str(pcap), "--pcapng-export", str(pcapng), "--json-log", str(log)]
    p = subprocess.Popen(
        net.cmd("a", argv),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=ssh_env,
    )
    try:
        wait_capturing(net, "b")
        server, _ = serve_and_fetch(net, 8002)
        time.sleep(3)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    flow = "tcp.port == 8002"
    frames = tshark(pcapng, flow, "frame.comment")
    assert frames and len(frames) == len(tshark(pcap, flow, "frame.number"))
    # Captured there, attributed there (the server's process), exported here.
    assert all(c[0].startswith("rustnet process=python") and f" pid={server} " in c[0] for c in frames), (
        frames
    )
    assert not any(" uid=" in c[0] for c in frames)  # the remote host's users are not ours to name
    assert not tshark(pcap, "tcp.port == 2222", "frame.number")  # not the ssh carrying it
    events = [e for e in json_lines(log) if 8002 in (e["source_port"], e["destination_port"])]
    assert [e["event"] for e in events] == ["new_connection"]
    side = json_lines(Path(f"{pcap}.connections.jsonl"))
    assert [s["pid"] for s in side if f"{net.addr_b}:8002" in (s["local_addr"], s["remote_addr"])] == [server]
