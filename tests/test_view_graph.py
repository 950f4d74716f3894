"""The Graph tab drawn from a stream with known numbers (tests/tui/graph_records.py says how each
expected figure is worked out), its placeholders, and the arithmetic behind its headers."""

from __future__ import annotations

import io

import blessed
import pyte
import pytest
from rustnet.view import graph, keys
from rustnet.view.graphstats import GraphMetrics
from rustnet.view.model import ConnTable
from rustnet.view.render import Theme, render
from rustnet.view.state import GRAPH, OVERVIEW, ViewState

from tests.tui.graph_records import graph_records
from tests.tui.records import T0, conn, header

W, H = 140, 40


def theme() -> Theme:
    term = blessed.Terminal(kind="xterm-256color", stream=io.StringIO(), force_styling=True)
    return Theme.from_terminal(term)


def graph_state(recs: list[dict]) -> ViewState:
    t = ConnTable()
    t.ingest([header(), *recs])
    s = ViewState(t)
    s.tab = GRAPH
    return s


def draw(state: ViewState) -> pyte.Screen:
    screen = pyte.Screen(W, H)
    pyte.Stream(screen).feed(render(state, W, H, theme()))
    return screen


def line_with(screen: pyte.Screen, needle: str) -> tuple[int, str]:
    for y, text in enumerate(screen.display):
        if needle in text:
            return y, text
    raise AssertionError(f"{needle!r} not on screen:\n" + "\n".join(screen.display))


def fg_at(screen: pyte.Screen, y: int, needle: str) -> str:
    x = screen.display[y].index(needle)
    return str(screen.buffer[y][x].fg)


@pytest.fixture(scope="module")
def shown() -> pyte.Screen:
    return draw(graph_state(graph_records()))


def test_lifecycle_shows_opened_and_closed_per_second_and_the_pools(shown: pyte.Screen) -> None:
    _, text = line_with(shown, "OPENED")
    assert "OPENED 2.0/s →" in text and "peak 2.0/s" in text
    _, text = line_with(shown, "CLOSED")
    assert "CLOSED 0.7/s" in text and "peak 1.0/s" in text
    _, text = line_with(shown, "active")
    assert "13 active  7 retained" in text


def test_health_gauges_rtt_and_loss_from_the_last_three_seconds(shown: pyte.Screen) -> None:
    y, text = line_with(shown, "RTT ")
    assert "  90.0ms" in text  # 80, 90, 100: the DNS response time (5000 ms) is left out
    assert fg_at(shown, y, "90.0ms") == "brown"  # yellow: 50 to 150 ms
    y, text = line_with(shown, "Loss")
    assert " 0.20%" in text
    assert fg_at(shown, y, "0.20%") == "green"  # under 1 %
    _, text = line_with(shown, "avg:")
    assert "avg: 55.0ms / 0.34%" in text


def test_tcp_counters_are_lifetime_totals_of_the_growth(shown: pyte.Screen) -> None:
    for label, value in (("Retransmits", "20"), ("Out of Order", "3"), ("Fast Retrans", "2")):
        _, text = line_with(shown, label)
        cell = text.split(label, 1)[1].split("│", 1)[0]
        assert cell.strip() == value, text


def test_tcp_states_count_active_rows_only(shown: pyte.Screen) -> None:
    got = {}
    for label in ("ESTAB", "SYN_SENT", "TIME_WAIT"):
        _, text = line_with(shown, label + " ")
        panel = text[text.index(label) :].split("│", 1)[0]
        got[label] = int(panel.split()[-1])
        assert "█" in panel
    assert got == {"ESTAB": 8, "SYN_SENT": 1, "TIME_WAIT": 1}  # the 7 closed ESTABLISHED rows are history
    assert "CLOSE_WAIT" not in "\n".join(shown.display)


