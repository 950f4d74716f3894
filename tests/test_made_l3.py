"""UDP tunnels, link types and IP fragments on captures made for them (tests/data/made/README.md).

Each capture's truth (``<capture>.truth.json``) is tshark's, written by make_truth.py: its
TCP/UDP conversations with exact frames and bytes (a tunnelled frame counts in its outer
and its inner conversation), the HTTP hosts, DNS names asked and answers read.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

MADE = Path(__file__).resolve().parent / "data" / "made"
BIN = Path(sys.executable).parent

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


def pipeline(name: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The final connection records of ``rn-capture -r | rn-dissect | rn-track``, and the last dstats."""
    cap = subprocess.run([BIN / "rn-capture", "-r", MADE / name], capture_output=True, check=True, timeout=60)
    dis = subprocess.run([BIN / "rn-dissect"], input=cap.stdout, capture_output=True, check=True, timeout=60)
    trk = subprocess.run(
        [BIN / "rn-track", "--format", "json"], input=dis.stdout, capture_output=True, check=True, timeout=60
    )
    conns = [
        r
        for r in map(json.loads, trk.stdout.decode().splitlines())
        if r.get("t") == "conn" and r.get("final")
    ]
    js = subprocess.run(
        [BIN / "rn-dissect", "--format", "json"],
        input=cap.stdout,
        capture_output=True,
        check=True,
        timeout=60,
    )
    dstats = [r for r in map(json.loads, js.stdout.decode().splitlines()) if r["t"] == "dstats"][-1]
    return conns, dstats


def truth(name: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads((MADE / (Path(name).stem + ".truth.json")).read_text())
    return out


def conversations(conns: list[dict[str, Any]]) -> list[list[Any]]:
    """Our TCP/UDP connections as tshark lists conversations (endpoints in either order)."""
    out = []
    for c in conns:
        if c["proto"] in ("tcp", "udp"):
            ends = sorted([(c["src"], c["sport"]), (c["dst"], c["dport"])])
            out.append([c["proto"], *ends[0], *ends[1], c["packets"], c["bytes"]])
    return sorted(out)


def truth_conversations(name: str) -> list[list[Any]]:
    out = []
    for proto, a, ap, b, bp, frames, size in truth(name)["conversations"]:
        ends = sorted([(a, ap), (b, bp)])
        out.append([proto, *ends[0], *ends[1], frames, size])
    return sorted(out)


@pytest.mark.parametrize(
    ("name", "tunnel"),
    [
        ("vxlan.pcap", "vxlan 42 10.77.144."),
        ("geneve.pcap", "geneve 7 10.9.0."),
        ("teredo.pcap", "teredo "),
    ],
)
def test_udp_tunnels_carry_their_inner_flows_like_tshark(name: str, tunnel: str) -> None:
    conns, _ = pipeline(name)
    assert conversations(conns) == truth_conversations(name)
    inner = [c for c in conns if "tunnel" in c]
    assert inner and all(c["tunnel"].startswith(tunnel) and "\u2192" in c["tunnel"] for c in inner)
    # The outer flows are plain UDP flows, as before.
    assert all(
        c["dport"] in (4789, 6081, 3544, 40000) for c in conns if c["proto"] == "udp" and "tunnel" not in c
    )
    assert sorted(c["http_host"] for c in conns if "http_host" in c) == sorted(truth(name)["http_hosts"])
    asked = sorted(q for c in conns for q in c.get("dns_queries", []))
    assert asked == sorted(truth(name)["dns_queries"])


def test_arp_and_icmp_inside_vxlan_are_their_own_flows() -> None:
    conns, _ = pipeline("vxlan.pcap")
    arp = [c for c in conns if c["proto"] == "arp"]
    assert {(c["src"], c["dst"]) for c in arp} == {("192.168.42.1", "192.168.42.2")}
    assert all(c["tunnel"].startswith("vxlan 42 ") for c in arp)
    icmp = {
        frozenset((c["src"], c["dst"])) for c in conns if c["proto"] in ("icmp", "icmpv6") and "tunnel" in c
    }
    assert {frozenset(("192.168.42.1", "192.168.42.2")), frozenset(("fd42::1", "fd42::2"))} <= icmp


def test_nflog_link_type_is_read_like_tshark() -> None:
    conns, dstats = pipeline("nflog.pcap")
    assert dstats["other"] == 0
    assert conversations(conns) == truth_conversations("nflog.pcap")
    assert sorted(q for c in conns for q in c.get("dns_queries", [])) == sorted(
        truth("nflog.pcap")["dns_queries"]
    )


@needs_tshark
@pytest.mark.parametrize(
    "name", ["vxlan.pcap", "geneve.pcap", "teredo.pcap", "dns-frag.pcap", "mdns6-frag.pcap", "nflog.pcap"]
)
def test_stored_truth_is_tsharks(name: str) -> None:
    sys.path.insert(0, str(MADE))
    try:
        import make_truth  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(MADE))
    assert make_truth.truth(MADE / name) == truth(name)


@pytest.mark.parametrize("name", ["dns-frag.pcap", "nflog.pcap"])
def test_fragmented_dns_answers_reach_dpi(name: str) -> None:
    conns, dstats = pipeline(name)
    assert conversations(conns) == truth_conversations(name)
    dns = [c for c in conns if c["proto"] == "udp"]
    assert len(dns) == 2
    for c in dns:
        assert c["app"] == "DNS" and c["dns_rcode"] == "NOERROR"
        assert c["dns_answers"] == ["big.frag.test TXT"]
    assert sorted(a for c in dns for a in c["dns_answers"]) == sorted(
        a for a in truth(name)["dns_answers"] if a.endswith(" TXT")
    )
    assert dstats["fragments"] == 6 and dstats["reassembled"] == 2 and dstats["reassembly_dropped"] == 0


def test_mdns_in_ipv6_fragments_is_read_and_overlapping_ones_are_dropped() -> None:
    conns, dstats = pipeline("mdns6-frag.pcap")
    assert conversations(conns) == truth_conversations("mdns6-frag.pcap")
    (c,) = conns
    assert c["app"] == "MDNS"
    # tshark reads both answers; we read the first and drop the overlapping one (RFC 5722).
    assert sorted(c["dns_answers"]) == [
        "_demo._tcp.local PTR printer._demo._tcp.local",
        "printer._demo._tcp.local TXT",
    ]
    assert {a.split(" ")[0] for a in c["dns_answers"]} == set(
        a.split(" ")[0] for a in truth("mdns6-frag.pcap")["dns_answers"]
    )
    assert dstats["reassembled"] == 1 and dstats["reassembly_dropped"] == 1


def test_details_show_the_tunnel_of_an_inner_flow() -> None:
    from rustnet.dissect.engine import Dissector
    from rustnet.track.table import Tracker
    from rustnet.view.model import ConnTable
    from rustnet.view.render import details_lines
    from rustnet.view.state import ViewState

    from tests.corpus_records import packet_records

    recs = packet_records(MADE / "vxlan.pcap")
    dissector, tracker = Dissector(), Tracker()
    out = tracker.process(dissector.process(recs)) + tracker.finish()
    table = ConnTable()
    table.ingest(out)
    state = ViewState(table)
    shown = []
    for _ in range(len(table.rows)):
        shown += [v for label, v in details_lines(state) if label == "Tunnel" and v != "-"]
        state.move(1)
    assert shown and all(v.startswith("vxlan 42 10.77.144.") and "\u2192" in v for v in shown)
