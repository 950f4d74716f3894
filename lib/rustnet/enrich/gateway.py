"""The default gateways of this network namespace: next hops of default routes (Linux /proc)."""

from __future__ import annotations

import ipaddress
import itertools
import socket
import struct
from typing import Final

ROUTE: Final = "/proc/net/route"
ROUTE6: Final = "/proc/net/ipv6_route"
_MAX_LINES: Final = 10_000


def _read_lines(path: str) -> list[str]:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return list(itertools.islice(f, _MAX_LINES))
    except OSError:
        return []


def default_gateways(route: str = ROUTE, route6: str = ROUTE6) -> frozenset[str]:
    """The gateway addresses of the default routes, as text ("10.0.0.1", "fe80::1")."""
    found: set[str] = set()
    for line in _read_lines(route)[1:]:
        cols = line.split()
        # Iface Destination Gateway Flags ...: destination 0 and the RTF_GATEWAY flag (0x2).
        if len(cols) < 8 or cols[1] != "00000000" or cols[7] != "00000000":
            continue
        try:
            if not int(cols[3], 16) & 0x2:
                continue
            gw = socket.inet_ntoa(struct.pack("<I", int(cols[2], 16)))
        except (ValueError, struct.error):
            continue
        if gw != "0.0.0.0":
            found.add(gw)
    for line in _read_lines(route6):
        cols = line.split()
        # dest dest_len src src_len next_hop metric refcnt use flags iface
        if len(cols) < 10 or cols[1] != "00" or set(cols[0]) != {"0"}:
            continue
        try:
            hop = ipaddress.IPv6Address(bytes.fromhex(cols[4]))
        except ValueError:
            continue
        if not hop.is_unspecified:
            found.add(str(hop))
    return frozenset(found)
