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
from rustnet.dissect import dns, tls
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


def _first_values(name: str, fields: tuple[str, ...]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Per conversation, the first value the Inspector gave each of ``fields``."""
    first: dict[tuple[Any, ...], dict[str, Any]] = {}
    for got in _frames(CORPUS / "pcaps" / name):
        for field in fields:
            if field in got.info:
                first.setdefault(got.key, {}).setdefault(field, got.info[field])
    return first


HTTP_FIELDS = ("http_method", "http_path", "http_host", "http_user_agent", "http_status")


@pytest.mark.parametrize("name", FILES)
def test_http_first_request_and_response_against_truth(name: str) -> None:
    """Per TCP connection: method, path, Host and User-Agent of the first request and the
    status of the first response, exactly as tshark read them; nothing on other connections.
    (HTTP over UDP, SSDP, is not inspected.)"""
    want: dict[tuple[Any, ...], dict[str, Any]] = {}
    truth = _truth(name)["http"]
    for rq in truth["requests"]:
        k = _key(rq["transport"], rq["src"], rq["sport"], rq["dst"], rq["dport"])
        if rq["transport"] == "tcp" and "http_method" not in want.get(k, {}):
            fields = zip(HTTP_FIELDS, (rq["method"], rq["uri"], rq["host"], rq["user_agent"]), strict=False)
            want.setdefault(k, {}).update({f: v for f, v in fields if v is not None})
    for rs in truth["responses"]:
        if rs["transport"] == "tcp":
            k = _key(rs["transport"], rs["src"], rs["sport"], rs["dst"], rs["dport"])
            want.setdefault(k, {}).setdefault("http_status", rs["code"])
    assert _first_values(name, HTTP_FIELDS) == want


TLS_FIELDS = ("sni", "alpn", "tls_versions_offered", "tls_version", "tls_cipher")
# Hellos tshark (4.0, default settings) does not report, checked against the bytes instead:
BEYOND_TSHARK = {
    # A SYN-ACK with another sequence number after the handshake: tshark's sequence analysis
    # loses the stream; with -o tcp.analyze_sequence_numbers:FALSE it reads this ServerHello
    # (frame 91) as TLS 1.0, cipher 0xc007.
    ("ndpi_KakaoTalk_chat.pcap", 35503): {"tls_version": "TLS 1.0", "tls_cipher": "0xc007"},
    # The capture ends inside the ServerHello's record (frame 347, record length 1717); tshark
    # waits for the whole record, the hello message itself is whole: 03 01, cipher 00 04.
    ("ndpi_KakaoTalk_chat.pcap", 58964): {"tls_version": "TLS 1.0", "tls_cipher": "TLS_RSA_WITH_RC4_128_MD5"},
}


def _tls_want(
    hellos: list[dict[str, Any]], servers: list[dict[str, Any]]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The record fields the first ClientHello and ServerHello of each conversation give."""
    want: dict[tuple[Any, ...], dict[str, Any]] = {}
    for h in hellos:
        k = _key(h["transport"], h["src"], h["sport"], h["dst"], h["dport"])
        if k in want and "tls_versions_offered" in want[k]:
            continue  # a later (retransmitted or second) ClientHello: the first one counts
        w = want.setdefault(k, {})
        if h.get("sni"):
            w["sni"] = h["sni"][0]
        if h.get("alpn"):
            w["alpn"] = h["alpn"]
        # RFC 8701: GREASE values (0x?a?a) are not versions; the record leaves them out.
        offered = [int(v, 16) for v in h.get("supported_versions") or []]
        names = [tls.version_name(v) for v in offered if (v & 0x0F0F) != 0x0A0A]
        if names:
            w["tls_versions_offered"] = names
    for h in servers:
        k = _key(h["transport"], h["src"], h["sport"], h["dst"], h["dport"])
        version = (h.get("selected_supported_version") or h["legacy_versions"])[0]
        want.setdefault(k, {}).setdefault("tls_version", TLS_VERSION_NAMES[version])
        want[k].setdefault("tls_cipher", tls.cipher_name(int(h["cipher_suites"][0], 16)))
    return want


TLS_VERSION_NAMES = {"0x0301": "TLS 1.0", "0x0302": "TLS 1.1", "0x0303": "TLS 1.2", "0x0304": "TLS 1.3"}


@pytest.mark.parametrize("name", FILES)
def test_tls_over_tcp_hellos_against_truth(name: str) -> None:
    """Per TCP connection: SNI, ALPN, offered versions of the first ClientHello; version and
    cipher the ServerHello chose; nothing where tshark saw no hello."""
    truth = _truth(name)["tls"]
    tcp = [h for h in truth["client_hellos"] if h["transport"] == "tcp"]
    want = _tls_want(tcp, [h for h in truth["server_hellos"] if h["transport"] == "tcp"])
    got = {k: v for k, v in _first_values(name, TLS_FIELDS).items() if k[0] == "tcp"}
    for (file, port), fields in BEYOND_TSHARK.items():
        (k,) = [k for k in got if port in (k[1][1], k[2][1])] if file == name else [None]
        if k is not None:
            want.setdefault(k, {}).update(fields)
    assert got == want


# Captures whose server Initial tshark decrypts without checking it: cut to 256 bytes by the
# snaplen, its AEAD tag is gone, so nothing can be read from it honestly.
QUIC_CUT = {"tcpdump_quic_handshake_truncated.pcap"}


@pytest.mark.parametrize("name", FILES)
def test_quic_hellos_and_packets_against_truth(name: str) -> None:
    """QUIC: the hellos tshark decrypted out of Initial packets (SNI, ALPN, offered versions;
    the server's version and cipher), the first Version Negotiation and Retry of each flow,
    every CONNECTION_CLOSE in an Initial packet (its error code), and the versions seen.
    A flow whose Initials tshark could not decrypt (reserved versions) is not compared."""
    truth = _truth(name)
    hellos = [h for h in truth["tls"]["client_hellos"] if h["transport"] == "udp"]
    servers = (
        [] if name in QUIC_CUT else [h for h in truth["tls"]["server_hellos"] if h["transport"] == "udp"]
    )
    want = _tls_want(hellos, servers)
    got = _first_values(name, TLS_FIELDS)
    for k, fields in want.items():
        assert {f: got.get(k, {}).get(f) for f in fields} == fields, k
    frames: dict[int, list[dict[str, Any]]] = {}
    for seen in _frames(CORPUS / "pcaps" / name):
        frames.setdefault(seen.frame, []).append(seen.info)
    quic = truth["quic"]
    flows_seen: set[int] = set()
    for vn in quic["version_negotiation"]:
        at = [i["quic_vn"] for i in frames.get(vn["frame"], []) if "quic_vn" in i]
        first = vn["udp_stream"] not in flows_seen
        flows_seen.add(vn["udp_stream"])
        assert at == ([vn["supported_versions"]] if first else []), vn  # once per flow
    flows_seen.clear()
    for retry in quic["retry"]:
        at = [i["quic_retry"] for i in frames.get(retry["frame"], []) if "quic_retry" in i]
        first = retry["udp_stream"] not in flows_seen
        flows_seen.add(retry["udp_stream"])
        assert at == ([True] if first else []), retry
    for close in quic["connection_close"]:
        at = [i["quic_close"] for i in frames.get(close["frame"], []) if "quic_close" in i]
        assert at == close["error_codes"] + close["app_error_codes"], close
    ours = {v for f in frames.values() for i in f for v in [i.get("quic_version")] if v}
    assert ours <= set(quic["versions"])


@pytest.mark.parametrize("name", FILES)
def test_ssh_banners_against_truth(name: str) -> None:
    """Every SSH banner (any port), as the client's or the server's: the side that opened the
    connection (tshark's conversation end ``a`` of a stream seen from its SYN) is the client."""
    truth = _truth(name)
    initiators = {
        c["stream"]: (c["a"], c["a_port"]) for c in truth["tcp_conversations"] if c["tcp"]["saw_syn"]
    }
    want: dict[tuple[Any, ...], dict[str, Any]] = {}
    for b in truth["ssh_banners_payload_scan"]:
        k = _key("tcp", b["src"], b["sport"], b["dst"], b["dport"])
        client = initiators[b["tcp_stream"]] == (b["src"], b["sport"])
        want.setdefault(k, {})["ssh_client" if client else "ssh_server"] = b["banner"].strip()
    assert _first_values(name, ("ssh_client", "ssh_server")) == want
