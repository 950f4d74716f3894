"""The tracker's fast paths against their plain reference versions (tests/track_reference.py).

* the TCP step table against ``tcp_state.segment``, every combination;
* the pre-multiplied timeouts (``Timeouts.by_activity``, ``Tracker._timeout`` and the copy
  inline in ``process``) against ``Timeouts.timeout`` with the documented classes;
* ``dpi.merge`` (key kinds learned once, string fast paths) against the plain fold;
* records refreshed from a kept copy (``record.update``) against a fresh ``record.build``,
  on random streams and on every capture of the corpus.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rustnet.track import dpi, lifecycle, record
from rustnet.track.conn import KIND_DNS, KIND_NONE, KIND_QUIC, KIND_SSH, Conn
from rustnet.track.lifecycle import Timeouts
from rustnet.track.states import State
from rustnet.track.table import SWEEP_EVERY, Tracker
from rustnet.track.tcp_state import ACK_SENSITIVE, N_STATES, segment, step_entry

from tests import track_reference as ref
from tests.corpus import PCAPS as CORPUS
from tests.track_util import A, B, C, header


# --- TCP -------------------------------------------------------------------------------
def step_index(orig: int, resp: int, flags: int, from_orig: bool, acks_receiver_fin: bool) -> int:
    """The STEP key of one segment, as rustnet.track.tcp_state describes it."""
    return ((((orig * N_STATES + resp) << 5) | (flags & 0x17)) << 2) | (from_orig << 1) | acks_receiver_fin


def test_step_table_is_segment_for_every_combination() -> None:
    for orig in range(N_STATES):
        for resp in range(N_STATES):
            for flags in [*range(256), -1, -2, 0x117, 1 << 40]:
                for from_orig in (False, True):
                    for acks in (False, True):
                        so, sr = segment(orig, resp, flags, from_orig, acks)
                        want = (so, sr, so in ACK_SENSITIVE or sr in ACK_SENSITIVE)
                        assert step_entry(step_index(orig, resp, flags, from_orig, acks)) == want


# --- timeouts --------------------------------------------------------------------------
CONFIGS = [
    {},
    {"adjust.busy_packets": 0, "adjust.long_lived": 0},
    {"adjust.busy_packets": 2},
    {"adjust.single_factor": 3.0, "adjust.busy_factor": 0.25, "tcp.closed": 0.5, "ssh": 7},
    {"quic.close_min": 0, "quic.close_max": 0.1, "adjust.busy_packets": 1},
]


@pytest.mark.parametrize("overrides", CONFIGS)
def test_by_activity_is_timeout(overrides: dict[str, float]) -> None:
    t = Timeouts(overrides)
    single, base, busy = t.by_activity()
    for cls in range(len(base)):
        if cls == lifecycle.C_QUIC_CLOSED:
            continue
        for n in (0, 1, 2, 3, 999, 1000, 1001, 10**6):
            for age in (0.0, 1.0, 59.9, 60.0, 1e6):
                want = t.timeout(cls, n, age)
                v = t.values
                busy_now = n >= v["adjust.busy_packets"] and age >= v["adjust.long_lived"]
                got = single[cls] if n <= 1 else busy[cls] if busy_now else base[cls]
                assert got == want, (cls, n, age)


@pytest.mark.parametrize("overrides", CONFIGS)
def test_tracker_timeout_is_reference(overrides: dict[str, float]) -> None:
    rnd = random.Random(8)
    t = Timeouts(overrides)
    tracker = Tracker(timeouts=t)
    others = [int(s) for s in State if s > State.CLOSED]
    for _ in range(20_000):
        proto = rnd.choice([6, 6, 17, 1, 2054, 47])
        c = Conn(1, (proto, A, 1, B, 2), False, proto, 100.0)
        if proto == 6:
            c.so, c.sr = rnd.randrange(N_STATES), rnd.randrange(N_STATES)
            c.kind = rnd.choice([KIND_NONE, KIND_SSH])
        else:
            c.so = rnd.choice(others)
            c.kind = rnd.choice([KIND_NONE, KIND_DNS, KIND_QUIC])
            c.dpi = rnd.choice([None, {}, {"quic_close": 0}])
        c.local = rnd.randrange(3)
        c.ps, c.pd = rnd.choice([0, 1, 2, 500, 2000]), rnd.choice([0, 1, 700])
        c.last = 100.0 + rnd.choice([0.0, 30.0, 59.999, 60.0, 5000.0])
        c.rtt = rnd.choice([-1.0, 0.0, 0.01, 2.0, 50.0])
        assert tracker._timeout(c) == ref.timeout(t, c)


FLAGS = [0x02, 0x12, 0x10, 0x18, 0x11, 0x01, 0x04, 0x14, 0x00, 0x03]


@pytest.mark.parametrize(
    "overrides", [{}, {"adjust.busy_packets": 2, "adjust.long_lived": 1}, {"tcp.closed": 0.5, "ssh": 7}]
)
def test_expiry_follows_the_reference_timeouts(overrides: dict[str, float]) -> None:
    """Whatever the TCP state changes (rescheduled inline in process()), a connection ends by
    timeout no sooner than its reference timeout allows, and no later than the sweep's 2 s.
    (Activity only lengthens timeouts with factors as documented: single <= 1 <= busy.)"""
    rnd = random.Random(str(overrides))
    t = Timeouts({"tcp.established": 20.0, "tcp.closing": 12.0, "tcp.handshake": 8.0, **overrides})
    for ssh in (False, True):
        tracker = Tracker(timeouts=t, refresh=0.5)
        tracker.process([header()])
        seen: dict[int, Conn] = {}
        ts = 1000.0
        sp = 22 if ssh else 80
        for _ in range(1500):
            flags = rnd.choice(FLAGS)
            cp = 40000 + rnd.randrange(4)
            plen = rnd.choice([0, 0, 100])
            seq, ack = rnd.randrange(4) * 1000, rnd.choice([0, 1, 1001, 2001, 3001])
            info = {"app": "SSH"} if ssh and flags == 0x18 else None
            src, sport, dst, dport = (A, cp, B, sp) if rnd.random() < 0.5 else (B, sp, A, cp)
            rec = ["sum", ts, 60 + plen, 6, src, sport, dst, dport, flags, seq, ack, plen, 0, None, info]
            batch = [rec]
            # Probes of another flow move packet time on in half seconds until the next segment.
            end = ts + rnd.choice([0.0, 0.0, 0.3, 2.0, 7.0, 30.0])
            while ts < end:
                ts = min(end, ts + 0.5)
                batch.append(["sum", ts, 60, 17, C, 9, A, 9, 0, 0, 0, 0, 0, None, None])
            for r in batch:
                out = tracker.process([r])
                for c in tracker.table.values():
                    seen[c.id] = c
                    if c.proto == 6:
                        assert tracker.clock < c.last + ref.timeout(t, c) + 2 * SWEEP_EVERY + 0.5
                for o in out:
                    if isinstance(o, dict) and o.get("end") == "timeout" and o["proto"] == "tcp":
                        c = seen[o["id"]]
                        assert tracker.clock >= c.last + ref.timeout(t, c) - 1e-9
        assert tracker.expired > 20


# --- DPI fields --------------------------------------------------------------------------
KEYS = [
    "app",
    "sni",
    "alpn",
    "http_host",
    "dns_query",
    "dns_queries",
    "dns_answers",
    "dns_rcode",
    "quic_version",
    "ssh_stage",
    "frag",
    "trunc",
    "quic_state",
    "id",
    "state",
    "bytes",
    "not a key",
    "x" * 33,
    "",
    "_ok",
    "ünïcode",
    5,
    1.5,
    b"sni",
    None,
    True,
]
SCALAR = st.one_of(
    st.text(max_size=6),
    st.sampled_from(["", "a" * 1030, "A"]),
    st.integers(-3, 3),
    st.floats(allow_nan=False),
    st.booleans(),
    st.binary(max_size=4),
    st.just(b"z" * 600),
    st.none(),
)
ITEM = st.one_of(SCALAR, st.dictionaries(st.sampled_from(KEYS[:8] + [7, "y" * 40]), SCALAR, max_size=9))
VALUE = st.one_of(
    SCALAR,
    st.lists(ITEM, max_size=40),
    st.dictionaries(st.sampled_from(KEYS[:8]), SCALAR, max_size=3),
    st.lists(st.lists(SCALAR, max_size=2), max_size=2),
)
INFO = st.dictionaries(st.sampled_from(KEYS), VALUE, max_size=8)


@settings(max_examples=400, deadline=None)
@given(st.lists(INFO, max_size=6), st.integers(0, 34))
def test_merge_is_reference(infos: list[dict[Any, Any]], prefill: int) -> None:
    fast: dict[str, Any] = {f"k{i}": i for i in range(prefill)}
    slow: dict[str, Any] = dict(fast)
    for info in infos:
        assert dpi.merge(fast, info) == ref.merge(slow, info)
        assert list(fast.items()) == list(slow.items())


def test_merge_key_kinds_stay_bounded() -> None:
    d: dict[str, Any] = {}
    for i in range(dpi.MAX_KNOWN_KEYS + 100):
        dpi.merge(d, {f"k{i}": 1})
    assert len(dpi._kinds) <= dpi.MAX_KNOWN_KEYS
    want: dict[str, Any] = {}
    for i in range(dpi.MAX_KNOWN_KEYS + 100):
        ref.merge(want, {f"k{i}": 1})
    assert d == want


# --- records refreshed from a kept copy --------------------------------------------------
@pytest.fixture
def checked_updates(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every record refreshed from a kept copy is compared with a fresh build (values and order)."""
    calls = [0]
    update = record.update

    def checking(rec: dict[str, Any], c: Conn, state: str) -> None:
        update(rec, c, state)
        assert list(rec.items()) == list(record.build(c, state).items())
        calls[0] += 1

    monkeypatch.setattr(record, "update", checking)
    return calls


