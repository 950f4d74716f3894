"""IP-in-IP and GRE: where the packet inside starts, so its flow is the one counted.

tshark counts a tunnelled packet in the TCP/UDP conversation of the packet inside; so
does rn-dissect: the summary is the inner packet's (with the outer frame's length and VLAN
ids, and ``info.tunnel``). UDP encapsulations (VXLAN, Geneve, WireGuard) stay UDP flows:
tshark counts those in the outer UDP conversation too.

:func:`inner` returns ``(ethertype, offset, name)`` of the encapsulated packet, None when
the tunnel carries something rn-dissect does not read (GRE version 1/PPTP, routing, ERSPAN),
raises ``struct.error`` on a cut header.
"""

from __future__ import annotations

import struct
from typing import Final

from rustnet.dissect.link import ETH_IPV4, ETH_IPV6

PROTO_IPIP: Final = 4
PROTO_IPV6_IN_IP: Final = 41
PROTO_GRE: Final = 47
TUNNEL_PROTOS: Final = frozenset((PROTO_IPIP, PROTO_IPV6_IN_IP, PROTO_GRE))
# Nested tunnels deeper than this are crafted: the innermost one is reported as it is.
MAX_TUNNEL_DEPTH: Final = 3

GRE_CHECKSUM: Final = 0x8000
GRE_ROUTING: Final = 0x4000
GRE_KEY: Final = 0x2000
GRE_SEQUENCE: Final = 0x1000
GRE_VERSION_MASK: Final = 0x0007
ETH_TRANSPARENT_BRIDGING: Final = 0x6558  # GRE carrying whole Ethernet frames (gretap)

_gre = struct.Struct("!HH").unpack_from


def inner(data: bytes, proto: int, off: int) -> tuple[int, int, str] | None:
    """The encapsulated packet of an IP payload of protocol ``proto`` starting at ``off``."""
    if proto == PROTO_IPIP:
        return ETH_IPV4, off, "ipip"
    if proto == PROTO_IPV6_IN_IP:
        return ETH_IPV6, off, "ip6ip"
    if proto != PROTO_GRE:
        return None
    flags, ptype = _gre(data, off)
    if flags & (GRE_ROUTING | GRE_VERSION_MASK):
        return None
    size = 4
    if flags & GRE_CHECKSUM:
        size += 4
    if flags & GRE_KEY:
        size += 4
    if flags & GRE_SEQUENCE:
        size += 4
    if ptype in (ETH_IPV4, ETH_IPV6, ETH_TRANSPARENT_BRIDGING):
        return ptype, off + size, "gre"
    return None