def test_application_distribution_is_by_connection_count(shown: pyte.Screen) -> None:
    want = {
        "HTTPS": "38.5%",
        "HTTP": "15.4%",
        "QUIC": "15.4%",
        "Other": "15.4%",
        "DNS": "7.7%",
        "SSH": "7.7%",
    }
    for label, pct in want.items():
        _, text = line_with(shown, f"│{label} ")
        panel = text.split("│")[1]
        assert panel.rstrip().endswith(pct), panel
        assert "█" in panel
    # RustNet's order: HTTPS QUIC HTTP DNS SSH Other.
    order = [line_with(shown, f"│{label} ")[0] for label in ("HTTPS", "QUIC", "HTTP", "DNS", "SSH", "Other")]
    assert order == sorted(order)


def test_top_processes_by_rate_of_active_connections(shown: pyte.Screen) -> None:
    y0, header_text = line_with(shown, "│Process")
    assert "Rate" in header_text
    rows = [shown.display[y0 + i].split("│")[-2] for i in range(1, 5)]
    assert rows[0].split() == ["firefox", "3.00", "MB/s"]
    assert rows[1].split() == ["curl", "512.00", "KB/s"]
    assert rows[2].split() == ["a-very-long-proce...", "1000", "B/s"]
    assert rows[3].strip() == ""  # idle has no rate; the closed "huge" is history
    assert "huge" not in "\n".join(shown.display)


def test_placeholders_without_data() -> None:
    screen = draw(graph_state([]))
    text = "\n".join(screen.display)
    assert "Waiting for traffic data..." in text
    assert "No connections" in text
    assert "No active processes" in text
    _, rtt = line_with(screen, "RTT ")
    assert rtt.split("│")[1].rstrip().endswith("--")
    assert "OPENED 0.0/s" in text and "0 active  0 retained" in text


def test_x_twice_clears_the_graph_too() -> None:
    state = graph_state(graph_records())
    keys.handle(state, "x")
    keys.handle(state, "x")
    assert state.tab == GRAPH
    text = "\n".join(draw(state).display)
    assert "Waiting for traffic data..." in text
    assert "0 active  0 retained" in text and "OPENED 0.0/s" in text and "CLOSED 0.0/s" in text
    _, rtt = line_with(draw(state), "RTT ")
    assert rtt.split("│")[1].rstrip().endswith("--")
    for label in ("Retransmits", "Out of Order", "Fast Retrans"):
        _, row = line_with(draw(state), label)
        assert row.split(label, 1)[1].split("│", 1)[0].strip() == "0", row
    assert "No connections" in text and "No active processes" in text


def test_pause_holds_the_graph_until_resumed() -> None:
    state = graph_state(graph_records())
    keys.handle(state, "P")
    assert state.paused
    before = draw(state).display[2:-2]  # the tab body (the status bar stays live, as on the Overview)
    # Ten more connections and a second that completes: the numbers move under the pause.
    state.table.ingest([conn(100 + i, first_seen=T0 + 11, last_seen=T0 + 11.1) for i in range(10)])
    state.table.ingest([conn(200, first_seen=T0 + 12, last_seen=T0 + 12.1)])
    assert draw(state).display[2:-2] == before
    keys.handle(state, "P")
    after = "\n".join(draw(state).display)
    assert "24 active  7 retained" in after


def test_the_graph_costs_nothing_while_hidden() -> None:
    state = graph_state(graph_records())
    state.tab = OVERVIEW
    render(state, W, H, Theme())
    assert state not in graph._VIEWS  # no pass over the connections for a hidden tab


# --- the arithmetic, by hand ------------------------------------------------------------------
def test_trend_is_the_least_squares_slope_against_five_percent_of_now() -> None:
    assert graph.trend([100, 110, 120, 130, 140, 150]) == "↗"  # slope 10 > 7.5
    assert graph.trend([100, 101, 102, 103, 104, 105]) == "→"  # slope 1 < 5.25
    assert graph.trend([150, 140, 130, 120, 110, 100]) == "↘"  # slope -10 < -5
    assert graph.trend([0, 0, 0, 0, 0, 0]) == "→"
    # only the last 6 count: a fall long ago does not make a flat tail fall
    assert graph.trend([900, 500, 100, 100, 100, 100, 100, 100]) == "→"
    # slope of [0, 0, 0, 0, 0, 12]: sum((x-2.5)*(y-2)) / 17.5 = 30/17.5 = 1.71 > 0.6
    assert graph.trend([0, 0, 0, 0, 0, 12]) == "↗"


