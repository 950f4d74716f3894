"""The viewer's connection table: folding records by id, history, stats, hostile values."""

from __future__ import annotations

from rustnet.track.join import SocketJoiner
from rustnet.view.model import ConnTable, is_loopback

from tests.tui.records import conn, header


def test_last_record_of_an_id_is_its_state() -> None:
    t = ConnTable()
    t.ingest([header(), conn(1, state="SYN_SENT"), conn(2), conn(1, state="ESTABLISHED", bytes=5000)])
    assert len(t) == 2
    assert t.rows[1].state == "ESTABLISHED"
    assert t.rows[1].rec["bytes"] == 5000
    assert [s for _, s in t.rows[1].states] == ["SYN_SENT", "ESTABLISHED"]
    assert t.interface == "eth-test"


def test_process_and_hostnames_stay_once_known() -> None:
    t = ConnTable()
    t.ingest([conn(1, process="curl", pid=7, hostname_dst="example.org"), conn(1, bytes=9)])
    rec = t.rows[1].rec
    assert (rec["process"], rec["pid"], rec["hostname_dst"], rec["bytes"]) == ("curl", 7, "example.org", 9)


def test_expired_connections_go_to_history_but_final_records_at_the_end_do_not() -> None:
    t = ConnTable()
    t.ingest([conn(1), conn(2), conn(1, final=True, state="CLOSED"), conn(2, bytes=5)])
    assert t.in_history(t.rows[1])
    assert not t.in_history(t.rows[2])
    # The end of a recording: every connection gets its final record; none is "history".
    t.ingest([conn(2, final=True)])
    assert not t.in_history(t.rows[2])
    assert t.counts() == {"tcp": 1, "history": 1}


def test_capture_stats_give_packet_rate_and_drops() -> None:
    t = ConnTable()
    t.ingest([{"t": "stats", "ts": 100.0, "packets": 1000, "received": 1000, "dropped": 0}])
    assert t.packets_per_s is None
    t.ingest([{"t": "stats", "ts": 102.0, "packets": 5000, "received": 5000, "dropped": 17, "ifdropped": 3}])
    assert t.packets_per_s == 2000.0
    assert (t.dropped, t.ifdropped) == (17, 3)


def test_warnings_are_kept_for_the_status_bar() -> None:
    t = ConnTable()
    t.ingest([{"t": "warn", "ts": 1.0, "stage": "rn-capture", "msg": "kernel dropped packets"}])
    assert t.messages[-1] == "rn-capture: kernel dropped packets"


def test_hostile_values_never_raise() -> None:
    t = ConnTable()
    t.ingest(
        [
            {"t": "conn", "id": [1, 2]},  # unhashable id
            {"t": "conn"},  # no id
            {
                "t": "conn",
                "id": 5,
                "bytes": "lots",
                "sport": "x",
                "last_seen": "yesterday",
                "state": 7,
                "rate_src": float("inf"),
                "local_side": ["dst"],
            },
            ["conn", 1, 2],  # positional garbage
            {"t": "stats", "ts": "now", "packets": None},
        ]
    )
    row = t.rows[5]
    assert t.ignored == 2
    assert row.port("src") == 0 and row.state == "7"
    assert not t.is_stale(row)


def test_local_side_decides_rx_and_tx() -> None:
    t = ConnTable()
    t.ingest(
        [conn(1, rate_src=100.0, rate_dst=900.0), conn(2, rate_src=100.0, rate_dst=900.0, local_side="dst")]
    )
    a, b = t.rows[1], t.rows[2]
    assert (a.rate_rx, a.rate_tx, a.remote) == (900.0, 100.0, "dst")
    assert (b.rate_rx, b.rate_tx, b.remote) == (100.0, 900.0, "src")


def test_loopback_both_ends() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("::ffff:127.0.0.2")
    assert not is_loopback("10.0.0.1") and not is_loopback("not an ip") and not is_loopback(None)
    t = ConnTable()
    t.ingest([conn(1, src="127.0.0.1", dst="127.0.0.1"), conn(2, src="127.0.0.1", dst="10.0.0.1")])
    assert t.rows[1].loopback() and not t.rows[2].loopback()


