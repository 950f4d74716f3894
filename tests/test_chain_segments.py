"""Dissect and track in one process (``rn-track --dissect``): segments instead of summaries.

A segment of a known TCP flow that DPI has finished with reaches the Tracker as a compact
in-process record (rustnet.stream.records.SEGMENT) rather than a summary. The records out
must be exactly those of the two stages apart (``rn-dissect | rn-track``): checked on every
corpus capture and on made streams with handshakes, connections picked up mid-stream, data
both ways, duplicate ACKs, fast retransmissions, out-of-order and keep-alive segments,
window updates, FIN/RST, port reuse, TLS/HTTP payloads, IPv6, idle gaps that expire
connections between two segments, and damaged times and lengths.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from rustnet.dissect.dpi import Inspector
from rustnet.dissect.engine import Dissector
from rustnet.stream.records import SEGMENT, SUMMARY
from rustnet.stream.stage import Chain
from rustnet.track.table import Tracker

from tests import dissect_frames as F
from tests.corpus import PCAPS as CORPUS
from tests.corpus_records import packet_records
from tests.dpi_samples import client_hello, server_hello

TS = 1_700_000_000.0
CORPUS_FILES = sorted(CORPUS.glob("*.pcap*")) if CORPUS.is_dir() else []
HTTP_GET = b"GET /x HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n"


def stable(recs: list[Any]) -> list[Any]:
    """The records without the wall-clock time of the dissector's counters."""
    return [
        {k: v for k, v in r.items() if k != "ts"} if isinstance(r, dict) and r["t"] == "dstats" else r
        for r in recs
    ]


def apart(recs: list[Any], dpi: bool, refresh: float) -> list[Any]:
    """rn-dissect | rn-track: every packet a summary."""
    d = Dissector(dpi=dpi)
    t = Tracker(producer="t", refresh=refresh)
    sums: list[Any] = []
    for i in range(0, len(recs), 64):
        sums += d.process(recs[i : i + 64])
    sums += d.finish()
    out: list[Any] = []
    for i in range(0, len(sums), 100):
        out += t.process(sums[i : i + 100])
    return stable(out + t.finish())


def together(recs: list[Any], dpi: bool, refresh: float, batch: int) -> list[Any]:
    """rn-track --dissect: the chain with segments."""
    chain = Chain([Dissector(dpi=dpi, segments=True), Tracker(producer="t", refresh=refresh)])
    out: list[Any] = []
    for i in range(0, len(recs), batch):
        out += chain.process(recs[i : i + batch])
    out += chain.finish()
    assert not any(isinstance(r, (list, tuple)) and r and r[0] is SEGMENT for r in out)
    return stable(out)


def same(recs: list[Any], refresh: float = 1.0) -> None:
    for dpi in (True, False):
        want = apart(recs, dpi, refresh)
        for batch in (1, 7, 2048):
            assert together(recs, dpi, refresh, batch) == want


def v4(a: int) -> bytes:
    return bytes([10, 0, a >> 8 & 255, a & 255])


def v6(a: int) -> bytes:
    return bytes(14) + bytes([a >> 8 & 255, a & 255])


