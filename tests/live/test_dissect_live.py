"""rn-dissect on live traffic the corpus lacks, checked frame by frame against tshark.

Two namespaces joined by a veth pair (tests/netns.py) and real traffic: pings large enough
to fragment (IPv4 and IPv6), a UDP datagram that fragments, a UDP datagram to a closed port
(ICMP port unreachable), HTTP, ARP and neighbour discovery; plus 802.1Q and QinQ frames sent
through a packet socket on the veth (this kernel may have no 8021q module for VLAN devices).
``rn-capture -i <veth> -w live.pcap | rn-dissect`` runs meanwhile; tshark then reads
live.pcap (the very frames of the stream) and every summary must say what tshark says
about its frame: length, VLAN ids, top L4 protocol and ports or
ICMP type, and fragments only where tshark has no L4 yet.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests import dissect_frames as F
from tests.netns import TwoHosts, can_make_namespaces

BIN = Path(sys.executable).parent

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not can_make_namespaces(), reason="needs root and ip netns"),
]

UDP_SINK = (
    "import socket, sys\n"
    "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
    "s.bind((sys.argv[1], 9999))\n"
    "while True:\n"
    "    s.recvfrom(65535)\n"
)
UDP_SEND = (
    "import socket, sys\n"
    "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
    "s.sendto(b'u' * int(sys.argv[3]), (sys.argv[1], int(sys.argv[2])))\n"
)
INJECT = (
    "import socket, sys\n"
    "s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\n"
    "s.bind((sys.argv[1], 0))\n"
    "for frame in sys.argv[2:]:\n"
    "    s.send(bytes.fromhex(frame))\n"
)
L4_NAMES = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58, "arp": 2054}


def tshark_frames(pcap: Path) -> list[dict[str, Any]]:
    fields = [
        "frame.len",
        "frame.protocols",
        "vlan.id",
        "tcp.srcport",
        "tcp.dstport",
        "udp.srcport",
        "udp.dstport",
        "icmp.type",
        "icmpv6.type",
    ]
    argv = ["tshark", "-n", "-r", str(pcap), "-T", "fields", "-E", "separator=|", "-E", "occurrence=f"]
    for f in fields:
        argv += ["-e", f]
    out = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={**os.environ, "WIRESHARK_CONFIG_DIR": "/nonexistent"},
    )
    frames = []
    for line in out.stdout.splitlines():
        values = dict(zip(fields, line.split("|"), strict=True))
        protos = values["frame.protocols"].split(":")
        top = next((p for p in protos if p in L4_NAMES), None)
        frames.append({**values, "top": top})
    return frames


def vlan_ids(pcap: Path) -> list[list[int]]:
    """Every VLAN id of each frame, outer first: tshark names an 802.1ad outer tag apart."""
    out = subprocess.run(
        [
            "tshark",
            "-n",
            "-r",
            str(pcap),
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "ieee8021ad.id",
            "-e",
            "vlan.id",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    ids = []
    for line in out.stdout.splitlines():
        outer, inner = line.split("|")
        ids.append([int(x) for x in (outer.split(",") + inner.split(",")) if x])
    return ids


class Pipeline:
    """rn-capture in host a piped into rn-dissect here; rn-dissect's JSON collected as it arrives."""

    def __init__(self, net: TwoHosts, pcap: Path) -> None:
        self.cap_err = pcap.with_suffix(".capture.err")
        self.dis_err = pcap.with_suffix(".dissect.err")
        with open(self.cap_err, "wb") as cap_err, open(self.dis_err, "wb") as dis_err:
            self.cap = net.spawn(
                "a",
                [str(BIN / "rn-capture"), "-i", net.if_a, "-w", str(pcap)],
                stdout=subprocess.PIPE,
                stderr=cap_err,
            )
            assert self.cap.stdout is not None
            self.dis = subprocess.Popen(
                [str(BIN / "rn-dissect"), "--format", "json"],
                stdin=self.cap.stdout,
                stdout=subprocess.PIPE,
                stderr=dis_err,
                start_new_session=True,
            )
        self.cap.stdout.close()
        self.records: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.dis.stdout is not None
        with self.dis.stdout:
            for line in self.dis.stdout:
                self.records.append(json.loads(line))

    def started(self) -> None:
        deadline = time.monotonic() + 10
        while not self.records:
            assert time.monotonic() < deadline and self.dis.poll() is None, "no header from rn-dissect"
            time.sleep(0.02)

    def stop(self) -> None:
        os.kill(self.cap.pid, signal.SIGINT)
        assert self.cap.wait(timeout=10) == 0
        assert self.dis.wait(timeout=10) == 0
        self._reader.join(timeout=5)

    def kill(self) -> None:
        if self.dis.poll() is None:
            self.dis.kill()
            self.dis.wait()


