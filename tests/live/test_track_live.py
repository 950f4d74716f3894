"""rn-track end to end on a live capture between two namespaces (real curl, ping, dig, dnsmasq).

    rn-capture -i <veth> | rn-dissect | rn-track --format json     (all in host a)

An HTTP exchange that closes ends TIME_WAIT or CLOSED, a DNS exchange DNS_RESPONSE, ping
ECHO_REPLY; Ctrl+C (SIGINT to the whole pipeline's process group) still yields the final
records; the live header makes rn-track say which side is local.
"""

from __future__ import annotations

import json
import os
import signal
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


def wait_for(pred: Any, timeout: float, what: str, err: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what}; stderr: {err.read_text() if err.exists() else ''}")


def records(path: Path) -> list[dict[str, Any]]:
    """The complete JSON lines written so far."""
    if not path.exists():
        return []
    out = []
    for line in path.read_bytes().splitlines(keepends=True):
        if line.endswith(b"\n"):
            out.append(json.loads(line))
    return out


def test_http_dns_ping_states_and_ctrl_c(tmp_path: Path) -> None:
    out = tmp_path / "conns.jsonl"
    err = tmp_path / "pipeline.err"
    with TwoHosts() as net:
        (tmp_path / "www").mkdir()
        (tmp_path / "www" / "index.html").write_text("hello rustnet\n" * 100)
        net.spawn(
            "b",
            [
                sys.executable,
                "-m",
                "http.server",
                "8000",
                "--bind",
                net.addr_b,
                "--directory",
                str(tmp_path / "www"),
            ],
        )
        net.spawn(
            "b",
            [
                "dnsmasq",
                "--no-daemon",
                "--no-resolv",
                "--no-hosts",
                "--bind-interfaces",
                f"--listen-address={net.addr_b}",
                "--address=/track.rustnet.test/10.9.8.7",
                "--user=root",
                "--pid-file=" + str(tmp_path / "dnsmasq.pid"),
            ],
        )
        net.wait_port("b", 8000)
        net.wait_port("b", 53, udp=True)
        pipeline = (
            f"'{BIN}/rn-capture' -i {net.if_a} | '{BIN}/rn-dissect' | "
            f"'{BIN}/rn-track' --format json -r 200 > '{out}' 2> '{err}'"
        )
        pipe = net.spawn("a", ["bash", "-c", pipeline])
        wait_for(lambda: any(r.get("t") == "hdr" for r in records(out)), 15, "no header", err)

        curl = net.run(
            "a",
            ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"http://{net.addr_b}:8000/index.html"],
        )
        assert curl.stdout == b"200"
        dig = net.run("a", ["dig", "+short", "+tries=1", "+time=3", f"@{net.addr_b}", "track.rustnet.test"])
        assert dig.stdout.strip() == b"10.9.8.7"
        net.run("a", ["ping", "-c", "2", "-i", "0.2", net.addr_b])
        # Updates flow while it runs (every 200 ms of wall time when live).
        wait_for(lambda: any(r.get("dport") == 8000 for r in records(out)), 10, "no live HTTP update", err)
        time.sleep(0.5)  # the last packets of the exchange reach the capture
        os.killpg(pipe.pid, signal.SIGINT)  # Ctrl+C reaches the whole pipeline
        pipe.wait(timeout=20)

    recs = records(out)
    final = {r["id"]: r for r in recs if r.get("t") == "conn" and r.get("final")}
    assert final, err.read_text()
    http = [r for r in final.values() if r["proto"] == "tcp" and r["dport"] == 8000]
    assert len(http) == 1, final
    h = http[0]
    assert (h["src"], h["dst"]) == (net.addr_a, net.addr_b)
    assert h["state"] in ("TIME_WAIT", "CLOSED"), h
    assert h["local_side"] == "src"
    assert h["packets_src"] >= 4 and h["packets_dst"] >= 4 and h["bytes_dst"] > 1400
    assert h["http_host"] == f"{net.addr_b}:8000" and h["app"] == "HTTP"
    assert 0 <= h["rtt_ms"] < 1000
    dns = [r for r in final.values() if r["proto"] == "udp" and r["dport"] == 53]
    assert len(dns) == 1 and dns[0]["state"] == "DNS_RESPONSE" and dns[0]["dns_query"] == "track.rustnet.test"
    echo = [r for r in final.values() if r["proto"] == "icmp"]
    assert len(echo) == 1 and echo[0]["state"] == "ECHO_REPLY" and echo[0]["packets"] == 4
    assert echo[0]["src"] == net.addr_a
