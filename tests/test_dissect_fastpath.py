"""The inline fast path of Dissector.process against the general path, Dissector.packet.

process() summarises untagged Ethernet/IPv4/IPv6 TCP and UDP frames inline and sends every
other frame to packet(). Both must give the same summaries and counters for every frame:
hand-built frames with every header field pushed to its edges, random corruptions, every
cut length, and the frames of the corpus captures, with and without DPI.
"""

from __future__ import annotations

import random
import struct
from typing import Any

import pytest
from rustnet.dissect.engine import COUNTERS, Dissector

from tests import dissect_frames as F
from tests.corpus import PCAPS as CORPUS
from tests.corpus_records import packet_records

TS = 1_700_000_000.25


def general(recs: list[Any], dpi: bool) -> tuple[list[Any], tuple[int, ...]]:
    """Summaries and counters from packet() alone, one frame at a time."""
    d = Dissector(dpi=dpi)
    out: list[Any] = []
    for rec in recs:
        if isinstance(rec, dict):
            d.header(rec)
        else:
            s = d.packet(rec[1], rec[2], rec[3])
            if s is not None:
                out.append(s)
    return out, d._counts()


def staged(recs: list[Any], dpi: bool, batch: int = 64) -> tuple[list[Any], tuple[int, ...]]:
    """Summaries and counters from process(), in batches."""
    d = Dissector(dpi=dpi)
    out: list[Any] = []
    for i in range(0, len(recs), batch):
        out += [r for r in d.process(recs[i : i + batch]) if isinstance(r, list)]
    return out, d._counts()


def same(recs: list[Any]) -> None:
    for dpi in (False, True):
        got, got_counts = staged(recs, dpi)
        want, want_counts = general(recs, dpi)
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert g == w
            assert [type(x) for x in g] == [type(x) for x in w]
        assert dict(zip(COUNTERS, got_counts, strict=True)) == dict(zip(COUNTERS, want_counts, strict=True))


