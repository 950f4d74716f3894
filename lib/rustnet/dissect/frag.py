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


# Reassembly for DPI: the bytes of fragmented UDP datagrams, held until the last fragment.
MAX_DATAGRAM: Final = 65535  # an IP datagram's largest L4 part (IPv6 jumbograms are not fragmented)
MAX_REASSEMBLING: Final = 256  # datagrams held at once
MAX_HELD_BYTES: Final = 1 << 20  # bytes held over all of them
REASSEMBLY_TIMEOUT: Final = 30.0  # capture seconds a datagram may take (Linux's ipfrag_time)
# Fragments of one datagram: 65535 bytes in 576-byte IPv4 packets take 120. More is a flood
# of tiny ones (each checked against the others for overlap).
MAX_FRAGMENTS: Final = 128


class _Datagram:
    __slots__ = ("chunks", "first_ts", "size")

    def __init__(self, ts: float) -> None:
        self.first_ts = ts
        self.chunks: list[tuple[int, bytes]] = []
        self.size = 0


class Reassembler:
    """Bounded reassembly of fragmented datagrams, so DPI reads what they carry.

    A datagram is reassembled when its fragments arrive first to last (as every stack sends
    them) and its last one finds every byte before it. It is dropped, and counted, when two
    fragments overlap (RFC 5722 forbids it for IPv6; for IPv4 it is how fragment attacks
    hide data, and DPI must not guess which copy a host kept), when it would pass 65535
    bytes or 128 fragments, when it took longer than 30 s of capture time, when the last
    fragment finds a gap, or when room is needed for newer ones (256 datagrams, 1 MiB in all).
    """

    def __init__(self) -> None:
        self._open: OrderedDict[FragKey, _Datagram] = OrderedDict()
        self._held = 0
        self.reassembled = 0
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._open)

    def first(self, key: FragKey, ts: float, chunk: bytes) -> None:
        """The first fragment (offset 0) of a datagram: start holding it."""
        if key in self._open:
            self._drop(key)  # an id reused before its datagram completed
        self._expire(ts)
        dgram = _Datagram(ts)
        self._open[key] = dgram
        self._add(key, dgram, 0, chunk)

    def middle(self, key: FragKey, ts: float, offset: int, chunk: bytes) -> None:
        """A fragment that is neither first nor last."""
        dgram = self._open.get(key)
        if dgram is not None:
            if ts - dgram.first_ts > REASSEMBLY_TIMEOUT:
                self._drop(key)
            else:
                self._add(key, dgram, offset, chunk)

    def last(self, key: FragKey, ts: float, offset: int, chunk: bytes) -> bytes | None:
        """The last fragment: the whole datagram's L4 bytes, or None (nothing held, or dropped)."""
        dgram = self._open.get(key)
        if dgram is None:
            return None
        if ts - dgram.first_ts > REASSEMBLY_TIMEOUT or not self._add(key, dgram, offset, chunk):
            if key in self._open:
                self._drop(key)
            return None
        del self._open[key]
        self._held -= dgram.size
        chunks = sorted(dgram.chunks)
        at = 0
        for start, data in chunks:
            if start != at:  # a gap: a fragment never came
                self.dropped += 1
                return None
            at += len(data)
        self.reassembled += 1
        return b"".join(data for _, data in chunks)

    def clear(self) -> None:
        self._open.clear()
        self._held = 0

    def _add(self, key: FragKey, dgram: _Datagram, offset: int, chunk: bytes) -> bool:
        end = offset + len(chunk)
        if (
            end > MAX_DATAGRAM
            or len(dgram.chunks) >= MAX_FRAGMENTS
            or any(offset < s + len(d) and s < end for s, d in dgram.chunks)
        ):
            self._drop(key)
            return False
        while self._held + len(chunk) > MAX_HELD_BYTES or len(self._open) > MAX_REASSEMBLING:
            oldest = next(iter(self._open))
            self._drop(oldest)
            if oldest == key:
                return False
        dgram.chunks.append((offset, chunk))
        dgram.size += len(chunk)
        self._held += len(chunk)
        return True

    def _expire(self, ts: float) -> None:
        """Drop the datagrams that took too long (the oldest come first)."""
        while self._open:
            key, dgram = next(iter(self._open.items()))
            if ts - dgram.first_ts <= REASSEMBLY_TIMEOUT:
                return
            self._drop(key)

    def _drop(self, key: FragKey) -> None:
        dgram = self._open.pop(key)
        self._held -= dgram.size
        self.dropped += 1
