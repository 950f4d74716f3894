"""The Overview as RustNet draws it: columns, widths and the order they give way in, the RTT
and Rx/Tx cells, the Remote cell's choice of name, row colours as the idle timeout nears,
historic rows. Expectations are written out by hand from RustNet's rules."""

from __future__ import annotations

import pytest
from rustnet.view import keys
from rustnet.view.columns import layout
from rustnet.view.model import ConnTable
from rustnet.view.state import ViewState

from tests.test_view_render import draw
from tests.tui.records import T0, conn, header

ALL = ["Process", "Remote", "Local", "Service", "App", "State", "RTT", "Rx↓/Tx↑", "Total"]


def make(recs: list[dict], live: bool = False) -> ViewState:
    t = ConnTable()
    t.ingest([dict(header(), live=live), *recs])
    s = ViewState(t)
    s.show_system = False  # the table alone: its widths are the screen's
    return s


SINK = conn(
    999, process="0-selected", bytes=0, first_seen=T0, last_seen=T0 + 1
)  # sorted first by process: it takes the cursor


def titles(screen: object) -> list[str]:
    line = screen.display[2]  # type: ignore[attr-defined]
    return [w for w in line.replace(" ▼", "").replace(" ▲", "").split() if w]


def test_columns_in_rustnet_order_with_rustnet_cells() -> None:
    s = make(
        [
            conn(
                1,
                app="TLS",
                sni="github.com",
                process="firefox",
                pid=4242,
                service="https",
                rtt_ms=12.3,
                rate_dst=3.1 * 1024 * 1024,
                rate_src=928 * 1024,
                bytes=90_000,
            )
        ]
    )
    screen, _ = draw(s, 160)
    assert titles(screen) == ALL
    row = screen.display[3]
    for cell in ("firefox (4242)", "192.0.2.10:443", "10.0.0.2:40001", "https", "TCP·TLS (github.com)"):
        assert cell in row, (cell, row)
    assert "ESTABLISHED" in row and " 12ms " in row and "3.1M/928K" in row and "88K" in row


# Base widths: Process 22, Remote 21, Local 18, Service 10, App 24 (compact 14), State 12,
# RTT 7, Rx/Tx 11, Total 7, one cell between columns. Sorted by process (which never goes):
#   all nine 132 + 8 = 140; without Total 125 + 7 = 132; without Service 115 + 6 = 121;
#   without Local 97 + 5 = 102; without RTT 90 + 4 = 94; App compact 80 + 4 = 84;
#   without State 68 + 3 = 71.
GIVE_WAY_BY_PROCESS = [
    (140, ALL),
    (139, ALL[:-1]),
    (132, ALL[:-1]),
    (131, ["Process", "Remote", "Local", "App", "State", "RTT", "Rx↓/Tx↑"]),
    (121, ["Process", "Remote", "Local", "App", "State", "RTT", "Rx↓/Tx↑"]),
    (120, ["Process", "Remote", "App", "State", "RTT", "Rx↓/Tx↑"]),
    (102, ["Process", "Remote", "App", "State", "RTT", "Rx↓/Tx↑"]),
    (101, ["Process", "Remote", "App", "State", "Rx↓/Tx↑"]),
    (84, ["Process", "Remote", "App", "State", "Rx↓/Tx↑"]),
    (83, ["Process", "Remote", "App", "Rx↓/Tx↑"]),
    (71, ["Process", "Remote", "App", "Rx↓/Tx↑"]),
]


@pytest.mark.parametrize(("w", "want"), GIVE_WAY_BY_PROCESS)
def test_columns_give_way_in_rustnet_order(w: int, want: list[str]) -> None:
    s = make([conn(1, app="TLS", sni="github.com", process="firefox", pid=1)])
    s.sort_code = "process"
    screen, _ = draw(s, w, 10)
    assert titles(screen) == want


def test_app_narrows_to_its_compact_form_before_state_goes() -> None:
    widths = dict((c.code, cw) for c, cw in layout(94, {}, keep="process"))
    assert widths["app"] == 24  # 94 fits App at full width (no spare)
    widths = dict((c.code, cw) for c, cw in layout(93, {}, keep="process"))
    assert widths["app"] == 14  # compact; the 9 spare cells go to Remote and Process
    s = make([conn(1, app="TLS", sni="github.com", process="firefox", pid=1)])
    s.sort_code = "process"
    screen, _ = draw(s, 93, 10)
    assert "TCP·TLS" in screen.display[3] and "github.com" not in screen.display[3]


