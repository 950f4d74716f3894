"""rn-export into a real collector: nfcapd (Debian's nfdump package) on loopback, read back by nfdump.

For captures of the corpus, the flows nfdump stored must be rn-track's final records (one flow
each; addresses, ports, protocol, packets per direction, first and last packet to the ms), and the
octets each way must be what tshark counts at the IP layer (IPv4 total length, IPv6 payload length
plus its 40-byte header) for those captures, whose frames carry no link-layer padding. Meanwhile
every record comes out of rn-export unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rustnet.stream import open_inputs

from tests.corpus import PCAPS

BIN = Path(sys.executable).parent
pytestmark = [
    pytest.mark.slow,  # a collector and a pipeline per capture: about 30 s in all
    pytest.mark.skipif(shutil.which("nfcapd") is None, reason="nfdump not installed (make deps)"),
]

CAPTURES = [
    "zeek_communityid_ipv6.pcap",  # IPv6 TCP
    "ndpi_http_ipv6.pcap",  # IPv6, many connections
    "dpkt_http.pcap",  # IPv4 TCP
    "tcpdump_dns_udp.pcap",  # IPv4 UDP
    "zeek_http-vlan-0.pcap",  # 802.1Q-tagged frames: 18 bytes before IP
    "zeek_icmp_5-pings.pcap",  # ICMP: no ports
    "zeek_icmp6-ping.pcap",  # ICMPv6
    "zeek_linux_dlt_sll2.pcap",  # Linux cooked capture v2: 20 bytes before IP; ARP is not exported
    "zeek_tcp_syn-then-ack-then-rst.pcap",  # the two sides' TCP flags differ
]
PROTOS = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58}


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


class Collector:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.port = free_udp_port()
        self.log = open(directory.parent / "nfcapd.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            ["nfcapd", "-w", str(directory), "-b", "127.0.0.1", "-p", str(self.port), "-t", "3600"],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while not port_taken(self.port):
            assert self.proc.poll() is None, "nfcapd did not start"
            assert time.monotonic() < deadline, "nfcapd did not listen"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # nfcapd writes its file out at exit
            self.proc.wait(timeout=20)
        self.log.close()

    def flows(self) -> list[dict[str, Any]]:
        p = subprocess.run(
            ["nfdump", "-R", str(self.dir), "-o", "json"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "TZ": "UTC"},
        )
        assert p.returncode == 0, p.stderr
        text = p.stdout.replace("No matching flows", "")
        return list(json.loads(text)) if text.strip() else []


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Collector]:
    (tmp_path / "flows").mkdir()
    c = Collector(tmp_path / "flows")
    try:
        yield c
    finally:
        c.stop()


def records(out: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.decode().splitlines() if line.strip()]


def tshark_ip_octets(pcap: Path) -> Counter[tuple[Any, ...]]:
    """IP-layer octets sent per (proto, src, sport, dst, dport), from tshark's dissection."""
    fields = ["ip.proto", "ipv6.nxt", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "ip.len", "ipv6.plen"]
    fields += ["tcp.srcport", "udp.srcport", "tcp.dstport", "udp.dstport"]
    p = subprocess.run(
        ["tshark", "-n", "-r", str(pcap), "-T", "fields", *sum((["-e", f] for f in fields), [])],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    out: Counter[tuple[Any, ...]] = Counter()
    for line in p.stdout.splitlines():
        v = [x.split(",")[0] for x in line.split("\t")]  # the outer header's (an ICMP error quotes one)
        proto = v[0] or v[1]
        if not proto:
            continue  # not IP (ARP)
        length = int(v[6]) if v[6] else int(v[7]) + 40
        icmp = proto in ("1", "58")  # no ports (an error's quoted ports are not the flow's)
        sport = 0 if icmp else int(v[8] or v[9] or 0)
        dport = 0 if icmp else int(v[10] or v[11] or 0)
        out[(int(proto), v[2] or v[3], sport, v[4] or v[5], dport)] += length
    return out


def ms(text: str) -> int:
    dt = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)
    return round(dt.timestamp() * 1000)


def read_stream(path: Path) -> list[dict[str, Any]]:
    out: list[Any] = []
    for reader in open_inputs([str(path)]):
        while not reader.done:
            out += reader.poll(None)
    return out


