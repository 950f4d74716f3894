"""TCP, UDP, ICMP and ICMPv6 headers.

Each parser takes the frame, the offset of the L4 header and ``l4len`` (the L4 length on
the wire, from the IP length fields) and returns a flat tuple. A header cut short raises
``struct.error`` (the engine decides whether snaplen or damage did it); fields that make
no sense raise :class:`~rustnet.dissect.info.Malformed`.
"""

from __future__ import annotations

import struct
from typing import Final

from rustnet.dissect.info import Malformed

TCP_MIN_HEADER: Final = 20
UDP_HEADER_LEN: Final = 8
ICMP_HEADER_LEN: Final = 8

TCP_FIN: Final = 0x01
TCP_SYN: Final = 0x02
TCP_RST: Final = 0x04
TCP_PSH: Final = 0x08
TCP_ACK: Final = 0x10
TCP_URG: Final = 0x20
TCP_ECE: Final = 0x40
TCP_CWR: Final = 0x80

# ICMP messages whose second word is (identifier, sequence): echo, timestamp,
# information and address mask request/reply.
ICMP_ID_SEQ_TYPES: Final = frozenset((0, 8, 13, 14, 15, 16, 17, 18))
ICMPV6_ID_SEQ_TYPES: Final = frozenset((128, 129))  # echo request/reply

TCP = tuple[int, int, int, int, int, int, int]
UDP = tuple[int, int, int, str | None]
ICMP = tuple[int, int, int, int, int]

# The 4 pad bytes make a header cut inside its fixed 20 bytes a short read.
_tcp = struct.Struct("!HHIIBBH4x").unpack_from
_udp = struct.Struct("!HHH2x").unpack_from
_icmp = struct.Struct("!BB2xHH").unpack_from


def tcp(data: bytes, off: int, l4len: int) -> TCP:
    """``(sport, dport, seq, ack, flags, window, header_len)``; flags are the low 8 bits (FIN..CWR)."""
    sport, dport, seq, ack, doff, flags, window = _tcp(data, off)
    hlen = (doff >> 4) << 2
    if hlen < TCP_MIN_HEADER:
        raise Malformed("tcp data offset < 5")
    if hlen > l4len:
        raise Malformed("tcp header beyond ip payload")
    return sport, dport, seq, ack, flags, window, hlen


def udp(data: bytes, off: int, l4len: int) -> UDP:
    """``(sport, dport, paylen, anomaly)``; paylen from the UDP length unless it disagrees with IP."""
    if l4len < UDP_HEADER_LEN:
        raise Malformed("ip payload shorter than a udp header")
    sport, dport, ulen = _udp(data, off)
    if ulen == 0:  # IPv6 jumbogram: IP says how long
        return sport, dport, l4len - UDP_HEADER_LEN, None
    if ulen < UDP_HEADER_LEN:
        return sport, dport, l4len - UDP_HEADER_LEN, "udp length < 8"
    if ulen > l4len:
        return sport, dport, l4len - UDP_HEADER_LEN, "udp length beyond ip payload"
    return sport, dport, ulen - UDP_HEADER_LEN, None


def icmp(data: bytes, off: int, l4len: int, v6: bool) -> ICMP:
    """``(type, code, identifier, sequence, paylen)``; id/seq are 0 for messages without them.

    ``paylen`` is what follows the 8-byte header: the echo data, or the quoted packet of an
    error (which stays ICMP's: it is never attributed to the quoted flow).
    """
    if l4len < ICMP_HEADER_LEN:
        raise Malformed("ip payload shorter than an icmp header")
    typ, code, ident, seq = _icmp(data, off)
    if typ not in (ICMPV6_ID_SEQ_TYPES if v6 else ICMP_ID_SEQ_TYPES):
        ident = seq = 0
    return typ, code, ident, seq, l4len - ICMP_HEADER_LEN
