"""Round trips on a live capture between two namespaces, against what the real tools measured
themselves: ping's times, dig's query time (asking a responder that answers 40 ms late) and
curl's connect time; kinds and counters of a real download.

    rn-capture -i <veth> | rn-dissect | rn-track --format json     (all in host a)
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.netns import TwoHosts, can_make_namespaces

BIN = Path(sys.executable).parent
DELAY_MS = 40.0
# A DNS responder in host b that answers every query after DELAY_MS: the query, marked a
# response, with one A record (RFC 1035 4.1).
SLOW_DNS = f"""
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
while True:
    q, peer = s.recvfrom(512)
    time.sleep({DELAY_MS / 1000.0})
    answer = b"\\xc0\\x0c\\x00\\x01\\x00\\x01\\x00\\x00\\x00\\x3c\\x00\\x04\\x0a\\x09\\x08\\x07"
    s.sendto(q[:2] + b"\\x81\\x80" + q[4:6] + b"\\x00\\x01\\x00\\x00\\x00\\x00" + q[12:] + answer, peer)
"""

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not can_make_namespaces(), reason="needs root and ip netns"),
]


def records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_bytes().splitlines(keepends=True) if line.endswith(b"\n")]


def shark(pcap: Path, display_filter: str, field: str) -> list[float]:
    """One field of the packets tshark's display filter keeps, as numbers (in packet order)."""
    out = subprocess.run(
        ["tshark", "-r", str(pcap), "-Y", display_filter, "-T", "fields", "-e", field],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [float(v) for v in out.split()]


def wait_for(pred: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise TimeoutError(what)


def test_ping_dns_and_tcp_round_trips_through_a_delayed_link(tmp_path: Path) -> None:
    out = tmp_path / "conns.jsonl"
    with TwoHosts() as net:
        (tmp_path / "www").mkdir()
        (tmp_path / "www" / "big").write_bytes(os.urandom(400_000))
        www = [
            sys.executable,
            "-m",
            "http.server",
            "8000",
            "--bind",
            net.addr_b,
            "--directory",
            str(tmp_path / "www"),
        ]
        net.spawn("b", www)
        net.spawn("b", [sys.executable, "-c", SLOW_DNS, net.addr_b])
        net.wait_port("b", 8000)
        net.wait_port("b", 53, udp=True)
        dump = tmp_path / "seen.pcap"  # what the pipeline saw, for tshark
        pipeline = f"'{BIN}/rn-capture' -i {net.if_a} -w '{dump}' | '{BIN}/rn-dissect' | "
        pipeline += f"'{BIN}/rn-track' --format json -r 200 > '{out}'"
        pipe = net.spawn("a", ["bash", "-c", pipeline])
        wait_for(lambda: any(r.get("t") == "hdr" for r in records(out)), 15, "no header")

        ping = net.run("a", ["ping", "-c", "3", "-i", "0.3", net.addr_b]).stdout.decode()
        dig = net.run(
            "a", ["dig", "+noedns", "+tries=1", "+time=3", f"@{net.addr_b}", "rtt.rustnet.test"]
        ).stdout.decode()
        curl = net.run(
            "a", ["curl", "-s", "-o", "/dev/null", "-w", "%{time_connect}", f"http://{net.addr_b}:8000/big"]
        ).stdout.decode()
        time.sleep(0.5)
        os.killpg(pipe.pid, signal.SIGINT)
        pipe.wait(timeout=20)

    final = [r for r in records(out) if r.get("t") == "conn" and r.get("final")]
    # ICMP: the latest echo's round trip as tshark reads it from the same packets; at most ping's own
    # time (its clock is not the capture's, and a loaded machine delays it) plus a few ms.
    (echo,) = [r for r in final if r["proto"] == "icmp"]
    ping_ms = [float(t) for t in re.findall(r"time=([\d.]+) ms", ping)]
    assert len(ping_ms) == 3
    assert echo["rtt_kind"] == "icmp_echo" and echo["echo_seq"] == 3
    assert echo["rtt_ms"] == pytest.approx(shark(dump, "icmp.type == 0", "icmp.resptime")[-1], abs=0.01)
    # ping's, dig's and curl's own times are taken in their processes, so a busy machine adds its
    # scheduling delays to theirs, never takes any away: ours is at most theirs, plus a little.
    assert echo["rtt_ms"] <= ping_ms[-1] + 5.0
    # DNS: tshark's dns.time on the packets the pipeline captured, at least the responder's delay;
    # at most dig's own query time (whole ms, timed in dig's process, whose scheduling a loaded
    # machine delays) plus a few ms.
    (dns,) = [r for r in final if r["proto"] == "udp" and r["dport"] == 53]
    dns_time_s = shark(dump, "dns.flags.response == 1", "dns.time")[0]
    assert dns["dns_response_ms"] == pytest.approx(dns_time_s * 1000.0, abs=0.01)
    assert dns["dns_response_ms"] >= DELAY_MS
    query_ms = float(re.search(r"Query time: (\d+) msec", dig).group(1))  # type: ignore[union-attr]
    assert dns["dns_response_ms"] <= query_ms + 5.0
    # TCP: the handshake (SYN to the ACK of the SYN-ACK) as tshark's iRTT on the same packets, and
    # at most curl's connect time plus a few ms; the request and the download's ACKs timed live; a
    # clean transfer.
    (http,) = [r for r in final if r["proto"] == "tcp" and r["dport"] == 8000]
    assert http["local_side"] == "src"
    irtt_s = shark(dump, "tcp.port == 8000 && tcp.analysis.initial_rtt", "tcp.analysis.initial_rtt")[0]
    assert http["rtt_initial_ms"] == pytest.approx(irtt_s * 1000.0, abs=0.01)
    assert http["rtt_initial_ms"] <= float(curl) * 1000.0 + 5.0
    assert http["rtt_kind"] == "tcp" and 0 < http["rtt_ms"] < 100.0
    assert http["dup_acks"] == 0 and http["fast_retransmits"] == 0 and http["retransmits"] == 0
