"""Rates: bytes/s per direction, smoothed, exactly 0 once quiet."""

from __future__ import annotations

import pytest
from rustnet.track.conn import Conn
from rustnet.track.rates import sample


def conn(first: float = 100.0) -> Conn:
    return Conn(1, (6, b"a", 1, b"b", 2), False, 6, first)


def test_steady_rate_converges_and_does_not_depend_on_sampling_rate() -> None:
    results = []
    for step in (0.5, 1.0, 2.0):
        c = conn()
        t = 100.0
        while t < 130.0:
            t += step
            c.bs += int(10_000 * step)  # 10 kB/s from the originator
            c.bd += int(1_000 * step)
            c.last = t
            sample(c, t)
        results.append((c.rate_src, c.rate_dst))
    for rs, rd in results:
        assert rs == pytest.approx(10_000, rel=0.01) and rd == pytest.approx(1_000, rel=0.01)


def test_smoothing_follows_a_step_gradually() -> None:
    c = conn()
    t = 100.0
    for _ in range(10):
        t += 1.0
        c.bs += 1000
        c.last = t
        sample(c, t)
    assert c.rate_src == pytest.approx(1000, rel=0.05)
    t += 1.0
    c.bs += 11000  # the rate jumps to 11 kB/s
    c.last = t
    sample(c, t)
    assert 1000 < c.rate_src < 11000  # one window moves it part of the way (tau = 2 s)


def test_quiet_reads_zero_and_first_sample_has_no_spike() -> None:
    c = conn()
    c.bs = 1500
    c.last = 100.001
    sample(c, 100.001)
    assert c.rate_src <= 1500 / 0.25  # a single packet right after the start: at most bytes / 0.25 s
    sample(c, 101.0)  # no new bytes in this window
    assert c.rate_src == 0.0 and c.rate_dst == 0.0
    c.bs += 500
    c.last = 101.5
    sample(c, 102.0)
    assert c.rate_src > 0
    sample(c, 110.0)  # idle beyond the window
    assert c.rate_src == 0.0
