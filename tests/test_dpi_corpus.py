"""The Inspector straight over corpus captures (dpkt for L2-L4), against the tshark truth.

The full pipeline is scored by ../shared/tools/corpus_score.py; this checks the DPI layer
alone, so a regression here points at the parsers rather than at another stage.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import dpkt
import pytest
from rustnet.dissect.dpi import Inspector

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
FILES = ["xargs_illustrated-tls13.pcap", "xargs_illustrated-tls12.pcap", "zeek_tls_tls1.2.pcap",
         "zeek_tls_chrome-1250-tls-x25519-kyber.pcap", "ndpi_chrome.pcap", "tcpdump_ssh.pcap",
         "zeek_ssh_single-conn.pcap", "tcpdump_dns_tcp.pcap", "tcpdump_dns_udp.pcap", "zeek_http_get.pcap",
         "ndpi_tls_ech.pcapng"]

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="corpus not present")


def _key(proto: str, a: str, ap: int, b: str, bp: int) -> tuple[Any, ...]:
    return (proto, *sorted(((a, ap), (b, bp))))


def _run(path: Path) -> dict[tuple[Any, ...], dict[str, set[str]]]:
    insp = Inspector()
    found: dict[tuple[Any, ...], dict[str, set[str]]] = {}
    with path.open("rb") as fh:
        reader = dpkt.pcapng.Reader(fh) if path.suffix == ".pcapng" else dpkt.pcap.Reader(fh)
        link = {dpkt.pcap.DLT_EN10MB: dpkt.ethernet.Ethernet, dpkt.pcap.DLT_NULL: dpkt.loopback.Loopback,
                dpkt.pcap.DLT_LINUX_SLL: dpkt.sll.SLL}[reader.datalink()]
        for ts, frame in reader:
            ip = link(frame).data
            if not isinstance(ip, (dpkt.ip.IP, dpkt.ip6.IP6)):
                continue
            l4 = ip.data
            fam = socket.AF_INET if isinstance(ip, dpkt.ip.IP) else socket.AF_INET6
            if isinstance(l4, dpkt.tcp.TCP):
                info = insp.inspect(6, ip.src, l4.sport, ip.dst, l4.dport, l4.data, ts, seq=l4.seq,
                                    flags=l4.flags)
                proto = "tcp"
            elif isinstance(l4, dpkt.udp.UDP):
                info = insp.inspect(17, ip.src, l4.sport, ip.dst, l4.dport, l4.data, ts)
                proto = "udp"
            else:
                continue
            if info:
                k = _key(proto, socket.inet_ntop(fam, ip.src), l4.sport,
                         socket.inet_ntop(fam, ip.dst), l4.dport)
                slot = found.setdefault(k, {})
                for name, value in info.items():
                    for v in value if isinstance(value, list) else [value]:
                        slot.setdefault(name, set()).add(str(v))
    assert insp.bugs == 0
    return found


@pytest.mark.parametrize("name", FILES)
def test_against_truth(name: str) -> None:
    truth = json.loads((CORPUS / "truth" / f"{name}.json").read_text())
    found = _run(CORPUS / "pcaps" / name)
    expected_sni: dict[tuple[Any, ...], set[str]] = {}
    for h in truth["tls"]["client_hellos"]:
        if h.get("sni") and not h.get("over_quic"):
            k = _key("tcp", h["src"], h["sport"], h["dst"], h["dport"])
            expected_sni.setdefault(k, set()).update(h["sni"])
    for k, names in expected_sni.items():
        assert names & found.get(k, {}).get("sni", set()), (k, names)
    for k, fields in found.items():  # no SNI a ClientHello did not carry
        assert fields.get("sni", set()) <= expected_sni.get(k, set()), (k, fields)
    for b in truth["ssh_banners_payload_scan"]:
        f = found.get(_key("tcp", b["src"], b["sport"], b["dst"], b["dport"]), {})
        assert b["banner"].strip() in f.get("ssh_client", set()) | f.get("ssh_server", set())
    for m in truth["dns"]["messages"]:
        if m["response"] or not m["queries"]:
            continue
        f = found.get(_key(m["transport"], m["src"], m["sport"], m["dst"], m["dport"]), {})
        assert {q["name"] for q in m["queries"]} & f.get("dns_queries", set()), m
    for rq in truth["http"]["requests"]:
        if rq.get("host"):
            f = found.get(_key("tcp", rq["src"], rq["sport"], rq["dst"], rq["dport"]), {})
            assert rq["host"] in f.get("http_host", set())
