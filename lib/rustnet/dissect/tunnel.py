"""IP-in-IP and GRE: where the packet inside starts, so its flow is the one counted.

tshark counts a tunnelled packet in the TCP/UDP conversation of the packet inside; so
does rn-dissect: the summary is the inner packet's (with the outer frame's length and VLAN
ids, and ``info.tunnel``).

UDP encapsulations (VXLAN on port 4789, Geneve on 6081, Teredo on 3544) are counted by
tshark in the outer UDP conversation *and* in the inner one: rn-dissect writes two
summaries for such a frame, the outer UDP one as for any datagram, then the inner packet's
with ``info.tunnel`` naming the tunnel and its outer addresses (e.g.
``"vxlan 42 10.0.0.1→10.0.0.2"``). WireGuard and other UDP tunnels encrypt what they carry.

:func:`inner` returns ``(ethertype, offset, name)`` of the encapsulated packet, None when
the tunnel carries something rn-dissect does not read (GRE version 1/PPTP, routing, ERSPAN),
raises ``struct.error`` on a cut header. :func:`udp_inner` does the same for a UDP payload.
"""

from __future__ import annotations

import struct
from typing import Final

from rustnet.dissect.link import ETH_IPV4, ETH_IPV6
from rustnet.stream.records import ip_text

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

VXLAN_PORT: Final = 4789
GENEVE_PORT: Final = 6081
TEREDO_PORT: Final = 3544
# By port, as tshark decodes them: either end may hold the tunnel's port.
UDP_TUNNEL_PORTS: Final = frozenset((VXLAN_PORT, GENEVE_PORT, TEREDO_PORT))
VXLAN_HEADER_LEN: Final = 8
VXLAN_FLAG_VNI: Final = 0x08  # the I flag: the VNI is valid (RFC 7348 says it must be set)
GENEVE_HEADER_LEN: Final = 8
TEREDO_AUTH: Final = 0x0001  # RFC 4380 5.1.1: authentication header
TEREDO_ORIGIN: Final = 0x0000  # origin indication: 8 bytes
TEREDO_ORIGIN_LEN: Final = 8
IPV6_HEADER_LEN: Final = 40

_vxlan = struct.Struct("!B3xI").unpack_from
_geneve = struct.Struct("!BBHI").unpack_from
_teredo_auth = struct.Struct("!HBB").unpack_from
_ipv6_head = struct.Struct("!IH").unpack_from
_u16 = struct.Struct("!H").unpack_from
_GENEVE_TYPES: Final = frozenset((ETH_IPV4, ETH_IPV6, ETH_TRANSPARENT_BRIDGING))


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


def udp_inner(data: bytes, off: int, end: int, sport: int, dport: int) -> tuple[int, int, str] | None:
    """The packet inside a UDP payload at ``data[off:end]``, by the tunnel port either end holds.

    ``name`` is the tunnel and its identifier ("vxlan 42", "geneve 7", "teredo"); None when
    the payload is not the tunnel its port says (a header that breaks the protocol's rules).
    """
    port = dport if dport in UDP_TUNNEL_PORTS else sport
    if port == VXLAN_PORT:
        if end - off < VXLAN_HEADER_LEN + 14:
            return None
        flags, vni = _vxlan(data, off)
        if not flags & VXLAN_FLAG_VNI:
            return None
        return ETH_TRANSPARENT_BRIDGING, off + VXLAN_HEADER_LEN, f"vxlan {vni >> 8}"
    if port == GENEVE_PORT:
        if end - off < GENEVE_HEADER_LEN:
            return None
        verlen, _, ptype, vni = _geneve(data, off)
        if verlen >> 6 or ptype not in _GENEVE_TYPES:
            return None
        start = off + GENEVE_HEADER_LEN + ((verlen & 0x3F) << 2)
        if start >= end:
            return None
        return ptype, start, f"geneve {vni >> 8}"
    return _teredo(data, off, end)


def _teredo(data: bytes, off: int, end: int) -> tuple[int, int, str] | None:
    """An IPv6 packet, after an optional authentication and origin indication header."""
    p = off
    if end - p >= 4 and _u16(data, p)[0] == TEREDO_AUTH:
        _, id_len, au_len = _teredo_auth(data, p)
        p += 4 + id_len + au_len + 9  # nonce (8) and confirmation (1)
    if end - p >= TEREDO_ORIGIN_LEN and _u16(data, p)[0] == TEREDO_ORIGIN:
        p += TEREDO_ORIGIN_LEN
    if end - p < IPV6_HEADER_LEN:
        return None
    vtf, plen = _ipv6_head(data, p)
    # A Teredo packet is exactly one IPv6 packet: anything else on the port is not Teredo.
    if vtf >> 28 != 6 or plen + IPV6_HEADER_LEN != end - p:
        return None
    return ETH_IPV6, p, "teredo"


def describe(name: str, src: bytes, dst: bytes) -> str:
    """``name`` with the outer addresses, as Details shows it: ``"vxlan 42 10.0.0.1→10.0.0.2"``."""
    return f"{name} {ip_text(src)}\u2192{ip_text(dst)}"
