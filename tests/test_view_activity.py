"""Process accounting behind the Activity tab, from connection records built here with figures
worked out by hand; hostile streams (thousands of processes and remotes) stay bounded."""

from __future__ import annotations

import math
from typing import Any

from rustnet.view.activity import (
    CONNECTIONS,
    MAX_REMOTES,
    PROCESS,
    RATE,
    RETAINED,
    WINDOW,
    ActivityView,
    ranked,
    snapshot,
)
from rustnet.view.model import ConnTable
from rustnet.view.traffic import MAX_PROCESSES, OTHER_KEY, ProcessWindow

T0 = 1_700_000_000.0


def conn(cid: int, last: float, sent: int, received: int, **more: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "t": "conn",
        "id": cid,
        "proto": "tcp",
        "src": "10.0.0.1",
        "sport": 30000 + cid % 30000,
        "dst": f"192.0.2.{cid % 250 + 1}",
        "dport": 443,
        "state": "ESTABLISHED",
        "first_seen": T0,
        "last_seen": last,
        "bytes_src": sent,
        "bytes_dst": received,
    }
    rec.update(more)
    return rec


def test_the_60s_window_holds_the_bytes_of_the_last_60_seconds_of_stream_time() -> None:
    t = ConnTable()
    # 1,000 bytes sent every 10 s for 100 s (each record adds 1,000 over the 10 s before it).
    for i in range(1, 11):
        t.ingest([conn(1, T0 + 10 * i, 1000 * i, 0, process="sync", pid=9)])
    totals = t.process_window.totals()
    # The window is the 60 seconds up to T0+100 (from T0+41): the records of T0+50 to T0+100.
    assert totals[("sync", 9)] == [6000.0, 0.0]


def test_the_window_moves_with_stream_time() -> None:
    w = ProcessWindow()
    w.add(("a", 1), 100.5, 400.0, 0.0)
    w.add(("b", 2), 159.9, 1.0, 0.0)  # second 159: 100 is still one of the last 60
    assert w.totals() == {("a", 1): [400.0, 0.0], ("b", 2): [1.0, 0.0]}
    w.add(("b", 2), 160.0, 0.0, 50.0)  # second 160: 100 has left the window
    assert w.totals() == {("b", 2): [1.0, 50.0]}
    w.add(("a", 1), 100.0, 7.0, 7.0)  # older than the window: not counted
    w.advance(218.9)
    assert w.totals() == {("b", 2): [1.0, 50.0]}
    w.advance(219.0)
    assert w.totals() == {("b", 2): [0.0, 50.0]}
    w.advance(220.0)
    assert w.totals() == {}


def test_snapshot_counts_connections_remotes_peers_and_rates() -> None:
    t = ConnTable()
    t.ingest(
        [
            conn(1, T0 + 5, 500, 5000, process="curl", pid=1, rate_src=100, rate_dst=1000, sni="one.test"),
            conn(2, T0 + 5, 700, 10, process="curl", pid=1, dst="198.51.100.1", dport=80, rate_src=7),
            # Closed (timed out): counted in retained bytes and in total, not active nor in rate.
            conn(3, T0 + 5, 9000, 1, process="curl", pid=1, final=True, end="timeout", rate_src=50),
            conn(4, T0 + 5, 1, 2, local_side="dst"),  # no process; its local end is dst
        ]
    )
    snap = snapshot(t)
    curl = next(p for p in snap.lines if p.key == ("curl", 1))
    unknown = next(p for p in snap.lines if p.unknown)
    assert (curl.active, curl.total) == (2, 3)
    assert curl.retained == [10200.0, 5011.0]
    assert curl.rate == [107.0, 1000.0]
    assert curl.remote_count() == "3"
    assert curl.top_peer(0) == "192.0.2.4:443"  # connection 3 sent most
    assert curl.top_peer(1) == "one.test:443"  # named by its SNI
    assert unknown.retained == [2.0, 1.0] and unknown.name == "Unknown"
    assert snap.unknown == [2.0, 1.0]
    assert snap.retained == [10202.0, 5012.0]


