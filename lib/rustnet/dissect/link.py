"""Link layers: from a captured frame to (ethertype, offset of the L3 header, VLAN ids).

Every decoder has the same shape, ``decode(data) -> (ethertype, offset, vlan)``:

* ``ethertype`` says what the L3 header is (0x0800 IPv4, 0x86DD IPv6, 0x0806 ARP, anything
  else is not IP); link types without an ethertype (NULL, LOOP, raw IP) map theirs onto one.
* ``vlan`` is ``None`` or the 802.1Q/802.1ad ids, outer first. PPPoE sessions and MPLS label
  stacks between the link header and IP are skipped the same way.
* A frame too short for its link header raises ``struct.error``; a header that makes no
  sense raises :class:`~rustnet.dissect.info.Malformed`.

:data:`DECODERS` maps libpcap DLT values (what ``hdr.linktype`` carries) to decoders.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Final

from rustnet.dissect.info import Malformed

ETH_IPV4: Final = 0x0800
ETH_ARP: Final = 0x0806
ETH_IPV6: Final = 0x86DD
ETH_NONE: Final = 0  # "not an ethertype": an address family or IP version we do not know
# 802.1Q, 802.1ad (QinQ) and the pre-standard QinQ TPIDs.
VLAN_TPIDS: Final = frozenset((0x8100, 0x88A8, 0x9100, 0x9200))
ETH_RARP: Final = 0x8035
ETH_PPPOE_SESSION: Final = 0x8864
MPLS_ETHERTYPES: Final = frozenset((0x8847, 0x8848))
ENCAP_ETHERTYPES: Final = VLAN_TPIDS | MPLS_ETHERTYPES | {ETH_PPPOE_SESSION}
PPP_TO_ETHERTYPE: Final = {0x0021: ETH_IPV4, 0x0057: ETH_IPV6}
# A deeper stack is a crafted frame, not a network: stop before it costs anything.
MAX_ENCAP_HEADERS: Final = 8

ETH_HEADER_LEN: Final = 14
SLL_HEADER_LEN: Final = 16
SLL2_HEADER_LEN: Final = 20

# DLT values (pcap/dlt.h, as libpcap hands them out on Linux).
DLT_NULL: Final = 0
DLT_EN10MB: Final = 1
DLT_RAW: Final = 12
DLT_RAW_LINKTYPE: Final = 101  # LINKTYPE_RAW when a file's header value is passed through
DLT_LOOP: Final = 108
DLT_LINUX_SLL: Final = 113
DLT_IPV4: Final = 228
DLT_IPV6: Final = 229
DLT_LINUX_SLL2: Final = 276
DLT_NFLOG: Final = 239  # Linux netfilter log (nflog:N), libpcap's LINKTYPE_NFLOG too

NFLOG_HEADER_LEN: Final = 4  # family, version, resource id
NFULA_PAYLOAD: Final = 9  # the TLV holding the logged packet
NFLOG_TLV_TYPE_MASK: Final = 0x7FFF  # the top bit is a netlink nesting flag
# A logged packet carries about 10 TLVs (prefix, uid, gid, timestamp, ...): more is crafted.
MAX_NFLOG_TLVS: Final = 64

# BSD address families in NULL/LOOP headers: AF_INET is 2 everywhere, AF_INET6 is not.
AF_INET: Final = 2
AF_INET6_VALUES: Final = frozenset((10, 23, 24, 28, 30))  # Linux, Windows, Net/OpenBSD, FreeBSD, Darwin

_IP_VERSION_ETHERTYPE: Final = {4: ETH_IPV4, 6: ETH_IPV6}

Decoded = tuple[int, int, list[int] | None]
Decoder = Callable[[bytes], Decoded]

_u16 = struct.Struct("!H").unpack_from
_u16x2 = struct.Struct("!HH").unpack_from
_u16x2le = struct.Struct("<HH").unpack_from
_u32be = struct.Struct("!I").unpack_from
_u32le = struct.Struct("<I").unpack_from
_u8 = struct.Struct("B").unpack_from


def encapsulated(data: bytes, etype: int, off: int) -> Decoded:
    """Walk VLAN tags, PPPoE session and MPLS headers from ``off`` (just after ``etype``) to L3."""
    ids: list[int] = []
    for _ in range(MAX_ENCAP_HEADERS):
        if etype in VLAN_TPIDS:
            tci, etype = _u16x2(data, off)
            ids.append(tci & 0x0FFF)
            off += 4
        elif etype == ETH_PPPOE_SESSION:
            (ppp,) = _u16(data, off + 6)  # after version/type, code, session id, length
            off += 8
            etype = PPP_TO_ETHERTYPE.get(ppp, ETH_NONE)
        elif etype in MPLS_ETHERTYPES:
            for _ in range(MAX_ENCAP_HEADERS):
                (label,) = _u32be(data, off)
                off += 4
                if label & 0x100:  # bottom of stack
                    break
            else:
                raise Malformed(f"mpls label stack deeper than {MAX_ENCAP_HEADERS}")
            # MPLS does not say what it carries; IP says so in its first nibble.
            (b,) = _u8(data, off)
            etype = _IP_VERSION_ETHERTYPE.get(b >> 4, ETH_NONE)
        else:
            return etype, off, ids or None
    raise Malformed(f"more than {MAX_ENCAP_HEADERS} vlan/pppoe/mpls headers")


def ethernet(data: bytes) -> Decoded:
    """Ethernet II (an 802.3 length field comes out as an ethertype <= 1500: not IP)."""
    (etype,) = _u16(data, 12)
    if etype in ENCAP_ETHERTYPES:
        return encapsulated(data, etype, ETH_HEADER_LEN)
    return etype, ETH_HEADER_LEN, None


def linux_sll(data: bytes) -> Decoded:
    """Linux cooked capture v1: the protocol (an ethertype for IP/ARP) ends the 16-byte header."""
    (etype,) = _u16(data, 14)
    if etype in ENCAP_ETHERTYPES:
        return encapsulated(data, etype, SLL_HEADER_LEN)
    return etype, SLL_HEADER_LEN, None


def linux_sll2(data: bytes) -> Decoded:
    """Linux cooked capture v2: the protocol opens the 20-byte header."""
    (etype,) = _u16(data, 0)
    if len(data) < SLL2_HEADER_LEN:
        raise struct.error("short sll2 header")
    if etype in ENCAP_ETHERTYPES:
        return encapsulated(data, etype, SLL2_HEADER_LEN)
    return etype, SLL2_HEADER_LEN, None


def _family(af: int) -> int:
    if af == AF_INET:
        return ETH_IPV4
    if af in AF_INET6_VALUES:
        return ETH_IPV6
    return ETH_NONE


def null(data: bytes) -> Decoded:
    """BSD loopback: a 4-byte address family in the *capturing* host's byte order."""
    (af,) = _u32le(data, 0)
    if af > 0xFFFF:  # written big-endian
        (af,) = _u32be(data, 0)
    return _family(af), 4, None


