"""The Inspector straight over corpus captures (dpkt for L2-L4), against the tshark truth.

The full pipeline is scored by the corpus scorer; this checks the DPI layer
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

from tests.corpus import CORPUS

# Captures dpkt reads whole (the two damaged ones are the pipeline's business, not DPI's).
DAMAGED = {"suricata_tls-DER-incomplete-header.pcap", "derived_zeek_http_get_cut-mid-record.pcap"}
FILES = sorted(p.name for p in (CORPUS / "pcaps").glob("*.pcap*") if p.name not in DAMAGED)

DLT_LINUX_SLL2 = 276


def _sll2(frame: bytes) -> dpkt.Packet | bytes:
    """Linux cooked capture v2 (which dpkt lacks): a 20-byte header whose first two bytes are
    the EtherType of what follows."""
    ethertype = int.from_bytes(frame[:2], "big")
    body = frame[20:]
    if ethertype == 0x0800:
        return dpkt.ip.IP(body)
    if ethertype == 0x86DD:
        return dpkt.ip6.IP6(body)
    return body


class _Sll2:
    def __init__(self, frame: bytes) -> None:
        self.data = _sll2(frame)


LINKS: dict[int, Any] = {
    dpkt.pcap.DLT_EN10MB: dpkt.ethernet.Ethernet,
    dpkt.pcap.DLT_NULL: dpkt.loopback.Loopback,
    dpkt.pcap.DLT_LINUX_SLL: dpkt.sll.SLL,
    DLT_LINUX_SLL2: _Sll2,
}


def _key(proto: str, a: str, ap: int, b: str, bp: int) -> tuple[Any, ...]:
    return (proto, *sorted(((a, ap), (b, bp))))


def _run(path: Path) -> dict[tuple[Any, ...], dict[str, set[str]]]:
    insp = Inspector()
    found: dict[tuple[Any, ...], dict[str, set[str]]] = {}
    with path.open("rb") as fh:
        try:
            reader: Any = dpkt.pcap.Reader(fh)
        except ValueError:
            fh.seek(0)
            reader = dpkt.pcapng.Reader(fh)
        link = LINKS[reader.datalink()]
        for ts, frame in reader:
            ip = link(frame).data
            while isinstance(ip, dpkt.Packet) and not isinstance(ip, (dpkt.ip.IP, dpkt.ip6.IP6)):
                ip = ip.data  # VLAN, PPPoE, ...
            if not isinstance(ip, (dpkt.ip.IP, dpkt.ip6.IP6)):
                continue
            while isinstance(ip.data, (dpkt.ip.IP, dpkt.ip6.IP6)):  # IP-in-IP tunnels
                ip = ip.data
            l4 = ip.data
            fam = socket.AF_INET if isinstance(ip, dpkt.ip.IP) else socket.AF_INET6
            if isinstance(l4, dpkt.tcp.TCP):
                info = insp.inspect(
                    6, ip.src, l4.sport, ip.dst, l4.dport, l4.data, ts, seq=l4.seq, flags=l4.flags
                )
                proto = "tcp"
            elif isinstance(l4, dpkt.udp.UDP):
                info = insp.inspect(17, ip.src, l4.sport, ip.dst, l4.dport, l4.data, ts)
                proto = "udp"
            else:
                continue
            if info:
                k = _key(
                    proto, socket.inet_ntop(fam, ip.src), l4.sport, socket.inet_ntop(fam, ip.dst), l4.dport
                )
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
        if h.get("sni"):
            quic = h.get("over_quic") or h.get("transport") == "udp"
            k = _key("udp" if quic else "tcp", h["src"], h["sport"], h["dst"], h["dport"])
            expected_sni.setdefault(k, set()).update(h["sni"])
    for k, names in expected_sni.items():
        if k[0] == "tcp":  # QUIC's own tests and the corpus score hold the QUIC side
            assert names & found.get(k, {}).get("sni", set()), (k, names)
    for k, fields in found.items():  # no SNI a ClientHello did not carry (over TCP: TLS is ours)
        if k[0] == "tcp":
            assert fields.get("sni", set()) <= expected_sni.get(k, set()), (k, fields)
    for b in truth["ssh_banners_payload_scan"]:
        f = found.get(_key("tcp", b["src"], b["sport"], b["dst"], b["dport"]), {})
        assert b["banner"].strip() in f.get("ssh_client", set()) | f.get("ssh_server", set())
    for m in truth["dns"]["messages"]:
        if m["response"] or not m["queries"] or m.get("transport", "udp") not in ("udp", "tcp"):
            continue
        f = found.get(_key(m["transport"], m["src"], m["sport"], m["dst"], m["dport"]), {})
        assert {q["name"] for q in m["queries"]} & f.get("dns_queries", set()), m
    for rq in truth["http"]["requests"]:
        if rq.get("host") and rq.get("transport") == "tcp":
            f = found.get(_key("tcp", rq["src"], rq["sport"], rq["dst"], rq["dport"]), {})
            assert rq["host"] in f.get("http_host", set())
