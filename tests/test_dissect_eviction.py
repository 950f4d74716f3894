"""The bounded tables of rn-dissect evict their oldest entry first, in O(1) however full they are.

A plain dict finds its first entry by skipping the holes deletions left at its front: with
one hole more per eviction, evicting costs O(n) and a full table under churn slows down.
"""

from __future__ import annotations

import time

from rustnet.dissect.frag import FragmentTable
from rustnet.dissect.quic import QuicFlows

HEAD = (1, 2, 0, 0, 0, 0, 8, -1)


def key(i: int) -> tuple[bytes, bytes, int, int]:
    return (b"\x0a\0\0\x01", b"\x0a\0\0\x02", i, 17)


def test_fragment_table_evicts_oldest_first() -> None:
    t = FragmentTable(max_pending=3)
    for i in range(3):
        t.remember(key(i), HEAD)
    t.remember(key(1), HEAD)  # already there: nothing evicted, its age unchanged
    assert t.evicted == 0
    t.remember(key(3), HEAD)
    assert t.get(key(0)) is None and t.evicted == 1
    assert t.pop(key(2)) == HEAD
    t.remember(key(4), HEAD)  # room again: nothing evicted
    t.remember(key(5), HEAD)
    assert t.get(key(1)) is None and t.evicted == 2
    assert [t.get(key(i)) is not None for i in (3, 4, 5)] == [True, True, True]


def _evictions(t: FragmentTable, start: int, n: int) -> float:
    began = time.perf_counter()
    for i in range(start, start + n):
        t.remember(key(i), HEAD)
    return time.perf_counter() - began


def test_fragment_eviction_stays_cheap_under_churn() -> None:
    size, n = 30_000, 10_000
    ratios = []
    for _ in range(3):  # the best of three: a loaded machine only makes it look worse
        t = FragmentTable(max_pending=size + n)
        _evictions(t, 0, size)
        insert_only = _evictions(t, size, n)  # below the bound: nothing evicted
        full = FragmentTable(max_pending=size)
        _evictions(full, 0, size)
        evicting = _evictions(full, size, n)  # every insert evicts the oldest entry
        assert full.evicted == n and len(full) == size
        ratios.append(evicting / insert_only)
    assert min(ratios) < 5, ratios  # a plain dict: ~8x here


def vn_packet(i: int) -> bytes:
    """A QUIC Version Negotiation datagram (cheap to inspect) with connection IDs from i."""
    cid = i.to_bytes(8, "big")
    return b"\xc0" + bytes(4) + b"\x08" + cid + b"\x08" + cid + b"\x00\x00\x00\x01"


def test_quic_flows_evict_oldest_first() -> None:
    flows = QuicFlows(max_flows=3)
    for i in range(3):
        flows.inspect(("k", i), True, vn_packet(i), 0.0)
    flows.inspect(("k", 0), True, vn_packet(0), 0.0)  # a known flow keeps its age
    flows.inspect(("k", 3), True, vn_packet(3), 0.0)
    assert [flows.known(("k", i)) for i in range(4)] == [False, True, True, True]
    flows.forget(("k", 2))
    flows.inspect(("k", 4), True, vn_packet(4), 0.0)  # room again: nothing evicted
    flows.inspect(("k", 5), True, vn_packet(5), 0.0)
    assert [flows.known(("k", i)) for i in range(6)] == [False, False, False, True, True, True]


def _new_flows(flows: QuicFlows, start: int, n: int) -> float:
    began = time.perf_counter()
    for i in range(start, start + n):
        flows.inspect(("k", i), True, vn_packet(i), 0.0)
    return time.perf_counter() - began


def test_quic_eviction_stays_cheap_under_churn() -> None:
    size, n = 60_000, 20_000
    ratios = []
    for _ in range(2):  # the best of two: a loaded machine only makes it look worse
        flows = QuicFlows(max_flows=size)
        filling = _new_flows(flows, 0, n)  # the first n: nothing evicted
        _new_flows(flows, n, size - n)
        evicting = _new_flows(flows, size, n)  # each evicts the oldest; a dict skips ever more holes
        assert len(flows._flows) == size and not flows.known(("k", n - 1)) and flows.known(("k", n))
        ratios.append(evicting / filling)
    assert min(ratios) < 1.2, ratios  # OrderedDict ~0.6, a plain dict ~1.8 here