summary = st.builds(
    lambda dt, wl, proto, s, sp, d, dp, flags, seq, ack, plen, info: [
        "sum",
        1000.0 + dt,
        wl,
        proto,
        s,
        sp,
        d,
        dp,
        flags,
        seq,
        ack,
        plen,
        0,
        None,
        info,
    ],
    st.floats(0, 30, allow_nan=False),
    st.integers(40, 1600),
    st.sampled_from([6, 6, 17, 1, 2054]),
    st.sampled_from([A, B, C]),
    st.sampled_from([53, 443, 5000]),
    st.sampled_from([A, B, C]),
    st.sampled_from([53, 443, 5000]),
    st.sampled_from([0x02, 0x12, 0x10, 0x11, 0x04, 0x18]),
    st.integers(0, 5000),
    st.integers(0, 5000),
    st.integers(0, 1500),
    st.one_of(
        st.none(),
        st.none(),
        INFO,
        st.fixed_dictionaries(
            {},
            optional={
                "app": st.sampled_from(["DNS", "QUIC", "SSH", "TLS"]),
                "quic_close": st.integers(0, 3),
                "quic_state": st.sampled_from(["QUIC_HANDSHAKE", "QUIC_CONNECTED"]),
                "dns_rcode": st.just("NOERROR"),
                "dns_query": st.sampled_from(["a.example", "b.example"]),
                "quic_version": st.sampled_from(["1", "2"]),
            },
        ),
    ),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(summary, max_size=150), st.sampled_from([0.0, 0.5, 2.0]), st.integers(2, 50))
