"""The connection record (``"t": "conn"``), rn-track's output: every field declared here.

rustnet-records(5), section "conn", is the public interface; the names below are
the same, and fields are only ever added. A field that is not known is absent
(never an empty string or a made-up zero), except the counters, which start at 0.

Records of one connection share its ``id``. While the input runs, a connection
that changed gets an update at most once per refresh interval (plus, with
``--snapshot-every``, all live connections periodically, marked ``snapshot``). A
connection that went quiet gets one more update showing rate 0, except a TCP
connection whose ``state`` reads TIME_WAIT or CLOSED: it is over, and its rates
read as 0 once ``rustnet.track.rates.WINDOW`` (5 s) has passed since its
``last_seen`` (its final record follows at expiry or end of input).
Each connection gets exactly one record with ``final: true``: when it expires,
is evicted, is replaced by a new generation of its tuple, or at end of input.
"""

from __future__ import annotations

from typing import Any, Final

from rustnet.stream.records import CONN, PROTO_NAMES, ip_text
from rustnet.track.conn import Conn

# (name, type, meaning): the documentation of every field rn-track writes.
FIELDS: Final = (
    ("t", "str", '"conn"'),
    (
        "id",
        "int",
        "stable id of the connection, the same in every record of it; a new generation of a "
        "reused tuple gets a new id",
    ),
    ("proto", "str", "tcp, udp, icmp, icmpv6, arp; other IP protocols by name (gre, esp, ...) or ip-N"),
    (
        "src",
        "str",
        "originator's IP as text (first SYN sender; else the first packet's sender; the receiver "
        "of a lone SYN-ACK); ARP: sender IP",
    ),
    ("sport", "int", "originator's port; 0 for icmp, icmpv6, arp and other protocols"),
    ("dst", "str", "responder's IP as text; ARP: target IP"),
    ("dport", "int", "responder's port; 0 for icmp, icmpv6, arp and other protocols"),
    (
        "state",
        "str",
        "display state, a rustnet.track.states.State name (TCP: the local "
        "endpoint's when known, else the originator's)",
    ),
    ("packets", "int", "packets both ways"),
    ("bytes", "int", "bytes both ways, on-the-wire frame length (pcap len), as tshark counts"),
    ("packets_src", "int", "packets sent by the originator"),
    ("bytes_src", "int", "bytes sent by the originator"),
    ("packets_dst", "int", "packets sent by the responder"),
    ("bytes_dst", "int", "bytes sent by the responder"),
    ("first_seen", "float", "epoch seconds of the first packet"),
    ("last_seen", "float", "epoch seconds of the latest packet"),
    (
        "rate_src",
        "int",
        "bytes/s sent by the originator, smoothed over seconds (rustnet.track.rates); "
        "TCP shown TIME_WAIT or CLOSED: 0 once 5 s have passed since last_seen (no update "
        "says so)",
    ),
    ("rate_dst", "int", "bytes/s sent by the responder"),
    (
        "rtt_ms",
        "float",
        "TCP: handshake round trip (SYN to the ACK of the SYN-ACK) in ms; QUIC: first "
        "packet to the first answer; absent when not seen",
    ),
    ("retransmits", "int", "TCP: segments that resend sequence space already seen (keep-alives excluded)"),
    (
        "out_of_order",
        "int",
        "TCP: segments below the highest sequence seen that arrived too soon to be retransmissions",
    ),
    ("app", "str", "detected protocol from rn-dissect: HTTP, TLS, DNS, QUIC, SSH, MDNS, ..."),
    ("sni", "str", "TLS/QUIC ClientHello server name"),
    ("alpn", "list|str", "ClientHello ALPN"),
    ("tls_version", "str", "TLS version"),
    ("http_host", "str", "HTTP/1.x Host of the first request"),
    ("http_method", "str", "first request's method"),
    ("http_path", "str", "first request's path"),
    ("http_user_agent", "str", "first request's User-Agent"),
    ("dns_query", "str", "first query name"),
    ("dns_queries", "list[str]", "every distinct query name seen (at most 32)"),
    ("dns_qtype", "str|int", "first query's type"),
    ("dns_rcode", "str|int", "first response's rcode"),
    ("dns_answers", "list", "answers seen (at most 32)"),
    (
        "dns_resolved",
        "list[str]",
        '"address name" for each A/AAAA answer of a response that answered a query seen '
        "(same id, addresses and ports swapped, within 5 s; at most 32): the only answers "
        "hostnames are learned from",
    ),
    ("ssh_client", "str", "client's SSH identification string"),
    ("ssh_server", "str", "server's SSH identification string"),
    ("quic_version", "str", "QUIC version, e.g. 0x00000001"),
    ("quic_close", "int|str", "QUIC CONNECTION_CLOSE error code, if seen"),
    ("vlan", "list[int]", "802.1Q ids of the first packet, outer first, when tagged"),
    ("local_side", "str", '"src" or "dst": which end is this host (live capture only, when known)'),
    ("snapshot", "bool", "true on records written by a periodic snapshot (--snapshot-every)"),
    ("final", "bool", "true on the last record of the connection"),
    (
        "end",
        "str",
        "final records: why it ended here: timeout, evicted, reused (a new generation of the "
        "tuple began), eof (end of input)",
    ),
)

