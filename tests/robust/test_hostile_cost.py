"""Hostile packets cost bounded work and memory per packet: no quadratic reassembly.

Streams built to make a careless dissector re-parse or hold everything: an HTTP header
that never ends, a TLS ClientHello that declares 16 MB and never completes, an SSH banner
without a line end, many tiny TLS records, DNS names made of long compression-pointer
chains or pointing at themselves. Each goes through the Dissector (as rn-dissect runs
it) at two lengths, and work is counted, not timed (a loaded machine changes times, not
counts):

* Python bytecodes executed per packet (``sys.settrace`` with opcode events) must not grow
  with the length of the stream: a parser that re-reads what it buffered does ~6x the work
  per packet at 6x the packets;
* they stay under a bound per packet (a pointer chain followed link by link is not);
* the memory the stage holds (tracemalloc peak, output taken away batch by batch as the
  stage's writer does) must not grow with the stream by more than a flow's entry per packet:
  work done in C over a growing buffer (a search, a copy), which bytecodes do not count,
  needs that buffer held, and this catches it.
"""

from __future__ import annotations

import struct
import sys
import tracemalloc
from collections.abc import Callable
from types import FrameType

import dpkt
import pytest
from rustnet.dissect.engine import Dissector
from rustnet.stream.records import make_header

from tests.robust.util import tcp, udp

HEADER = make_header("rn-capture 0.1.0", 1, "cost", False, 262144, 1_700_000_000.0)
A, B = "10.0.0.1", "10.0.0.2"
PUSH = dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH


def _stream(dport: int, first: bytes, chunk: bytes, n: int) -> list[bytes]:
    out = [
        tcp(A, 40000, B, dport, dpkt.tcp.TH_SYN, 1000),
        tcp(B, dport, A, 40000, dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK, 5000, 1001),
        tcp(A, 40000, B, dport, dpkt.tcp.TH_ACK, 1001, 5001),
    ]
    seq = 1001
    for c in [first] + [chunk] * n:
        out.append(tcp(A, 40000, B, dport, PUSH, seq, 5001, c))
        seq += len(c)
    return out


def _dns_pointer_chain(links: int) -> bytes:
    """A question whose name is a chain of ``links`` pointers, each to the one before."""
    body = b"\x01a\x00"
    ptrs = b""
    for i in range(links):
        target = 12 if i == 0 else 12 + len(body) + len(ptrs) - 2
        ptrs += struct.pack("!H", 0xC000 | target)
    return struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0) + body + ptrs + ptrs[-2:] + struct.pack("!HH", 1, 1)


_SELF_LOOP = (
    struct.pack("!HHHHHH", 1, 0x8180, 1, 40, 0, 0)
    + b"\xc0\x0c"
    + struct.pack("!HH", 1, 1)
    + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x01\x00\x04\x01\x02\x03\x04" * 40
)


def _fragment(ident: int, offset: int, more: bool, payload: bytes) -> bytes:
    """An IPv4 fragment of a UDP datagram (offset in bytes) in an Ethernet frame, by hand."""
    flags = (offset >> 3) | (0x2000 if more else 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, flags, 64, 17, 0, bytes(4), bytes(4))
    return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + payload


def _first_fragments(n: int) -> list[bytes]:
    """First fragments of ``n`` 60000-byte DNS answers that never complete (reassembly must evict)."""
    head = struct.pack("!HHHH", 53, 40000, 60008, 0)
    return [_fragment(i & 0xFFFF, 0, True, head + b"\x00" * 1472) for i in range(n)]


def _tiny_fragments(n: int) -> list[bytes]:
    """One datagram sent as ``n`` 8-byte fragments (each is checked against those held)."""
    out = [_fragment(7, 0, True, struct.pack("!HHHH", 53, 40000, 8 + 8 * n, 0))]
    return out + [_fragment(7, 8 * i, True, b"\x00" * 8) for i in range(1, n)]