def test_ceilings_are_powers_of_two_above_the_floor() -> None:
    assert graph.power_ceiling(0, 1024) == 1024
    assert graph.power_ceiling(1000, 1024) == 1024
    assert graph.power_ceiling(1025, 1024) == 2048
    assert graph.power_ceiling(3_000_000, 1024) == 4 * 1024 * 1024
    assert graph.power_ceiling(3, 1) == 4
    assert graph.power_ceiling(0.5, 1) == 1


def test_ceiling_eases_up_in_1_2_s_and_down_in_6_s() -> None:
    c = graph.Ceiling()
    assert c.toward(1024, 100.0) == 1024  # the first frame starts at its target
    assert c.toward(2048, 100.6) == pytest.approx(1536)  # half of 1.2 s: half way up
    assert c.toward(2048, 101.8) == pytest.approx(2048)
    assert c.toward(1024, 104.8) == pytest.approx(1536)  # half of 6 s: half way down
    assert c.toward(1024, 200.0) == pytest.approx(1024)


def test_traffic_points_are_averaged_with_the_two_before() -> None:
    assert graph.smoothed([3, 6, 9, 0]) == [3, 4.5, 6, 5]


def test_full_rate_units() -> None:
    assert graph.full_rate(0) == "-"
    assert graph.full_rate(512) == "512 B/s"
    assert graph.full_rate(1536) == "1.50 KB/s"
    assert graph.full_rate(3 * 1024 * 1024) == "3.00 MB/s"
    assert graph.full_rate(2.5 * 1024**3) == "2.50 GB/s"


def test_counters_count_growth_once_and_restart_after_a_reset() -> None:
    m = GraphMetrics()
    a = conn(1, retransmits=5, packets=100, last_seen=T0)
    m.conn(None, a, T0)
    b = dict(a, retransmits=7, packets=150)
    m.conn(a, b, T0 + 0.5)
    m.conn(b, b, T0 + 0.6)  # the same numbers again: nothing new
    assert m.totals["retransmits"] == 7
    c = dict(b, retransmits=2)  # the counter went down: a new generation of the id, all new
    m.conn(b, c, T0 + 0.7)
    assert m.totals["retransmits"] == 9
    m.advance(T0 + 1.0)
    assert list(m.opened) == [1]
    assert m.loss[-1] == pytest.approx(9 / 150 * 100)
    m.clear()
    assert m.totals == {"retransmits": 0, "out_of_order": 0, "fast_retransmits": 0}
    assert not m.opened and not m.rtt


def test_a_hostile_counter_jump_counts_at_most_max_delta() -> None:
    m = GraphMetrics()
    a = conn(1, retransmits=3, packets=10, last_seen=T0)
    m.conn(None, a, T0)
    m.conn(a, dict(a, retransmits=3 + (1 << 60)), T0 + 0.5)  # 2**60 more: counted as 2**48
    assert m.totals["retransmits"] == 3 + (1 << 48)


def test_a_clock_jump_fills_quiet_seconds_and_keeps_sixty() -> None:
    m = GraphMetrics()
    m.conn(None, conn(1), T0)
    m.conn(None, conn(2), T0 + 3.2)  # seconds 1 and 2 were quiet
    m.advance(T0 + 4)
    assert list(m.opened) == [1, 0, 0, 1]
    m.advance(T0 + 10_000)
    assert len(m.opened) == 60 and sum(m.opened) == 0
    m.advance(float("nan"))  # a hostile clock changes nothing
    assert len(m.opened) == 60


