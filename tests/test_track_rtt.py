"""Round trips and TCP quality counters of rn-track on crafted summaries: the live TCP round trip
(one segment at a time, Karn's rule, RFC 6298 smoothing), duplicate ACKs and fast retransmits
(RFC 5681), the handshake's, QUIC's and ICMP echo's round trips, and the response times of DNS,
LLMNR, NetBIOS, STUN and NTP, paired by the ids rn-dissect gives each request and response."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from rustnet.track.lifecycle import Timeouts
from rustnet.track.table import MAX_PENDING, Tracker

from tests.track_util import ACK, FIN, PSH, SYN, A, B, C, conns, finals, handshake, header, icmp, tcp, udp

MCAST = socket.inet_aton("224.0.0.252")
BCAST = socket.inet_aton("10.0.0.255")


def run(recs: list[Any], live_local: bytes | None = None) -> list[dict[str, Any]]:
    """The final records, oldest connection first; ``live_local``: a live capture, this host's address."""
    if live_local is None:
        t = Tracker()
        out = t.process([header(), *recs]) + t.finish()
    else:
        t = Tracker(local_addrs=[live_local])
        out = t.process([header(live=True), *recs]) + t.finish()
    return sorted(finals(out).values(), key=lambda r: r["id"])


def data(ts: float, seq: int, n: int = 100, ack: int = 5001) -> list[Any]:
    """A's segment of n bytes (A: 10.0.0.1:40000, the client of handshake())."""
    return tcp(ts, A, 40000, B, 80, ACK | PSH, seq, ack, n)


def ack_of(ts: float, ack: int, seq: int = 5001, win: int = 1000, n: int = 0, flags: int = ACK) -> list[Any]:
    """B's segment acknowledging ``ack``."""
    rec = tcp(ts, B, 80, A, 40000, flags, seq, ack, n)
    rec[12] = win
    return rec


# --- TCP: the live round trip ----------------------------------------------------------
def test_live_rtt_is_smoothed_one_segment_at_a_time() -> None:
    recs = [
        *handshake(1.0),  # 20 ms
        data(2.0, 1001),  # timed: 1101
        data(2.01, 1101),  # another while the first is timed: not timed
        ack_of(2.1, 1101),  # 100 ms
        ack_of(2.12, 1201),  # covers the untimed one: no sample
        data(3.0, 1201),  # timed: 1301
        ack_of(3.04, 1301),  # 40 ms
        data(4.0, 1301),
        ack_of(4.2, 1351),  # does not cover 1401 yet
        ack_of(4.3, 1401),  # 300 ms
    ]
    (r,) = run(recs)
    srtt = 100.0
    srtt = 7 / 8 * srtt + 1 / 8 * 40.0
    srtt = 7 / 8 * srtt + 1 / 8 * 300.0
    assert (r["rtt_ms"], r["rtt_kind"]) == (pytest.approx(srtt, abs=0.001), "tcp")
    assert r["rtt_initial_ms"] == pytest.approx(20.0)


def test_handshake_rtt_until_data_is_acknowledged() -> None:
    (r,) = run([*handshake(1.0), data(2.0, 1001)])
    assert (r["rtt_ms"], r["rtt_kind"], r["rtt_initial_ms"]) == (
        pytest.approx(20.0),
        "tcp_handshake",
        pytest.approx(20.0),
    )
    # A resent SYN: the SYN-ACK answers the latest one.
    syns = [tcp(1.0, A, 40000, B, 80, SYN, 999), tcp(4.0, A, 40000, B, 80, SYN, 999)]
    (r,) = run(
        [*syns, ack_of(4.05, 1000, 4999, flags=SYN | ACK), tcp(4.06, A, 40000, B, 80, ACK, 1000, 5000)]
    )
    assert r["rtt_initial_ms"] == pytest.approx(60.0)
    # A SYN-ACK more than 30 s after the SYN (half-open connections kept that long here): none.
    t = Tracker(timeouts=Timeouts({"tcp.handshake": 120.0}))
    out = t.process(
        [header(), tcp(1.0, A, 40000, B, 80, SYN, 999), ack_of(31.5, 1000, 4999, flags=SYN | ACK)]
    )
    (r,) = finals(out + t.finish()).values()
    assert "rtt_ms" not in r and "rtt_initial_ms" not in r and "rtt_kind" not in r


