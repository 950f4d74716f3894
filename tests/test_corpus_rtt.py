"""Round trips on real captures of the corpus, against tshark where both measure the same thing:
the TCP handshake (tcp.analysis.initial_rtt: SYN, the latest one when it was resent, to the ACK
of the SYN-ACK), DNS response times (dns.time, the latest on each connection) and ICMP echo
(icmp.resptime / icmpv6.resptime, the latest between two hosts). The captures are from the
hosts that asked, which is what a capture file's originator is taken for."""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from rustnet.dissect.engine import Dissector
from rustnet.track.table import Tracker

from tests.corpus import PCAPS
from tests.corpus_records import packet_records

# Captures with plain handshakes (one of them resends its SYN), DNS over UDP, ICMP and ICMPv6.
CAPTURES = [
    "zeek_wikipedia.pcap",
    "ndpi_KakaoTalk_chat.pcap",
    "zeek_http_get.pcap",
    "tcpdump_dns_udp.pcap",
    "dpkt_dns_icmp.pcap",
    "zeek_icmp_5-pings.pcap",
    "zeek_icmp6-ping.pcap",
]

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


def pair(a: str, ap: Any, b: str, bp: Any) -> tuple[Any, ...]:
    x, y = (str(ipaddress.ip_address(a)), int(ap or 0)), (str(ipaddress.ip_address(b)), int(bp or 0))
    return (min(x, y), max(x, y))


def ours(pcap: Path) -> dict[tuple[Any, ...], list[dict[str, Any]]]:
    """Final records by (proto, endpoints), in-process: rn-dissect's and rn-track's stages."""
    d, t = Dissector(), Tracker()
    recs = t.process(d.process(packet_records(pcap))) + t.process(d.finish()) + t.finish()
    out: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in recs:
        if isinstance(r, dict) and r.get("t") == "conn" and r.get("final"):
            out.setdefault(
                (r["proto"], *pair(r["src"], r.get("sport"), r["dst"], r.get("dport"))), []
            ).append(r)
    return out


def tshark(pcap: Path, display: str, *fields: str) -> list[list[str]]:
    cmd = ["tshark", "-r", str(pcap), "-Y", display, "-T", "fields", "-E", "occurrence=f"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, timeout=120, check=True).stdout.decode()
    return [line.split("\t") for line in out.splitlines()]


def latest(rows: list[list[str]]) -> dict[tuple[Any, ...], float]:
    """The last value (ms) per endpoints, from rows of src4, src6, sport, dst4, dst6, dport, value."""
    out: dict[tuple[Any, ...], float] = {}
    for s4, s6, sp, d4, d6, dp, value in rows:
        out[pair(s4 or s6, sp, d4 or d6, dp)] = float(value) * 1000.0
    return out


ENDS = ("ip.src", "ipv6.src")
DSTS = ("ip.dst", "ipv6.dst")


@pytest.mark.parametrize("name", CAPTURES)
def test_round_trips_are_tsharks(name: str) -> None:
    pcap = PCAPS / name
    got = ours(pcap)
    checked = 0
    initial = latest(
        tshark(
            pcap,
            "tcp.analysis.initial_rtt",
            *ENDS,
            "tcp.srcport",
            *DSTS,
            "tcp.dstport",
            "tcp.analysis.initial_rtt",
        )
    )
    for ends, ms in initial.items():
        values = [r.get("rtt_initial_ms") for r in got[("tcp", *ends)]]
        assert pytest.approx(ms, abs=0.002) in values, (ends, values)
        checked += 1
    dns = latest(
        tshark(pcap, "dns.time && udp.port == 53", *ENDS, "udp.srcport", *DSTS, "udp.dstport", "dns.time")
    )
    for ends, ms in dns.items():
        values = [r.get("dns_response_ms") for r in got[("udp", *ends)]]
        assert pytest.approx(ms, abs=0.002) in values, (ends, values)
        checked += 1
    echo = tshark(pcap, "icmp.resptime || icmpv6.resptime", *ENDS, *DSTS, "icmp.resptime", "icmpv6.resptime")
    pings = latest([[s4, s6, 0, d4, d6, 0, str(float(v4 or v6) / 1000.0)] for s4, s6, d4, d6, v4, v6 in echo])
    for ends, ms in pings.items():
        (r,) = got.get(("icmp", *ends), []) + got.get(("icmpv6", *ends), [])
        assert (r.get("rtt_ms"), r.get("rtt_kind")) == (pytest.approx(ms, abs=0.002), "icmp_echo"), ends
        checked += 1
    assert checked  # each capture has something tshark times


QUIC_CAPTURES = [
    "zeek_quic_curl-8.1.2-http3-www-google-de.pcap",
    "zeek_quic_win11_firefox_google.pcap",
    "xargs_illustrated-quic.pcap",
    "suricata_quic-retry.pcap",  # the client resends its Initial before the Retry comes
    "zeek_quic_chromium-115-api-cirrus-com.pcap",
]


@pytest.mark.parametrize("name", QUIC_CAPTURES)
def test_quic_handshake_rtt_from_tsharks_packet_types(name: str) -> None:
    """The client's latest datagram starting with an Initial or Handshake packet (v1 types 0, 2)
    before the server's first datagram, to that datagram."""
    pcap = PCAPS / name
    rows = tshark(
        pcap, "quic", "frame.time_epoch", *ENDS, "udp.srcport", *DSTS, "udp.dstport", "quic.long.packet_type"
    )
    client = rows[0][1:4]
    sent = None
    for when, s4, s6, sp, _d4, _d6, _dp, types in rows:
        if [s4, s6, sp] == client:
            if types.split(",")[0] in ("0", "2"):
                sent = float(when)
        else:
            break
    assert sent is not None
    took = (float(when) - sent) * 1000.0
    (r,) = ours(pcap)[
        ("udp", *pair(rows[0][1] or rows[0][2], rows[0][3], rows[0][4] or rows[0][5], rows[0][6]))
    ]
    assert (r["rtt_ms"], r["rtt_kind"], r["rtt_initial_ms"]) == (
        pytest.approx(took, abs=0.002),
        "quic_handshake",
        r["rtt_ms"],
    )