# Names rn-track owns: DPI data arriving in a summary's info never overwrites them.
CORE_FIELDS: Final = frozenset(
    name
    for name, _, _ in FIELDS
    if name
    not in {
        "app",
        "sni",
        "alpn",
        "tls_version",
        "http_host",
        "http_method",
        "http_path",
        "http_user_agent",
        "dns_query",
        "dns_queries",
        "dns_qtype",
        "dns_rcode",
        "dns_answers",
        "dns_resolved",
        "ssh_client",
        "ssh_server",
        "quic_version",
        "quic_close",
    }
)

_OTHER_PROTOS: Final = {
    2: "igmp",
    4: "ipip",
    41: "ipv6",
    47: "gre",
    50: "esp",
    51: "ah",
    89: "ospf",
    103: "pim",
    112: "vrrp",
    132: "sctp",
    136: "udplite",
}


def proto_name(proto: int) -> str:
    name = PROTO_NAMES.get(proto) or _OTHER_PROTOS.get(proto)
    return name if name else f"ip-{proto}"


_PROTO_TEXT: Final = {p: proto_name(p) for p in (*PROTO_NAMES, *_OTHER_PROTOS)}

# Records are written once per refresh for every busy connection: the text of an address is
# worth remembering. Bounded (emptied when full: hostile streams with many addresses only cost
# the conversions); packed addresses only, other junk is converted every time.
MAX_TEXTS: Final = 1 << 16
_texts: dict[bytes, str] = {}


def _text(addr: Any) -> Any:
    text = _texts.get(addr) if addr.__class__ is bytes else None
    if text is None:
        text = ip_text(addr)
        if addr.__class__ is bytes:
            if len(_texts) >= MAX_TEXTS:
                _texts.clear()
            _texts[addr] = text
    return text


# The fields of a record that change without the connection's other fields changing: update()
# refreshes these in a copy of the connection's previous record. Everything else changes only
# when the tracker says so (it drops the copy: DPI fields, rtt_ms) or never (id, addresses, ...).
DYNAMIC: Final = (
    "state",
    "packets",
    "bytes",
    "packets_src",
    "bytes_src",
    "packets_dst",
    "bytes_dst",
    "last_seen",
    "rate_src",
    "rate_dst",
    "retransmits",
    "out_of_order",
)


def update(rec: dict[str, Any], c: Conn, state: str) -> None:
    """Refresh the :data:`DYNAMIC` fields of ``rec``, a copy of an earlier ``build(c, ...)``."""
    ps = c.ps
    pd = c.pd
    bs = c.bs
    bd = c.bd
    rec["state"] = state
    rec["packets"] = ps + pd
    rec["bytes"] = bs + bd
    rec["packets_src"] = ps
    rec["bytes_src"] = bs
    rec["packets_dst"] = pd
    rec["bytes_dst"] = bd
    rec["last_seen"] = c.last
    rec["rate_src"] = int(c.rate_src + 0.5)
    rec["rate_dst"] = int(c.rate_dst + 0.5)
    if c.proto == 6:
        rec["retransmits"] = c.retrans
        rec["out_of_order"] = c.ooo


def build(c: Conn, state: str) -> dict[str, Any]:
    """The record of ``c`` now (rates must have been sampled by the caller)."""
    _, a, ap, b, bp = c.key
    if c.flip:
        a, ap, b, bp = b, bp, a, ap
    ps = c.ps
    pd = c.pd
    bs = c.bs
    bd = c.bd
    proto = c.proto
    texts = _texts  # _text(a) without the call when known
    rec: dict[str, Any] = {
        "t": CONN,
        "id": c.id,
        "proto": _PROTO_TEXT.get(proto) or proto_name(proto),
        "src": texts.get(a) or _text(a),
        "sport": ap,
        "dst": texts.get(b) or _text(b),
        "dport": bp,
        "state": state,
        "packets": ps + pd,
        "bytes": bs + bd,
        "packets_src": ps,
        "bytes_src": bs,
        "packets_dst": pd,
        "bytes_dst": bd,
        "first_seen": c.first,
        "last_seen": c.last,
        "rate_src": int(c.rate_src + 0.5),
        "rate_dst": int(c.rate_dst + 0.5),
    }
    if c.rtt >= 0:
        rec["rtt_ms"] = round(c.rtt * 1000.0, 3)
    if proto == 6:
        rec["retransmits"] = c.retrans
        rec["out_of_order"] = c.ooo
    if c.dpi:
        rec.update(c.dpi)
    if c.vlan:
        rec["vlan"] = c.vlan
    if c.local:
        rec["local_side"] = "src" if c.local == 1 else "dst"
    return rec
