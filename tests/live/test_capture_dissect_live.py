"""``rn-capture -i IF --dissect`` live: the summaries rn-dissect gives for the very same frames.

In host "a" of two namespaces, ``rn-capture -i <veth> -w live.pcap --dissect`` runs while real
traffic passes (HTTP, DNS-shaped UDP, pings); then ``rn-capture -r live.pcap | rn-dissect``
dissects the frames it wrote, in two processes, and the summaries must be the same, one for
one. While the link is quiet the counters still follow (the Dissector's tick, once a second).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.netns import TwoHosts, can_make_namespaces, stop

BIN = Path(sys.executable).parent

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not can_make_namespaces(), reason="needs root and ip netns"),
]


def _lines(path: Path) -> list[Any]:
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def _summaries(recs: list[Any]) -> list[dict[str, Any]]:
    """The summaries (JSON Lines writes them as objects)."""
    return [r for r in recs if isinstance(r, dict) and r.get("t") == "sum"]


def test_live_dissecting_in_rn_capture_matches_rn_dissect_on_the_same_frames(tmp_path: Path) -> None:
    pcap, out = tmp_path / "live.pcap", tmp_path / "live.jsonl"
    with TwoHosts() as net:
        with open(out, "wb") as fh:
            cap = net.spawn(
                "a",
                [str(BIN / "rn-capture"), "-i", net.if_a, "-w", str(pcap), "--dissect", "--format", "json"],
                stdout=fh,
                stderr=subprocess.DEVNULL,
            )
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not any(
                isinstance(r, dict) and r.get("t") == "hdr" for r in _lines(out)
            ):
                time.sleep(0.05)
            time.sleep(0.3)
            net.spawn("b", [sys.executable, "-m", "http.server", "8000", "--bind", net.addr_b])
            net.wait_port("b", 8000)
            net.run("a", ["curl", "-s", "-o", "/dev/null", f"http://{net.addr_b}:8000/"])
            net.run("a", ["ping", "-c", "2", "-i", "0.2", net.addr_b], check=False)
            dns = "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(bytes.fromhex("
            dns += (
                "'123401000001000000000000076578616d706c6503636f6d0000010001'), ('" + net.addr_b + "', 53))"
            )
            net.run("a", [sys.executable, "-c", dns], check=False)
            # Quiet for longer than a tick: the counters come without a packet to carry them.
            time.sleep(2.5)
            quiet = _lines(out)
        finally:
            stop(cap)
    live = _lines(out)
    ref = subprocess.run(
        [
            "bash",
            "-o",
            "pipefail",
            "-c",
            f'"{BIN}/rn-capture" -r "$1" | "{BIN}/rn-dissect" --format json',
            "-",
        ]
        + [str(pcap)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    want = _summaries([json.loads(line) for line in ref.stdout.splitlines()])
    got = _summaries(live)
    assert want, ref.stdout[-2000:]
    assert got == want
    info = [r["info"] for r in got if isinstance(r.get("info"), dict)]
    assert any(i.get("http_host") == f"{net.addr_b}:8000" for i in info), info
    assert any(i.get("dns_query") == "example.com" for i in info), info
    # The latest tick counts every summary written before it, and it came after the last packet we
    # sent (the DNS query), while the link was quiet. (A packet may still arrive after it, a late
    # reply or the kernel's own traffic: its summary is not that tick's to count.)
    ticks = [i for i, r in enumerate(quiet) if isinstance(r, dict) and r.get("t") == "dstats"]
    assert ticks, quiet
    before = _summaries(quiet[: ticks[-1]])
    assert quiet[ticks[-1]]["packets"] >= len(before), quiet[ticks[-1]]
    queries = [r["info"].get("dns_query") for r in before if isinstance(r.get("info"), dict)]
    assert "example.com" in queries
    assert live[0]["t"] == "hdr" and live[0]["stages"] == ["rn-capture", "rn-dissect"]