def test_karn_a_retransmission_cancels_the_probe() -> None:
    recs = [
        *handshake(1.0),
        data(2.0, 1001),  # timed
        data(3.0, 1001),  # retransmitted a second later: which copy does the ACK answer?
        ack_of(3.05, 1101),
    ]
    (r,) = run(recs)
    assert r["retransmits"] == 1
    assert r["rtt_kind"] == "tcp_handshake"  # no live sample (it would read 1050 or 50 ms)
    # The next new segment is timed again.
    (r,) = run([*recs, data(4.0, 1101), ack_of(4.03, 1201)])
    assert (r["rtt_ms"], r["rtt_kind"]) == (pytest.approx(30.0), "tcp")


def test_a_probe_expires_after_10_s() -> None:
    (r,) = run([*handshake(1.0), data(2.0, 1001), ack_of(12.5, 1101)])
    assert r["rtt_kind"] == "tcp_handshake"
    # An expired probe gives way to the next segment.
    (r,) = run([*handshake(1.0), data(2.0, 1001), data(13.0, 1101), ack_of(13.07, 1201)])
    assert (r["rtt_ms"], r["rtt_kind"]) == (pytest.approx(70.0), "tcp")


def test_live_capture_times_the_local_side_data() -> None:
    # This host is the server B: its data, A's ACKs.
    recs = [
        *handshake(1.0),
        data(2.0, 1001),
        ack_of(2.5, 1101, n=200, flags=ACK | PSH),  # B's data, timed (and A's acknowledged)
        tcp(2.58, A, 40000, B, 80, ACK, 1101, 5201),  # 80 ms
    ]
    (r,) = run(recs, live_local=B)
    assert r["local_side"] == "dst"
    assert (r["rtt_ms"], r["rtt_kind"]) == (pytest.approx(80.0), "tcp")
    # Neither end is this host: nothing is the local side's to time.
    (r,) = run(recs, live_local=C)
    assert r["rtt_kind"] == "tcp_handshake" and "local_side" not in r


# --- TCP: duplicate ACKs and fast retransmits -----------------------------------------------
def _lossy() -> list[list[Any]]:
    """A sends 1001..1501 in 5 segments; 1101..1201 is lost on the way, B says so 4 times."""
    recs = [*handshake(1.0)]
    recs += [data(2.0 + i * 0.001, 1001 + i * 100) for i in range(5)]
    recs += [ack_of(2.05, 1101)]  # the first segment: a new ACK
    recs += [ack_of(2.051 + i * 0.001, 1101) for i in range(4)]  # one per segment past the hole
    recs += [data(2.06, 1101), ack_of(2.11, 1501)]  # A resends at once; everything acknowledged
    return recs


def test_duplicate_acks_and_fast_retransmit() -> None:
    (r,) = run(_lossy())
    assert (r["dup_acks"], r["fast_retransmits"]) == (4, 1)  # the run reached 3 once
    assert r["retransmits"] == 1
    # Another hole later: the forward ACK ended the first run, the second reaches 3 again.
    more = [data(3.0 + i * 0.001, 1501 + i * 100) for i in range(4)]
    more += [ack_of(3.05, 1601)] + [ack_of(3.051 + i * 0.001, 1601) for i in range(3)]
    (r,) = run(_lossy() + more)
    assert (r["dup_acks"], r["fast_retransmits"]) == (7, 2)
    # The other way: B's data, A's duplicate ACKs, twice.
    down = [*handshake(1.0)]
    for t0, first in ((2.0, 5001), (3.0, 5501)):
        down += [ack_of(t0 + i * 0.001, 1001, seq=first + i * 100, n=100, flags=ACK | PSH) for i in range(5)]
        down += [tcp(t0 + 0.05 + i * 0.001, A, 40000, B, 80, ACK, 1001, first + 100) for i in range(4)]
        down += [tcp(t0 + 0.1, A, 40000, B, 80, ACK, 1001, first + 500)]
    (r,) = run(down)
    assert (r["dup_acks"], r["fast_retransmits"]) == (6, 2)