def test_kept_records_are_fresh_builds(
    checked_updates: list[int], recs: list[Any], refresh: float, cap: int
) -> None:
    recs.sort(key=lambda r: r[1])
    t = Tracker(refresh=refresh, max_connections=cap, snapshot_every=3.0)
    # Sockets from an upstream rn-enrich: attributed records keep their process fields (which
    # drops the kept copy).
    socks: list[Any] = [
        {
            "t": "sock",
            "ts": 1000.0,
            "proto": proto,
            "local": "10.0.0.1",
            "lport": 5000,
            "remote": "10.0.0.2",
            "rport": 443,
            "listening": False,
            "pid": 7,
            "process": "p",
            "cmdline": "p -x",
            "user": "u",
            "netns": None,
        }
        for proto in ("tcp", "udp")
    ]
    for i in range(0, len(recs), 7):
        t.process(([header(), *socks] if i == 0 else []) + recs[i : i + 7])
    t.finish()


def test_kept_records_are_fresh_builds_on_the_corpus(checked_updates: list[int]) -> None:
    from rustnet.dissect.engine import Dissector

    from tests.corpus_records import packet_records

    for pcap in sorted(CORPUS.iterdir()):
        sums = Dissector().process(packet_records(pcap))
        for refresh in (0.0, 0.2, 1.0):
            t = Tracker(refresh=refresh)
            for i in range(0, len(sums), 5):
                t.process(sums[i : i + 5])
            t.finish()
    assert checked_updates[0] > 500


def test_fields_learned_after_a_kept_record_reach_the_next_one() -> None:
    """A busy connection's next record is refreshed from a kept copy: DPI fields or an RTT learned
    in between must still show (each drops the copy)."""

    def updates(late: list[Any]) -> list[dict[str, Any]]:
        t = Tracker(refresh=1.0)
        quic = {"app": "QUIC", "quic_packet": "initial"}
        recs = [
            header(),
            *[
                [
                    "sum",
                    1.0 + i / 10,
                    1000,
                    17,
                    A,
                    5000,
                    B,
                    443,
                    0,
                    0,
                    0,
                    958,
                    0,
                    None,
                    quic if i == 0 else None,
                ]
                for i in range(25)
            ],
        ]
        recs.insert(12, late)  # at 2.05: after the update at 2.0, before the one at 3.0
        return [r for r in t.process(recs) if isinstance(r, dict) and r.get("t") == "conn"]

    # DPI from the originator (no RTT yet: the responder never answered)
    out = updates(["sum", 2.05, 1000, 17, A, 5000, B, 443, 0, 0, 0, 958, 0, None, {"sni": "late.example"}])
    assert [(r.get("sni"), r.get("rtt_ms")) for r in out] == [(None, None), ("late.example", None)]
    # The first answer: the QUIC RTT (no DPI)
    out = updates(["sum", 2.05, 1000, 17, B, 443, A, 5000, 0, 0, 0, 958, 0, None, None])
    assert [r.get("rtt_ms") for r in out] == [None, pytest.approx(1050.0)]