def edge_frames() -> list[bytes]:
    """Frames at and around every bound the fast path checks."""
    tls = b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00"
    dns = bytes.fromhex("12340100000100000000000003777777076578616d706c6503636f6d0000010001")
    out: list[bytes] = []
    for payload in (b"", b"x", b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", tls, b"y" * 300):
        for flags in (0x02, 0x12, 0x10, 0x18, 0x11, 0x04):
            seg = F.tcp(payload, flags=flags, sport=40000 + flags, dport=443)
            out.append(F.eth(F.ipv4(seg)))
            out.append(F.eth(F.ipv6(seg), etype=0x86DD))
        for doff in (0, 4, 5, 6, 15):
            seg = F.tcp(payload, doff=doff)
            out.append(F.eth(F.ipv4(seg)))
            out.append(F.eth(F.ipv6(seg), etype=0x86DD))
        seg = F.tcp(payload)
        for total in (0, 19, 20, 39, 40, len(seg) + 19, len(seg) + 20, len(seg) + 21, 0xFFFF):
            out.append(F.eth(F.ipv4(seg, total=total)))
        for plen in (0, 19, 20, len(seg) - 1, len(seg), len(seg) + 1, 0xFFFF):
            out.append(F.eth(F.ipv6(seg, plen=plen), etype=0x86DD))
        for ihl in (4, 5, 6):
            out.append(F.eth(F.ipv4(seg, ihl=ihl, options=b"\x01" * 4 if ihl == 6 else b"")))
        for version in (4, 5, 6):
            out.append(F.eth(F.ipv4(seg, version=version)))
        for frag in (0, 0x4000, 0x2000, 0x0001, 0x8000):
            out.append(F.eth(F.ipv4(seg, frag=frag)))
        out.append(F.eth(F.ipv4(seg), vlans=(7,)))
        out.append(F.eth(F.ipv6(F.ext6(6) + seg, nxt=0), etype=0x86DD))
    for payload in (b"", b"q" * 3, b"q" * 12, dns, b"z" * 200):
        for sport, dport in ((5353, 53), (40000, 53), (40000, 443), (123, 123), (40000, 40001)):
            dgram = F.udp(payload, sport=sport, dport=dport)
            out.append(F.eth(F.ipv4(dgram, proto=17)))
            out.append(F.eth(F.ipv6(dgram, nxt=17), etype=0x86DD))
        for ulen in (0, 7, 8, 9, len(payload) + 7, len(payload) + 8, len(payload) + 9, 0xFFFF):
            dgram = F.udp(payload, ulen=ulen)
            out.append(F.eth(F.ipv4(dgram, proto=17)))
            out.append(F.eth(F.ipv6(dgram, nxt=17), etype=0x86DD))
            out.append(F.eth(F.ipv4(dgram, proto=17, total=20 + len(dgram) - 1)))
            out.append(F.eth(F.ipv4(dgram, proto=17, total=20 + len(dgram) + 5)))  # beyond the frame
            out.append(F.eth(F.ipv6(dgram, nxt=17, plen=len(dgram) + 5), etype=0x86DD))
    out.append(F.eth(F.ipv4(F.tcp(), proto=1)))
    out.append(F.eth(F.ipv6(F.tcp(), nxt=58), etype=0x86DD))
    return out


def records(frames: list[bytes], rng: random.Random) -> list[Any]:
    """pkt records of each frame as is, cut at every length near the headers, and with odd wire lengths."""
    recs: list[Any] = [F.hdr(1)]
    for frame in frames:
        recs.append(["pkt", TS, len(frame), frame])
        recs.append(["pkt", TS, len(frame) + rng.choice((1, 20, 1000)), frame])
        recs.append(["pkt", TS, max(len(frame) - rng.choice((1, 4, 30)), 0), frame])
        recs.append(["pkt", TS, len(frame), frame + b"\0" * rng.choice((1, 6, 20))])  # padding
        cut = rng.randrange(len(frame) + 1)
        recs.append(["pkt", TS, len(frame), frame[:cut]])
    return recs


def test_edge_frames_match_the_general_path() -> None:
    same(records(edge_frames(), random.Random(1)))


def test_every_cut_length_matches() -> None:
    recs: list[Any] = [F.hdr(1)]
    for frame in (
        F.eth(F.ipv4(F.tcp(b"abc"))),
        F.eth(F.ipv6(F.udp(b"d" * 20), nxt=17), etype=0x86DD),
        F.eth(F.ipv6(F.tcp(b"e" * 9)), etype=0x86DD),
    ):
        for n in range(len(frame) + 1):
            recs.append(["pkt", TS, len(frame), frame[:n]])
            recs.append(["pkt", TS, n, frame[:n]])
    same(recs)


@pytest.mark.parametrize("seed", range(8))
def test_random_corruptions_match(seed: int) -> None:
    rng = random.Random(seed)
    base = edge_frames()
    frames = []
    for _ in range(600):
        frame = bytearray(rng.choice(base))
        for _ in range(rng.randrange(1, 4)):
            pos = rng.randrange(min(len(frame), 80))  # the headers, mostly
            frame[pos] = rng.randrange(256)
        frames.append(bytes(frame))
    same(records(frames, rng))


def test_odd_records_and_header_switches_match() -> None:
    frame = F.eth(F.ipv4(F.tcp(b"hi")))
    recs: list[Any] = [
        F.hdr(1),
        ["pkt", TS, len(frame), frame],
        ["pkt", 1e12, len(frame), frame],
        ["pkt", -1.0, len(frame), frame],
        ["pkt", int(TS), len(frame), frame],
        ["pkt", TS, "60", frame],
        ["pkt", TS, len(frame), bytearray(frame)],
        F.hdr(113),
        ["pkt", TS, len(frame), frame],
        F.hdr(1),
        ["pkt", TS, len(frame), frame],
    ]
    same(recs)


def corpus_records() -> list[Any]:
    recs: list[Any] = []
    for path in sorted(CORPUS.iterdir()):
        recs += packet_records(path)
    return recs


def test_corpus_frames_match() -> None:
    same(corpus_records())


def test_fast_path_struct_layout() -> None:
    """The combined header read picks out the same fields as the per-layer parsers."""
    frame = F.eth(F.ipv4(F.tcp(b"x", sport=1, dport=2, seq=3, ack=4, flags=0x18, window=5), ident=9))
    s = Dissector(dpi=False).process([F.hdr(1), F.pkt(frame)])[1]
    assert s[3:14] == [6, F.V4_A, 1, F.V4_B, 2, 0x18, 3, 4, 1, 5, None]
    assert struct.calcsize("!12xHBxH2xHxB2x4s4sHHIIBBH") == 50


def test_common_frames_take_the_fast_path() -> None:
    """The comparisons above only mean something if the fast path is actually taken."""
    d = Dissector(dpi=True)
    calls: list[Any] = []
    general_path = d.packet

    def counted(*args: Any) -> Any:
        calls.append(args)
        return general_path(*args)

    d.packet = counted  # type: ignore[method-assign]
    frames = [
        F.eth(F.ipv4(F.tcp(b"GET / HTTP/1.1\r\n\r\n"))),
        F.eth(F.ipv4(F.udp(b"q" * 12), proto=17)),
        F.eth(F.ipv6(F.tcp()), etype=0x86DD),
        F.eth(F.ipv6(F.udp(b"q" * 12), nxt=17), etype=0x86DD),
    ]
    out = d.process([F.hdr(1)] + [F.pkt(f) for f in frames] + [F.pkt(F.eth(F.ipv4(F.tcp()), vlans=(3,)))])
    assert len(out) == 6 and len(calls) == 1 and d.packets == 5