def test_not_duplicate_acks() -> None:
    recs = [*handshake(1.0), *[data(2.0 + i * 0.001, 1001 + i * 100) for i in range(3)], ack_of(2.05, 1101)]
    same = ack_of(2.06, 1101)
    cases = {
        "window update": [
            ack_of(2.06, 1101, win=2000),
            ack_of(2.07, 1101, win=3000),
            ack_of(2.08, 1101, win=4000),
        ],
        "zero window": [ack_of(2.06 + i / 100, 1101, win=0) for i in range(4)],
        "with data": [
            ack_of(2.06 + i / 100, 1101, seq=5001 + i * 10, n=10, flags=ACK | PSH) for i in range(4)
        ],
        "FIN": [ack_of(2.06, 1101, flags=ACK | FIN)],
        "older ACK": [ack_of(2.051, 1001)],
    }
    for name, extra in cases.items():
        (r,) = run(recs + extra)
        assert r["dup_acks"] == 0, name
    # Nothing outstanding (all acknowledged): a keep-alive probe's answer is no duplicate either.
    idle = [*handshake(1.0), data(2.0, 1001), ack_of(2.05, 1101)]
    idle += [tcp(60.0 + i * 60, A, 40000, B, 80, ACK, 1100, 5001) for i in range(4)]  # probes
    idle += [ack_of(60.01 + i * 60, 1101) for i in range(4)]
    (r,) = run(sorted(idle, key=lambda x: x[1]))
    assert (r["dup_acks"], r["fast_retransmits"]) == (0, 0)
    (r,) = run(recs + [same, same, same])
    assert (r["dup_acks"], r["fast_retransmits"]) == (3, 1)  # the same three, plain: counted


# --- ICMP echo ------------------------------------------------------------------------------
def echo(ts: float, src: bytes, dst: bytes, reply: bool, ident: int = 7, seq: int = 1) -> list[Any]:
    rec = icmp(ts, src, dst, 0 if reply else 8)
    rec[9], rec[10] = ident, seq
    return rec


def test_icmp_echo_rtt_is_the_latest_pair() -> None:
    recs = [
        echo(1.0, A, B, False, seq=1),
        echo(1.03, B, A, True, seq=1),  # 30 ms
        echo(2.0, A, B, False, seq=2),
        echo(2.5, B, A, True, seq=9),  # another sequence: answers nothing
        echo(3.0, A, B, False, seq=3),
        echo(3.012, B, A, True, seq=3),  # 12 ms, the latest
        echo(4.0, A, B, False, seq=4),
        echo(15.0, B, A, True, seq=4),  # 11 s: expired
    ]
    (r,) = run(recs)
    assert (r["rtt_ms"], r["rtt_kind"]) == (pytest.approx(12.0), "icmp_echo")
    # Requests of the other end (here B pinging A, the originator) are not the local side's.
    (r,) = run([echo(1.0, A, B, True, seq=5), echo(1.1, B, A, False, seq=6), echo(1.2, A, B, True, seq=6)])
    assert "rtt_ms" not in r


# --- request / response protocols ---------------------------------------------------------
def ask(ts: float, src: bytes, sp: int, dst: bytes, dp: int, rid: str, app: str = "DNS") -> list[Any]:
    return udp(ts, src, sp, dst, dp, info={"app": app, "req_id": rid})


def answer(ts: float, src: bytes, sp: int, dst: bytes, dp: int, rid: str, app: str = "DNS") -> list[Any]:
    return udp(ts, src, sp, dst, dp, info={"app": app, "resp_id": rid})


def test_dns_response_time_by_id_on_the_connection() -> None:
    recs = [
        ask(1.0, A, 33000, B, 53, "dns 1a2b"),
        answer(1.02, B, 53, A, 33000, "dns 9999"),  # another id: nothing
        answer(1.025, C, 53, A, 33000, "dns 1a2b"),  # from another server: another connection
        answer(1.04, B, 53, A, 33000, "dns 1a2b"),  # 40 ms
        answer(1.05, B, 53, A, 33000, "dns 1a2b"),  # a second answer: already paired
        ask(2.0, A, 33000, B, 53, "dns 0001"),
        answer(12.5, B, 53, A, 33000, "dns 0001"),  # past 10 s
    ]
    r, other = run(recs)
    assert r["dns_response_ms"] == pytest.approx(40.0)
    assert "dns_response_ms" not in other
    assert "rtt_ms" not in r  # response times are not the connection's round trip


def test_stun_ntp_response_times() -> None:
    recs = [
        ask(1.0, A, 50000, B, 3478, "stun 00112233445566778899aabb", "STUN"),
        answer(1.033, B, 3478, A, 50000, "stun 00112233445566778899aabb", "STUN"),
        ask(2.0, A, 123, C, 123, "ntp e1b2c3d4e5f60718", "NTP"),
        answer(2.017, C, 123, A, 123, "ntp e1b2c3d4e5f60718", "NTP"),
    ]
    stun, ntp = run(recs)
    assert stun["stun_rtt_ms"] == pytest.approx(33.0)
    assert ntp["ntp_rtt_ms"] == pytest.approx(17.0)