def test_without_interface_counters_the_chart_plots_captured_bytes() -> None:
    # Connection 1 receives 50 KiB spread evenly over 0.25-5.25 s (a capture file, no ifstats):
    # 500 ms buckets 1-9 get 5 KiB each (10 KiB/s), bucket 10 half of that (5 KiB/s), bucket 0
    # its first record's 601 bytes plus 2.5 KiB. Now = (10 + 10 + 5) / 3 KiB/s = 8.33 KB/s;
    # peak 10.00 KB/s. Trend over the last 6 points (10240 x5, 8533.3): slope -243.8 B/s a
    # sample, within 5 % of now (426.7): →. Sent: its first record's 400 bytes in bucket 0
    # (800 B/s), then nothing.
    first = conn(1, first_seen=T0, last_seen=T0 + 0.25)
    state = graph_state([first, dict(first, bytes_dst=601 + 50 * 1024, last_seen=T0 + 5.25)])
    screen = draw(state)
    _, title = line_with(screen, "Traffic Over Time")
    assert "Traffic Over Time (60s) · captured" in title
    assert "↓ RX  8.33 KB/s →  peak 10.00 KB/s" in line_with(screen, "↓ RX")[1]
    assert "↑ TX  - →  peak 800 B/s" in line_with(screen, "↑ TX")[1]


def chart_column(screen: pyte.Screen, first: int, rows: int, x: int) -> list[str]:
    return [screen.buffer[y][x].data for y in range(first, first + rows)]


def test_traffic_headers_and_charts_from_interface_counters(shown: pyte.Screen) -> None:
    assert "· captured" not in line_with(shown, "Traffic Over Time")[1]  # interface counters
    y_rx, text = line_with(shown, "↓ RX")
    assert "↓ RX  2.00 MB/s →  peak 2.00 MB/s" in text
    y_tx, text = line_with(shown, "↑ TX")
    assert "↑ TX  190.00 KB/s ↗  peak 190.00 KB/s" in text
    right = text.index("│", 1) - 1  # the chart's last cell
    # RX: 20 samples of 2 MiB/s under a 2 MiB/s ceiling: the last 10 cells full, the 11th empty.
    rx_rows = y_tx - y_rx - 1
    assert chart_column(shown, y_rx + 1, rx_rows, right) == ["\u28ff"] * rx_rows
    assert chart_column(shown, y_rx + 1, rx_rows, right - 9) == ["\u28ff"] * rx_rows
    assert chart_column(shown, y_rx + 1, rx_rows, right - 10) == [" "] * rx_rows
    # TX, 5 rows = 20 levels under 256 KiB/s: the last two points, 180 and 190 KiB/s, are
    # 14.06 and 14.84 -> 14 and 15 levels: three full rows, then 2 dots left (7, 3) and 3 right
    # (8, 6, 5) = 0x40|0x04|0x80|0x20|0x10 = U+28F4, and an empty top row.
    assert chart_column(shown, y_tx + 1, 5, right) == [" ", "\u28f4", "\u28ff", "\u28ff", "\u28ff"]
    # RustNet's colours: rx text green over a blue wave, tx text blue over a green wave.
    assert fg_at(shown, y_rx, "↓ RX") == "green" and str(shown.buffer[y_rx + 1][right].fg) == "blue"
    assert fg_at(shown, y_tx, "↑ TX") == "blue" and str(shown.buffer[y_tx + 2][right].fg) == "green"


def test_an_80x24_terminal_keeps_every_panel() -> None:
    state = graph_state(graph_records())
    screen = pyte.Screen(80, 24)
    pyte.Stream(screen).feed(render(state, 80, 24, theme()))
    text = "\n".join(screen.display)
    for needle in (
        "↓ RX  2.00 MB/s",
        "↑ TX",
        "OPENED 2.0/s",
        "CLOSED 0.7/s",
        "90.0ms",
        "Fast Retrans",
        "TIME_WAIT",
    ):
        assert needle in text, needle
    for needle in ("│Other ", "a-very-long-proce..."):
        assert needle in text, needle


def test_every_size_gives_lines_of_exactly_the_width() -> None:
    from rustnet.view.text import width

    state = graph_state(graph_records())
    for w in (1, 3, 7, 20, 41, 80, 133):
        for h in range(0, 35, 3):
            lines = graph.draw(state, w, h, Theme())
            assert len(lines) == h, (w, h)
            assert all(width(line) == w for line in lines), (w, h)


