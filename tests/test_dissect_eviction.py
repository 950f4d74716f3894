"""The bounded tables of rn-dissect evict their oldest entry first, in O(1) however full they are.

A plain dict finds its first entry by skipping the holes deletions left at its front: with
one hole more per eviction, evicting costs O(n) and a full table under churn slows down. That
cost is C code no test can count, and timing it in a unit test fails on a loaded machine, so
the tests check the order under churn and that each table is kept in an OrderedDict (whose
oldest entry is found in O(1)).
"""

from __future__ import annotations

from collections import OrderedDict

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


def test_fragment_table_under_churn_keeps_the_newest_in_o1_order() -> None:
    size, n = 3_000, 1_000
    full = FragmentTable(max_pending=size)
    for i in range(size + n):  # every insert past size evicts the oldest entry
        full.remember(key(i), HEAD)
    assert full.evicted == n and len(full) == size
    assert full.get(key(n - 1)) is None and full.get(key(n)) == HEAD
    assert type(full._pending) is OrderedDict


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


def test_quic_flows_under_churn_keep_the_newest_in_o1_order() -> None:
    size, n = 3_000, 1_000
    flows = QuicFlows(max_flows=size)
    for i in range(size + n):  # each past size evicts the oldest
        flows.inspect(("k", i), True, vn_packet(i), 0.0)
    assert len(flows._flows) == size and not flows.known(("k", n - 1)) and flows.known(("k", n))
    assert type(flows._flows) is OrderedDict
