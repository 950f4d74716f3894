"""IPFIX messages (RFC 7011) carrying biflows (RFC 5103) built from connection records.

One message: a 16-byte header (version 10, length, export time, sequence number, observation
domain), then sets. A template set (id 2) describes the data records; data sets (id = template id)
carry them. Two templates, one per address family, both with the same fields:

    source/destination address (IPv4 8/12 or IPv6 27/28), source/destination port (7/11),
    protocolIdentifier (4), reverse and forward tcpControlBits (6), flowStartMilliseconds (152),
    flowEndMilliseconds (153),
    packetDeltaCount (2), octetDeltaCount (1), the same two counters reversed (RFC 5103: the
    element ids with enterprise number 29305) for the responder's direction, flowEndReason (136),
    and two variable-length enterprise-specific strings: application name and TLS server name.

The originator (the side that opened the connection) is the forward direction. Octets are at the
IP layer, as octetDeltaCount defines them: the frame bytes rn-track counts less each packet's
link-layer header (see :func:`link_header_len`).
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from typing import Any, Final

from rustnet.dissect.link import (
    DLT_EN10MB,
    DLT_IPV4,
    DLT_IPV6,
    DLT_LINUX_SLL,
    DLT_LINUX_SLL2,
    DLT_LOOP,
    DLT_NULL,
    DLT_RAW,
    DLT_RAW_LINKTYPE,
    ETH_HEADER_LEN,
    SLL2_HEADER_LEN,
    SLL_HEADER_LEN,
)

VERSION: Final = 10
HEADER_LEN: Final = 16
SET_HEADER_LEN: Final = 4
TEMPLATE_SET_ID: Final = 2
TEMPLATE_V4: Final = 256
TEMPLATE_V6: Final = 257
VARLEN: Final = 0xFFFF
REVERSE_PEN: Final = 29305  # RFC 5103 §6.1: the reverse of element N is N with this number
# RFC 5612 reserves 32473 for documentation and examples: rustnet owns no enterprise number, and
# this one can never be a real vendor's (whose elements a collector would then misread).
DEFAULT_PEN: Final = 32473
APP_ELEMENT: Final = 1  # enterprise element: application protocol name ("TLS", "DNS", ...)
SNI_ELEMENT: Final = 2  # enterprise element: TLS/QUIC ClientHello server name
MAX_STRING: Final = 255  # longer names are cut (at a character boundary)

# flowEndReason (IANA registry, RFC 7012 / RFC 5102 §5.11.3)
IDLE_TIMEOUT: Final = 1
ACTIVE_TIMEOUT: Final = 2
END_OF_FLOW: Final = 3
FORCED_END: Final = 4
LACK_OF_RESOURCES: Final = 5

# (element id, length, enterprise number or 0), in record order after the two addresses.
_COMMON: Final = (
    (7, 2, 0),  # sourceTransportPort
    (11, 2, 0),  # destinationTransportPort
    (4, 1, 0),  # protocolIdentifier
    # The responder's flags before the originator's: RFC 5103 does not mind the order, and
    # nfdump, which keeps one set of flags and reads this reverse element as the forward one,
    # then ends up with the originator's.
    (6, 2, REVERSE_PEN),  # reverseTcpControlBits: every flag the responder's segments carried
    (6, 2, 0),  # tcpControlBits: the originator's
    (152, 8, 0),  # flowStartMilliseconds
    (153, 8, 0),  # flowEndMilliseconds
    (2, 8, 0),  # packetDeltaCount
    (1, 8, 0),  # octetDeltaCount
    (2, 8, REVERSE_PEN),  # reversePacketDeltaCount
    (1, 8, REVERSE_PEN),  # reverseOctetDeltaCount
    (136, 1, 0),  # flowEndReason
)
_FIXED: Final = struct.Struct("!HHBHHQQQQQQB")
_V4_ADDRS: Final = ((8, 4, 0), (12, 4, 0))  # sourceIPv4Address, destinationIPv4Address
_V6_ADDRS: Final = ((27, 16, 0), (28, 16, 0))  # sourceIPv6Address, destinationIPv6Address
MAX_COUNT: Final = (1 << 64) - 1  # unsigned64 counters

PROTO_NUMBERS: Final = {
    "icmp": 1,
    "igmp": 2,
    "ipip": 4,
    "tcp": 6,
    "udp": 17,
    "ipv6": 41,
    "gre": 47,
    "esp": 50,
    "ah": 51,
    "icmpv6": 58,
    "ospf": 89,
    "pim": 103,
    "vrrp": 112,
    "sctp": 132,
    "udplite": 136,
}

# Bytes before the IP header for the link types a capture gives us (pcap LINKTYPE_ values).
_LINK_HEADER: Final = {
    DLT_NULL: 4,  # BSD loopback: the address family
    DLT_EN10MB: ETH_HEADER_LEN,
    DLT_RAW: 0,
    DLT_RAW_LINKTYPE: 0,
    DLT_LOOP: 4,
    DLT_LINUX_SLL: SLL_HEADER_LEN,
    DLT_IPV4: 0,
    DLT_IPV6: 0,
    DLT_LINUX_SLL2: SLL2_HEADER_LEN,
}


def link_header_len(linktype: Any, vlan: Any) -> int:
    """Bytes each frame of a connection carries before its IP header: the link type's header and
    4 per 802.1Q tag. Unknown link types count as Ethernet (rn-capture's usual case)."""
    n = _LINK_HEADER.get(linktype, 14) if type(linktype) is int else 14
    if isinstance(vlan, list):
        n += 4 * min(len(vlan), 8)  # the tags rn-dissect saw in the frame (it unwraps at most a few)
    return n


def template_record(template_id: int, pen: int) -> bytes:
    """One template record: its id, field count and field specifiers (RFC 7011 §3.4.1)."""
    addrs = _V4_ADDRS if template_id == TEMPLATE_V4 else _V6_ADDRS
    fields = (*addrs, *_COMMON, (APP_ELEMENT, VARLEN, pen), (SNI_ELEMENT, VARLEN, pen))
    out = [struct.pack("!HH", template_id, len(fields))]
    for element, length, enterprise in fields:
        if enterprise:
            out.append(struct.pack("!HHI", element | 0x8000, length, enterprise))
        else:
            out.append(struct.pack("!HH", element, length))
    return b"".join(out)


def template_set(pen: int) -> bytes:
    body = template_record(TEMPLATE_V4, pen) + template_record(TEMPLATE_V6, pen)
    return struct.pack("!HH", TEMPLATE_SET_ID, SET_HEADER_LEN + len(body)) + body


@dataclass(frozen=True, slots=True)
class Flow:
    """One data record: a connection, or the part of it since its previous export."""

    template: int
    encoded: bytes


def _varlen(text: str) -> bytes:
    raw = text.encode("utf-8", "replace")
    if len(raw) > MAX_STRING:
        raw = raw[:MAX_STRING].decode("utf-8", "ignore").encode("utf-8")
    # RFC 7011 §7: a length below 255 takes one byte; 255 announces a two-byte length.
    return (bytes((len(raw),)) if len(raw) < 255 else b"\xff" + struct.pack("!H", len(raw))) + raw


def _packed(text: Any) -> bytes | None:
    """An address in network byte order (4 or 16 bytes), or None when ``text`` is not one."""
    if type(text) is not str:
        return None
    try:
        return socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)
    except (OSError, ValueError):  # ValueError: an embedded NUL
        return None


