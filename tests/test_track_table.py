"""The Tracker stage on crafted summaries: records, originators, states, timeouts, output pacing."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from rustnet.stream import fields
from rustnet.stream.records import ip_text
from rustnet.track.key import flow_key
from rustnet.track.lifecycle import Timeouts
from rustnet.track.table import Tracker

from tests.track_util import (
    A6,
    ACK,
    B6,
    FIN,
    PSH,
    RST,
    SYN,
    A,
    B,
    C,
    arp,
    conns,
    finals,
    handshake,
    header,
    icmp,
    tcp,
    udp,
)

MAN_RECORDS = Path(__file__).resolve().parents[1] / "man" / "rustnet-records.5"


def run(recs: list[Any], **kw: Any) -> list[Any]:
    t = Tracker(**kw)
    return t.process([header(), *recs]) + t.finish()


def only(recs: list[Any]) -> dict[str, Any]:
    f = finals(recs)
    assert len(f) == 1, f
    return next(iter(f.values()))


# --- the record ----------------------------------------------------------------------
def test_record_fields_match_the_records_man_page() -> None:
    """rustnet-records(5) documents exactly the declared conn fields."""
    text = MAN_RECORDS.read_text()
    section = text[text.index(".SS conn (map)") :]
    section = section[: section.index("\n.SS ", 1)] if "\n.SS " in section[1:] else section
    documented = set(re.findall(r"^\\fB([a-z_]+)\\fR \(", section, re.MULTILINE))
    assert documented == set(fields.names(fields.CONN))


def test_tcp_record_counts_per_direction() -> None:
    recs = run(
        [
            *handshake(100.0),
            tcp(100.1, A, 40000, B, 80, ACK | PSH, 1001, 5001, 100, info={"app": "HTTP", "http_host": "h"}),
            tcp(100.2, B, 80, A, 40000, ACK | PSH, 5001, 1101, 1000, wirelen=1054),
        ]
    )
    r = only(recs)
    assert (r["src"], r["sport"], r["dst"], r["dport"]) == ("10.0.0.1", 40000, "10.0.0.2", 80)
    assert r["proto"] == "tcp"
    assert (r["packets"], r["packets_src"], r["packets_dst"]) == (5, 3, 2)
    assert (r["bytes_src"], r["bytes_dst"]) == (54 * 2 + 154, 54 + 1054)
    assert r["bytes"] == r["bytes_src"] + r["bytes_dst"]
    assert (r["first_seen"], r["last_seen"]) == (100.0, 100.2)
    assert r["state"] == "ESTABLISHED"
    assert r["app"] == "HTTP" and r["http_host"] == "h"
    # The handshake's round trip, then the live one: A's 100 bytes at 100.1, acknowledged at 100.2.
    assert r["rtt_initial_ms"] == pytest.approx(20.0)
    assert (r["rtt_ms"], r["rtt_kind"]) == (pytest.approx(100.0), "tcp")
    assert r["final"] is True and r["end"] == "eof"
    assert isinstance(r["id"], int)
    assert "vlan" not in r and "local_side" not in r


def test_originator_rules() -> None:
    # Mid-stream: the first packet's sender.
    r = only(run([tcp(1.0, B, 80, A, 40000, ACK, 5, 6, 10), tcp(1.1, A, 40000, B, 80, ACK, 6, 15)]))
    assert (r["src"], r["sport"]) == ("10.0.0.2", 80)
    # A lone SYN-ACK: its receiver is the originator.
    r = only(run([tcp(1.0, B, 80, A, 40000, SYN | ACK, 5, 6), tcp(1.1, A, 40000, B, 80, ACK, 6, 6)]))
    assert (r["src"], r["sport"], r["dst"], r["dport"]) == ("10.0.0.1", 40000, "10.0.0.2", 80)
    assert (r["packets_src"], r["packets_dst"]) == (1, 1)
    # UDP: the first packet's sender, even from the higher address.
    r = only(run([udp(1.0, C, 9999, A, 1234), udp(1.1, A, 1234, C, 9999)]))
    assert (r["src"], r["dst"], r["state"]) == ("10.0.0.3", "10.0.0.1", "UDP_ACTIVE")


def test_key_is_direction_free() -> None:
    k1, s1 = flow_key(6, A, 1, B, 2)
    k2, s2 = flow_key(6, B, 2, A, 1)
    assert k1 == k2 and s1 != s2
    assert flow_key(1, A, 8, B, 0)[0] == flow_key(1, B, 0, A, 0)[0]
    # The same address both ways: ports decide.
    assert flow_key(17, A, 5, A, 3)[0] == flow_key(17, A, 3, A, 5)[0]
    assert only(run([udp(1.0, A, 5, A, 3), udp(1.1, A, 3, A, 5)]))["packets"] == 2


def test_ipv6_and_vlan() -> None:
    r = only(run([tcp(1.0, A6, 5, B6, 443, SYN, vlan=[100, 7])]))
    assert (r["src"], r["dst"], r["vlan"], r["state"]) == ("fd00::1", "fd00::2", [100, 7], "SYN_SENT")


def test_icmp_and_arp_states() -> None:
    recs = run(
        [
            icmp(1.0, A, B, 8),
            icmp(1.01, B, A, 0),
            icmp(2.0, C, A, 3, 1),
            icmp(3.0, A6, B6, 128, proto=58),
            icmp(3.1, B, C, 11),
            arp(4.0, A, B, 1),
            arp(4.1, B, A, 2),
            arp(5.0, C, A, 1),
        ]
    )
    by = {(r["proto"], r["src"], r["dst"]): r for r in finals(recs).values()}
    assert by["icmp", "10.0.0.1", "10.0.0.2"]["state"] == "ECHO_REPLY"
    assert by["icmp", "10.0.0.1", "10.0.0.2"]["packets"] == 2
    assert by["icmp", "10.0.0.3", "10.0.0.1"]["state"] == "ICMP_UNREACHABLE"
    assert by["icmp", "10.0.0.2", "10.0.0.3"]["state"] == "ICMP_TIME_EXCEEDED"
    assert by["icmpv6", "fd00::1", "fd00::2"]["state"] == "ECHO_REQUEST"
    assert by["arp", "10.0.0.1", "10.0.0.2"]["state"] == "ARP_REPLY"
    assert by["arp", "10.0.0.3", "10.0.0.1"]["state"] == "ARP_REQUEST"
    assert all(r["sport"] == 0 and r["dport"] == 0 for r in by.values())


def test_dns_states_and_fields() -> None:
    recs = run(
        [
            udp(1.0, A, 5353 + 1, B, 53, info={"app": "DNS", "dns_query": "a.example", "dns_qtype": "A"}),
            udp(1.5, A, 5354, B, 53, info={"dns_query": "b.example"}),
        ]
    )
    r = only(recs)
    assert r["state"] == "DNS_QUERY" and r["dns_query"] == "a.example"
    assert r["dns_queries"] == ["a.example", "b.example"]
    recs = run(
        [
            udp(1.0, A, 5555, B, 53, info={"app": "DNS", "dns_query": "a.example"}),
            udp(1.01, B, 53, A, 5555, info={"dns_rcode": "NOERROR", "dns_answers": ["1.2.3.4"]}),
        ]
    )
    r = only(recs)
    assert (r["state"], r["dns_rcode"], r["dns_answers"]) == ("DNS_RESPONSE", "NOERROR", ["1.2.3.4"])


def test_dpi_merge_first_value_wins_and_is_bounded() -> None:
    hostile = {
        "sni": "first.example",
        "id": 666,
        "state": "PWNED",
        "bytes": 1,
        "t": "x",
        "not a key": 1,
        "http_path": "/" + "a" * 5000,
        "dns_queries": [f"n{i}" for i in range(100)],
        "frag": "last",
        "trunc": True,
        "nested": {"deep": {"x": 1}},
    }
    r = only(
        run(
            [
                tcp(1.0, A, 1, B, 443, ACK, info=hostile),
                tcp(1.1, A, 1, B, 443, ACK, info={"sni": "second.example", "alpn": ["h2", "http/1.1"]}),
            ]
        )
    )
    assert r["sni"] == "first.example" and r["alpn"] == ["h2", "http/1.1"]
    assert r["id"] != 666 and r["state"] == "ESTABLISHED" and r["bytes"] == 108 and r["t"] == "conn"
    assert "not a key" not in r and "frag" not in r and "trunc" not in r and "nested" not in r
    assert len(r["http_path"]) == 1024 and len(r["dns_queries"]) == 32


def test_progress_fields_take_the_latest_value() -> None:
    r = only(
        run(
            [
                tcp(1.0, A, 1, B, 22, ACK, info={"app": "SSH", "ssh_stage": "kex"}),
                tcp(1.1, A, 1, B, 22, ACK, info={"ssh_stage": "auth"}),
                tcp(1.2, A, 1, B, 22, ACK, info={"ssh_stage": "established"}),
            ]
        )
    )
    assert r["app"] == "SSH" and r["ssh_stage"] == "established"


# --- TCP lifecycle --------------------------------------------------------------------
def close_by_client(t: float, isn: int = 1001, risn: int = 5001) -> list[list[Any]]:
    return [
        tcp(t, A, 40000, B, 80, FIN | ACK, isn, risn),
        tcp(t + 0.01, B, 80, A, 40000, FIN | ACK, risn, isn + 1),
        tcp(t + 0.02, A, 40000, B, 80, ACK, isn + 1, risn + 1),
    ]


def test_closed_connection_expires_after_5s_of_packet_time() -> None:
    t = Tracker()
    out = t.process([header(), *handshake(100.0), *close_by_client(101.0)])
    assert not finals(out)
    # Another conversation moves packet time on: 4 s later still there, 6 s later gone.
    out = t.process([udp(105.0, C, 1, A, 2)])
    assert not finals(out) and len(t.table) == 2
    out = t.process([udp(107.1, C, 1, A, 2)])
    f = finals(out)
    assert len(f) == 1 and len(t.table) == 1
    r = next(iter(f.values()))
    assert (r["state"], r["end"], r["packets"]) == ("TIME_WAIT", "timeout", 6)
    rest = finals(t.finish())
    assert len(rest) == 1 and next(iter(rest.values()))["proto"] == "udp"  # the TCP one is not repeated


def test_established_lives_5_minutes_ssh_30() -> None:
    t = Tracker()
    t.process([header(), *handshake(0.5), *handshake(0.5, sp=22, cp=40001)])
    t.process(
        [tcp(0.6, B, 22, A, 40001, ACK | PSH, 5001, 1001, 30, info={"app": "SSH", "ssh_server": "SSH-2.0-x"})]
    )

    def tcp_finals(ts: float) -> list[int]:
        return [r["dport"] for r in finals(t.process([udp(ts, C, 1, A, 2)])).values() if r["proto"] == "tcp"]

    assert tcp_finals(250.0) == []
    assert tcp_finals(302.0) == [80]
    assert tcp_finals(1700.0) == []
    assert tcp_finals(1802.0) == [22]


def test_timeouts_are_overridable() -> None:
    t = Tracker(timeouts=Timeouts({"tcp.established": 10.0}))
    t.process([header(), *handshake(0.5)])
    f = finals(t.process([udp(11.6, C, 1, A, 2)]))
    assert len(f) == 1


def test_rst_and_port_reuse_make_generations() -> None:
    recs = run(
        [
            *handshake(1.0),
            tcp(1.5, B, 80, A, 40000, RST | ACK, 5001, 1001),
            *handshake(2.0, isn=9000),
            *close_by_client(2.5, 9001, 5001),
            *handshake(3.0, isn=20000),
        ]
    )
    f = sorted(finals(recs).values(), key=lambda r: r["id"])
    assert [r["state"] for r in f] == ["CLOSED", "TIME_WAIT", "ESTABLISHED"]
    assert [r["end"] for r in f] == ["reused", "reused", "eof"]
    assert [r["packets"] for r in f] == [4, 6, 3]
    assert len({r["id"] for r in f}) == 3


def test_syn_retransmission_is_not_a_new_generation() -> None:
    r = only(run([tcp(1.0, A, 1, B, 2, SYN, 7), tcp(2.0, A, 1, B, 2, SYN, 7), tcp(4.0, A, 1, B, 2, SYN, 7)]))
    assert (r["packets"], r["state"]) == (3, "SYN_SENT")


def test_half_open_flood_entry_expires_fast() -> None:
    t = Tracker()
    t.process([header(), tcp(1.0, A, 1, B, 2, SYN, 7)])
    assert not finals(t.process([udp(15.0, C, 1, A, 2)]))
    assert len(finals(t.process([udp(17.0, C, 1, A, 2)]))) == 1  # 30 s halved: a single packet


def test_retransmissions_out_of_order_and_keepalives() -> None:
    recs = run(
        [
            *handshake(1.0),
            tcp(1.10, A, 40000, B, 80, ACK, 1001, 5001, 100),
            tcp(1.11, A, 40000, B, 80, ACK, 1201, 5001, 100),  # 1101..1201 missing: a gap
            tcp(1.111, A, 40000, B, 80, ACK, 1101, 5001, 100),  # arrives within the RTT: out of order
            tcp(2.00, A, 40000, B, 80, ACK, 1001, 5001, 100),  # much later: retransmission
            tcp(3.00, A, 40000, B, 80, ACK, 1300, 5001, 1),  # keep-alive (one byte below next)
            tcp(3.10, B, 80, A, 40000, ACK, 5001, 1301, 500),
        ]
    )
    r = only(recs)
    assert (r["retransmits"], r["out_of_order"]) == (1, 1)


def test_sequence_wraparound() -> None:
    top = 0xFFFFFFFF - 50
    r = only(
        run(
            [
                tcp(1.0, A, 1, B, 2, ACK, top, 1, 100),
                tcp(1.1, A, 1, B, 2, ACK, (top + 100) & 0xFFFFFFFF, 1, 100),
            ]
        )
    )
    assert (r["retransmits"], r["out_of_order"]) == (0, 0)


# --- QUIC -------------------------------------------------------------------------------
def test_quic_states_from_hints_and_close_timeout() -> None:
    t = Tracker()
    out = t.process(
        [
            header(),
            udp(
                1.0,
                A,
                5000,
                B,
                443,
                1200,
                info={
                    "app": "QUIC",
                    "quic_state": "QUIC_INITIAL",
                    "quic_packet": "initial",
                    "sni": "q.example",
                    "quic_version": "0x00000001",
                },
            ),
            udp(1.05, B, 443, A, 5000, 1200, info={"app": "QUIC", "quic_state": "QUIC_HANDSHAKE"}),
            udp(1.1, A, 5000, B, 443, 100, info={"app": "QUIC", "quic_state": "QUIC_CONNECTED"}),
            udp(2.0, A, 5000, B, 443, 100, info={"app": "QUIC", "quic_state": "QUIC_INITIAL"}),
            udp(
                3.0, B, 443, A, 5000, 50, info={"app": "QUIC", "quic_state": "QUIC_DRAINING", "quic_close": 0}
            ),
        ]
    )
    # Updates at 2.0 and 3.0 of packet time; the late Initial at 2.0 does not move it back.
    assert [r["state"] for r in conns(out)] == ["QUIC_CONNECTED", "QUIC_CONNECTED"]
    # After the close: 3 x RTT (50 ms) clamped to 1 s.
    assert not finals(t.process([udp(3.9, C, 1, A, 2)]))
    f = finals(t.process([udp(5.1, C, 1, A, 2)]))
    r = next(iter(f.values()))
    assert (r["state"], r["quic_close"], r["sni"], r["app"]) == ("QUIC_CLOSED", 0, "q.example", "QUIC")
    assert r["rtt_ms"] == pytest.approx(50.0)
    assert "quic_state" not in r


def test_quic_without_hints_guesses_from_packets() -> None:
    recs = [udp(1.0, A, 5000, B, 443, 1200, info={"app": "QUIC"})]
    recs += [
        udp(
            1.1 + i / 10, B if i % 2 else A, 443 if i % 2 else 5000, A if i % 2 else B, 5000 if i % 2 else 443
        )
        for i in range(7)
    ]
    assert only(run(recs[:2]))["state"] == "QUIC_INITIAL"
    assert only(run(recs[:3]))["state"] == "QUIC_HANDSHAKE"
    assert only(run(recs))["state"] == "QUIC_CONNECTED"


# --- UDP activity states ----------------------------------------------------------------
def test_udp_activity_states_by_idle_time() -> None:
    t = Tracker(refresh=0.0)
    t.process([header(), udp(1.0, A, 1, B, 2), udp(1.5, B, 2, A, 1)])
    recs = conns(t.process([udp(5.0, C, 9, A, 9)]))
    assert [r["state"] for r in recs if r["sport"] == 1] == ["UDP_ACTIVE"]
    t.snapshot_requested = True
    snap = {r["sport"]: r for r in conns(t.process([udp(20.0, C, 9, A, 9)]))}
    assert snap[1]["state"] == "UDP_IDLE" and snap[1]["snapshot"] is True
    t.snapshot_requested = True
    snap = {r["sport"]: r for r in conns(t.process([udp(50.0, C, 9, A, 9)]))}
    assert snap[1]["state"] == "UDP_STALE"  # 75 % of 60 s idle
    f = finals(t.process([udp(62.0, C, 9, A, 9)]))
    assert [r["sport"] for r in f.values()] == [1]


# --- output pacing ----------------------------------------------------------------------
def test_updates_at_most_once_per_refresh_interval() -> None:
    t = Tracker(refresh=1.0)
    recs = [header(), *handshake(10.0)]
    seq = 1001
    for i in range(500):  # 5 s of traffic, one packet every 10 ms
        recs.append(tcp(10.03 + i * 0.01, A, 40000, B, 80, ACK, seq, 5001, 100))
        seq += 100
        if i == 50:
            recs.append(udp(10.535, C, 1, A, 2))  # a second connection, changed once
    out = t.process(recs)
    ups = [r for r in conns(out) if r["sport"] == 40000]
    assert 4 <= len(ups) <= 5
    times = [r["last_seen"] for r in ups]
    assert all(b - a >= 0.99 for a, b in zip(times, times[1:], strict=False))
    # The second connection: its update, then one more when its rate fell to 0, then nothing.
    other = [r for r in conns(out) if r["sport"] == 1]
    assert len(other) == 2 and other[0]["rate_src"] > 0 and other[1]["rate_src"] == 0
    assert ups[-1]["rate_src"] > 0
    f = finals(t.finish())
    assert f[ups[0]["id"]]["packets"] == 503


def test_rates_fall_to_zero_when_quiet() -> None:
    t = Tracker(refresh=1.0)
    recs = [header()] + [udp(1.0 + i * 0.01, A, 1, B, 2, 958) for i in range(300)]  # 100 kB/s for 3 s
    out = conns(t.process(recs))
    assert 80_000 < out[-1]["rate_src"] < 120_000 and out[-1]["rate_dst"] == 0
    later = conns(t.process([udp(t_, C, 5, A, 5) for t_ in (5.0, 6.0, 7.0, 8.0, 9.5, 11.0, 12.0)]))
    mine = [r["rate_src"] for r in later if r["sport"] == 1]
    assert mine and mine[-1] == 0.0 and all(a >= b for a, b in zip(mine, mine[1:], strict=False))


def test_snapshot_every() -> None:
    t = Tracker(snapshot_every=10.0, refresh=100.0)
    out = t.process([header(), udp(1.0, A, 1, B, 2), udp(2.0, A, 3, B, 4), udp(12.0, A, 1, B, 2)])
    snap = [r for r in conns(out) if r.get("snapshot")]
    assert sorted(r["sport"] for r in snap) == [1, 3]


# --- limits -----------------------------------------------------------------------------
def test_cap_evicts_longest_idle_and_counts() -> None:
    t = Tracker(max_connections=32)
    out = t.process([header(), *handshake(1.0, cp=1)])  # a busy connection, kept active below
    seq = 1001
    for i in range(100):
        out += t.process(
            [
                tcp(2.0 + i * 0.01, A, 2000 + i, B, 80, SYN, 1),
                tcp(2.0 + i * 0.01, A, 1, B, 80, ACK, seq, 5001, 10),
            ]
        )
        seq += 10
    assert len(t.table) <= 32
    out += t.finish()
    f = finals(out)
    assert len(f) == 101
    evicted = [r for r in f.values() if r["end"] == "evicted"]
    assert t.evicted == len(evicted) >= 69
    assert all(r["sport"] != 1 for r in evicted)  # the busy one survived
    assert any(r.get("t") == "warn" and "evicted" in r["msg"] for r in out)


# --- robustness -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "bad",
    [
        ["sum"],
        ["sum", "x", 1, 6, A, 1, B, 2, 0, 0, 0, 0, 0, None, None],
        ["sum", 1.0, -5, 6, A, 1, B, 2, 0, 0, 0, 0, 0, None, None],
        ["sum", 1.0, 60, 6, [1], 1, B, 2, 0, 0, 0, 0, 0, None, None],
        ["sum", 1.0, 60, 6, None, 1, None, 2, 0, 0, 0, 0, 0, None, None],
        ["sum", float("nan"), 60, 6, A, 1, B, 2, 0, 0, 0, 0, 0, None, None],
        ["sum", 1e300, 60, 6, A, 1, B, 2, 0, 0, 0, 0, 0, None, None],
        ["sum", 1.0, 60, "tcp", A, 1, B, 2, 0, 0, 0, 0, 0, None, None],
        ["sum", 1.0, 60, 6, A, 1, B, 2, "SA", 0, 0, 0, 0, None, None],
        ["sum", 1.0, 60, 6, A, 1, B, 2, 0x10, 1.5, 0, 10, 0, None, None],
        ["sum", 1.0, 60, 17, A, 1, B, 2, 0, 0, 0, 0, 0, None, {"app": ["x"], 5: 6}],
        ["sum", 1.0, 60, 6, A, 1, B, 2, 0, 0, 0, 0, 0, None, "info", "extra", "fields"],
    ],
)
def test_hostile_summaries_never_raise(bad: list[Any]) -> None:
    t = Tracker()
    out = t.process([header(), bad, udp(2.0, A, 1, B, 2)]) + t.finish()
    assert any(
        r.get("t") == "conn" and r["sport"] == 1 and r["dport"] == 2 and r["proto"] == "udp"
        for r in conns(out)
    )


def test_other_records_pass_through_in_order() -> None:
    t = Tracker(producer="rn-track 9")
    other = {"t": "stats", "ts": 1.0, "packets": 3}
    unknown = ["xyz", 1, 2]
    out = t.process([header(), other, unknown, udp(1.0, A, 1, B, 2)])
    assert out[0]["t"] == "hdr" and out[0]["producer"] == "rn-track 9" and out[0]["stages"][-1] == "rn-track"
    assert out[1] is other and out[2] is unknown


# --- live -------------------------------------------------------------------------------
def test_live_tick_advances_time_and_local_side() -> None:
    t = Tracker(local_addrs=[B])
    t.process([header(live=True)])
    out = t.process([*handshake(1000.0), *close_by_client(1000.5)])
    # Replays ignore the wall clock; live streams advance by the wall time since the last packet.
    wall = t._wall_at_packet
    assert not finals(t.tick(wall + 2.0))
    f = finals(t.tick(wall + 7.0))
    assert len(f) == 1
    r = next(iter(f.values()))
    assert r["local_side"] == "dst"
    assert r["state"] == "CLOSED"  # the server's own view: LAST_ACK then CLOSED
    assert conns(out) and conns(out)[0]["local_side"] == "dst"  # live: the first batch shows at once


def test_replay_ignores_tick() -> None:
    t = Tracker()
    t.process([header(), *handshake(1.0), *close_by_client(1.5)])
    assert t.tick(1e10) == [] and len(t.table) == 1
    assert ip_text(A) == "10.0.0.1"


# --- sockets from an upstream rn-enrich ----------------------------------------------------
def test_sock_records_attribute_connections() -> None:
    sock = {
        "t": "sock",
        "ts": 1.0,
        "proto": "tcp",
        "local": "10.0.0.1",
        "lport": 40000,
        "remote": "10.0.0.2",
        "rport": 80,
        "listening": False,
        "pid": 4242,
        "process": "curl",
        "cmdline": "curl x",
        "user": "root",
        "netns": None,
    }
    t = Tracker()
    out = t.process([header(), sock, *handshake(1.0), udp(2.5, C, 1, A, 2)])  # an update at 2.5
    assert sock in out  # passed on too
    assert [r["pid"] for r in conns(out) if r["dport"] == 80] == [4242]
    # The socket goes away; the connection keeps its owner through its final record.
    gone = {**sock, "pid": None, "process": None}
    out += t.process([gone, tcp(3.0, A, 40000, B, 80, ACK, 1001, 5001, 10)]) + t.finish()
    recs = [r for r in conns(out) if r["dport"] == 80]
    assert recs and all(r["pid"] == 4242 and r["process"] == "curl" for r in recs)
    assert recs[-1]["final"]


def test_concatenated_recordings_are_separate() -> None:
    second = {**header(), "source": "other.pcap", "start": 5.0}
    t = Tracker()
    out = t.process([header(), *handshake(100.0), second, *handshake(1.0), udp(2.0, C, 1, A, 2)]) + t.finish()
    f = sorted(finals(out).values(), key=lambda r: r["id"])
    assert [(r["proto"], r["packets"], r["end"]) for r in f] == [
        ("tcp", 3, "eof"),
        ("tcp", 3, "eof"),
        ("udp", 1, "eof"),
    ]
    assert f[1]["first_seen"] == 1.0
    # The same header again (a restamped copy, e.g. from a relay) does not end anything.
    t = Tracker()
    out = t.process([header(), *handshake(1.0), header(), tcp(1.5, A, 40000, B, 80, ACK, 1001, 5001)])
    assert [r["packets"] for r in finals(out + t.finish()).values()] == [4]


def test_fragments_and_malformed_packets_count_like_tshark() -> None:
    # Three fragments of one datagram: only the completing one counts (it carries the whole datagram).
    recs = [
        udp(1.0, A, 1111, B, 2222, 1472, wirelen=1514, info={"frag": "part"}),
        udp(2.0, A, 1111, B, 2222, 1480, wirelen=1514, info={"frag": "part"}),
        udp(3.0, A, 1111, B, 2222, 3000, wirelen=82, info={"frag": "last"}),
        udp(5.0, A, 1111, B, 2222, 2, wirelen=44),
        ["sum", 6.0, 60, 6, A, 0, B, 0, 0, 0, 0, 6, 0, None, {"malformed": "truncated tcp header"}],
    ]
    t = Tracker()
    f = finals(t.process([header(), *recs]) + t.finish())
    assert [(r["proto"], r["packets"], r["bytes"]) for r in f.values()] == [("udp", 2, 126)]
    assert t.unattributed == 3


def test_activity_state_changes_are_updates_without_packets() -> None:
    t = Tracker(refresh=1.0)
    out = t.process([header(), udp(1.0, A, 1, B, 2), udp(1.5, B, 2, A, 1)])
    for s in range(3, 70):  # another flow moves packet time on, once a second
        out += t.process([udp(float(s), C, 9, A, 9)])
    states = [r["state"] for r in conns(out) if r["sport"] == 1]
    # One update while active (and one when its rate fell to 0), one per change, then the end.
    assert states == ["UDP_ACTIVE", "UDP_ACTIVE", "UDP_IDLE", "UDP_STALE", "UDP_STALE"]
    assert finals(out)[conns(out)[0]["id"]]["state"] == "UDP_STALE"


def test_live_updates_are_paced_by_the_wall_clock() -> None:
    t = Tracker(refresh=0.2, local_addrs=[])
    t.process([header(live=True)])
    first = conns(t.process([udp(1000.0, A, 1, B, 2)]))
    assert len(first) == 1  # nothing shown yet: at once
    # Packet time moves 5 s, but hardly any wall time passed: no update yet.
    assert conns(t.process([udp(1005.0, A, 1, B, 2)])) == []
    deadline = time.monotonic() + 5
    later: list[dict[str, Any]] = []
    while not later and time.monotonic() < deadline:
        time.sleep(0.05)
        later = conns(t.tick(time.time()))
    assert later and later[0]["packets"] == 2


def _shown_states(segments: list[list[Any]]) -> list[str]:
    """The originator's states the records show, in order, duplicates dropped."""
    t = Tracker(refresh=0.0)
    out = t.process([header()])
    for seg in segments:
        out += t.process([seg])
    out += t.process([udp(segments[-1][1] + 0.5, C, 9, B, 9)]) + t.finish()
    states: list[str] = []
    for r in conns(out):
        if r["sport"] == 40000 and (not states or states[-1] != r["state"]):
            states.append(r["state"])
    return states


