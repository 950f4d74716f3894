"""No 'rate fell to 0' update for a connection that is over (TCP shown TIME_WAIT or CLOSED, DNS
shown DNS_RESPONSE).

The viewer reads such a connection's rate as 0 once rates.WINDOW has passed since its
last_seen (rustnet.view.model). Every other record must stay exactly as it was: the tests
compare against the tracker with the rule switched off (table._ENDED_SHOWN emptied).
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from rustnet.track import table as table_mod
from rustnet.track.states import ENDED_NAMES
from rustnet.track.table import Tracker

from tests.track_util import ACK, FIN, PSH, RST, A, B, C, conns, finals, handshake, header, tcp, udp


def closed_flow(t: float, cp: int, rst: bool = False) -> list[list[Any]]:
    """Handshake, a request and an answer, then FINs both ways (or a RST) within 60 ms."""
    recs = handshake(t, cp=cp)
    recs += [
        tcp(t + 0.03, A, cp, B, 80, PSH | ACK, 1001, 5001, 300),
        tcp(t + 0.04, B, 80, A, cp, PSH | ACK, 5001, 1301, 900),
    ]
    if rst:
        recs.append(tcp(t + 0.05, A, cp, B, 80, RST, 1301))
    else:
        recs += [
            tcp(t + 0.05, A, cp, B, 80, FIN | ACK, 1301, 5901),
            tcp(t + 0.055, B, 80, A, cp, FIN | ACK, 5901, 1302),
            tcp(t + 0.06, A, cp, B, 80, ACK, 1302, 5902),
        ]
    return recs


def clock(t0: float, t1: float) -> list[list[Any]]:
    """Another flow moving packet time on, ten packets a second."""
    return [udp(t0 + i * 0.1, C, 7, A, 7) for i in range(int((t1 - t0) * 10))]


def run(recs: list[Any], **kw: Any) -> list[Any]:
    t = Tracker(**kw)
    half = len(recs) // 2
    return t.process([header(), *recs[:half]]) + t.process(recs[half:]) + t.finish()


def run_without_rule(recs: list[Any], monkeypatch: pytest.MonkeyPatch, **kw: Any) -> list[Any]:
    """The tracker without the rule (which also turns off its other half, below: at_the_end)."""
    with monkeypatch.context() as m:
        m.setattr(table_mod, "_ENDED_SHOWN", frozenset())
        return [at_the_end(r) for r in run(recs, **kw)]


def at_the_end(rec: Any) -> Any:
    """The rule's other half, applied by hand: at the end of input (``end: eof``) a connection
    that is over shows rate 0 in its final record (no time is left for the update)."""
    if isinstance(rec, dict) and rec.get("end") == "eof" and rec.get("proto") == "tcp":
        if rec.get("state") in ENDED_NAMES:
            return {**rec, "rate_src": 0, "rate_dst": 0}
    return rec


def skipped(old: list[Any], new: list[Any]) -> list[dict[str, Any]]:
    """The records of ``old`` missing from ``new``; asserts ``new`` is ``old`` without them."""
    out: list[dict[str, Any]] = []
    i = 0
    for r in old:
        if i < len(new) and new[i] == r:
            i += 1
        else:
            out.append(r)
    assert i == len(new), "the new output is not the old one with records left out"
    return out


def assert_only_ended_zero_updates(old: list[Any], new: list[Any]) -> list[dict[str, Any]]:
    gone = skipped(old, new)
    for r in gone:
        assert r.get("t") == "conn" and "final" not in r, r
        assert r["rate_src"] == 0 and r["rate_dst"] == 0 and r["state"] in ENDED_NAMES, r
    assert [r for r in old if r.get("final")] == [r for r in new if r.get("final")]
    return gone


@pytest.mark.parametrize("rst", [False, True])
def test_closed_connection_gets_no_zero_rate_update(rst: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    recs = closed_flow(10.0, 40000, rst) + clock(10.1, 20.0)
    new = run(recs, refresh=1.0)
    mine = [r for r in conns(new) if r["sport"] == 40000]
    assert [r.get("final", False) for r in mine] == [False, True]
    assert mine[0]["rate_src"] > 0 and mine[0]["state"] == ("CLOSED" if rst else "TIME_WAIT")
    assert mine[1]["rate_src"] == 0 and mine[1]["end"] == "timeout"
    old = run_without_rule(recs, monkeypatch, refresh=1.0)
    assert len(assert_only_ended_zero_updates(old, new)) == 1  # the old tracker wrote one more


def dns_exchange(t: float, cp: int, answer_info: bool = True) -> list[list[Any]]:
    """A query and its answer 20 ms later (told by rn-dissect's dns_rcode, or by the ports alone)."""
    info = {"app": "DNS", "dns_rcode": "NOERROR"} if answer_info else None
    return [
        udp(t, A, cp, B, 53, info={"app": "DNS", "dns_query": "example.com"}),
        udp(t + 0.02, B, 53, A, cp, paylen=80, info=info),
    ]


@pytest.mark.parametrize("answer_info", [True, False])
def test_answered_dns_gets_no_zero_rate_update(answer_info: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    recs = dns_exchange(10.0, 40001, answer_info) + clock(10.1, 20.0)
    new = run(recs, refresh=1.0)
    mine = [r for r in conns(new) if r["sport"] == 40001]
    assert [r.get("final", False) for r in mine] == [False, True]
    assert mine[0]["rate_src"] > 0 and mine[0]["state"] == "DNS_RESPONSE"
    assert mine[1]["rate_src"] == 0 and mine[1]["end"] == "eof"
    old = run_without_rule(recs, monkeypatch, refresh=1.0)
    assert len(assert_only_ended_zero_updates(old, new)) == 1  # the old tracker wrote one more


def test_unanswered_dns_keeps_its_zero_rate_update() -> None:
    recs = dns_exchange(10.0, 40001)[:1] + clock(10.1, 14.0)
    mine = [r for r in conns(run(recs, refresh=1.0)) if r["sport"] == 40001]
    assert [(r["state"], r["rate_src"] > 0) for r in mine[:2]] == [("DNS_QUERY", True), ("DNS_QUERY", False)]


def test_open_idle_connection_keeps_its_zero_rate_update() -> None:
    recs = handshake(10.0) + [tcp(10.03, A, 40000, B, 80, PSH | ACK, 1001, 5001, 300)] + clock(10.1, 20.0)
    mine = [r for r in conns(run(recs, refresh=1.0)) if r["sport"] == 40000]
    assert [r["state"] for r in mine] == ["ESTABLISHED", "ESTABLISHED", "ESTABLISHED"]
    assert mine[0]["rate_src"] > 0 and mine[1]["rate_src"] == 0 and mine[1].get("final") is None
    assert mine[2]["final"] is True  # at end of input


def test_half_closed_connection_keeps_its_zero_rate_update() -> None:
    recs = handshake(10.0) + [tcp(10.05, A, 40000, B, 80, FIN | ACK, 1001, 5001)] + clock(10.1, 14.0)
    mine = [r for r in conns(run(recs, refresh=1.0)) if r["sport"] == 40000]
    assert [r["state"] for r in mine[:2]] == ["FIN_WAIT1", "FIN_WAIT1"] and mine[1]["rate_src"] == 0


def test_packets_after_the_end_give_the_same_records(monkeypatch: pytest.MonkeyPatch) -> None:
    # A late retransmitted FIN after the skipped update, then end of input before the next refresh:
    # its rate is sampled from the same state as if the update had been written.
    recs = closed_flow(10.0, 40000) + clock(10.1, 12.5) + [tcp(12.55, B, 80, A, 40000, FIN | ACK, 5901, 1302)]
    recs += clock(12.6, 12.9)
    old, new = run_without_rule(recs, monkeypatch, refresh=1.0), run(recs, refresh=1.0)
    assert len(assert_only_ended_zero_updates(old, new)) == 1
    assert finals(new)[1]["end"] == "eof" and finals(new)[1]["rate_dst"] == 0  # over, at the end


def random_stream(rng: random.Random, n_flows: int) -> list[list[Any]]:
    recs: list[list[Any]] = []
    for i in range(n_flows):
        t = 1000.0 + rng.uniform(0, 30)
        cp = 30000 + i
        kind = rng.random()
        if kind < 0.5:
            flow = closed_flow(t, cp, rst=rng.random() < 0.2)
        elif kind < 0.8:
            flow = handshake(t, cp=cp) + [tcp(t + 0.05, A, cp, B, 80, PSH | ACK, 1001, 5001, 100)]
        elif kind < 0.9:
            flow = [udp(t + k * 0.3, A, cp, B, 53 if rng.random() < 0.5 else 9999) for k in range(3)]
        else:
            flow = dns_exchange(t, cp, rng.random() < 0.5)
        # Late packets now and then: retransmissions, stray ACKs after the end.
        for _ in range(rng.randrange(3)):
            flags = rng.choice([ACK, FIN | ACK, RST])
            flow.append(tcp(t + rng.uniform(0, 12), B, 80, A, cp, flags, 5901, 1302, rng.choice([0, 0, 50])))
        recs += flow
    recs.sort(key=lambda r: r[1])
    return recs


@pytest.mark.parametrize("seed", range(40))
def test_random_streams_differ_only_by_ended_zero_updates(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    refresh, short = (0.5, 1.0, 2.0)[seed % 3], seed % 2 == 1
    recs = random_stream(random.Random(seed), 60)
    kw: dict[str, Any] = {"refresh": refresh, "max_connections": 25 if short else 1000}
    old, new = run_without_rule(recs, monkeypatch, **kw), run(recs, **kw)
    assert_only_ended_zero_updates(old, new)
