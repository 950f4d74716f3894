"""MACs, vendors and the default gateway for the ends of a connection.

The gateway and the neighbour table (/proc/net/arp) belong to the capturing host, so they are
used only on live streams, re-read at most every few seconds. ARP connections carry their
sender's MAC themselves (``sha``), which also names the vendor of a capture file's peers.
"""

from __future__ import annotations

import time
from typing import Any, Final

from rustnet.enrich.gateway import default_gateways
from rustnet.enrich.oui import Vendors

ARP_TABLE: Final = "/proc/net/arp"
REFRESH: Final = 5.0
_MAX_NEIGHBOURS: Final = 4096
_NO_MAC: Final = "00:00:00:00:00:00"


def read_neighbours(path: str = ARP_TABLE) -> dict[str, str]:
    """IPv4 address -> MAC of the complete entries of the kernel's ARP table."""
    out: dict[str, str] = {}
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            next(f, None)  # the header line
            for line in f:
                cols = line.split()
                # IP address, HW type, Flags (0x2: complete), HW address, Mask, Device
                if len(cols) >= 4 and cols[2] == "0x2" and cols[3] != _NO_MAC:
                    out[cols[0]] = cols[3].lower()
                    if len(out) >= _MAX_NEIGHBOURS:
                        break
    except OSError:
        pass
    return out


class LinkLayer:
    """Adds mac_src/mac_dst, vendor_src/vendor_dst and gateway to connection records."""

    def __init__(self, vendors: Vendors | None = None) -> None:
        self.vendors = vendors or Vendors()
        self._gateways: frozenset[str] = frozenset()
        self._neighbours: dict[str, str] = {}
        self._read_at = -REFRESH

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._read_at >= REFRESH:
            self._read_at = now
            self._gateways = default_gateways()
            self._neighbours = read_neighbours()

    def annotate(self, conn: dict[str, Any], live: bool) -> None:
        macs: dict[str, Any] = {}
        if conn.get("proto") == "arp" and conn.get("sha") not in (None, _NO_MAC):
            macs["src"] = conn.get("sha")
        if live:
            self._refresh()
            for side in ("src", "dst"):
                addr = conn.get(side)
                if not isinstance(addr, str):
                    continue
                if side not in macs and addr in self._neighbours:
                    macs[side] = self._neighbours[addr]
                if addr in self._gateways:
                    conn["gateway"] = side
        for side, mac in macs.items():
            if not isinstance(mac, str):
                continue
            conn.setdefault(f"mac_{side}", mac)
            vendor = self.vendors.lookup(mac)
            if vendor is not None:
                conn.setdefault(f"vendor_{side}", vendor)
