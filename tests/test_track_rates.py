"""Rates in rn-track's records: bytes/s per direction, smoothed, exactly 0 once quiet.

Driven through the tracker itself with packet summaries at known times and sizes; the
expected values come from the rule (rustnet.track.rates): the bytes of each window divided
by its length, folded into an exponentially weighted average with time constant TAU, so a
step from r0 to r1 reads r0 + (r1 - r0) * (1 - exp(-t / TAU)) after t seconds.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from rustnet.track.rates import TAU, WINDOW
from rustnet.track.table import Tracker

from tests.track_util import A, B, C, header, udp

PORT = 40000


def _rates(packets: list[list[Any]], refresh: float) -> list[tuple[float, int, int]]:
    """(last_seen, rate_src, rate_dst) of every record of the A:PORT -> B:53 flow, in order.
    Each packet list is given at once, so records come out as the tracker's clock passes."""
    t = Tracker(refresh=refresh)
    t.process([header()])
    out = []
    for rec in t.process(packets) + t.finish():
        if isinstance(rec, dict) and rec.get("sport") == PORT:
            out.append((rec["last_seen"], rec["rate_src"], rec["rate_dst"]))
    return out


def _clock(ts: float) -> list[Any]:
    """A packet of another flow: moves the tracker's clock when the measured flow is quiet."""
    return udp(ts, C, 9, B, 9, wirelen=60)


def _flow(ts: float, src_bytes: int, dst_bytes: int) -> list[list[Any]]:
    out = [_clock(ts)]
    if src_bytes:
        out.append(udp(ts, A, PORT, B, 53, wirelen=src_bytes))
    if dst_bytes:
        out.append(udp(ts, B, 53, A, PORT, wirelen=dst_bytes))
    return out


@pytest.mark.parametrize("refresh", [0.5, 1.0, 2.0])
def test_steady_rate_is_the_bytes_per_second_whatever_the_refresh(refresh: float) -> None:
    packets = [p for i in range(1, 121) for p in _flow(100.0 + i / 4, 2_500, 250)]  # 10 kB/s, 1 kB/s
    got = _rates(packets, refresh)
    assert len(got) >= 10
    _, src, dst = got[-2]  # the last one is the final record, after the capture ended
    assert src == pytest.approx(10_000, rel=0.01) and dst == pytest.approx(1_000, rel=0.01)


def test_a_step_is_followed_with_time_constant_tau() -> None:
    # 1 kB/s from the originator for 10 s, then 11 kB/s for 5 s, then nothing; the responder
    # sends 500 B/s throughout. One packet each way per second, a record each second.
    packets = []
    for s in range(1, 25):
        size = 1_000 if s <= 10 else 11_000 if s <= 15 else 0
        packets += _flow(100.0 + s, size, 500 if s <= 15 else 0)
    got = _rates(packets, 1.0)
    before = [src for seen, src, _ in got if seen <= 110.0]
    assert before[1:] == [1_000] * (len(before) - 1)
    rest = got[len(before) :]
    want = [round(1_000 + 10_000 * (1 - math.exp(-k / TAU))) for k in range(1, 6)]
    assert [src for _, src, _ in rest[:5]] == want  # 4935, 7321, 8769, 9647, 10179
    assert {dst for _, _, dst in got[1:6]} == {500}
    # Then a window without a byte: exactly 0 (not an average approaching it), both ways.
    assert rest[5][1:] == (0, 0) and got[-1][1:] == (0, 0)


def test_first_record_has_no_spike_and_quiet_past_the_window_reads_zero() -> None:
    # One 1500-byte packet, then only the clock: the first record may not divide by less
    # than a quarter of a second; later records (if any) read 0.
    packets = [udp(100.0, A, PORT, B, 53, wirelen=1_500)] + [_clock(100.0 + i / 100) for i in range(1, 30)]
    packets += [_clock(100.0 + WINDOW + i) for i in range(1, 4)]
    got = _rates(packets, 0.0)
    assert got[0][1] <= 1_500 / 0.25
    assert all(src == 0 and dst == 0 for _, src, dst in got[1:])


def test_at_the_end_of_input_a_closed_tcp_connection_has_no_rate_an_open_one_keeps_its_own() -> None:
    # Two TCP connections send 1 kB each way every 0.25 s until the input ends; the first then
    # closes (FIN, FIN, ACK in its last 20 ms), the second stays open and sends to the end.
    from tests.track_util import ACK, FIN, PSH, handshake, tcp

    pkts: list[list[Any]] = handshake(100.0, cp=41000) + handshake(100.0, cp=42000)
    seq = {41000: 1001, 42000: 1001}
    rseq = {41000: 5001, 42000: 5001}
    for i in range(1, 40):
        ts = 100.0 + i / 4
        for cp in (41000, 42000):
            pkts.append(tcp(ts, A, cp, B, 80, PSH | ACK, seq[cp], rseq[cp], paylen=1000))
            pkts.append(tcp(ts + 0.001, B, 80, A, cp, PSH | ACK, rseq[cp], seq[cp] + 1000, paylen=1000))
            seq[cp] += 1000
            rseq[cp] += 1000
    end = 100.0 + 40 / 4
    pkts += [
        tcp(end, A, 41000, B, 80, FIN | ACK, seq[41000], rseq[41000]),
        tcp(end + 0.01, B, 80, A, 41000, FIN | ACK, rseq[41000], seq[41000] + 1),
        tcp(end + 0.02, A, 41000, B, 80, ACK, seq[41000] + 1, rseq[41000] + 1),
        tcp(end + 0.02, A, 42000, B, 80, PSH | ACK, seq[42000], rseq[42000], paylen=1000),
        tcp(end + 0.021, B, 80, A, 42000, PSH | ACK, rseq[42000], seq[42000] + 1000, paylen=1000),
    ]
    t = Tracker(refresh=1.0)
    t.process([header()])
    recs = t.process(pkts) + t.finish()
    last = {r["sport"]: r for r in recs if isinstance(r, dict) and r.get("final")}
    closed, open_ = last[41000], last[42000]
    assert closed["state"] in ("TIME_WAIT", "CLOSED") and closed["end"] == "eof"
    assert (closed["rate_src"], closed["rate_dst"]) == (0, 0)
    assert open_["state"] == "ESTABLISHED"
    assert open_["rate_src"] == pytest.approx(4_000 + 54 * 4, rel=0.15)
    assert open_["rate_dst"] == pytest.approx(4_000 + 54 * 4, rel=0.15)