def test_llmnr_and_netbios_answers_to_a_group_query_go_on_both_rows() -> None:
    recs = [
        ask(1.0, A, 60000, MCAST, 5355, "llmnr 00aa", "LLMNR"),
        answer(1.008, C, 5355, A, 60000, "llmnr 00aa", "LLMNR"),  # 8 ms, unicast from a responder
        answer(1.009, B, 5355, A, 60000, "llmnr 00aa", "LLMNR"),  # a second responder: not the first
        ask(2.0, A, 137, BCAST, 137, "nbns 0bb0", "NetBIOS-NS"),
        answer(2.3, C, 137, A, 137, "nbns 0bb0", "NetBIOS-NS"),  # 300 ms (after a WACK: no resp_id)
    ]
    q, r1, r2, nq, nr = run(recs)
    assert q["llmnr_response_ms"] == r1["llmnr_response_ms"] == pytest.approx(8.0)
    assert "llmnr_response_ms" not in r2
    assert nq["netbios_response_ms"] == nr["netbios_response_ms"] == pytest.approx(300.0)


def test_only_this_hosts_requests_are_timed_live() -> None:
    recs = [
        ask(1.0, C, 60000, MCAST, 5355, "llmnr 00aa", "LLMNR"),
        answer(1.01, B, 5355, C, 60000, "llmnr 00aa", "LLMNR"),
    ]
    assert all("llmnr_response_ms" not in r for r in run(recs, live_local=A))
    assert all(r["llmnr_response_ms"] == pytest.approx(10.0) for r in run(recs, live_local=C))


def test_pending_requests_are_bounded() -> None:
    t = Tracker(max_connections=100_000)
    recs = [
        ask(1.0 + i * 1e-5, A, 1024 + i % 60000, B, 53, f"dns {i & 0xFFFF:04x}")
        for i in range(MAX_PENDING + 500)
    ]
    t.process([header(), *recs])
    assert len(t._pending) == MAX_PENDING
    # The oldest went first: its answer times nothing, the newest's does.
    out = (
        t.process(
            [
                answer(1.5, B, 53, A, 1024, "dns 0000"),
                answer(
                    1.5,
                    B,
                    53,
                    A,
                    1024 + (MAX_PENDING + 499) % 60000,
                    f"dns {(MAX_PENDING + 499) & 0xFFFF:04x}",
                ),
            ]
        )
        + t.finish()
    )
    timed = [r for r in finals(out).values() if "dns_response_ms" in r]
    assert [r["sport"] for r in timed] == [1024 + (MAX_PENDING + 499) % 60000]


# --- QUIC ---------------------------------------------------------------------------------------
def quic(ts: float, src: bytes, sp: int, dst: bytes, dp: int, ptype: str | None) -> list[Any]:
    info: dict[str, Any] = {"app": "QUIC"}
    if ptype:
        info["quic_packet"] = ptype
    return udp(ts, src, sp, dst, dp, 1200, info=info)


def test_quic_handshake_rtt_restarts_on_a_resent_initial() -> None:
    recs = [
        quic(1.0, A, 5000, B, 443, "initial"),
        quic(1.3, A, 5000, B, 443, "initial"),  # resent: timed from here
        quic(1.345, B, 443, A, 5000, "initial"),  # 45 ms
        quic(1.36, A, 5000, B, 443, "handshake"),
        quic(1.5, B, 443, A, 5000, None),  # after the first: kept as it was
    ]
    (r,) = run(recs)
    assert (r["rtt_ms"], r["rtt_kind"], r["rtt_initial_ms"]) == (
        pytest.approx(45.0),
        "quic_handshake",
        pytest.approx(45.0),
    )
    # 0-RTT and 1-RTT packets are not timed (rn-dissect gives them no quic_packet).
    (r,) = run([quic(1.0, A, 5000, B, 443, None), quic(1.2, B, 443, A, 5000, None)])
    assert "rtt_ms" not in r


def test_counters_start_at_zero_and_updates_carry_them() -> None:
    t = Tracker(refresh=1.0)
    out = t.process([header(), *_lossy(), tcp(4.0, A, 40000, B, 80, ACK, 1501, 5001)])
    updates = conns(out)
    assert updates[0]["dup_acks"] == 0 and updates[0]["fast_retransmits"] == 0
    assert (updates[-1]["dup_acks"], updates[-1]["fast_retransmits"], updates[-1]["rtt_kind"]) == (
        4,
        1,
        "tcp",
    )