def test_live_fragments_vlan_icmp_errors_match_tshark(tmp_path: Path) -> None:
    pcap = tmp_path / "live.pcap"
    www = tmp_path / "www"
    www.mkdir()
    (www / "page.html").write_bytes(b"<p>" + b"v" * 5000 + b"</p>")
    with TwoHosts() as net:
        net.spawn("b", ["python3", "-c", UDP_SINK, net.addr_b])
        net.spawn("b", ["python3", "-m", "http.server", "8000", "--bind", net.addr_b], cwd=str(www))
        net.wait_port("b", 9999, udp=True)
        net.wait_port("b", 8000)

        pipe = Pipeline(net, pcap)
        try:
            pipe.started()
            time.sleep(0.3)
            net.run("a", ["ping", "-c", "2", "-i", "0.2", "-s", "3000", net.addr_b])
            net.run("a", ["ping", "-6", "-c", "2", "-i", "0.2", "-s", "3000", net.addr6_b])
            net.run("a", ["python3", "-c", UDP_SEND, net.addr_b, "9999", "4000"])
            net.run("a", ["python3", "-c", UDP_SEND, net.addr_b, "9", "20"])  # closed: port unreachable
            tagged = [
                F.eth(F.ipv4(F.udp(b"tagged", sport=7000, dport=7001), proto=17), vlans=(100,)),
                F.eth(F.ipv4(F.tcp(flags=0x02, sport=7002, dport=7003)), vlans=(200, 300), tpid=0x88A8),
                F.eth(F.ipv6(F.icmp(128, 0, 5, 6, b"v6"), nxt=58), 0x86DD, vlans=(4000,)),
            ]
            net.run("a", ["python3", "-c", INJECT, net.if_a, *(f.hex() for f in tagged)])
            net.run("a", ["curl", "-sS", "-o", "/dev/null", f"http://{net.addr_b}:8000/page.html"])
            time.sleep(0.5)
            pipe.stop()
        finally:
            pipe.kill()
        assert pipe.dis_err.read_text() == "" and pipe.cap_err.read_text() == ""

    recs = pipe.records
    sums = [r for r in recs if r["t"] == "sum"]
    stats = [r for r in recs if r["t"] == "dstats"][-1]
    frames = tshark_frames(pcap)
    vlans = vlan_ids(pcap)
    assert stats["packets"] == len(frames) and stats["malformed"] == 0 and stats["truncated"] == 0
    ip_frames = [
        (f, v)
        for f, v in zip(frames, vlans, strict=True)
        if "ip" in f["frame.protocols"].split(":")
        or "ipv6" in f["frame.protocols"].split(":")
        or f["top"] == "arp"
    ]
    assert len(sums) == len(ip_frames) == len(frames) - stats["non_ip"]

    for s, (f, v) in zip(sums, ip_frames, strict=True):
        where = (s, f)
        assert s["wirelen"] == int(f["frame.len"]), where
        assert (s.get("vlan") or []) == v, where
        info = s.get("info") or {}
        if f["top"] is None:  # a fragment tshark has not reassembled yet
            assert info.get("frag") == "part", where
            continue
        assert info.get("frag") != "part", where
        assert s["proto"] == L4_NAMES[f["top"]], where
        if f["top"] in ("tcp", "udp"):
            top = f["top"]
            assert (s["sport"], s["dport"]) == (int(f[f"{top}.srcport"]), int(f[f"{top}.dstport"])), where
        elif f["top"] in ("icmp", "icmpv6"):
            assert s["sport"] == int(f[f"{f['top']}.type"]), where

    # What this traffic was made for is really there.
    parts = [s for s in sums if (s.get("info") or {}).get("frag") == "part"]
    lasts = [s for s in sums if (s.get("info") or {}).get("frag") == "last"]
    assert len(parts) >= 8 and any(":" in s["src"] for s in parts) and any("." in s["src"] for s in parts)
    assert any(s["proto"] == 17 and s["dport"] == 9999 and s["paylen"] == 4000 for s in lasts)
    assert any(s["proto"] == 1 and (s["sport"], s["dport"]) == (3, 3) for s in sums)
    assert any(s["proto"] == 6 and s["dport"] == 8000 and s["paylen"] > 0 for s in sums)
    assert [s["vlan"] for s in sums if s.get("vlan")] == [[100], [200, 300], [4000]]
    assert any(s["proto"] == 2054 for s in sums)
    assert stats["fragments"] == len(parts) + len(lasts)
