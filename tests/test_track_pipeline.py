"""rn-capture -r | rn-dissect | rn-track over real captures, checked against tshark's truth.

Per capture: every TCP/UDP conversation with exact packet and byte totals (summed over
generations of a reused tuple, as tshark splits streams), the final TCP state agreeing
with what tshark saw (RST -> CLOSED; FINs both ways -> an active or passive close end
state; a handshake -> open), the originator of handshakes, VLAN ids, echo and ARP states.
"""

from __future__ import annotations

import collections
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.corpus import CORPUS

BIN = Path(sys.executable).parent
ENGINE = Path(__file__).resolve().parents[1] / "lib" / "rustnet" / "dissect" / "engine.py"
CAPTURES = [
    "dpkt_http.pcap",
    "zeek_wikipedia.pcap",
    "zeek_tcp_rst-inject-rae.pcap",
    "zeek_tcp_syn-then-ack-then-rst.pcap",
    "zeek_tcp_qi_internet_SYNACK_curl_jsonip.pcap",
    "zeek_vlan-qinqinq.pcap",
    "tcpdump_dns_udp.pcap",
    "zeek_icmp_5-pings.pcap",
    "zeek_icmp6-ping.pcap",
    "zeek_communityid_arp.pcap",
    "ndpi_quic_cc_ack.pcapng",
    "zeek_ssh_single-conn.pcap",
    "ndpi_android.pcap",
]
CLOSE_END = {"TIME_WAIT", "CLOSED", "CLOSING", "LAST_ACK", "FIN_WAIT2", "FIN_WAIT1"}
OPEN = {"ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "CLOSE_WAIT", "LAST_ACK", "CLOSING"}

pytestmark = pytest.mark.skipif(
    not ENGINE.exists() or not (BIN / "rn-dissect").exists(), reason="needs rn-capture/rn-dissect"
)


def track(pcap: Path) -> list[dict[str, Any]]:
    cmd = f"'{BIN}/rn-capture' -r '{pcap}' | '{BIN}/rn-dissect' | '{BIN}/rn-track' --format json"
    p = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    recs = [json.loads(line) for line in p.stdout.splitlines()]
    conns = [r for r in recs if r.get("t") == "conn"]
    final = [r for r in conns if r.get("final")]
    assert len({r["id"] for r in final}) == len(final) == len({r["id"] for r in conns})
    return final


def key(proto: str, a: str, ap: int, b: str, bp: int) -> tuple[Any, ...]:
    return (proto, *sorted([(a, ap or 0), (b, bp or 0)]))


@pytest.mark.parametrize("name", CAPTURES)
def test_capture_against_tshark(name: str) -> None:
    truth = json.loads((CORPUS / "truth" / f"{name}.json").read_text())
    final = track(CORPUS / "pcaps" / name)
    by_key: dict[tuple[Any, ...], list[dict[str, Any]]] = collections.defaultdict(list)
    for r in final:
        by_key[key(r["proto"], r["src"], r["sport"], r["dst"], r["dport"])].append(r)

    want: dict[tuple[Any, ...], list[int]] = collections.defaultdict(lambda: [0, 0])
    for proto in ("tcp", "udp"):
        for c in truth[f"{proto}_conversations"]:
            k = key(proto, c["a"], c["a_port"], c["b"], c["b_port"])
            want[k][0] += c["frames"]
            want[k][1] += c["bytes"]
    for k, (frames, nbytes) in want.items():
        rs = by_key.get(k, [])
        assert (sum(r["packets"] for r in rs), sum(r["bytes"] for r in rs)) == (frames, nbytes), k

    for c in truth["tcp_conversations"]:
        rs = by_key[key("tcp", c["a"], c["a_port"], c["b"], c["b_port"])]
        last = max(rs, key=lambda r: r["last_seen"])
        t = c["tcp"]
        if t["rst_seen"]:
            assert last["state"] == "CLOSED", (c, last)
        elif t["fin_both_directions"]:
            assert last["state"] in CLOSE_END, (c, last)
        elif t["handshake_seen"]:
            assert last["state"] in OPEN, (c, last)
        if t["handshake_seen"] or t["first_flags"] == "S":
            first = min(rs, key=lambda r: r["first_seen"])
            assert (first["src"], first["sport"]) == (c["a"], c["a_port"])  # the SYN sender
        elif t["first_flags"] == "SA":
            # Seen from a lone SYN-ACK (tshark's a sent it): its receiver opened the connection.
            first = min(rs, key=lambda r: r["first_seen"])
            assert (first["src"], first["sport"]) == (c["b"], c["b_port"]), (c, first)
        if t["handshake_seen"] and t["synack_b"]:
            assert any("rtt_ms" in r for r in rs)

    for ids in truth["vlan"]["id_stacks"]:
        assert any(r.get("vlan") == [int(v) for v in ids.split(",")] for r in final), ids
    if truth["icmp_echo"]:
        replies = {(e["dst"], e["src"]) for e in truth["icmp_echo"] if e.get("type") == "reply"}
        answered = [r for r in final if r["proto"].startswith("icmp") and (r["src"], r["dst"]) in replies]
        assert answered and all(r["state"] == "ECHO_REPLY" for r in answered)
    for p in truth["arp"]["packets"]:
        assert any(
            r["proto"] == "arp" and {r["src"], r["dst"]} == {p["sender_ip"], p["target_ip"]} for r in final
        )
    for m in truth["dns"]["messages"]:
        if m.get("response") and m.get("transport", "udp") == "udp" and 53 in (m["sport"], m["dport"]):
            rs = by_key[key("udp", m["src"], m["sport"], m["dst"], m["dport"])]
            assert any(r["state"] == "DNS_RESPONSE" for r in rs)
    for cc in truth["quic"]["connection_close"]:
        rs = by_key.get(key("udp", cc["src"], cc["sport"], cc["dst"], cc["dport"]), [])
        assert any(r["state"] in ("QUIC_DRAINING", "QUIC_CLOSED") for r in rs), cc


def test_replay_is_deterministic() -> None:
    pcap = CORPUS / "pcaps" / "zeek_wikipedia.pcap"
    assert track(pcap) == track(pcap)