def test_simultaneous_close_from_the_sequence_numbers() -> None:
    """RFC 9293 §3.6 (Figure 13): both FINs cross. The responder's FIN acknowledges only up to
    the originator's FIN (ack 1001, not 1002), so the originator goes FIN_WAIT1 -> CLOSING, and
    TIME_WAIT once its FIN is acknowledged. When the responder's FIN does acknowledge it
    (ack 1002), FIN_WAIT1 goes straight to TIME_WAIT."""
    crossing = [
        tcp(101.0, A, 40000, B, 80, FIN | ACK, 1001, 5001),
        tcp(101.001, B, 80, A, 40000, FIN | ACK, 5001, 1001),
        tcp(101.02, A, 40000, B, 80, ACK, 1002, 5002),
        tcp(101.021, B, 80, A, 40000, ACK, 5002, 1002),
    ]
    states = _shown_states([*handshake(100.0), *crossing])
    assert states == ["SYN_SENT", "ESTABLISHED", "FIN_WAIT1", "CLOSING", "TIME_WAIT"]
    ordered = [
        tcp(101.0, A, 40000, B, 80, FIN | ACK, 1001, 5001),
        tcp(101.001, B, 80, A, 40000, FIN | ACK, 5001, 1002),
        tcp(101.02, A, 40000, B, 80, ACK, 1002, 5002),
    ]
    assert _shown_states([*handshake(100.0), *ordered]) == [
        "SYN_SENT",
        "ESTABLISHED",
        "FIN_WAIT1",
        "TIME_WAIT",
    ]