def test_window_is_the_peers_latest_advertised() -> None:
    recs = [*handshake(1.0), data(2.0, 1001), ack_of(2.05, 1101, win=4000), ack_of(2.06, 1101, win=3000)]
    recs += [ack_of(2.055, 1001, win=9999)]  # an older ACK arriving late: not the latest window
    (r,) = run(sorted(recs, key=lambda x: x[1]))
    assert r["window"] == 3000  # B's (the responder's) raw 16-bit window, as the local side sees it
    # This host is B: A's window (1000, as track_util writes it).
    (r,) = run([*handshake(1.0), data(2.0, 1001), ack_of(2.05, 1101, win=4000)], live_local=B)
    assert r["window"] == 1000


def test_echo_id_and_latest_sequence() -> None:
    (r,) = run(
        [
            echo(1.0, A, B, False, ident=0x4242, seq=1),
            echo(1.01, B, A, True, ident=0x4242, seq=1),
            echo(2.0, A, B, False, ident=0x4242, seq=2),
        ]
    )
    assert (r["echo_id"], r["echo_seq"]) == (0x4242, 2)


def test_sequence_numbers_past_2_31_and_wrapping() -> None:
    """ACK numbers, duplicates and the timed segment by serial arithmetic (RFC 1982), around 2**32."""
    top = 0xFFFFFFFF - 250  # A's data wraps past 0
    recs = [
        tcp(1.0, A, 40000, B, 80, SYN, top - 1),
        ack_of(1.02, top, 0xF0000000, flags=SYN | ACK),
        tcp(1.03, A, 40000, B, 80, ACK, top, 0xF0000001),
    ]
    recs += [
        tcp(2.0 + i * 0.001, A, 40000, B, 80, ACK | PSH, (top + i * 100) & 0xFFFFFFFF, 0xF0000001, 100)
        for i in range(5)
    ]
    recs += [ack_of(2.03, (top + 100) & 0xFFFFFFFF, 0xF0000001)]  # 30 ms: the first segment
    recs += [
        ack_of(2.031 + i * 0.001, (top + 100) & 0xFFFFFFFF, 0xF0000001) for i in range(3)
    ]  # past 2**32 outstanding
    wrapped = (top + 500) & 0xFFFFFFFF  # 249
    recs += [ack_of(2.05, wrapped, 0xF0000001)]  # past 0: forward, the run ends
    recs += [ack_of(2.06, wrapped, 0xF0000001)]  # nothing outstanding: no duplicate
    recs += [
        tcp(3.0 + i * 0.001, A, 40000, B, 80, ACK | PSH, wrapped + i * 100, 0xF0000001, 100) for i in range(3)
    ]
    recs += [ack_of(3.04 + i * 0.001, wrapped, 0xF0000001) for i in range(3)]  # a new run of 3
    (r,) = run(recs)
    assert (r["dup_acks"], r["fast_retransmits"]) == (6, 2)
    assert (r["rtt_ms"], r["rtt_kind"]) == (pytest.approx(30.0), "tcp")  # the one segment timed


def test_duplicate_acks_of_the_originator_past_2_32() -> None:
    """The same from the other side: the responder's data wraps, the originator acknowledges."""
    top = 0xFFFFFFFF - 250
    recs = [
        tcp(1.0, A, 40000, B, 80, SYN, 999),
        ack_of(1.02, 1000, top - 1, flags=SYN | ACK),
        tcp(1.03, A, 40000, B, 80, ACK, 1000, top),
    ]
    recs += [
        ack_of(2.0 + i * 0.001, 1000, (top + i * 100) & 0xFFFFFFFF, n=100, flags=ACK | PSH) for i in range(5)
    ]
    recs += [tcp(2.03 + i * 0.001, A, 40000, B, 80, ACK, 1000, (top + 100) & 0xFFFFFFFF) for i in range(4)]
    wrapped = (top + 500) & 0xFFFFFFFF
    recs += [tcp(2.05, A, 40000, B, 80, ACK, 1000, wrapped)]  # past 0: forward, the run ends
    recs += [ack_of(3.0 + i * 0.001, 1000, wrapped + i * 100, n=100, flags=ACK | PSH) for i in range(3)]
    # It acknowledged `wrapped` already: all four repeat it while B's new data is outstanding.
    recs += [tcp(3.04 + i * 0.001, A, 40000, B, 80, ACK, 1000, wrapped) for i in range(4)]
    (r,) = run(recs)
    assert (r["dup_acks"], r["fast_retransmits"]) == (3 + 4, 2)
