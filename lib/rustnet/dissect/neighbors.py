"""What IGMP (RFC 2236, 3376) and NDP (RFC 4861) say about a link's hosts and groups.

    igmp_info(data, off, end)   # {"igmp_type": "v2 report", "igmp_groups": ["239.1.2.3"]}
    ndp_info(data, off, end)    # {"ndp_type": ..., "ndp_target": "fe80::1", "ndp_lladdr": ...}

Both read only inside data[off:end] (the IP payload) and return None when it is too short.
NDP is read only from packets with hop limit 255 (RFC 4861 §7.1.1: any other was forwarded
by a router, so it may not come from the link); the caller checks that.
"""

from __future__ import annotations

import socket
from typing import Any, Final

PROTO_IGMP: Final = 2
NDP_SOLICIT: Final = 135
NDP_ADVERT: Final = 136
MAX_GROUPS: Final = 8  # group records read from one IGMPv3 report
IGMP_TYPES: Final = {
    0x11: "query",
    0x12: "v1 report",
    0x16: "v2 report",
    0x17: "leave",
    0x22: "v3 report",
}
_V3_REPORT: Final = 0x22
_OPT_SOURCE_LL: Final = 1
_OPT_TARGET_LL: Final = 2


def _ipv4(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET, raw)


def igmp_info(data: bytes, off: int, end: int) -> dict[str, Any] | None:
    """An IGMP message's type and the groups it names (a general query names none)."""
    end = min(end, len(data))
    if end - off < 8:
        return None
    typ = data[off]
    name = IGMP_TYPES.get(typ)
    if name is None:
        return None
    groups: list[str] = []
    if typ == _V3_REPORT:
        pos = off + 8
        for _ in range(min(int.from_bytes(data[off + 6 : off + 8], "big"), MAX_GROUPS)):
            if pos + 8 > end:
                break
            groups.append(_ipv4(data[pos + 4 : pos + 8]))
            aux = data[pos + 1] * 4
            sources = int.from_bytes(data[pos + 2 : pos + 4], "big") * 4
            pos += 8 + sources + aux
    elif data[off + 4 : off + 8] != b"\0\0\0\0":
        groups.append(_ipv4(data[off + 4 : off + 8]))
    out: dict[str, Any] = {"igmp_type": name}
    if groups:
        out["igmp_groups"] = groups
    return out


def ndp_info(data: bytes, off: int, end: int) -> dict[str, Any] | None:
    """A neighbour solicitation's or advertisement's target and link-layer address option
    (the sender's for a solicitation, the target's for an advertisement), or None."""
    end = min(end, len(data))
    if end - off < 24:
        return None
    typ = data[off]
    if typ != NDP_SOLICIT and typ != NDP_ADVERT:
        return None
    out: dict[str, Any] = {
        "ndp_type": "solicitation" if typ == NDP_SOLICIT else "advertisement",
        "ndp_target": socket.inet_ntop(socket.AF_INET6, data[off + 8 : off + 24]),
    }
    want = _OPT_SOURCE_LL if typ == NDP_SOLICIT else _OPT_TARGET_LL
    pos = off + 24
    while pos + 2 <= end:
        length = data[pos + 1] * 8
        if length == 0 or pos + length > end:
            break  # RFC 4861 §4.6: a zero length is invalid
        if data[pos] == want and length >= 8:
            out["ndp_lladdr"] = data[pos + 2 : pos + 8].hex(":")
            break
        pos += length
    return out