class Conversation:
    """One TCP connection's packets, built as its two ends would send them."""

    def __init__(self, rng: random.Random, n: int, ipv6: bool) -> None:
        self.rng = rng
        self.client = v6(2 * n) if ipv6 else v4(2 * n)
        self.server = v6(2 * n + 1) if ipv6 else v4(2 * n + 1)
        if rng.random() < 0.3:  # the lower address serves: the key's order flips
            self.client, self.server = self.server, self.client
        self.ipv6 = ipv6
        self.cport = rng.choice([40000 + n, 443, 80])
        self.sport = rng.choice([443, 80, 8080, 22, 40000 + n])
        self.seq = [rng.randrange(1 << 32), rng.randrange(1 << 32)]  # client's, server's next
        self.win = [rng.choice([512, 65535]), 29200]

    def frame(
        self, side: int, flags: int, payload: bytes = b"", seq: int | None = None, ack: int | None = None
    ) -> bytes:
        src, dst = (self.client, self.server) if side == 0 else (self.server, self.client)
        sp, dp = (self.cport, self.sport) if side == 0 else (self.sport, self.cport)
        s = self.seq[side] if seq is None else seq
        a = self.seq[1 - side] if ack is None else ack
        seg = F.tcp(payload, sp, dp, s & 0xFFFFFFFF, a & 0xFFFFFFFF, flags, self.win[side])
        if self.ipv6:
            return F.eth(F.ipv6(seg, src=src, dst=dst), 0x86DD)
        return F.eth(F.ipv4(seg, src=src, dst=dst))

    def send(self, side: int, flags: int, payload: bytes = b"") -> bytes:
        f = self.frame(side, flags, payload)
        self.seq[side] += len(payload) + (1 if flags & 0x03 else 0)
        return f

    def events(self) -> list[bytes]:
        rng = self.rng
        out: list[bytes] = []
        if rng.random() < 0.7:
            out.append(self.send(0, 0x02))
            out.append(self.send(1, 0x12))
            out.append(self.send(0, 0x10))
        first = rng.choice([client_hello(sni=b"example.org"), HTTP_GET, bytes(300), b"SSH-2.0-x\r\n", b""])
        if first:
            out.append(self.send(0, 0x18, first))
        for _ in range(rng.randrange(5, 60)):
            side = rng.randrange(2)
            r = rng.random()
            if r < 0.45:
                out.append(self.send(side, 0x18, bytes(rng.choice([1, 100, 1448]))))
            elif r < 0.6:
                out.append(self.send(side, 0x10))
            elif r < 0.7:  # a segment lost: the next one arrives, duplicate ACKs, the resend
                lost = self.seq[1 - side]
                self.seq[1 - side] += 1448
                out.append(self.send(1 - side, 0x18, bytes(1448)))
                out += [self.frame(side, 0x10, ack=lost) for _ in range(rng.randrange(1, 5))]
                out.append(self.frame(1 - side, 0x18, bytes(1448), seq=lost))
            elif r < 0.75:  # retransmission of an older segment, or out of order
                out.append(self.frame(side, 0x18, bytes(100), seq=self.seq[side] - rng.choice([100, 5000])))
            elif r < 0.8:  # keep-alive probe
                out.append(self.frame(side, 0x10, b"\0", seq=self.seq[side] - 1))
            elif r < 0.85:  # window update
                self.win[side] = rng.choice([0, 1024, 65535])
                out.append(self.send(side, 0x10))
            elif r < 0.9:
                out.append(self.send(side, 0x11))  # FIN, and the other side may go on
            elif r < 0.92:
                out.append(self.send(side, 0x14))  # RST
            else:
                out.append(self.send(side, 0x18, HTTP_GET if side == 0 else b"HTTP/1.1 200 OK\r\n\r\n"))
        if rng.random() < 0.2:  # the same ports again: a new connection on a closed tuple
            self.seq = [rng.randrange(1 << 32), rng.randrange(1 << 32)]
            out += [self.send(0, 0x02), self.send(1, 0x12), self.send(0, 0x10), self.send(0, 0x18, bytes(10))]
        return out


def made_stream(seed: int, conversations: int = 30) -> list[Any]:
    rng = random.Random(seed)
    queues = [Conversation(rng, n, ipv6=rng.random() < 0.25).events() for n in range(conversations)]
    recs: list[Any] = [F.hdr(1)]
    ts = TS
    while any(queues):
        q = rng.choice([q for q in queues if q])
        r = rng.random()
        ts += 200.0 if r < 0.01 else 5.0 if r < 0.03 else rng.random() * 0.01  # idle gaps expire some
        frame = q.pop(0)
        if r > 0.995:
            recs.append(["pkt", 0.0, len(frame), frame])  # a damaged time
        elif r > 0.99:
            recs.append(["pkt", ts, 1 << 32, frame])  # a length past 32 bits
        else:
            recs.append(["pkt", ts, len(frame), frame])
    return recs


@pytest.mark.parametrize("seed", range(6))
def test_made_streams_give_the_same_records(seed: int) -> None:
    same(made_stream(seed), refresh=[0.0, 1.0, 0.005][seed % 3])


@pytest.mark.parametrize("path", CORPUS_FILES, ids=[p.name for p in CORPUS_FILES])
def test_corpus_gives_the_same_records(path: Path) -> None:
    same(packet_records(path))


class CountingInspector(Inspector):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def inspect(self, *args: Any, **kw: Any) -> Any:
        self.calls += 1
        return super().inspect(*args, **kw)


def test_a_finished_flow_costs_no_inspection_and_no_summary() -> None:
    rng = random.Random(1)
    conv = Conversation(rng, 1, ipv6=False)
    opening = [
        conv.send(0, 0x02),
        conv.send(1, 0x12),
        conv.send(0, 0x10),
        conv.send(0, 0x18, client_hello(sni=b"a.example")),
    ]
    opening.append(conv.send(1, 0x18, server_hello()))  # both hellos read: DPI is done with the flow
    bulk = [conv.send(1, 0x18, bytes(1448)) if i % 3 else conv.send(0, 0x10) for i in range(900)]
    insp = CountingInspector()
    d = Dissector(inspector=insp, segments=True)
    d.process([F.hdr(1)] + [F.pkt(f, TS + i * 1e-3) for i, f in enumerate(opening)])
    calls = insp.calls
    out = d.process([F.pkt(f, TS + 1 + i * 1e-3) for i, f in enumerate(bulk)])
    assert insp.calls == calls  # DPI had finished: not called, no payload copied for it
    assert [(type(r), r[0]) for r in out] == [(tuple, SEGMENT)] * len(bulk)
    assert not any(r[0] == SUMMARY for r in out)
