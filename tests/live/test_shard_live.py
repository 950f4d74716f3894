"""Live sharding: the kernel's PACKET_FANOUT shares one interface's packets among N captures
(libpcap's TPACKET_V3 sockets), each flow whole in one of them, both directions.

Real traffic between two namespaces (30 HTTP exchanges with Python's http.server, 20 UDP
datagrams to as many ports, and one flow whose middle datagram is fragmented). The truth is
an unsharded capture of the same interface running at the same time, outside the fanout group.
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

BIN = Path(sys.executable).parent

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not can_make_namespaces(), reason="needs root and ip netns"),
]

CLIENT = r"""
import socket, sys
dst = sys.argv[1]
for i in range(30):
    s = socket.create_connection((dst, 8000))
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    while s.recv(65536):
        pass
    s.close()
for i in range(20):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.sendto(b"x" * 100, (dst, 9000 + i))
    u.close()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.sendto(b"y" * 100, (dst, 9999))
u.sendto(b"z" * 4000, (dst, 9999))  # three IPv4 fragments on a 1500-byte link
u.sendto(b"y" * 100, (dst, 9999))
"""
FRAGMENTED_PORT = 9999


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def _finals(recs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in recs if r.get("t") == "conn" and r.get("final")]


def _key(r: dict[str, Any]) -> tuple[Any, ...]:
    return (r["proto"], r["src"], r.get("sport"), r["dst"], r.get("dport"))


def _ours(conns: dict[tuple[Any, ...], Any], net: TwoHosts) -> dict[tuple[Any, ...], Any]:
    """The flows the test made (the link's own chatter, IPv6 neighbour discovery and MLD, may
    start before one capture and after another); keyed by _key, optionally after an id."""
    ends = {net.addr_a, net.addr_b}
    return {k: v for k, v in conns.items() if k[-5] in ("tcp", "udp") and {k[-4], k[-2]} == ends}


def _counts(r: dict[str, Any]) -> tuple[Any, ...]:
    return (r["packets_src"], r["packets_dst"], r["bytes_src"], r["bytes_dst"])


def _pipeline(net: TwoHosts, shell: str, out: Path, err: Path) -> subprocess.Popen[bytes]:
    with out.open("wb") as stdout, err.open("wb") as stderr:
        return subprocess.Popen(
            net.cmd("a", ["sh", "-c", shell]), stdout=stdout, stderr=stderr, start_new_session=True
        )


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGINT)
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def _traffic(net: TwoHosts) -> None:
    net.run("a", [sys.executable, "-c", CLIENT, net.addr_b], timeout=60)


def _wait_started(
    net: TwoHosts, sockets: int, errs: list[Path], procs: list[subprocess.Popen[bytes]], timeout: float = 60.0
) -> None:
    """Wait until host a has ``sockets`` packet sockets open (the captures': nothing else there
    opens one), failing at once if a pipeline ends. A fixed wait was not enough on a loaded
    machine: rustnet's shards opened after the traffic had gone by."""
    deadline = time.monotonic() + timeout
    while True:
        for p, err in zip(procs, errs, strict=True):
            assert p.poll() is None, err.read_text()
        out = subprocess.run(net.cmd("a", ["cat", "/proc/net/packet"]), capture_output=True, text=True)
        if len(out.stdout.splitlines()) - 1 >= sockets:
            time.sleep(1.0)  # the filter, the ring and the fanout group come right after the socket
            return
        assert time.monotonic() < deadline, f"{sockets} captures never opened"
        time.sleep(0.1)