def test_hostile_values_never_break_the_graph() -> None:
    evil = "\x1b[31mevil\x1b]0;title\x07"
    recs = [
        conn(1, app=["TLS"], state={"x": 1}, rate_src=float("nan"), rate_dst=float("inf"), process=evil),
        conn(2, app={"a": 1}, state=["ESTABLISHED"], rate_src=-5.0, rate_dst=True, process=["p"]),
        conn(3, rtt_ms=float("nan"), retransmits=-5, out_of_order=2**70, fast_retransmits="3", packets=-1),
        conn(4, rtt_ms=True, rtt_kind=["dns"], rate_dst=1e6, process=evil, last_seen=float("inf")),
        conn(
            5, rtt_ms=-3.0, packets=2**80, retransmits=2**75, last_seen="soon", rate_src=1e308, process="huge"
        ),
    ]
    state = graph_state(recs)
    screen = draw(state)
    text = "\n".join(screen.display)
    assert "evil" in text and "\\x1b" in text  # shown escaped, never raw
    assert "Retransmits" in text and "Fast Retrans" in text
    assert "huge" not in text  # 1e308 B/s is no rate (and must not overflow the sums)
    out = render(state, W, H, Theme())
    assert "\x1b]0;" not in out and "\x07" not in out


def counted(state: ViewState) -> graph.Counts:
    draw(state)
    return graph.count(state)


def test_counts_follow_updates_closes_reopens_and_the_loopback_rule() -> None:
    state = graph_state(graph_records())
    first = {r["id"]: r for r in graph_records() if r.get("t", "conn") == "conn" and not r.get("final")}
    c = counted(state)
    assert (c.active, c.tcp_states) == (13, {"ESTAB": 8, "SYN_SENT": 1, "TIME_WAIT": 1})
    # 17 finishes its handshake; 1 stops receiving; 9 (TLS, "idle") ends by timeout.
    state.table.ingest(
        [
            dict(first[17], state="ESTABLISHED", last_seen=T0 + 11.0),
            dict(first[1], rate_dst=0.0, last_seen=T0 + 11.1),
            dict(first[9], last_seen=T0 + 11.2, final=True, end="timeout"),
        ]
    )
    c = counted(state)
    assert (c.active, c.tcp_states) == (12, {"ESTAB": 8, "TIME_WAIT": 1})
    assert c.apps["HTTPS"] == 4
    assert c.processes[0] == ("firefox", 1024 * 1024.0)  # connection 3's 1 MiB/s alone
    # 9 comes back (the same id, open again): counted again.
    state.table.ingest([dict(first[9], last_seen=T0 + 12.0)])
    c = counted(state)
    assert (c.active, c.tcp_states["ESTAB"], c.apps["HTTPS"]) == (13, 9, 5)
    # A loopback connection counts until loopback is hidden.
    state.table.ingest([conn(500, src="127.0.0.1", dst="127.0.0.1", process="redis", rate_src=10.0)])
    assert counted(state).active == 14
    state.hide_localhost = True
    c = counted(state)
    assert c.active == 13 and all(name != "redis" for name, _ in c.processes)


def test_counts_forget_an_evicted_connection() -> None:
    t = ConnTable(max_rows=3)
    t.ingest([header(), *(conn(i, process=f"p{i}", rate_dst=100.0 * i) for i in (1, 2, 3))])
    state = ViewState(t)
    state.tab = GRAPH
    assert [name for name, _ in counted(state).processes] == ["p3", "p2", "p1"]
    t.ingest([conn(4, process="p4", rate_dst=50.0)])  # over the cap: the oldest open row (1) goes
    c = counted(state)
    assert c.active == 3 and c.tcp_states == {"ESTAB": 3}
    assert c.processes == [("p3", 300.0), ("p2", 200.0), ("p4", 50.0)]


def test_a_final_record_without_a_reason_leaves_the_counts_once_others_follow() -> None:
    # Without "end", a final record is history only once other updates follow it (its own
    # record does not change then): the counts must see that too.
    t = ConnTable()
    t.ingest([header(), conn(1, process="a", rate_dst=10.0), conn(2, process="b", rate_dst=20.0)])
    t.ingest([dict(conn(1, process="a", rate_dst=10.0), final=True)])
    state = ViewState(t)
    state.tab = GRAPH
    assert counted(state).active == 2  # the last record so far: not history yet
    t.ingest([conn(2, process="b", rate_dst=30.0)])
    c = counted(state)
    assert c.active == 1 and c.processes == [("b", 30.0)]
