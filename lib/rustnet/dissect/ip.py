"""IPv4 and IPv6: from the L3 header to the L4 protocol, addresses, and where L4 starts.

Both parsers return the same tuple, :data:`L3`:
``(proto, src, dst, l4off, l4len, frag, ident, anomaly)``

* ``src``/``dst``: packed addresses, sliced from the frame (4 or 16 bytes).
* ``l4off``: offset of the L4 header in the frame; ``l4len``: the L4 length on the wire, from
  the length fields (so Ethernet padding is never taken for payload).
* ``frag``: 0 when the packet is a whole datagram; otherwise the fragment offset in 8-byte
  units, or'ed with :data:`FRAG_MORE` when more fragments follow (IPv4's own encoding, which
  IPv6 fragment headers are converted to). ``ident``: the fragment identification.
* ``anomaly``: None, or why the length fields disagree with the frame (fields are clamped).

A header cut short raises ``struct.error``; a header that is not IP raises ``Malformed``.
IPv6 extension headers are skipped; ESP (50) and "no next header" (59) end the walk and are
reported as the protocol.
"""

from __future__ import annotations

import struct
from typing import Final

from rustnet.dissect.info import Malformed

FRAG_MORE: Final = 0x2000
FRAG_OFFSET_MASK: Final = 0x1FFF
IPV4_MIN_HEADER: Final = 20
IPV6_HEADER_LEN: Final = 40

# IPv6 extension headers sized in 8-byte units after the first 8 bytes.
IPV6_EXT_8: Final = frozenset((0, 43, 60, 135, 139, 140, 253, 254))
IPV6_FRAGMENT: Final = 44
IPV6_AH: Final = 51  # sized in 4-byte units after the first 8
# A longer chain is crafted; no real stack sends one.
MAX_IPV6_EXT: Final = 16

L3 = tuple[int, bytes, bytes, int, int, int, int, str | None]

_ipv4 = struct.Struct("!BxHHHxB2x4s4s").unpack_from
_ipv6 = struct.Struct("!IHBx16s16s").unpack_from
_u8x2 = struct.Struct("BB").unpack_from
_frag6 = struct.Struct("!BxHI").unpack_from


def ipv4(data: bytes, off: int, wire_avail: int) -> L3:
    """The IPv4 header at ``off``; ``wire_avail`` is how many bytes the frame has from there on the wire."""
    vhl, total, ident, frag, proto, src, dst = _ipv4(data, off)
    ihl = (vhl & 0x0F) << 2
    if vhl >> 4 != 4:
        raise Malformed(f"ip version {vhl >> 4} in an ipv4 frame")
    if ihl < IPV4_MIN_HEADER:
        raise Malformed("ipv4 header length < 20")
    anomaly = None
    if total == 0:
        # Segmentation offload on the capturing host leaves the length 0: the frame says it.
        total = wire_avail
    elif total < ihl:
        raise Malformed("ipv4 total length < header length")
    elif total > wire_avail:
        anomaly = "ipv4 total length beyond frame"
        total = wire_avail
    if ihl > total:
        raise Malformed("ipv4 header beyond frame")
    return proto, src, dst, off + ihl, total - ihl, frag & 0x3FFF, ident, anomaly


def ipv6(data: bytes, off: int, wire_avail: int) -> L3:
    """The IPv6 header at ``off`` and its extension headers."""
    vtf, plen, nxt, src, dst = _ipv6(data, off)
    if vtf >> 28 != 6:
        raise Malformed(f"ip version {vtf >> 28} in an ipv6 frame")
    anomaly = None
    room = wire_avail - IPV6_HEADER_LEN
    if plen == 0:
        plen = max(room, 0)  # jumbogram or segmentation offload: the frame says how long
    elif plen > room:
        anomaly = "ipv6 payload length beyond frame"
        plen = max(room, 0)
    p = off + IPV6_HEADER_LEN
    end = p + plen
    frag = 0
    ident = 0
    hops = 0
    while True:
        if nxt in IPV6_EXT_8:
            n, hl = _u8x2(data, p)
            size = (hl + 1) << 3
        elif nxt == IPV6_FRAGMENT:
            n, offm, ident = _frag6(data, p)
            size = 8
            frag = (offm >> 3) | (FRAG_MORE if offm & 1 else 0)
            if frag & FRAG_OFFSET_MASK:
                # Not the first fragment: what follows is the middle of the datagram, not headers.
                p += size
                nxt = n
                if p > end:
                    raise Malformed("ipv6 extension headers beyond payload")
                break
        elif nxt == IPV6_AH:
            n, hl = _u8x2(data, p)
            size = (hl + 2) << 2
        else:
            break
        hops += 1
        if hops > MAX_IPV6_EXT:
            raise Malformed("ipv6 extension header chain too long")
        p += size
        nxt = n
        if p > end:
            raise Malformed("ipv6 extension headers beyond payload")
    return nxt, src, dst, p, end - p, frag, ident, anomaly