def test_fanout_gives_each_capture_whole_flows_and_together_every_flow(tmp_path: Path) -> None:
    with TwoHosts() as net:
        net.spawn("b", [sys.executable, "-m", "http.server", "8000", "--bind", net.addr_b])
        net.wait_port("b", 8000)
        procs, outs, errs = [], [], []
        group = 40000 + os.getpid() % 20000
        for i in range(2):
            out, err = tmp_path / f"shard{i}.jsonl", tmp_path / f"shard{i}.err"
            shell = (
                f"{BIN}/rn-capture -i {net.if_a} --shard {i}/2 --fanout-group {group} "
                f"| {BIN}/rn-track --dissect --format json"
            )
            procs.append(_pipeline(net, shell, out, err))
            outs.append(out)
            errs.append(err)
        ref_out, ref_err = tmp_path / "whole.jsonl", tmp_path / "whole.err"
        shell = f"{BIN}/rn-capture -i {net.if_a} | {BIN}/rn-track --dissect --format json"
        procs.append(_pipeline(net, shell, ref_out, ref_err))
        try:
            _wait_started(net, 3, [*errs, ref_err], procs)
            _traffic(net)
            time.sleep(1.0)
        finally:
            _stop(procs)
    whole = _ours({_key(r): r for r in _finals(_records(ref_out))}, net)
    shards = [_records(o) for o in outs]
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for recs in shards:
        stats = [r for r in recs if r.get("t") == "stats"][-1]
        total = [r for r in _records(ref_out) if r.get("t") == "stats"][-1]
        # No capture sees every packet: each has a real share.
        assert 0 < stats["packets"] < total["packets"]
        # Our flows only: the link's chatter from before both captures joined the group may
        # have reached either.
        for k, r in _ours({_key(r): r for r in _finals(recs)}, net).items():
            assert k not in seen, "a flow in two shards"
            seen[k] = r
    frag = [k for k in whole if k[4] == FRAGMENTED_PORT]
    assert len(frag) == 1
    assert set(seen) == set(whole)
    tcp = [k for k in whole if k[0] == "tcp"]
    assert len(tcp) >= 30
    for k, r in whole.items():
        if k in frag:
            continue
        assert _counts(seen[k]) == _counts(r), k  # both directions, every packet, in one shard
        assert seen[k]["state"] == r["state"], k
    # The kernel hands the fragmented datagram over put back together: one packet of it all.
    got = seen[frag[0]]
    assert got["packets"] == 3
    assert got["bytes"] == whole[frag[0]]["bytes"] - 1082 + 4042


def test_rustnet_workers_live_json(tmp_path: Path) -> None:
    """rustnet -i IF --workers 2 --json: the flows of an unsharded capture, with unique ids."""
    with TwoHosts() as net:
        net.spawn("b", [sys.executable, "-m", "http.server", "8000", "--bind", net.addr_b])
        net.wait_port("b", 8000)
        out, err = tmp_path / "rustnet.jsonl", tmp_path / "rustnet.err"
        ref_out, ref_err = tmp_path / "whole.jsonl", tmp_path / "whole.err"
        shell = f"exec {BIN}/rustnet -i {net.if_a} --json --workers 2 --no-resolve-dns"
        procs = [_pipeline(net, shell, out, err)]
        shell = f"{BIN}/rn-capture -i {net.if_a} | {BIN}/rn-track --dissect --format json"
        procs.append(_pipeline(net, shell, ref_out, ref_err))
        try:
            _wait_started(net, 3, [err, ref_err], procs)
            _traffic(net)
            time.sleep(1.0)
            pids = subprocess.run(["ip", "netns", "pids", net.ns_a], capture_output=True, text=True).stdout
            captures = [
                pid
                for pid in pids.split()
                if Path(f"/proc/{pid}/cmdline").exists()
                and b"--shard" in Path(f"/proc/{pid}/cmdline").read_bytes()
            ]
            assert len(captures) == 2
        finally:
            _stop(procs)
    assert procs[0].returncode == 0, err.read_text()
    got = _records(out)
    ids = [r["id"] for r in got]
    assert len(ids) == len(set(ids))
    whole = _ours({_key(r): r for r in _finals(_records(ref_out))}, net)
    mine = _ours({_key(r): r for r in got}, net)
    assert set(mine) == set(whole)
    assert len(_ours({(r["id"], *_key(r)): r for r in got}, net)) == len(mine)  # each flow once
    for k, r in whole.items():
        if k[4] != FRAGMENTED_PORT:
            assert _counts(mine[k]) == _counts(r), k


PROBE = r"""
import socket, struct, sys
from rustnet.capture.live import LiveCapture
from rustnet.capture.shard import join_fanout
cap = LiveCapture(sys.argv[1])
sock = socket.socket(fileno=cap.fileno())
version = sock.getsockopt(263, 10)  # SOL_PACKET, PACKET_VERSION
join_fanout(cap.fileno(), int(sys.argv[2]))
fanout = struct.unpack("=I", sock.getsockopt(263, 18, 4))[0]  # PACKET_FANOUT
sock.detach()
print(version, fanout)
"""


def test_fanout_joins_libpcaps_tpacket_v3_socket() -> None:
    """libpcap's socket here is a TPACKET_V3 ring, and it joins the group as a hash fanout
    that puts IPv4 fragments back together first."""
    with TwoHosts() as net:
        run = net.run("a", [sys.executable, "-c", PROBE, net.if_a, "4321"])
    version, fanout = (int(v) for v in run.stdout.split())
    assert version == 2  # TPACKET_V3
    assert fanout & 0xFFFF == 4321
    assert fanout >> 16 == 0x8000  # PACKET_FANOUT_HASH (0) with PACKET_FANOUT_FLAG_DEFRAG
