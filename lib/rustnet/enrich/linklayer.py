"""MACs, vendors and the default gateway for the ends of a connection.

The gateway and the neighbour table (ARP and NDP) belong to the capturing host, so they are
used only on live streams, re-read at most every few seconds. ARP connections carry their
sender's MAC themselves (``sha``), which also names the vendor of a capture file's peers.
"""

from __future__ import annotations

import time
from typing import Any, Final

from rustnet.enrich.gateway import default_gateways
from rustnet.enrich.neighbours import read_neighbours
from rustnet.enrich.oui import Vendors

REFRESH: Final = 5.0
# A peer missing from the table may have just been resolved (its first packets are new).
MISS_REFRESH: Final = 0.5
_NO_MAC: Final = "00:00:00:00:00:00"


class LinkLayer:
    """Adds mac_src/mac_dst, vendor_src/vendor_dst and gateway to connection records."""

    def __init__(self, vendors: Vendors | None = None) -> None:
        self.vendors = vendors or Vendors()
        self._gateways: frozenset[str] = frozenset()
        self._neighbours: dict[str, str] = {}
        self._read_at = -REFRESH
        self._neighbours_at = -REFRESH

    def _refresh(self, now: float) -> None:
        if now - self._read_at >= REFRESH:
            self._read_at = now
            self._gateways = default_gateways()
            self._neighbours_at = now
            self._neighbours = read_neighbours()

    def _neighbour(self, addr: str, now: float) -> str | None:
        mac = self._neighbours.get(addr)
        if mac is None and now - self._neighbours_at >= MISS_REFRESH:
            self._neighbours_at = now
            self._neighbours = read_neighbours()
            mac = self._neighbours.get(addr)
        return mac

    def annotate(self, conn: dict[str, Any], live: bool) -> None:
        macs: dict[str, Any] = {}
        if conn.get("proto") == "arp" and conn.get("sha") not in (None, _NO_MAC):
            macs["src"] = conn.get("sha")
        if live:
            now = time.monotonic()  # one clock read a record: this runs for every record
            self._refresh(now)
            for side in ("src", "dst"):
                addr = conn.get(side)
                if not isinstance(addr, str):
                    continue
                if side not in macs:
                    mac = self._neighbour(addr, now)
                    if mac is not None:
                        macs[side] = mac
                if addr in self._gateways:
                    conn["gateway"] = side
        for side, mac in macs.items():
            if not isinstance(mac, str):
                continue
            conn.setdefault(f"mac_{side}", mac)
            vendor = self.vendors.lookup(mac)
            if vendor is not None:
                conn.setdefault(f"vendor_{side}", vendor)
