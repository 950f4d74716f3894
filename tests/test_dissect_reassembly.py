"""The bounds of fragment reassembly for DPI (rustnet.dissect.frag.Reassembler), from hand-built chunks."""

from __future__ import annotations

from rustnet.dissect.frag import (
    MAX_DATAGRAM,
    MAX_FRAGMENTS,
    MAX_HELD_BYTES,
    MAX_REASSEMBLING,
    REASSEMBLY_TIMEOUT,
    Reassembler,
)

KEY = (b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02", 7, 17)


def test_in_order_fragments_make_the_datagram() -> None:
    r = Reassembler()
    r.first(KEY, 1.0, b"a" * 16)
    r.middle(KEY, 1.0, 16, b"b" * 8)
    assert r.last(KEY, 1.1, 24, b"c" * 3) == b"a" * 16 + b"b" * 8 + b"c" * 3
    assert (r.reassembled, r.dropped, len(r)) == (1, 0, 0)


def test_overlap_drops_the_datagram() -> None:
    r = Reassembler()
    r.first(KEY, 1.0, b"a" * 16)
    r.middle(KEY, 1.0, 8, b"a" * 16)  # the same bytes again still overlap (RFC 5722)
    assert r.last(KEY, 1.0, 24, b"c") is None
    assert (r.reassembled, r.dropped, len(r)) == (0, 1, 0)


def test_a_gap_at_the_last_fragment_drops_it() -> None:
    r = Reassembler()
    r.first(KEY, 1.0, b"a" * 16)
    assert r.last(KEY, 1.0, 24, b"c") is None
    assert (r.reassembled, r.dropped, len(r)) == (0, 1, 0)


def test_time_size_and_count_are_bounded() -> None:
    r = Reassembler()
    r.first(KEY, 1.0, b"a" * 8)
    assert r.last(KEY, 1.0 + REASSEMBLY_TIMEOUT + 0.1, 8, b"b") is None
    r.first(KEY, 100.0, b"a" * 8)
    r.middle(KEY, 100.0, MAX_DATAGRAM - 4, b"x" * 8)  # past 65535 bytes
    assert len(r) == 0
    r.first(KEY, 200.0, b"a" * 8)
    for i in range(1, MAX_FRAGMENTS + 5):
        r.middle(KEY, 200.0, 8 * i, b"b" * 8)
    assert len(r) == 0 and r.dropped == 3
    for i in range(MAX_REASSEMBLING * 3):
        r.first((b"s", b"d", i, 17), 300.0, b"z" * 1000)
    assert len(r) <= MAX_REASSEMBLING and r._held <= MAX_HELD_BYTES
    for i in range(MAX_REASSEMBLING * 3):
        r.first((b"s", b"d", i, 17), 300.0 + REASSEMBLY_TIMEOUT * 2, b"z" * 60000)
    assert r._held <= MAX_HELD_BYTES


def test_the_dissector_gives_up_a_flood_of_fragments() -> None:
    from rustnet.dissect.engine import Dissector
    from rustnet.stream.records import make_header

    from tests.robust.test_hostile_cost import _first_fragments, _tiny_fragments

    header = make_header("rn-capture 0.1.0", 1, "frag", False, 262144, 1_700_000_000.0)
    for frames, dropped in ((_tiny_fragments(1500), 1), (_first_fragments(1500), 1500 - MAX_REASSEMBLING)):
        d = Dissector()
        d.process([header, *(["pkt", 1_700_000_000.0 + i * 1e-4, len(f), f] for i, f in enumerate(frames))])
        assert d.fragments == 1500
        assert d.reassembly.dropped == dropped and len(d.reassembly) <= MAX_REASSEMBLING
        assert d.reassembly._held <= MAX_HELD_BYTES
