"""Fuzz the L2-L4 parsers' contract and the Dissector stage.

* Each parser returns a result, or raises ``struct.error`` (the bytes end inside a header)
  or ``Malformed`` (the header makes no sense) - nothing else.
* ``Dissector.process`` never raises, emits at most one summary per packet record, and
  counts every packet record exactly once.

Input: valid frames of every link type cut at any offset, with random tails and flipped
bytes, and wholly random bytes. ``make fuzz`` runs it with the deep profile.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from rustnet.dissect import ip, l4, link
from rustnet.dissect.arp import arp
from rustnet.dissect.engine import Dissector
from rustnet.dissect.info import Malformed

from tests import dissect_frames as F

GRE_KEYED_ETH = struct.pack("!HH", 0x2000, 0x6558) + b"\0" * 4  # GRE with a key, carrying Ethernet
VALID: list[tuple[int, bytes]] = [
    (1, F.eth(F.ipv4(F.tcp(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", options=b"\x01" * 4)))),
    (1, F.eth(F.ipv6(F.ext6(43) + F.ext6(17) + F.udp(b"d" * 30), nxt=0), 0x86DD, vlans=(1, 2))),
    (1, F.eth(F.ipv6(F.frag6(17, 0, True, 7) + F.udp(b"x" * 40, ulen=3000), nxt=44), 0x86DD)),
    (1, F.eth(F.ipv4(F.udp(b"y" * 40, ulen=3000), proto=17, frag=0x2000))),
    (1, F.eth(F.arp(1), 0x0806, vlans=(9,))),
    (
        1,
        F.eth(
            struct.pack("!II", 16 << 12, 17 << 12 | 0x100) + F.ipv4(F.icmp(8, 0, 1, 1, b"p" * 8), proto=1),
            0x8847,
        ),
    ),
    (113, F.sll(F.ipv4(F.icmp(3, 1, payload=F.ipv4(F.udp()))), 0x0800)),
    (276, F.sll2(F.ipv6(F.icmp(128, 0, 2, 3, b"q"), nxt=58), 0x86DD)),
    (0, F.null(F.ipv6(F.tcp(flags=2)), 30)),
    (108, F.null(F.ipv4(F.tcp(flags=2)), 2, big_endian=True)),
    (12, F.ipv4(F.ipv4(F.tcp(), proto=6), proto=4)),
    (229, F.ipv6(F.tcp(b"z"), nxt=6)),
    (1, F.eth(F.ipv4(GRE_KEYED_ETH + F.eth(F.ipv4(F.ipv4(F.udp(b"w"), proto=17), proto=4)), proto=47))),
]

frames = st.one_of(
    st.tuples(
        st.sampled_from(VALID),
        st.integers(0, 200),
        st.binary(max_size=40),
        st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=4),
    ).map(lambda t: (t[0][0], _mutate(t[0][1], t[1], t[2], t[3]))),
    st.tuples(st.sampled_from([0, 1, 12, 101, 108, 113, 228, 229, 276]), st.binary(max_size=120)),
)


def _mutate(frame: bytes, cut: int, tail: bytes, flips: list[tuple[int, int]]) -> bytes:
    data = bytearray(frame[:cut] + tail)
    for pos, val in flips:
        if data:
            data[pos % len(data)] = val
    return bytes(data)


def _contract(fn: Callable[..., Any], *args: Any) -> None:
    try:
        fn(*args)
    except (struct.error, Malformed):
        pass


@given(frames)
def test_parsers_raise_only_short_read_or_malformed(lt_frame: tuple[int, bytes]) -> None:
    linktype, data = lt_frame
    decoder = link.decoder_for(linktype)
    assert decoder is not None
    _contract(decoder, data)
    for off in (0, 4, 14, 16, 18, 20, 34, 54):
        room = len(data) - off
        for parse in (ip.ipv4, ip.ipv6, l4.tcp, l4.udp):
            _contract(parse, data, off, room)
        _contract(l4.icmp, data, off, room, off % 2 == 0)
        _contract(arp, data, off)


@given(st.lists(st.tuples(frames, st.integers(-10, 3000)), max_size=8))
def test_stage_never_raises_and_counts_every_packet(batch: list[tuple[tuple[int, bytes], int]]) -> None:
    d = Dissector(dpi=True)
    recs: list[Any] = []
    for (linktype, data), extra in batch:
        recs += [F.hdr(linktype), ["pkt", 1_700_000_000.0, len(data) + extra, data]]
    out = d.process(recs) + d.finish()
    sums = [r for r in out if isinstance(r, list) and r[0] == "sum"]
    assert len(sums) <= len(batch)
    assert d.packets == len(batch)
    for s in sums:
        assert len(s) == 15 and isinstance(s[4], bytes) and isinstance(s[6], bytes)
        assert s[2] >= 0 and s[11] >= 0