def test_sock_records_attribute_connections() -> None:
    t = ConnTable(SocketJoiner())
    t.ingest(
        [
            {
                "t": "sock",
                "ts": 1.0,
                "proto": "tcp",
                "local": "10.0.0.2",
                "lport": 40001,
                "remote": "192.0.2.10",
                "rport": 443,
                "listening": False,
                "pid": 321,
                "process": "firefox",
                "cmdline": "firefox -P",
                "user": "alice",
                "netns": None,
            },
            conn(1),
        ]
    )
    rec = t.rows[1].rec
    assert (rec["process"], rec["pid"], rec["user"]) == ("firefox", 321, "alice")


def test_stale_rows_by_state_and_idle_time() -> None:
    t = ConnTable()
    t.ingest(
        [conn(1, state="UDP_IDLE", last_seen=1100.0), conn(2, last_seen=1000.0), conn(3, last_seen=1100.0)]
    )
    assert t.is_stale(t.rows[1])
    assert t.is_stale(t.rows[2])  # 100 s older than the newest timestamp in the stream
    assert not t.is_stale(t.rows[3])


def test_end_reason_from_the_tracker_decides_history() -> None:
    t = ConnTable()
    t.ingest(
        [
            conn(1, final=True, end="timeout"),
            conn(2, final=True, end="eof"),
            conn(3, final=True, end="reused"),
        ]
    )
    assert t.in_history(t.rows[1]) and t.in_history(t.rows[3])
    assert not t.in_history(t.rows[2])


def test_service_and_hostnames_worked_out_when_the_stream_lacks_them() -> None:
    from rustnet.enrich.names import HostNames
    from rustnet.enrich.services import ServiceNames
    from rustnet.view.filter import Filter

    t = ConnTable(None, ServiceNames(use_system=False), HostNames())
    t.ingest(
        [
            conn(
                1,
                proto="udp",
                dport=53,
                app="DNS",
                dns_query="example.org",
                dns_answers=["example.org A 192.0.2.10"],
                dns_resolved=["192.0.2.10 example.org"],
            ),
            conn(2, dport=443),
            conn(3, dport=22, service="my-ssh", hostname_dst="given.example"),
        ]
    )
    assert t.rows[2].field("service") == "https" and t.rows[2].hostname("dst") == "example.org"
    assert t.rows[2].hostname_shown("dst") == "~example.org"  # inferred from DNS on the wire
    assert t.rows[3].hostname_shown("dst") == "given.example"  # named upstream, how is not said
    assert "service" not in t.rows[2].rec and "hostname_dst" not in t.rows[2].rec  # records stay as sent
    assert t.rows[3].field("service") == "my-ssh" and t.rows[3].hostname("dst") == "given.example"
    assert [r.id for r in Filter("dst:example.org service:https").apply(t.rows.values())] == [2]


def test_packet_rate_from_connection_counters_without_capture_stats() -> None:
    t = ConnTable()
    t.ingest([conn(1, packets=10, last_seen=100.0)])
    t.ingest([conn(1, packets=110, last_seen=101.0), conn(2, packets=100, last_seen=102.0)])
    assert t.packets_per_s == 100.0  # 200 new packets over 2 s of stream time


# --- bounded memory: history expiry and the cap ---------------------------------------------


def _brute_counts(t: ConnTable) -> dict[str, int]:
    out: dict[str, int] = {}
    hist = 0
    for row in t.rows.values():
        if t.in_history(row):
            hist += 1
        else:
            p = str(row.rec.get("proto") or "?")
            out[p] = out.get(p, 0) + 1
    out["history"] = hist
    return out


def test_history_is_dropped_after_its_time_in_stream_time() -> None:
    t = ConnTable(history_seconds=60.0)
    t.ingest([conn(1, last_seen=1000.0), conn(2, last_seen=1000.0)])
    t.ingest([conn(1, final=True, end="timeout", state="CLOSED", last_seen=1005.0)])
    assert t.in_history(t.rows[1]) and t.counts()["history"] == 1
    t.ingest([conn(2, last_seen=1064.0)])  # 59 s after it ended: still there
    assert 1 in t.rows
    t.ingest([conn(2, last_seen=1066.0)])
    assert 1 not in t.rows and 2 in t.rows
    assert t.counts() == {"tcp": 1, "history": 0} and t.expired == 1 and t.evicted == 0