def _ms(value: Any) -> int | None:
    if type(value) not in (float, int) or not 0 <= value < 1e13:  # NaN fails the comparison
        return None
    return int(round(value * 1000))


def encode_flow(
    src: str,
    dst: str,
    sport: Any,
    dport: Any,
    proto: Any,
    start: Any,
    end: Any,
    counts: tuple[int, int, int, int],
    reason: int,
    app: Any = None,
    sni: Any = None,
    flags: tuple[Any, Any] = (0, 0),
) -> Flow | None:
    """A data record from a connection's fields, or None when they cannot make one (not IP,
    addresses of different families, damaged values). ``counts``: packets and IP-layer octets
    the originator sent, then the responder's; ``flags``: the TCP flags each side sent."""
    proto_num = PROTO_NUMBERS.get(proto) if isinstance(proto, str) else None
    if proto_num is None and isinstance(proto, str) and proto.startswith("ip-") and proto[3:].isdigit():
        proto_num = int(proto[3:])
    if proto_num is None or not 0 <= proto_num <= 255:
        return None
    a, b = _packed(src), _packed(dst)
    if a is None or b is None or len(a) != len(b):
        return None
    start_ms, end_ms = _ms(start), _ms(end)
    if start_ms is None or end_ms is None:
        return None
    sp = sport if type(sport) is int and 0 <= sport <= 0xFFFF else 0
    dp = dport if type(dport) is int and 0 <= dport <= 0xFFFF else 0
    ps, os_, pd, od = counts
    if ps > MAX_COUNT or os_ > MAX_COUNT or pd > MAX_COUNT or od > MAX_COUNT:  # damaged input
        ps, os_, pd, od = (min(c, MAX_COUNT) for c in counts)
    fo, fr = (f & 0xFFFF if type(f) is int and f > 0 else 0 for f in flags)
    body = _FIXED.pack(sp, dp, proto_num, fr, fo, start_ms, max(end_ms, start_ms), ps, os_, pd, od, reason)
    text = _varlen(app if isinstance(app, str) else "") + _varlen(sni if isinstance(sni, str) else "")
    return Flow(TEMPLATE_V4 if len(a) == 4 else TEMPLATE_V6, a + b + body + text)


