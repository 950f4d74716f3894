"""What the first fragment of an IP datagram said about its L4 header, until the last one arrives.

Only the first fragment carries the TCP/UDP/ICMP header. To attribute the fragment that
completes a datagram to its flow (as tshark's conversation tables do), the header fields
of the first fragment are kept here, keyed by ``(src, dst, ident, proto)``. No payload is
kept. The table is bounded: a flood of first fragments that never complete evicts the
oldest entries instead of growing.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Final

MAX_PENDING: Final = 4096

FragKey = tuple[bytes, bytes, int, int]
# (sport, dport, flags, seq, ack, window, header_len, udp_paylen or -1)
FragHead = tuple[int, int, int, int, int, int, int, int]


class FragmentTable:
    """Bounded map from a datagram's identity to its first fragment's L4 header fields."""

    def __init__(self, max_pending: int = MAX_PENDING) -> None:
        self.max_pending = max_pending
        # An OrderedDict finds its oldest entry in O(1); a dict's first entry is found by
        # skipping the holes deletions left at its front, O(n) after many pops.
        self._pending: OrderedDict[FragKey, FragHead] = OrderedDict()
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._pending)

    def remember(self, key: FragKey, head: FragHead) -> None:
        pending = self._pending
        if key not in pending and len(pending) >= self.max_pending:
            pending.popitem(last=False)  # oldest first
            self.evicted += 1
        pending[key] = head

    def get(self, key: FragKey) -> FragHead | None:
        return self._pending.get(key)

    def pop(self, key: FragKey) -> FragHead | None:
        return self._pending.pop(key, None)

    def clear(self) -> None:
        self._pending.clear()
