"""Deep packet inspection: the one entry point rn-dissect calls for L7.

CONTRACT (the L2-L4 engine relies on exactly this):

    inspector = Inspector(enabled=True)
    info = inspector.inspect(proto, src, sport, dst, dport, payload, ts)

* ``proto`` is 6 (TCP) or 17 (UDP); ``src``/``dst`` packed IP bytes; ``payload`` the
  L4 payload as captured (bytes or memoryview, possibly shorter than on the wire).
* Returns ``None`` when there is nothing new to report for this packet, else a small
  dict of fields to put in the summary's ``info`` (keys as in the SPEC connection record:
  ``app``, ``sni``, ``alpn``, ``http_host``, ``dns_query``, ...).
* It keeps bounded per-flow state (reassembly of a ClientHello or QUIC CRYPTO frames)
  and stops looking at a flow once it is classified and has nothing more to learn, so
  the cost for the bulk of packets is one dict lookup.
* It never raises on packet data.
"""

from __future__ import annotations

from typing import Any


class Inspector:
    """Per-flow application-protocol detection and field extraction."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled

    def inspect(self, proto: int, src: bytes, sport: int, dst: bytes, dport: int,
                payload: bytes | memoryview, ts: float) -> dict[str, Any] | None:
        return None
