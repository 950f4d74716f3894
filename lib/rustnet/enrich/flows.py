"""The TCP/UDP 5-tuple of a captured frame, parsed cheaply (rn-enrich right after rn-capture).

rn-enrich only needs to notice *new* flows to refresh its socket table at once, so
this is deliberately small: link layer (Ethernet with VLAN tags, Linux SLL/SLL2,
NULL/LOOP, raw IP), IPv4 (first fragments only) or IPv6 (a few extension headers),
then the two ports. :func:`flow_key` returns a compact bytes key (a slice or two of
the frame) so the per-packet cost for a known flow is one set lookup; only a new key
is decoded to text with :func:`decode_key`. Anything it cannot parse gives None:
never an exception on packet data.
"""

from __future__ import annotations

import socket
from typing import Final

DLT_NULL: Final = 0
DLT_EN10MB: Final = 1
DLT_RAW: Final = 12
DLT_RAW_ALT: Final = 101
DLT_LOOP: Final = 108
DLT_LINUX_SLL: Final = 113
DLT_IPV4: Final = 228
DLT_IPV6: Final = 229
DLT_LINUX_SLL2: Final = 276

_ETH_IPV4: Final = 0x0800
_ETH_IPV6: Final = 0x86DD
_ETH_VLAN: Final = (0x8100, 0x88A8, 0x9100)
_V6_EXT: Final = (0, 43, 60)  # hop-by-hop, routing, destination options
_BSD_AF_INET6: Final = (10, 24, 28, 30)  # Linux, and the BSDs' / macOS's AF_INET6 values

Flow = tuple[str, str, int, str, int]


def _l3_offset(linktype: int, data: bytes) -> tuple[int, int]:
    """(offset of the IP header, ethertype-like 4/6/0)."""
    if linktype == DLT_EN10MB:
        off = 12
        etype = int.from_bytes(data[12:14], "big")
        while etype in _ETH_VLAN:
            off += 4
            etype = int.from_bytes(data[off : off + 2], "big")
        off += 2
    elif linktype == DLT_LINUX_SLL:
        off, etype = 16, int.from_bytes(data[14:16], "big")
    elif linktype == DLT_LINUX_SLL2:
        off, etype = 20, int.from_bytes(data[0:2], "big")
    elif linktype in (DLT_NULL, DLT_LOOP):
        fam = data[0:4]
        af = int.from_bytes(fam, "big" if linktype == DLT_LOOP else "little") if len(fam) == 4 else -1
        if linktype == DLT_NULL and af > 0xFFFF:  # written by a big-endian host
            af = int.from_bytes(fam, "big")
        return 4, 4 if af == 2 else 6 if af in _BSD_AF_INET6 else 0
    elif linktype in (DLT_RAW, DLT_RAW_ALT, DLT_IPV4, DLT_IPV6):
        return 0, (data[0] >> 4) if data else 0
    else:
        return 0, 0
    return off, 4 if etype == _ETH_IPV4 else 6 if etype == _ETH_IPV6 else 0


def flow_key(linktype: int, data: bytes) -> bytes | None:
    """proto(1) + src + dst + sport/dport(4) as one bytes key, or None (not TCP/UDP, or cut short)."""
    off, ver = _l3_offset(linktype, data)
    if ver == 4:
        if len(data) < off + 20 or data[off] >> 4 != 4:
            return None
        proto = data[off + 9]
        if proto not in (6, 17) or int.from_bytes(data[off + 6 : off + 8], "big") & 0x1FFF:
            return None  # not TCP/UDP, or a later fragment (no ports)
        l4 = off + (data[off] & 0x0F) * 4
        ports = data[l4 : l4 + 4]
        if len(ports) < 4:
            return None
        return data[off + 9 : off + 10] + data[off + 12 : off + 20] + ports
    if ver == 6:
        if len(data) < off + 40 or data[off] >> 4 != 6:
            return None
        nxt = data[off + 6]
        l4 = off + 40
        for _ in range(4):
            if nxt not in _V6_EXT:
                break
            if len(data) < l4 + 2:
                return None
            nxt, l4 = data[l4], l4 + (data[l4 + 1] + 1) * 8
        if nxt not in (6, 17):
            return None
        ports = data[l4 : l4 + 4]
        if len(ports) < 4:
            return None
        return bytes((nxt,)) + data[off + 8 : off + 40] + ports
    return None


def decode_key(key: bytes) -> Flow:
    """The (proto, src, sport, dst, dport) of a :func:`flow_key` key, addresses as text."""
    proto = "tcp" if key[0] == 6 else "udp"
    alen = 4 if len(key) == 13 else 16
    fam = socket.AF_INET if alen == 4 else socket.AF_INET6
    src = socket.inet_ntop(fam, key[1 : 1 + alen])
    dst = socket.inet_ntop(fam, key[1 + alen : 1 + 2 * alen])
    p = 1 + 2 * alen
    return proto, src, int.from_bytes(key[p : p + 2], "big"), dst, int.from_bytes(key[p + 2 : p + 4], "big")


def flow_of(linktype: int, data: bytes) -> Flow | None:
    """The decoded flow of one frame (convenience for tests and slow paths)."""
    key = flow_key(linktype, data)
    return decode_key(key) if key is not None else None