def test_history_count_is_bounded_and_eof_finals_stay() -> None:
    t = ConnTable(max_history=3)
    t.ingest([conn(i, final=True, end="timeout") for i in range(10)])
    assert sorted(t.rows) == [7, 8, 9]  # the longest ended went first
    t.ingest([conn(i, final=True, end="eof") for i in range(20, 30)])
    assert len(t.rows) == 13  # the end of a recording is not history: nothing dropped


def test_cap_evicts_history_first_then_least_recently_updated() -> None:
    dropped: list[object] = []
    t = ConnTable(max_rows=100, on_drop=lambda r: dropped.append(r.id))
    t.ingest([conn(i) for i in range(100)])
    t.ingest([conn(5, final=True, end="timeout"), conn(0, bytes=7)])  # 0 is fresh again
    t.ingest([conn(100), conn(101)])
    assert len(t) <= 100 and t.evicted == len(dropped) >= 2
    assert dropped[0] == 5  # history first
    assert 0 in t.rows and 1 not in t.rows  # then the least recently updated open one
    assert t.counts() == _brute_counts(t)


def test_cap_holds_under_an_endless_stream_of_new_ids() -> None:
    t = ConnTable(max_rows=1000)
    for start in range(0, 20_000, 500):
        t.ingest([conn(i) for i in range(start, start + 500)])
        assert len(t) <= 1000
    assert t.evicted == 20_000 - len(t)


def test_without_open_eviction_only_history_goes() -> None:
    t = ConnTable(max_rows=10, evict_open=False, history_seconds=0.0, max_history=0)
    t.ingest([conn(i) for i in range(30)])
    assert len(t) == 30 and t.evicted == 0  # --json: an open connection is never dropped unprinted
    t.ingest([conn(3, final=True, end="timeout")])
    assert 3 not in t.rows


def test_counts_follow_every_change() -> None:
    import random

    rnd = random.Random(5)
    t = ConnTable(max_rows=60, max_history=10, history_seconds=30.0)
    clock = 1000.0
    for _ in range(300):
        batch = []
        for _ in range(rnd.randrange(1, 8)):
            clock += rnd.random() * 2
            cid = rnd.randrange(120)
            fields: dict[str, object] = {"last_seen": clock, "proto": rnd.choice(["tcp", "udp", None, 7])}
            r = rnd.random()
            if r < 0.2:
                fields.update(final=True, end=rnd.choice(["timeout", "eof", "reused"]))
            elif r < 0.3:
                fields.update(final=True)  # no reason: history by order
            batch.append(conn(cid, **fields))
        t.ingest(batch)
        assert t.counts() == _brute_counts(t)
        assert len(t) <= 60


# --- rates of ended connections (rn-track writes no 'rate fell to 0' update for them) --------------
def test_rates_of_an_ended_connection_read_0_once_the_rate_window_passed() -> None:
    from rustnet.view.model import RATE_WINDOW

    t = ConnTable()
    end = conn(1, state="TIME_WAIT", last_seen=100.0, rate_src=900.0, rate_dst=300.0)
    t.ingest([end, conn(2, state="ESTABLISHED", last_seen=100.0, rate_src=50.0)])
    row = t.rows[1]
    assert (row.rate_tx, row.rate_rx) == (900.0, 300.0)
    pos = t.changes(0)[1]
    t.ingest([conn(3, last_seen=100.0 + RATE_WINDOW - 0.01)])  # stream time: not yet
    assert row.rate_tx == 900.0
    seq = row.seq
    t.ingest([conn(3, last_seen=100.0 + RATE_WINDOW)])
    assert (row.rate_tx, row.rate_rx) == (0.0, 0.0) and row.rec["rate_src"] == 0 == row.rec["rate_dst"]
    assert row.seq == seq and end["rate_src"] == 900.0  # no record counted; the record replaced, not changed
    assert {k: v for k, v in row.rec.items() if not k.startswith("rate")} == {
        k: v for k, v in end.items() if not k.startswith("rate")
    }
    assert row in (t.changes(pos)[0] or [])  # sorted views re-key it
    assert t.rows[2].rate_tx == 50.0  # open: rn-track still says when its rate falls to 0