def loop(data: bytes) -> Decoded:
    """OpenBSD loopback: the same 4-byte address family, always in network byte order."""
    (af,) = _u32be(data, 0)
    return _family(af), 4, None


def nflog(data: bytes) -> Decoded:
    """Linux NFLOG: a 4-byte header, then TLVs; the packet is the value of the payload TLV.

    TLV lengths and types are in the capturing host's byte order (libpcap converts a file
    written on the other order to ours); a length counts its own 4-byte header, and each
    value is padded to 4 bytes.
    """
    (family,) = _u8(data, 0)
    off = NFLOG_HEADER_LEN
    for _ in range(MAX_NFLOG_TLVS):
        length, typ = _u16x2le(data, off)
        if length < 4:
            raise Malformed(f"nflog tlv length {length}")
        if typ & NFLOG_TLV_TYPE_MASK == NFULA_PAYLOAD:
            etype = _family(family)
            if etype == ETH_NONE:  # AF_UNSPEC: the IP version says which
                etype = raw(data[off + 4 : off + 5])[0]
            return etype, off + 4, None
        off += (length + 3) & ~3
        if off >= len(data):
            raise struct.error("nflog frame without a payload tlv")
    raise Malformed(f"more than {MAX_NFLOG_TLVS} nflog tlvs")


def raw(data: bytes) -> Decoded:
    """Raw IP: the version nibble says which."""
    (b,) = _u8(data, 0)
    v = b >> 4
    return (ETH_IPV4 if v == 4 else ETH_IPV6 if v == 6 else ETH_NONE), 0, None


def raw_ipv4(data: bytes) -> Decoded:
    return ETH_IPV4, 0, None


def raw_ipv6(data: bytes) -> Decoded:
    return ETH_IPV6, 0, None


DECODERS: Final[dict[int, Decoder]] = {
    DLT_EN10MB: ethernet,
    DLT_LINUX_SLL: linux_sll,
    DLT_LINUX_SLL2: linux_sll2,
    DLT_NULL: null,
    DLT_LOOP: loop,
    DLT_RAW: raw,
    DLT_RAW_LINKTYPE: raw,
    DLT_IPV4: raw_ipv4,
    DLT_IPV6: raw_ipv6,
    DLT_NFLOG: nflog,
}


def decoder_for(linktype: object) -> Decoder | None:
    """The decoder for a header's ``linktype``, or None when rn-dissect does not know it."""
    if type(linktype) is not int:
        return None
    return DECODERS.get(linktype)
