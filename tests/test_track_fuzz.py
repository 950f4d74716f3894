"""Property tests: whatever the summaries, the tracker never raises and loses or invents no packet."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rustnet.track.lifecycle import Timeouts
from rustnet.track.table import Tracker

from tests.track_util import A, B, C, conns, finals, header

ADDRS = [A, B, C]
PROTOS = [6, 17, 1, 58, 2054, 47]

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
    st.floats(0, 200, allow_nan=False),
    st.integers(40, 1600),
    st.sampled_from(PROTOS),
    st.sampled_from(ADDRS),
    st.sampled_from([0, 53, 80, 443, 5000]),
    st.sampled_from(ADDRS),
    st.sampled_from([0, 53, 80, 443, 5000]),
    st.integers(0, 0xFF),
    st.integers(0, 0xFFFFFFFF),
    st.integers(0, 0xFFFFFFFF),
    st.integers(0, 1500),
    st.one_of(
        st.none(),
        st.fixed_dictionaries(
            {},
            optional={
                "app": st.sampled_from(["DNS", "QUIC", "SSH", "HTTP", "TLS", "", "x" * 40]),
                "quic_state": st.sampled_from(["QUIC_INITIAL", "QUIC_CONNECTED", "QUIC_DRAINING", "bogus"]),
                "quic_close": st.integers(0, 10),
                "dns_rcode": st.just("NOERROR"),
                "sni": st.text(max_size=20),
                "dns_query": st.text(max_size=10),
            },
        ),
    ),
)
junk = st.lists(
    st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=5), st.binary(max_size=5)), max_size=16
).map(lambda xs: ["sum", *xs])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.one_of(summary, summary, summary, junk), max_size=80),
    st.integers(1, 40),
    st.sampled_from([0.0, 1.0]),
    st.booleans(),
)
def test_every_packet_counted_once(recs: list[Any], cap: int, refresh: float, short: bool) -> None:
    timeouts = Timeouts({"tcp.established": 5.0, "udp": 3.0}) if short else None
    t = Tracker(max_connections=cap, refresh=refresh, timeouts=timeouts)
    out = t.process([header(), *recs[: len(recs) // 2]])
    out += t.process(recs[len(recs) // 2 :])
    out += t.finish()
    f = finals(out)  # also asserts one final record per id
    accepted = len(recs) - t.bad_records - t.unattributed
    assert sum(r["packets"] for r in f.values()) == accepted
    assert sum(r["packets_src"] + r["packets_dst"] for r in f.values()) == accepted
    assert {r["id"] for r in conns(out)} == set(f)  # every connection that appeared ended once
    assert len(t.table) == 0
    for r in conns(out):
        assert r["first_seen"] <= r["last_seen"]
        assert r["bytes"] == r["bytes_src"] + r["bytes_dst"]
