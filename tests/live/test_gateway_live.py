"""The default gateway and a neighbour's MAC and vendor, live between two namespaces.

Host a routes by default via host b, whose veth carries a MAC with Cisco's OUI (00:00:0c);
the whole pipeline captures in a. The ping to b (IPv4 with ARP, IPv6 with NDP) must come out
with b marked as the gateway and b's MAC and vendor (from the kernel's neighbour table and
the installed IEEE registry).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
from rustnet.enrich.oui import OUI_PATHS

from tests.live.test_enrich_live import Records
from tests.netns import TwoHosts, can_make_namespaces

BIN = Path(sys.executable).parent
CAPTURE, DISSECT, TRACK, ENRICH = (
    str(BIN / n) for n in ("rn-capture", "rn-dissect", "rn-track", "rn-enrich")
)
PEER_MAC = "00:00:0c:12:34:56"

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not can_make_namespaces(), reason="needs root and ip netns"),
]


def _gateway_side(rec: dict[str, Any], gateway: str) -> str | None:
    """The side of an echo conversation with the gateway that holds the gateway's address."""
    if rec.get("t") != "conn" or rec.get("state") not in ("ECHO_REQUEST", "ECHO_REPLY"):
        return None
    return "dst" if rec.get("dst") == gateway else "src" if rec.get("src") == gateway else None


@pytest.mark.parametrize("family", ["4", "6"])
def test_ping_to_default_gateway_is_marked_with_its_mac_and_vendor(family: str) -> None:
    with TwoHosts() as net:
        gateway = net.addr_b if family == "4" else net.addr6_b
        net.run("b", ["ip", "link", "set", "dev", net.if_b, "address", PEER_MAC])
        net.run("a", ["ip", f"-{family}", "route", "add", "default", "via", gateway])
        pipeline = (
            f"{CAPTURE} -i {net.if_a} icmp or icmp6 or arp | {DISSECT} | {TRACK} -r 200 | "
            f"{ENRICH} --format json"
        )
        pipe = Records(net.cmd("a", ["sh", "-c", pipeline]))
        try:
            pipe.wait_for(lambda recs: any(r.get("t") == "hdr" for r in recs))
            net.run("a", ["ping", f"-{family}", "-c", "3", "-i", "0.3", gateway])
            pipe.wait_for(lambda recs: any(_gateway_side(r, gateway) for r in recs), timeout=10)
            pipe.interrupt_and_drain()
            pings = [r for r in pipe.records if _gateway_side(r, gateway)]
            ping = pings[-1]
            side = _gateway_side(ping, gateway)
            # rn-track may orient an ICMPv6 echo by b's neighbour advertisement: either side.
            other = "src" if side == "dst" else "dst"
            assert ping["gateway"] == side, ping
            assert ping[f"mac_{side}"] == PEER_MAC, ping
            if os.path.exists(OUI_PATHS[0]):
                assert ping[f"vendor_{side}"].startswith("Cisco"), ping
            assert f"mac_{other}" not in ping  # host a's own address is no neighbour of its own
        finally:
            pipe.close()
