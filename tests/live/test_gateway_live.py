"""The default gateway and a neighbour's MAC and vendor, live between two namespaces.

Host a routes by default via host b, whose veth carries a MAC with Cisco's OUI (00:00:0c);
the whole pipeline captures in a. The ping to b must come out with b marked as the gateway and
b's MAC and vendor (from the kernel's neighbour table and the installed IEEE registry).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

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


def test_ping_to_default_gateway_is_marked_with_its_mac_and_vendor() -> None:
    with TwoHosts() as net:
        net.run("b", ["ip", "link", "set", "dev", net.if_b, "address", PEER_MAC])
        net.run("a", ["ip", "route", "add", "default", "via", net.addr_b])
        pipeline = (
            f"{CAPTURE} -i {net.if_a} icmp or arp | {DISSECT} | {TRACK} -r 200 | {ENRICH} --format json"
        )
        pipe = Records(net.cmd("a", ["sh", "-c", pipeline]))
        try:
            pipe.wait_for(lambda recs: any(r.get("t") == "hdr" for r in recs))
            net.run("a", ["ping", "-c", "3", "-i", "0.3", net.addr_b])
            pipe.wait_for(
                lambda recs: any(r.get("proto") == "icmp" and "mac_dst" in r for r in recs), timeout=10
            )
            pipe.interrupt_and_drain()
            pings = [r for r in pipe.records if r.get("t") == "conn" and r.get("proto") == "icmp"]
            assert pings, pipe.records[-5:]
            ping = pings[-1]
            assert (ping["src"], ping["dst"]) == (net.addr_a, net.addr_b)
            assert ping["gateway"] == "dst"
            assert ping["mac_dst"] == PEER_MAC
            if os.path.exists(OUI_PATHS[0]):
                assert ping["vendor_dst"].startswith("Cisco")
            assert "mac_src" not in ping  # host a's own address is no neighbour of its own
        finally:
            pipe.close()
