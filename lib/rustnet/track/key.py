"""Direction-free connection keys.

Both directions of a conversation must find the same table entry with one dict
lookup, so the key puts the lower (address, port) endpoint first. The tracker's
hot loop inlines exactly this comparison (a function call per packet costs more
than the comparison); :func:`flow_key` is the reference the tests hold it to.

Ports are part of the key for TCP and UDP only: ICMP/ICMPv6 conversations are
keyed by the host pair (the record's ports are 0), ARP by sender and target IP.
"""

from __future__ import annotations

from typing import Any, Final

from rustnet.stream.records import PROTO_TCP, PROTO_UDP

FlowKey = tuple[int, Any, int, Any, int]

PORTED: Final = frozenset({PROTO_TCP, PROTO_UDP})


def flow_key(proto: int, src: Any, sport: int, dst: Any, dport: int) -> tuple[FlowKey, bool]:
    """The key of a packet's conversation, and whether the sender is the key's first endpoint."""
    if proto not in PORTED:
        sport = dport = 0
    if src < dst or (src == dst and sport <= dport):
        return (proto, src, sport, dst, dport), True
    return (proto, dst, dport, src, sport), False