def test_default_sort_keeps_total_at_80_columns() -> None:
    # Total (the default sort) stays; State gives way: 22 + 21 + 14 + 11 + 7 + 4 = 79.
    screen, _ = draw(make([conn(1)]), 80, 10)
    assert titles(screen) == ["Process", "Remote", "App", "Rx↓/Tx↑", "Total"]


def test_widths_share_spare_cells_remote_first() -> None:
    widths = dict((c.code, cw) for c, cw in layout(150, {}, keep="total"))
    # 10 spare cells by weight Remote 4, App 3, Process 2, Local 1; the remainder to Remote.
    assert widths == {
        "process": 24,
        "remote": 25,
        "local": 19,
        "service": 10,
        "app": 27,
        "state": 12,
        "rtt": 7,
        "rate": 11,
        "total": 7,
    }


@pytest.mark.parametrize(
    ("rtt", "shown", "colour"),
    [
        (3.44, "3.4ms", "green"),
        (49.9, "50ms", "green"),
        (80, "80ms", "brown"),  # pyte's name for ANSI yellow
        (234, "234ms", "red"),
        (1234, "1.2s", "red"),
    ],
)
def test_rtt_cell_and_colour(rtt: float, shown: str, colour: str) -> None:
    s = make([SINK, conn(1, rtt_ms=rtt, process="x")])
    s.sort_code = "process"
    screen, _ = draw(s, 160)
    line = screen.display[4]
    x = line.index(shown + " ")
    assert screen.buffer[4][x].fg == colour


def test_rtt_unknown_is_a_dash_and_sorts_as_zero() -> None:
    s = make([conn(1), conn(2, rtt_ms=40.0), conn(3, rtt_ms=300.0)])
    s.sort_code = "rtt"
    screen, _ = draw(s, 160)
    assert [screen.display[y].split()[0] for y in (3, 4, 5)] == ["-", "-", "-"]  # no process
    rows = [screen.display[y] for y in (3, 4, 5)]
    assert "300ms" in rows[0] and "40ms" in rows[1] and " - " in rows[2][100:]


def test_rate_cell_colours_rx_green_tx_blue_and_idle_dim() -> None:
    s = make([SINK, conn(1, rate_dst=2048.0, rate_src=512.0, process="a"), conn(2, process="b")])
    s.sort_code = "process"
    screen, out = draw(s, 160)
    busy, idle = screen.display[4], screen.display[5]
    x = busy.index("2K/512B")
    assert screen.buffer[4][x].fg == "green" and screen.buffer[4][x + 3].fg == "blue"
    assert "-/-" in idle and "\x1b[2m        -/-" in out  # idle: dimmed


def test_remote_cell_prefers_names_as_rustnet_does() -> None:
    s = make(
        [
            conn(1, dst="192.0.2.21", hostname_dst="wire.example", hostname_dst_via="dns", bytes=6),
            conn(2, dst="192.0.2.22", hostname_dst="ptr.example", hostname_dst_via="ptr", bytes=5),
            # A DNS-learned name gives way to the connection's own SNI (shown in App).
            conn(
                3,
                dst="192.0.2.23",
                hostname_dst="cdn.example",
                hostname_dst_via="dns",
                sni="x.test",
                app="TLS",
                bytes=4,
            ),
            conn(4, dst="192.0.2.1", gateway="dst", bytes=3),
            conn(5, proto="udp", dst="255.255.255.255", dport=67, bytes=2),
            conn(6, proto="udp", dst="224.0.0.251", dport=5353, src="10.0.0.9", sport=5353, bytes=1),
            conn(7, dst="192.0.2.24", hostname_dst="a-very-long-name-that-does-not-fit.example.org", bytes=0),
        ]
    )
    s.sort_code = "process"
    screen, _ = draw(s, 100)  # Remote: 21 cells and a share of the spare ones
    rows = {screen.display[y].split()[0] + str(y): screen.display[y] for y in range(3, 10)}
    body = "\n".join(rows.values())
    assert "~wire.example:443" in body
    assert "ptr.example:443" in body and "~ptr" not in body
    assert "192.0.2.23:443" in body and "cdn.example" not in body
    assert "192.0.2.1:443 (gw)" in body
    assert "bcast:67" in body and "mcast:5353" in body
    long_row = next(r for r in rows.values() if "…" in r and ":443" in r)
    assert "a-very-long-name" in long_row and "…:443" in long_row  # cut before the port, port kept
    # The inferred name is dimmed.
    y = next(y for y in range(3, 10) if "~wire" in screen.display[y])
    if y != 2:
        assert screen.buffer[y][screen.display[y].index("~wire")].bold is False
        assert "\x1b[2m" in draw(s, 100)[1]


LAST = T0 + 1000.0


