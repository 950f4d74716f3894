"""The connection record (``"t": "conn"``), rn-track's output, as declared in
:data:`rustnet.stream.fields.CONN` (name, type, unit, meaning, merge of every field).

rustnet-records(5), section "conn", generated from that table, is the public interface;
fields are only ever added. A field that is not known is absent
(never an empty string or a made-up zero), except the counters, which start at 0.

Records of one connection share its ``id``. While the input runs, a connection
that changed gets an update at most once per refresh interval (plus, with
``--snapshot-every``, all live connections periodically, marked ``snapshot``). A
connection that went quiet gets one more update showing rate 0, except a TCP
connection whose ``state`` reads TIME_WAIT, CLOSED or DNS_RESPONSE: it is over, and its rates
read as 0 once ``rustnet.track.rates.WINDOW`` (5 s) has passed since its
``last_seen`` (its final record follows at expiry or end of input).
Each connection gets exactly one record with ``final: true``: when it expires,
is evicted, is replaced by a new generation of its tuple, or at end of input.
"""

from __future__ import annotations

from typing import Any, Final

from rustnet.stream import fields
from rustnet.stream.records import CONN, PROTO_NAMES, ip_text
from rustnet.track.conn import Conn

# Names DPI data arriving in a summary's info never sets: every declared connection field that
# rn-dissect does not write (rn-track's own, rn-enrich's).
CORE_FIELDS: Final = frozenset(f.name for f in fields.CONN if f.stage != fields.DISSECT)

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
    text = _texts.get(addr) if type(addr) is bytes else None
    if text is None:
        text = ip_text(addr)
        if type(addr) is bytes:
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
    "dup_acks",
    "fast_retransmits",
    "tcp_flags_src",
    "tcp_flags_dst",
    "window",
    "rtt_ms",
    "rtt_kind",
)


def update(rec: dict[str, Any], c: Conn, state: str) -> None:
    """Refresh the :data:`DYNAMIC` fields of ``rec``, a copy of an earlier ``build(c, ...)``.
    Only the state and the rates change without a packet: when none came since ``rec`` was
    made (its packet count is the connection's), the others are as they were."""
    rec["state"] = state
    rec["rate_src"] = int(c.rate_src + 0.5)
    rec["rate_dst"] = int(c.rate_dst + 0.5)
    ps = c.ps
    pd = c.pd
    if rec["packets"] == ps + pd:
        return  # e.g. the final record of a connection over since its last update
    bs = c.bs
    bd = c.bd
    rec["packets"] = ps + pd
    rec["bytes"] = bs + bd
    rec["packets_src"] = ps
    rec["bytes_src"] = bs
    rec["packets_dst"] = pd
    rec["bytes_dst"] = bd
    rec["last_seen"] = c.last
    if c.proto == 6:
        rec["retransmits"] = c.retrans
        rec["out_of_order"] = c.ooo
        rec["dup_acks"] = c.dups
        rec["fast_retransmits"] = c.fast
        rec["tcp_flags_src"] = c.flags_o
        rec["tcp_flags_dst"] = c.flags_r
        win = c.win_o if c.local == 2 else c.win_r  # the peer's
        if win >= 0:
            rec["window"] = win
        if c.srtt >= 0:  # the live round trip changes without the record's other fields
            rec["rtt_ms"] = round(c.srtt * 1000.0, 3)
            rec["rtt_kind"] = "tcp"


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
    if proto == 6:
        rec["retransmits"] = c.retrans
        rec["out_of_order"] = c.ooo
        rec["dup_acks"] = c.dups
        rec["fast_retransmits"] = c.fast
        rec["tcp_flags_src"] = c.flags_o
        rec["tcp_flags_dst"] = c.flags_r
        win = c.win_o if c.local == 2 else c.win_r
        if win >= 0:
            rec["window"] = win
        if c.rtt >= 0:
            rec["rtt_ms"] = rec["rtt_initial_ms"] = round(c.rtt * 1000.0, 3)
            rec["rtt_kind"] = "tcp_handshake"
        if c.srtt >= 0:
            rec["rtt_ms"] = round(c.srtt * 1000.0, 3)
            rec["rtt_kind"] = "tcp"
    elif c.rtt >= 0:
        rec["rtt_ms"] = round(c.rtt * 1000.0, 3)
        if proto == 17:
            rec["rtt_kind"] = "quic_handshake"
            rec["rtt_initial_ms"] = rec["rtt_ms"]
        else:
            rec["rtt_kind"] = "icmp_echo"
    if c.dpi:
        rec.update(c.dpi)
    if c.vlan:
        rec["vlan"] = c.vlan
    if c.local == 1:
        rec["local_side"] = "src"
    elif c.local == 2:
        rec["local_side"] = "dst"
    return rec