@pytest.mark.parametrize("name", CAPTURES)
def test_nfdump_reads_back_rn_tracks_final_records(name: str, collector: Collector, tmp_path: Path) -> None:
    pcap = PCAPS / name
    tracked = tmp_path / "tracked.rn"
    p = subprocess.run(
        f"{BIN / 'rn-capture'} -r {pcap} | {BIN / 'rn-dissect'} | {BIN / 'rn-track'} > {tracked}",
        shell=True,
        capture_output=True,
        timeout=120,
        executable="/bin/bash",
    )
    assert p.returncode == 0, p.stderr
    want = read_stream(tracked)
    final = [r for r in want if r.get("t") == "conn" and r.get("final") and r["proto"] != "arp"]
    assert final

    exported = subprocess.run(
        [str(BIN / "rn-export"), "--ipfix", f"127.0.0.1:{collector.port}", "--active-timeout", "0"]
        + ["--format", "json", str(tracked)],
        capture_output=True,
        timeout=120,
    )
    assert exported.returncode == 0, exported.stderr
    assert exported.stderr == b""
    # every record passes through unchanged; the header gains rn-export in its stages
    passed = records(exported.stdout)
    assert [r for r in passed if r["t"] != "hdr"] == [r for r in want if r["t"] != "hdr"]
    assert passed[0]["stages"][-1] == "rn-export"

    time.sleep(0.3)  # the last datagram reaches nfcapd
    collector.stop()
    flows = collector.flows()

    def from_records(r: dict[str, Any]) -> tuple[Any, ...]:
        return (
            PROTOS[r["proto"]],
            r["src"],
            r.get("sport", 0),
            r["dst"],
            r.get("dport", 0),
            r["packets_src"],
            r["packets_dst"],
            round(r["first_seen"] * 1000),
            round(r["last_seen"] * 1000),
        )

    def from_nfdump(f: dict[str, Any]) -> tuple[Any, ...]:
        return (
            f["proto"],
            f.get("src4_addr") or f["src6_addr"],
            f.get("src_port", 0),
            f.get("dst4_addr") or f["dst6_addr"],
            f.get("dst_port", 0),
            f["in_packets"],
            f["out_packets"],
            ms(f["first"]),
            ms(f["last"]),
        )

    assert Counter(map(from_nfdump, flows)) == Counter(map(from_records, final))

    # TCP flags: nfdump keeps the originator's (its letters CEUAPRSF, 0x80 down to 0x01)
    def letters(bits: int) -> str:
        return "".join(c if bits & (0x80 >> i) else "." for i, c in enumerate("CEUAPRSF"))

    tcp_flags = Counter((f["src_port"], f["dst_port"], f["tcp_flags"]) for f in flows if f["proto"] == 6)
    assert tcp_flags == Counter(
        (r["sport"], r["dport"], letters(r["tcp_flags_src"])) for r in final if r["proto"] == "tcp"
    )

    # octets per direction, at the IP layer, as tshark counts them
    sent: Counter[tuple[Any, ...]] = Counter()
    for f in flows:
        src, dst = f.get("src4_addr") or f["src6_addr"], f.get("dst4_addr") or f["dst6_addr"]
        sport, dport = f.get("src_port", 0), f.get("dst_port", 0)
        if f["proto"] in (1, 58):
            sport = dport = 0
        sent[(f["proto"], src, sport, dst, dport)] += f["in_bytes"]
        sent[(f["proto"], dst, dport, src, sport)] += f["out_bytes"]
    assert +sent == +tshark_ip_octets(pcap)


def test_rustnet_ipfix_adds_the_exporter_to_its_pipeline(collector: Collector) -> None:
    pcap = PCAPS / "ndpi_http_ipv6.pcap"
    plain = subprocess.run(
        [str(BIN / "rustnet"), "--read", str(pcap), "--json"], capture_output=True, timeout=120
    )
    assert plain.returncode == 0, plain.stderr
    p = subprocess.run(
        [str(BIN / "rustnet"), "--read", str(pcap), "--json", "--ipfix", f"127.0.0.1:{collector.port}"],
        capture_output=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout == plain.stdout  # what rustnet shows is the same
    final = records(p.stdout)
    time.sleep(0.3)
    collector.stop()
    flows = collector.flows()
    # rn-export's default active timeout (300 s) does not split this capture's connections
    assert sorted((f["src_port"], f["in_packets"], f["out_packets"]) for f in flows) == sorted(
        (r["sport"], r["packets_src"], r["packets_dst"]) for r in final
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--ipfix", "collector"], "--ipfix: 'collector' is not HOST:PORT"),
        (["--ipfix-tcp"], "--ipfix-tcp needs --ipfix HOST:PORT"),
    ],
)
def test_rustnet_ipfix_usage_errors(args: list[str], message: str) -> None:
    pcap = PCAPS / "tcpdump_dns_udp.pcap"
    p = subprocess.run(
        [str(BIN / "rustnet"), "--read", str(pcap), "--json", *args], capture_output=True, timeout=60
    )
    assert p.returncode == 2
    assert message in p.stderr.decode()


def test_active_timeout_flows_add_up_to_the_connection_in_nfdump(
    collector: Collector, tmp_path: Path
) -> None:
    pcap = PCAPS / "zeek_communityid_ipv6.pcap"  # one TCP connection over 11.4 s
    tracked = tmp_path / "tracked.rn"
    p = subprocess.run(
        f"{BIN / 'rn-capture'} -r {pcap} | {BIN / 'rn-dissect'} | {BIN / 'rn-track'} > {tracked}",
        shell=True,
        capture_output=True,
        timeout=120,
        executable="/bin/bash",
    )
    assert p.returncode == 0, p.stderr
    (final,) = [r for r in read_stream(tracked) if r.get("t") == "conn" and r.get("final")]
    exported = subprocess.run(
        [
            str(BIN / "rn-export"),
            "--ipfix",
            f"127.0.0.1:{collector.port}",
            "--active-timeout",
            "3",
            str(tracked),
        ],
        capture_output=True,
        timeout=120,
    )
    assert exported.returncode == 0, exported.stderr
    time.sleep(0.3)
    collector.stop()
    flows = sorted(collector.flows(), key=lambda f: ms(f["first"]))
    assert len(flows) >= 2  # a period of at least 3 s (rn-track's update at 9.2 s), then the end
    assert sum(f["in_packets"] for f in flows) == final["packets_src"]
    assert sum(f["out_packets"] for f in flows) == final["packets_dst"]
    assert sum(f["in_bytes"] + f["out_bytes"] for f in flows) == final["bytes"] - 14 * final["packets"]
    assert ms(flows[0]["first"]) == round(final["first_seen"] * 1000)
    assert ms(flows[-1]["last"]) == round(final["last_seen"] * 1000)
    # each period starts where the previous one ended
    assert all(ms(a["last"]) == ms(b["first"]) for a, b in zip(flows, flows[1:], strict=False))