CASES: dict[str, Callable[[int], list[bytes]]] = {
    "http-header-never-ends": lambda n: _stream(
        80, b"GET / HTTP/1.1\r\n", b"X-a: " + b"b" * 1390 + b"\r\n", n
    ),
    "http-request-line-never-ends": lambda n: _stream(80, b"GET /", b"a" * 1400, n),
    "tls-16MB-hello-never-completes": lambda n: _stream(
        443, b"\x16\x03\x01\xff\xff\x01\xff\xff\xff", b"\x00" * 1400, n
    ),
    "tls-tiny-records": lambda n: _stream(443, b"", b"\x16\x03\x01\x00\x01\x01" * 233, n),
    "ssh-banner-never-ends": lambda n: _stream(22, b"SSH-2.0-", b"a" * 1400, n),
    "dns-pointer-chains": lambda n: [udp(A, 5353, B, 53, _dns_pointer_chain(600)) for _ in range(n)],
    "dns-self-pointing-answers": lambda n: [udp(B, 53, A, 40000 + i, _SELF_LOOP) for i in range(n)],
    "fragments-never-complete": _first_fragments,
    "tiny-fragments": _tiny_fragments,
}


# Bytecodes per packet the cheapest of these streams takes today is ~250, the dearest ~8,000
# (tiny TLS records, at the start of the stream); 25,000 leaves room and still stops a parser
# that walks a 600-link pointer chain or a 16 MB length byte by byte in Python.
MAX_OPS_PER_PACKET = 25_000
BATCH = 100  # packets handed to the stage at once; its output is dropped after each batch


def _work(frames: list[bytes]) -> tuple[list[int], list[int]]:
    """Python bytecodes executed in Dissector.process for each batch of ``BATCH`` packets, and
    the memory held (tracemalloc) after each: the stage's state, its output taken away."""
    recs: list[list[object]] = [["pkt", 1_700_000_000.0 + i * 1e-4, len(f), f] for i, f in enumerate(frames)]
    d = Dissector()
    ops = 0
    summaries = 0
    per_batch: list[int] = []
    held: list[int] = []

    def count(frame: FrameType, event: str, arg: object) -> object:
        nonlocal ops
        if event == "opcode":
            ops += 1
        else:
            frame.f_trace_opcodes = True
        return count

    d.process([HEADER])
    tracemalloc.start()
    try:
        for i in range(0, len(recs), BATCH):
            ops = 0
            sys.settrace(count)
            try:
                out = d.process(recs[i : i + BATCH])
            finally:
                sys.settrace(None)
            per_batch.append(ops)
            summaries += sum(1 for r in out if isinstance(r, list) and r[0] == "sum")
            del out
            held.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    summaries += sum(1 for r in d.finish() if isinstance(r, list) and r[0] == "sum")
    assert summaries == len(frames)
    return per_batch, held


@pytest.mark.parametrize("name", list(CASES))
def test_work_per_packet_does_not_grow_with_the_stream(name: str) -> None:
    per_batch, held = _work(CASES[name](1500)[:1500])  # whole batches only
    # Packets 300-600 against the last 300 (1200-1500): a parser that re-reads what it kept does
    # about 3x the work per packet at the end; the first batches (classification) are left out.
    early = sum(per_batch[3:6]) / (3 * BATCH)
    late = sum(per_batch[-3:]) / (3 * BATCH)
    assert max(per_batch) / BATCH < MAX_OPS_PER_PACKET, f"{max(per_batch) / BATCH:.0f} bytecodes per packet"
    assert late < 1.5 * early + 100, (
        f"{early:.0f} -> {late:.0f} bytecodes per packet: work grows with the stream"
    )
    # Memory held per packet between the same points: a new flow's entry fits in a kilobyte (the DNS
    # answers each come from a port of their own), the payload of one packet here (1.4 kB) does not.
    grown = (held[-1] - held[5]) / (len(per_batch) - 6) / BATCH
    kept = f"{held[5] / 1e3:.0f} -> {held[-1] / 1e3:.0f} kB held: memory grows with the stream"
    assert grown < 1024, kept
    assert max(held) < 16 << 20, f"{max(held) / 1e6:.1f} MB held for one hostile stream"
