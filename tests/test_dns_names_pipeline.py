"""Hostnames from DNS answers through the real commands (rn-capture -r | rn-dissect | rn-track
| rn-enrich), from hand-built packets: only an answer to a query seen names an address.

Each capture holds some DNS exchange, then a TCP connection to the answered address; the
connection record must carry the name (marked as inferred from DNS, ``hostname_dst_via``
``dns``) only when the answer matched its query (same id, addresses and ports swapped,
within the answer window).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import dpkt
import pytest

BIN = Path(sys.executable).parent
T0 = 1_700_000_000.0
CLIENT, RESOLVER, WEB = "10.0.0.5", "10.0.0.53", "192.0.2.10"
MAC_A, MAC_B = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")

Frame = tuple[float, bytes]


def _ip(text: str) -> bytes:
    return bytes(map(int, text.split(".")))


def _eth(src: str, dst: str, l4: dpkt.Packet, proto: int) -> bytes:
    ip = dpkt.ip.IP(src=_ip(src), dst=_ip(dst), p=proto, ttl=64, data=l4)
    ip.len = 20 + len(bytes(l4))
    return bytes(dpkt.ethernet.Ethernet(src=MAC_A, dst=MAC_B, type=dpkt.ethernet.ETH_TYPE_IP, data=ip))


def _udp(src: str, sport: int, dst: str, dport: int, payload: bytes) -> bytes:
    dg = dpkt.udp.UDP(sport=sport, dport=dport, data=payload)
    dg.ulen = 8 + len(payload)
    return _eth(src, dst, dg, dpkt.ip.IP_PROTO_UDP)


def _query(ident: int, name: str) -> bytes:
    q = dpkt.dns.DNS(id=ident, op=dpkt.dns.DNS_RD, qd=[dpkt.dns.DNS.Q(name=name, type=dpkt.dns.DNS_A)])
    return bytes(q)


def _response(ident: int, name: str, address: str) -> bytes:
    an = dpkt.dns.DNS.RR(name=name, type=dpkt.dns.DNS_A, ttl=60, ip=_ip(address))
    r = dpkt.dns.DNS(
        id=ident,
        op=0x8180,  # QR (a response), RD, RA, NOERROR
        qd=[dpkt.dns.DNS.Q(name=name, type=dpkt.dns.DNS_A)],
        an=[an],
    )
    return bytes(r)


def _syn(ts: float, dst: str) -> Frame:
    seg = dpkt.tcp.TCP(sport=50000, dport=443, seq=1000, flags=dpkt.tcp.TH_SYN, win=64240)
    return ts, _eth(CLIENT, dst, seg, dpkt.ip.IP_PROTO_TCP)


def _pipeline(tmp: Path, frames: list[Frame]) -> list[dict[str, Any]]:
    pcap = tmp / "dns.pcap"
    with pcap.open("wb") as f:
        w = dpkt.pcap.Writer(f, linktype=dpkt.pcap.DLT_EN10MB, snaplen=65535)
        for ts, frame in frames:
            w.writepkt(frame, ts=T0 + ts)
    cmd = (
        f"'{BIN}/rn-capture' -r '{pcap}' | '{BIN}/rn-dissect' | '{BIN}/rn-track' "
        f"| '{BIN}/rn-enrich' --format json"
    )
    p = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    return [r for line in p.stdout.splitlines() if (r := json.loads(line)).get("t") == "conn"]


def _web_names(conns: list[dict[str, Any]]) -> set[tuple[Any, Any]]:
    """(hostname_dst, hostname_dst_via) of every record of the connection to WEB."""
    got = {(r.get("hostname_dst"), r.get("hostname_dst_via")) for r in conns if r.get("dst") == WEB}
    assert got, "no record of the connection to the answered address"
    return got


def test_answer_to_a_query_seen_names_the_address_as_inferred(tmp_path: Path) -> None:
    frames = [
        (0.0, _udp(CLIENT, 40000, RESOLVER, 53, _query(0x1111, "good.example"))),
        (0.05, _udp(RESOLVER, 53, CLIENT, 40000, _response(0x1111, "good.example", WEB))),
        _syn(0.1, WEB),
    ]
    conns = _pipeline(tmp_path, frames)
    assert _web_names(conns) == {("good.example", "dns")}
    dns = [r for r in conns if r.get("dport") == 53 and r.get("final")]
    assert dns and dns[0]["dns_resolved"] == [f"{WEB} good.example"]


@pytest.mark.parametrize(
    ("case", "frames"),
    [
        (
            "spoofed answer, no query",
            [(0.05, _udp(RESOLVER, 53, CLIENT, 40001, _response(0x2222, "update.microsoft.com", WEB)))],
        ),
        (
            "wrong id",
            [
                (0.0, _udp(CLIENT, 40002, RESOLVER, 53, _query(0x3333, "wrongid.example"))),
                (0.05, _udp(RESOLVER, 53, CLIENT, 40002, _response(0x3334, "wrongid.example", WEB))),
            ],
        ),
        (
            "wrong port",
            [
                (0.0, _udp(CLIENT, 40003, RESOLVER, 53, _query(0x4444, "wrongport.example"))),
                (0.05, _udp(RESOLVER, 53, CLIENT, 40004, _response(0x4444, "wrongport.example", WEB))),
            ],
        ),
        (
            "late answer",
            [
                (0.0, _udp(CLIENT, 40005, RESOLVER, 53, _query(0x5555, "late.example"))),
                (7.0, _udp(RESOLVER, 53, CLIENT, 40005, _response(0x5555, "late.example", WEB))),
            ],
        ),
        (
            "answer before its query",
            [
                (0.0, _udp(RESOLVER, 53, CLIENT, 40006, _response(0x6666, "early.example", WEB))),
                (0.01, _udp(CLIENT, 40006, RESOLVER, 53, _query(0x6666, "early.example"))),
            ],
        ),
        (
            "mDNS announcement",
            [(0.0, _udp(RESOLVER, 5353, "224.0.0.251", 5353, _response(0, "printer.local", WEB)))],
        ),
    ],
)
def test_answer_that_answers_no_query_seen_names_nothing(
    tmp_path: Path, case: str, frames: list[Frame]
) -> None:
    conns = _pipeline(tmp_path, [*frames, _syn(frames[-1][0] + 0.1, WEB)])
    assert _web_names(conns) == {(None, None)}, case
    answers = [a for r in conns for a in r.get("dns_answers", [])]
    assert answers, "the answer itself is still shown"