def test_tcp_rtt_learned_after_a_kept_record_reaches_the_next_one() -> None:
    def updates(extra: list[list[Any]]) -> list[Any]:
        t = Tracker(refresh=1.0)
        recs = [tcp_sum(1.0 + i / 10, A, 5000, B, 443, 0x02, 7) for i in range(25)]  # SYN, retransmitted
        recs = sorted(recs + extra, key=lambda r: r[1])
        out = t.process([header(), *recs])
        return [r.get("rtt_ms") for r in out if isinstance(r, dict) and r.get("t") == "conn"]

    # The SYN-ACK (at 2.05, after the update at 2.0) gives a first RTT, from the latest SYN (2.0).
    assert updates([tcp_sum(2.05, B, 443, A, 5000, 0x12, 99, 8)]) == [None, pytest.approx(50.0)]
    # The handshake's ACK refines it.
    synack, ack = tcp_sum(1.01, B, 443, A, 5000, 0x12, 99, 8), tcp_sum(2.05, A, 5000, B, 443, 0x10, 8, 100)
    assert updates([synack, ack]) == [pytest.approx(10.0), pytest.approx(1050.0)]


def tcp_sum(
    ts: float, src: bytes, sp: int, dst: bytes, dp: int, flags: int, seq: int, ack: int = 0
) -> list[Any]:
    return ["sum", ts, 60, 6, src, sp, dst, dp, flags, seq, ack, 0, 0, None, None]


def test_connections_that_are_over_keep_their_record_copy(checked_updates: list[int]) -> None:
    """A TCP connection shown TIME_WAIT and an answered DNS exchange keep the copy of their record
    after their rate fell to 0 (their final record follows within seconds, refreshed from it,
    checked against a fresh build); an idle open connection keeps none (memory)."""
    from tests.track_util import ACK, FIN, handshake, tcp, udp

    t = Tracker(refresh=1.0)
    recs = [
        header(),
        *handshake(1.0),
        *handshake(1.0, cp=40001),
        tcp(1.1, A, 40000, B, 80, FIN | ACK, 1001, 5001),
        tcp(1.11, B, 80, A, 40000, FIN | ACK, 5001, 1002),
        tcp(1.12, A, 40000, B, 80, ACK, 1002, 5002),
        udp(1.2, A, 33333, B, 53, info={"dns_query": "a.example"}),
        udp(1.21, B, 53, A, 33333, info={"dns_rcode": "NOERROR"}),
        *[udp(2.0 + i, C, 7000, B, 443) for i in range(4)],
    ]  # the clock to 5.0: rates fell to 0
    t.process(recs)
    by_port = {c.key[2] if c.key[1] == A else c.key[4]: c for c in t.table.values() if C not in c.key}
    over, idle, dns = by_port[40000], by_port[40001], by_port[33333]
    assert over.shown == int(State.TIME_WAIT) and over.rate_src == over.rate_dst == 0
    assert over.tmpl is not None and dns.tmpl is not None
    assert idle.tmpl is None and idle.rate_src == idle.rate_dst == 0
    before = checked_updates[0]
    out = t.finish()
    assert checked_updates[0] - before >= 2  # both finals came from the kept copies
    assert {r["sport"]: r["state"] for r in out if r.get("t") == "conn" and r["src"] == "10.0.0.1"} == {
        40000: "TIME_WAIT",
        40001: "ESTABLISHED",
        33333: "DNS_RESPONSE",
    }


@given(
    st.one_of(
        st.floats(0, 1e11),
        st.integers(0, 10**11).map(float),
        st.integers(0, 10**11).map(lambda n: n - 1e-9 if n else 0.0),
    ),
    st.integers(0, 10**11 + 2),
)
def test_inline_reschedule_comparison_is_the_bucket_comparison(deadline: float, due: int) -> None:
    """process() brings an expiry forward when ``deadline < due - 1``: the same as comparing
    buckets (``int(deadline) + 1 < due``, Tracker._reschedule) for every deadline >= 0."""
    assert (deadline < due - 1) == (int(deadline) + 1 < due)