def test_a_plain_ack_of_our_fin_is_fin_wait2() -> None:
    """The server acknowledges the client's FIN on its own (a plain ACK), closes later: the
    tracker must read that plain ACK (FIN_WAIT1 -> FIN_WAIT2), not only SYN/FIN/RST segments."""
    segments = [
        *handshake(100.0),
        tcp(101.0, A, 40000, B, 80, FIN | ACK, 1001, 5001),
        tcp(101.01, B, 80, A, 40000, ACK, 5001, 1002),
        tcp(102.0, B, 80, A, 40000, FIN | ACK, 5001, 1002),
        tcp(102.01, A, 40000, B, 80, ACK, 1002, 5002),
    ]
    assert _shown_states(segments) == ["SYN_SENT", "ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT"]


def test_a_syn_on_a_tuple_in_time_wait_is_a_new_generation() -> None:
    # The last ACK was not captured: the client is in TIME_WAIT, the server still LAST_ACK.
    recs = run(
        [
            *handshake(1.0),
            tcp(2.0, A, 40000, B, 80, FIN | ACK, 1001, 5001),
            tcp(2.01, B, 80, A, 40000, FIN | ACK, 5001, 1002),
            *handshake(3.0, isn=30000),
        ]
    )
    f = sorted(finals(recs).values(), key=lambda r: r["id"])
    assert [(r["state"], r["end"], r["packets"]) for r in f] == [
        ("TIME_WAIT", "reused", 5),
        ("ESTABLISHED", "eof", 3),
    ]


def test_the_capturing_hosts_addresses_from_the_header_tell_the_local_end() -> None:
    # A stream captured on another host (rustnet --remote): its header names that host's
    # addresses; this host's own say nothing about which end is local there.
    for addrs, side in (([ip_text(B), "junk", 7], "dst"), ([ip_text(A)], "src")):
        t = Tracker()
        out = t.process([{**header(live=True), "addrs": addrs}, *handshake(1000.0)])
        assert conns(out) and conns(out)[0]["local_side"] == side, addrs
