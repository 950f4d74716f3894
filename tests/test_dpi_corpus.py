"""The Inspector straight over corpus captures (dpkt for L2-L4), against the tshark truth.

The full pipeline is scored by the corpus scorer; this checks the DPI layer
alone, so a regression here points at the parsers rather than at another stage.
"""

from __future__ import annotations

import functools
import json
import socket
from pathlib import Path
from typing import Any, NamedTuple

import dpkt
import pytest
from rustnet.dissect import dns
from rustnet.dissect.dpi import MAX_DNS_ANSWERS, Inspector

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


class Seen(NamedTuple):
    """What the Inspector said about one TCP/UDP layer of one frame."""

    frame: int  # tshark's frame number (1-based, every frame of the file counted)
    key: tuple[Any, ...]
    info: dict[str, Any]


@functools.cache
def _frames(path: Path) -> tuple[Seen, ...]:
    """The Inspector's answer for every frame that had one, in frame order."""
    insp = Inspector()
    seen: list[Seen] = []
    with path.open("rb") as fh:
        try:
            reader: Any = dpkt.pcap.Reader(fh)
        except ValueError:
            fh.seek(0)
            reader = dpkt.pcapng.Reader(fh)
        link = LINKS[reader.datalink()]
        for number, (ts, frame) in enumerate(reader, start=1):
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
                src, dst = socket.inet_ntop(fam, ip.src), socket.inet_ntop(fam, ip.dst)
                seen.append(Seen(number, _key(proto, src, l4.sport, dst, l4.dport), dict(info)))
    assert insp.bugs == 0
    return tuple(seen)


def _run(path: Path) -> dict[tuple[Any, ...], dict[str, set[str]]]:
    """Every value of every field, per conversation."""
    found: dict[tuple[Any, ...], dict[str, set[str]]] = {}
    for got in _frames(path):
        slot = found.setdefault(got.key, {})
        for name, value in got.info.items():
            for v in value if isinstance(value, list) else [value]:
                slot.setdefault(name, set()).add(str(v))
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


def _by_frame(name: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The Inspector's fields per (frame, conversation): what tshark's truth lists per frame."""
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for got in _frames(CORPUS / "pcaps" / name):
        out[(got.frame, got.key)] = got.info
    return out


def _truth(name: str) -> dict[str, Any]:
    truth: dict[str, Any] = json.loads((CORPUS / "truth" / f"{name}.json").read_text())
    return truth


# Record types whose value the ``dns_answers`` string carries (tshark: dns.a, dns.aaaa,
# dns.cname, dns.ptr.domain_name, dns.ns); the others show as "name TYPE".
DNS_VALUE_TYPES = {1, 28, 5, 12, 2}
DNS_FILES = [n for n in FILES if _truth(n)["dns"]["messages"]]


def _shown(name: str) -> str:
    """A DNS name as the records show it: a space is escaped so answers split on spaces."""
    return name.replace(" ", "\\x20")


@pytest.mark.parametrize("name", DNS_FILES)
def test_dns_every_message_against_truth(name: str) -> None:
    """Every DNS/mDNS message tshark saw: its questions, rcode and every answer (name, type,
    value), in order. Answers whose names point into earlier answers (CNAME chains, mDNS
    service lists) are the case a message builder in a unit test rarely makes."""
    found = _by_frame(name)
    checked = 0
    for m in _truth(name)["dns"]["messages"]:
        k = _key(m["transport"], m["src"], m["sport"], m["dst"], m["dport"])
        f = found.get((m["frame"], k), {})
        where = (name, m["frame"])
        queries = [_shown(q["name"]) for q in m["queries"][: dns.MAX_QUESTIONS]]
        if queries:
            assert f.get("dns_queries") == list(dict.fromkeys(queries)), where
            assert f.get("dns_qtype") == dns.type_name(m["queries"][0]["type"]), where
        else:
            assert "dns_queries" not in f, where
        if not m["response"]:
            assert "dns_response" not in f and "dns_answers" not in f, where  # known answers
            continue
        assert f.get("dns_response") is True, where
        assert f.get("dns_rcode") == dns.rcode_name(m["rcode"]), where
        got = [a.split(" ") for a in f.get("dns_answers", [])]
        want = m["answers"][: MAX_DNS_ANSWERS if len(m["queries"]) <= dns.MAX_QUESTIONS else 0]
        assert len(got) == len(want), (where, got, want)
        for parts, a in zip(got, want, strict=True):
            value = a["data"] if a["type"] in DNS_VALUE_TYPES else None
            assert parts[1] == dns.type_name(a["type"]), (where, parts, a)
            assert parts[2:] == ([_shown(value)] if value else []), (where, parts, a)
            if a["name"] is not None:  # tshark 4.0 gives SRV records no dns.resp.name
                assert parts[0] == _shown(a["name"]), (where, parts, a)
            checked += 1
    assert checked or not any(m["answers"] for m in _truth(name)["dns"]["messages"] if m["response"])