def test_ranking_orders_and_ties() -> None:
    t = ConnTable()
    t.ingest(
        [
            conn(1, T0 + 1, 100, 0, process="b", pid=2),
            conn(2, T0 + 1, 100, 0, process="a", pid=7),
            conn(3, T0 + 1, 100, 0, process="a", pid=3),
            conn(4, T0 + 1, 50, 0, process="c", pid=1),
            conn(5, T0 + 1, 1, 0, process="c", pid=1),
        ]
    )
    snap = snapshot(t)
    names = [p.name for p in ranked(snap, RETAINED, "tx", False)]
    assert names == ["a (3)", "a (7)", "b (2)", "c (1)"]  # ties by name, then pid
    assert [p.name for p in ranked(snap, RETAINED, "tx", True)][0] == "c (1)"
    assert [p.name for p in ranked(snap, CONNECTIONS, "tx", False)][0] == "c (1)"
    assert [p.name for p in ranked(snap, PROCESS, "tx", False)] == names
    v = ActivityView()
    order = [v.sort]
    for _ in range(7):
        v.cycle_sort()
        order.append(v.sort)
    assert order == [RETAINED, WINDOW, RATE, "peak", CONNECTIONS, "destinations", PROCESS, RETAINED]


def test_thousands_of_processes_and_remotes_stay_bounded() -> None:
    t = ConnTable()
    recs = [
        conn(10_000 + i, T0 + 5, 1, 1, process="busy", pid=1, dst=f"10.9.{i // 250}.{i % 250}")
        for i in range(400)
    ]
    recs += [conn(i, T0 + 1 + i * 1e-3, 10, 1, process=f"p{i}", pid=i) for i in range(3000)]
    t.ingest(recs)
    snap = snapshot(t)
    assert len(snap.lines) <= MAX_PROCESSES + 1
    other = next(p for p in snap.lines if p.key == OTHER_KEY)
    kept = sum(p.retained[0] for p in snap.lines)
    assert kept == snap.retained[0] == 3000 * 10 + 400  # nothing lost, the overflow summed as Other
    assert other.name == "Other"
    busy = next(p for p in snap.lines if p.key == ("busy", 1))
    assert busy.remote_count() == f"{MAX_REMOTES}+" and len(busy.peers) <= MAX_REMOTES
    window = t.process_window.totals()
    assert len(window) <= MAX_PROCESSES + 1
    assert math.isclose(sum(v[0] for v in window.values()), 3000 * 10 + 400)


def test_a_clear_forgets_the_window_and_peaks_at_once() -> None:
    t = ConnTable()
    t.ingest([conn(1, T0 + 1, 100, 0, process="a", pid=1, rate_src=5)])
    view = ActivityView()
    assert view.numbers(t, False).rate == [5.0, 0.0]
    assert t.process_window.peaks[("a", 1)] == [5.0, 0.0]
    t.clear_traffic()
    assert t.process_window.totals() == {} and not t.process_window.peaks
    assert view.numbers(t, False).window == [0.0, 0.0]  # not the cached numbers from before


def test_x_twice_on_the_activity_tab_clears_its_numbers_and_r_resets_its_order() -> None:
    from rustnet.view import keys
    from rustnet.view.state import ACTIVITY, OVERVIEW, ViewState

    t = ConnTable()
    ifs = [{"name": "eth0", "rx_bytes": 0, "tx_bytes": 0}]
    t.ingest([{"t": "ifstats", "ts": T0, "captured": "eth0", "ifaces": ifs}])
    ifs = [{"name": "eth0", "rx_bytes": 1000, "tx_bytes": 500}]
    t.ingest([{"t": "ifstats", "ts": T0 + 0.5, "captured": "eth0", "ifaces": ifs}])
    t.ingest([conn(1, T0 + 1, 100, 0, process="a", pid=1, rate_src=5)])
    s = ViewState(t)
    s.set_tab(ACTIVITY)
    for key in ("d", "s", "S"):
        keys.handle(s, key)
    assert (s.activity.direction, s.activity.sort, s.activity.reverse) == ("rx", WINDOW, True)
    assert s.activity.numbers(t, False).lines and len(t.interfaces) == 1 and t.traffic.series("rx")
    keys.handle(s, "x")
    keys.handle(s, "x")
    assert s.activity.numbers(t, False).lines == []
    assert len(t.interfaces) == 0 and list(t.traffic.series("rx")) == []
    assert t.process_window.totals() == {}
    s.set_tab(OVERVIEW)
    keys.handle(s, "r")
    assert (s.activity.direction, s.activity.sort, s.activity.reverse) == ("tx", RETAINED, False)
