"""ARP: opcode and sender/target addresses of an IPv4 ARP message (RFC 826)."""

from __future__ import annotations

import struct
from typing import Final

ARP_PTYPE_IPV4: Final = 0x0800
ARP_FIXED_LEN: Final = 8
ARP_REQUEST: Final = 1
ARP_REPLY: Final = 2

ARP = tuple[int, bytes, bytes, str, str]

_arp = struct.Struct("!HHBBH").unpack_from


def mac_text(b: bytes) -> str:
    """``aa:bb:cc:dd:ee:ff`` (any length: ARP carries what its hardware length says)."""
    return b.hex(":")


def arp(data: bytes, off: int) -> ARP | None:
    """``(opcode, sender_ip, target_ip, sender_mac, target_mac)``; None when not IPv4 ARP."""
    _htype, ptype, hlen, plen, op = _arp(data, off)
    if ptype != ARP_PTYPE_IPV4 or plen != 4:
        return None
    p = off + ARP_FIXED_LEN
    end = p + 2 * (hlen + 4)
    if len(data) < end:
        raise struct.error("short arp message")
    sha = data[p : p + hlen]
    spa = data[p + hlen : p + hlen + 4]
    p += hlen + 4
    tha = data[p : p + hlen]
    tpa = data[p + hlen : p + hlen + 4]
    return op, spa, tpa, mac_text(sha), mac_text(tha)