def test_rates_of_an_answered_dns_exchange_read_0_once_the_rate_window_passed() -> None:
    from rustnet.view.model import RATE_WINDOW

    t = ConnTable()
    t.ingest([conn(1, proto="udp", state="DNS_QUERY", last_seen=100.0, rate_src=90.0)])  # not over
    t.ingest([conn(2, proto="udp", state="DNS_RESPONSE", last_seen=100.0, rate_src=90.0, rate_dst=300.0)])
    t.ingest([conn(3, last_seen=100.0 + RATE_WINDOW)])
    assert (t.rows[2].rate_tx, t.rows[2].rate_rx) == (0.0, 0.0)
    assert t.rows[1].rate_tx == 90.0  # rn-track says when the rate of an unanswered query falls to 0


def test_capture_stats_move_the_clock_for_ended_rates_too() -> None:
    t = ConnTable()  # live: the stats' wall clock is the stream's clock
    t.ingest([{**header(), "live": True}, conn(1, state="CLOSED", last_seen=100.0, rate_dst=10.0)])
    t.ingest([{"t": "stats", "ts": 106.0, "packets": 1, "received": 1, "dropped": 0}])
    assert t.rows[1].rate_rx == 0.0


def test_a_later_record_replaces_the_pending_zero() -> None:
    t = ConnTable()
    t.ingest([conn(1, state="TIME_WAIT", last_seen=100.0, rate_src=900.0)])
    t.ingest([conn(1, state="ESTABLISHED", last_seen=103.0, rate_src=700.0)])  # a new generation's update
    t.ingest([conn(2, last_seen=106.0)])
    assert t.rows[1].rate_tx == 700.0
    t.ingest([conn(1, state="CLOSED", last_seen=104.0, rate_src=500.0)])
    t.ingest([conn(2, last_seen=108.9)])
    assert t.rows[1].rate_tx == 500.0
    t.ingest([conn(2, last_seen=109.0)])
    assert t.rows[1].rate_tx == 0.0


def test_final_records_keep_their_rates() -> None:
    # rn-track's last word (a true rate at end of input, or at a short expiry): shown as it is.
    t = ConnTable()
    t.ingest([conn(1, state="TIME_WAIT", last_seen=100.0, rate_src=900.0, final=True, end="eof")])
    t.ingest([{"t": "stats", "ts": 1e9, "packets": 1, "received": 1, "dropped": 0}])
    assert t.rows[1].rate_tx == 900.0 and not t._rate_due


def test_pending_zeros_stay_bounded_while_stream_time_stands_still() -> None:
    t = ConnTable()
    for i in range(20):
        t.ingest([conn(1, state="TIME_WAIT", last_seen=100.0, rate_src=float(i + 1)) for _ in range(500)])
    assert len(t._rate_due) <= 2 * len(t.rows) + 4096 + 500
    t.ingest([conn(2, last_seen=200.0)])
    assert t.rows[1].rate_tx == 0.0 and not t._rate_due


def test_hostile_states_and_rates_for_the_ended_rule() -> None:
    t = ConnTable()
    t.ingest(
        [
            conn(1, state=["TIME_WAIT"], rate_src=5.0),
            conn(2, state="CLOSED", rate_src="x", last_seen="y"),
            conn(3, state="CLOSED", rate_src=float("nan"), last_seen=float("inf")),
        ]
    )
    t.ingest([conn(4, last_seen=1e12)])
    assert t.rows[2].rec["rate_src"] == 0 and t.rows[3].rec["rate_src"] == 0


def test_a_replays_final_capture_stats_do_not_age_out_its_history() -> None:
    # rn-capture -r stamps its stats with the wall clock; a replay's clock is its packets' time.
    t = ConnTable()
    t.ingest([header(), conn(1), conn(2), conn(1, final=True, end="timeout", state="CLOSED")])
    clock = t.clock
    t.ingest([{"t": "stats", "ts": clock + 10 * 365 * 86400, "source": "f.pcap", "packets": 9}])
    t.ingest([conn(2, bytes=7)])
    assert t.clock == clock
    assert 1 in t.rows and t.in_history(t.rows[1])
    # Live, the stats' clock is the stream's clock.
    live = ConnTable()
    live.ingest([{**header(), "live": True}, conn(3)])
    live.ingest([{"t": "stats", "ts": live.clock + 5, "source": "eth0", "packets": 1, "received": 1}])
    assert live.clock > clock