def staleness_rows() -> list[dict]:
    # TCP ESTABLISHED with 10 packets: rn-track's timeout 300 s. The newest record sets the clock.
    return [
        conn(1, last_seen=LAST, first_seen=LAST - 5, bytes=50, process="fresh"),
        conn(2, last_seen=LAST - 200, first_seen=LAST - 205, bytes=40, process="calm"),  # 0.67
        conn(3, last_seen=LAST - 240, first_seen=LAST - 245, bytes=30, process="warn"),  # 0.80
        conn(4, last_seen=LAST - 280, first_seen=LAST - 285, bytes=20, process="err"),  # 0.93
        conn(5, last_seen=LAST - 295, first_seen=LAST - 300, bytes=10, process="errbold"),  # 0.98
    ]


def test_rows_turn_yellow_then_red_as_their_timeout_nears() -> None:
    s = make([SINK, *staleness_rows()], live=True)
    s.sort_code = "process"
    screen, _ = draw(s, 160)
    by_name = {screen.display[y].split()[0]: y for y in range(3, 9)}

    def cell(name: str, needle: str) -> tuple[str, bool]:
        y = by_name[name]
        c = screen.buffer[y][screen.display[y].index(needle)]
        return c.fg, c.bold

    assert cell("fresh", "fresh")[0] == "default" and cell("fresh", "ESTABLISHED")[0] == "green"
    assert cell("calm", "calm") == ("default", False)
    assert cell("warn", "warn") == ("brown", False)  # pyte names ANSI yellow "brown"
    assert cell("warn", "ESTABLISHED")[0] == "brown"  # the whole row, the state's colour too
    assert cell("err", "err") == ("red", False)
    assert cell("errbold", "errbold") == ("red", True)


def test_a_closing_connection_nears_its_shorter_timeout() -> None:
    # TIME_WAIT: rn-track's tcp.closed timeout (5 s); 4.5 s after its last packet it is red.
    s = make(
        [
            SINK,
            conn(1, last_seen=LAST, bytes=9, process="now"),
            conn(2, state="TIME_WAIT", last_seen=LAST - 4.5, bytes=1, process="closing"),
        ],
        live=True,
    )
    s.sort_code = "process"
    screen, _ = draw(s, 160)
    y = next(y for y in (4, 5) if "closing" in screen.display[y])
    assert screen.buffer[y][0].fg == "red"


def test_historic_rows_are_grey_closed_and_rates_not_applicable() -> None:
    s = make(
        [
            SINK,
            conn(1, bytes=9, process="open", rate_dst=4096.0),
            conn(2, bytes=1, process="gone", final=True, end="timeout", rate_dst=4096.0),
        ]
    )
    s.sort_code = "process"
    screen, _ = draw(s, 160)
    y = next(y for y in (4, 5) if "gone" in screen.display[y])
    line = screen.display[y]
    assert "closed" in line and "ESTABLISHED" not in line and "n/a" in line and "4K" not in line
    assert all(screen.buffer[y][x].fg == "brightblack" for x in range(len(line.rstrip())))
    other = screen.display[9 - y]
    assert "ESTABLISHED" in other and "4K/-" in other


def test_grouped_by_process_as_rustnet() -> None:
    s = make(
        [
            SINK,
            conn(1, process="firefox", pid=4242, rate_dst=2048.0, bytes=100),
            conn(2, process="firefox", pid=4243, proto="udp", rate_src=1024.0, bytes=50),
            conn(3, process="Zoom", pid=7, bytes=10),
            conn(4, process="curl", pid=None, bytes=5),
            conn(5, process="firefox", pid=4244, final=True, end="timeout", rate_dst=9999.0, bytes=1),
        ]
    )
    s.sort_code = "process"
    keys.handle(s, "a")
    screen, _ = draw(s, 160, 20)
    lines = [ln.rstrip() for ln in screen.display[2:14] if ln.strip()]
    names = [ln.split()[1] for ln in lines if ln.startswith(("▾", "▸"))]
    assert names == ["0-selected", "curl", "firefox", "Zoom"]  # by name, case-insensitively
    head = next(ln for ln in lines if "firefox" in ln)
    # Three connections, one of them history; State counts the open ones; rates of the open ones.
    assert head.startswith("▾ firefox (3, hist)")
    assert "TCP:1 UDP:1" in head and "2K/1K" in head and "151B" in head
    children = lines[lines.index(head) + 1 : lines.index(head) + 4]
    assert [c.split()[0:2] for c in children] == [["├─", "4242"], ["├─", "4243"], ["└─", "4244"]]
    curl = lines[lines.index(next(ln for ln in lines if ln.startswith("▾ curl"))) + 1]
    assert curl.split()[:2] == ["└─", "-"]  # no pid