class MessageBuilder:
    """Packs data records into messages of at most ``max_size`` bytes, numbering them.

    The sequence number of a message is the number of data records sent before it in this
    transport session (RFC 7011 §3.1), modulo 2^32. Templates go at the front of the next message
    when :meth:`want_templates` was called (first message, UDP refresh, new TCP session).
    """

    def __init__(self, domain_id: int, pen: int, max_size: int) -> None:
        self.domain_id = domain_id
        self.templates = template_set(pen)
        self.max_size = max_size
        self.sequence = 0
        self._templates_due = True

    def want_templates(self) -> None:
        self._templates_due = True

    def restart_session(self) -> None:
        """A new transport session (a new TCP connection): numbering restarts, templates first."""
        self.sequence = 0
        self._templates_due = True

    def build(self, flows: list[Flow], export_time: int) -> tuple[list[bytes], list[int]]:
        """Messages for ``flows``, in order, and how many data records each carries."""
        messages: list[bytes] = []
        counts: list[int] = []
        i = 0
        while i < len(flows) or self._templates_due:
            parts: list[bytes] = []
            size = HEADER_LEN
            if self._templates_due:
                parts.append(self.templates)
                size += len(self.templates)
                self._templates_due = False
            n = 0
            while i < len(flows):
                template = flows[i].template
                j = i
                set_size = SET_HEADER_LEN
                while j < len(flows) and flows[j].template == template:
                    rec = len(flows[j].encoded)
                    if size + set_size + rec > self.max_size and (n or j > i or parts):
                        break
                    set_size += rec
                    j += 1
                if j == i:
                    break
                parts.append(struct.pack("!HH", template, set_size))
                parts.extend(f.encoded for f in flows[i:j])
                size += set_size
                n += j - i
                i = j
            header = struct.pack(
                "!HHIII", VERSION, size, export_time & 0xFFFFFFFF, self.sequence, self.domain_id
            )
            messages.append(header + b"".join(parts))
            counts.append(n)
            self.sequence = (self.sequence + n) & 0xFFFFFFFF
        return messages, counts
