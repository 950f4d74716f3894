"""Render to a string, feed it to pyte, assert on the screen."""

from __future__ import annotations

import io
import re

import blessed
import pyte
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rustnet.view import keys
from rustnet.view.filter import KEYWORDS
from rustnet.view.model import ConnTable
from rustnet.view.render import Theme, render
from rustnet.view.state import ViewState

from tests.tui.records import conn, header, sample


def theme(color: bool = True) -> Theme:
    term = blessed.Terminal(kind="xterm-256color", stream=io.StringIO(), force_styling=True)
    return Theme.from_terminal(term, color=color)


def make(recs: list[dict] | None = None) -> ViewState:
    t = ConnTable()
    t.ingest([header(), *(recs if recs is not None else sample())])
    s = ViewState(t)
    s.show_system = False  # the table alone (tests/test_view_system.py has the System panel's)
    return s


def draw(state: ViewState, w: int = 120, h: int = 30, color: bool = True) -> tuple[pyte.Screen, str]:
    out = render(state, w, h, theme(color))
    screen = pyte.Screen(w, h)
    pyte.Stream(screen).feed(out)
    return screen, out


def cell_x(screen: pyte.Screen, y: int, needle: str) -> int:
    """The screen column where ``needle`` starts on line ``y`` (wide characters take two cells)."""
    cells = [screen.buffer[y][x].data for x in range(screen.columns)]
    for x in range(screen.columns - len(needle) + 1):
        if "".join(cells[x : x + len(needle)]) == needle:
            return x
    raise AssertionError(f"{needle!r} not on line {y}: {screen.display[y]!r}")


def text(screen: pyte.Screen) -> str:
    return "\n".join(screen.display)


def test_overview_table_and_bars() -> None:
    s = make()
    s.table.ingest(
        [
            {"t": "stats", "ts": 1.0, "packets": 10, "received": 10, "dropped": 0},
            {"t": "stats", "ts": 2.0, "packets": 510, "received": 510, "dropped": 42},
        ]
    )
    screen, _ = draw(s, 180)
    lines = screen.display
    assert "1 Overview" in lines[0] and "eth-test" in lines[0]
    titles = ("Process", "Remote", "Local", "Service", "App", "State", "RTT", "Rx↓/Tx↑", "Total")
    assert lines[2].split()[: len(titles)] == list(titles)
    body = text(screen)
    assert "firefox (4242)" in body and "192.0.2.10:443" in body and "TCP·TLS (github.com)" in body
    assert "UDP·DNS (google.com)" in body and "TCP·HTTP (intranet.test)" in body
    assert "OpenSSH_9.2p1 Debian-2" in body and "edge.example.net:" in body
    status = lines[-2]
    assert "eth-test" in status and "500 pkt/s" in status and "drops 42" in status and "7 conns" in status
    assert "q quit" in lines[-1] and "/ filter" in lines[-1]


def test_names_inferred_from_dns_are_marked_with_a_tilde() -> None:
    s = make(
        [
            conn(1, dst="192.0.2.21", hostname_dst="wire.example", hostname_dst_via="dns"),
            conn(2, dst="192.0.2.22", hostname_dst="ptr.example", hostname_dst_via="ptr"),
        ]
    )
    body = text(draw(s, 180)[0])
    assert "~wire.example:443" in body  # learned from an answer seen on the wire
    assert "ptr.example:443" in body and "~ptr.example" not in body  # a reverse lookup


def test_selected_row_is_reversed_and_states_coloured() -> None:
    s = make()
    screen, _ = draw(s)
    first = screen.buffer[3]
    assert all(first[x].reverse for x in range(10))
    # Second row (github is first by total): curl to api.example.org, ESTABLISHED in green.
    line = screen.display[4]
    x = line.index("ESTABLISHED")
    assert screen.buffer[4][x].fg == "green"
    plain, out = draw(s, color=False)
    assert plain.buffer[4][x].fg == "default"
    assert "\x1b[32m" not in out and "\x1b[31m" not in out


HOSTILE_HOST = "evil\x1b[2J\x1b]0;pwned\x07.example"
HOSTILE_SNI = "\u202egro.elpmaxe\x9b31m\x00"


def test_hostile_fields_are_escaped() -> None:
    s = make(
        [
            conn(1, app="HTTP", http_host=HOSTILE_HOST, process="x\x1b[1mbold"),
            conn(2, app="TLS", sni=HOSTILE_SNI, bytes=1),
        ]
    )
    screen, out = draw(s, 160, 20)
    assert "\x1b]0;pwned" not in out and "\x1b[2J" not in out and "\u202e" not in out and "\x9b" not in out
    assert "\x00" not in out and "\x07" not in out
    body = text(screen)
    assert "evil\\x1b[2J" in body and "\\u202egro.elp" in body and "x\\x1b[1mbold" in body
    keys.handle(s, "KEY_ENTER")
    screen, out = draw(s, 160, 40)
    assert "\x1b]0;pwned" not in out and "evil\\x1b[2J\\x1b]0;pwned\\x07.example" in text(screen)
    keys.handle(s, "KEY_ESCAPE")
    keys.handle(s, "j")
    keys.handle(s, "KEY_ENTER")
    screen, out = draw(s, 160, 40)
    assert "\u202e" not in out and "\\u202egro.elpmaxe\\x9b31m\\x00" in text(screen)


def test_backslashes_read_alike_on_the_fast_and_slow_text_paths() -> None:
    # Record text is escaped where it was made ("\\xcc": a byte 0xcc that was not UTF-8). A value
    # of printable ASCII (the fast path) and one with other characters or a raw ESC from a
    # hostile record (the slow path) show that escape alike, next to the ESC shown as \x1b.
    s = make(
        [
            conn(1, app="TLS", sni="ascii\\xcc.example", bytes=2),
            conn(2, app="TLS", sni="caf\u00e9\\xcc.example", bytes=1),
            conn(3, app="TLS", sni="esc\\xcc\x1b.example", bytes=0),
        ]
    )
    screen, out = draw(s, 160, 20)
    body = text(screen)
    assert "\x1b.example" not in out
    assert "ascii\\xcc.example" in body
    assert "caf\u00e9\\xcc.example" in body
    assert "esc\\xcc\\x1b.example" in body
    assert "\\\\" not in body


def test_wide_unicode_keeps_columns_aligned() -> None:
    s = make(
        [
            conn(1, app="TLS", sni="日本語のサイト.jp", bytes=10),
            conn(2, app="TLS", sni="plain.jp", bytes=5),
            conn(3, app="TLS", sni="😀😀😀😀😀😀😀😀😀😀😀😀😀😀", bytes=1),
        ]
    )
    screen, _ = draw(s, 120, 12)
    xs = [cell_x(screen, y, "ESTABLISHED") for y in (3, 4, 5)]
    assert len(set(xs)) == 1, screen.display[3:6]
    assert "TLS (日本語" in text(screen)


@pytest.mark.parametrize(("w", "h"), [(40, 10), (20, 5), (1, 1), (2, 3), (80, 24), (300, 100)])
def test_any_size_renders(w: int, h: int) -> None:
    s = make([conn(i, sni="日本" * 30) for i in range(50)])
    for tab in ("1", "2", "3"):
        keys.handle(s, tab)
        screen, _ = draw(s, w, h)
        assert len(screen.display) == h
    keys.handle(s, "1")
    screen, _ = draw(s, w, h)
    if (w, h) == (40, 10):
        # The remote end is kept longest, and the sorted column (Total by default) always.
        assert "Remote" in screen.display[2] and "Total" in screen.display[2]
        assert "10.0.0" not in screen.display[2]


def test_help_overlay_lists_the_tab_keys_then_global() -> None:
    from rustnet.view import tabs

    s = make()
    keys.handle(s, "h")
    for n, tab in enumerate(tabs.TABS, 1):
        keys.handle(s, str(n))  # the overlay stays open and follows the tab
        screen, _ = draw(s, 120, 200)
        body = text(screen)
        assert f"Help · {tab.name}" in body
        for k, v in keys.help_lines(tab.keys) + keys.help_lines(keys.GLOBAL_KEYS):
            assert f"{k} " in body and v in body, (tab.name, k, v)
        others = {t.name for t in tabs.TABS} - {tab.name}
        if tab.name != "Overview":  # only the shown tab's keys (the Overview's sort is not elsewhere)
            assert "sort by the next column" not in body
        assert not others & {line.strip("│ ") for line in screen.display}
    keys.handle(s, "1")
    body = text(draw(s, 120, 200)[0])
    for code in KEYWORDS:
        assert f"{code}:VALUE" in body
    assert "Mouse" in body and "double-click" in body
    keys.handle(s, "KEY_ESCAPE")
    assert "Help ·" not in text(draw(s, 120, 200)[0])


def test_help_overlay_scrolls_inside_its_box() -> None:
    s = make()
    keys.handle(s, "h")
    screen, _ = draw(s, 100, 20)
    top = next(y for y, line in enumerate(screen.display) if "┌─ Help · Overview" in line)
    x = screen.display[top].index("┌")
    end = screen.display[top].index("┐") + 1
    box = [line[x:end] for line in screen.display[top:] if line[x : x + 1] in ("│", "└")]
    assert box[-1].startswith("└─") and box[-1].endswith("┘") and len(box) == 20 - 2 - 2 - 1
    assert "j/k scroll" in screen.display[-1] and "h/esc close" in screen.display[-1]
    keys.handle(s, "j")
    screen, _ = draw(s, 100, 20)
    assert screen.display[top + 1][x:end] == box[1]  # one line up
    keys.handle(s, "G")
    screen, _ = draw(s, 100, 20)
    assert "viewer" in text(screen)  # the last line (privileges) reached
    assert screen.display[2].startswith("Proc")  # the table is still drawn around the box


def test_filter_prompt_and_active_filter() -> None:
    s = make()
    for ch in "/port:44":
        keys.handle(s, ch)
    screen, _ = draw(s)
    assert screen.display[-1].startswith("/port:44")
    assert "3 shown" in screen.display[-2]
    keys.handle(s, "KEY_ENTER")
    screen, _ = draw(s)
    assert "filter: port:44" in screen.display[-2]
    keys.handle(s, "/")
    for ch in "zzzz":
        keys.handle(s, ch)
    screen, _ = draw(s)
    assert "no connection matches the filter" in text(screen)


def test_group_headers() -> None:
    s = make()
    keys.handle(s, "a")
    screen, _ = draw(s)
    body = text(screen)
    assert "▾ firefox (1)" in body and "▾ <unknown> (1)" in body


def test_messages_show_on_the_hint_line() -> None:
    s = make()
    keys.handle(s, "q")
    screen, _ = draw(s)
    assert "Press 'q' again to quit or any other key to cancel" in screen.display[-1]
    screen, _ = draw(s, 40, 10)
    assert "Press 'q' again" in screen.display[-1]


def test_long_filter_prompt_keeps_its_end_visible() -> None:
    s = make()
    keys.handle(s, "/")
    for ch in "日本語" * 20 + "end":
        keys.handle(s, ch)
    screen, _ = draw(s, 40, 10)
    last = screen.display[-1]
    assert last.startswith("…") and "end" in last


_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=40),
    st.binary(max_size=8),
    st.lists(st.text(max_size=8), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
_FIELDS = (
    "id",
    "proto",
    "src",
    "sport",
    "dst",
    "dport",
    "state",
    "bytes",
    "packets",
    "rate_src",
    "rate_dst",
    "last_seen",
    "first_seen",
    "app",
    "sni",
    "http_host",
    "dns_query",
    "ssh_server",
    "process",
    "pid",
    "local_side",
    "final",
    "end",
    "hostname_dst",
    "rtt_ms",
    "vlan",
)
_OUR_SEQUENCES = re.compile(r"\x1b\[[0-9;?]*[mHKhl]|\x1b\(B")


@settings(max_examples=60, deadline=None)
@given(
    recs=st.lists(
        st.fixed_dictionaries({"t": st.just("conn")}, optional={k: _values for k in _FIELDS}), max_size=6
    ),
    w=st.integers(min_value=1, max_value=160),
    h=st.integers(min_value=1, max_value=40),
    tab=st.sampled_from(["1", "2", "3"]),
    query=st.text(max_size=6),
)
def test_any_record_content_renders_safely(recs: list[dict], w: int, h: int, tab: str, query: str) -> None:
    s = make(recs)
    s.set_filter(query)
    keys.handle(s, "a")
    keys.handle(s, tab)
    keys.handle(s, "KEY_ENTER")
    for _ in range(3):
        keys.handle(s, "s")
        out = render(s, w, h, theme())
        rest = _OUR_SEQUENCES.sub("", out)
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or 0x202A <= ord(c) <= 0x202E for c in rest)


def test_evictions_at_the_cap_show_in_the_status_bar() -> None:
    t = ConnTable(max_rows=50)
    t.ingest([header(), *(conn(i) for i in range(60))])
    s = ViewState(t)
    screen, _ = draw(s, 160)
    status = screen.display[-2]
    assert f"{t.evicted} evicted!" in status and t.evicted >= 10
    assert f"{len(t)} conns" in status


@pytest.mark.parametrize("w", [80, 60, 45])
def test_the_sorted_column_stays_on_screen(w: int) -> None:
    """Whatever the table is sorted by is shown, however narrow: other columns give way."""
    from rustnet.view.columns import COLUMNS

    for col in COLUMNS:
        s = make()
        s.sort_code = col.code
        screen, _ = draw(s, w, 24)
        header = next(line for line in screen.display if "Remote" in line)
        assert col.title in header, (col.code, header)
        # Priorities still rule the rest: the remote end is kept with it.
        assert "Remote" in header


def test_values_cut_to_the_record_limits_show_in_the_status_bar() -> None:
    t = ConnTable()
    t.ingest([header(), conn(1, app="HTTP", http_host="h" * 10_000, dns_queries=["q"] * 1000)])
    s = ViewState(t)
    screen, _ = draw(s, 160)
    assert "2 cut!" in screen.display[-2]
    assert len(t.rows[1].rec["http_host"]) == 4097 and len(t.rows[1].rec["dns_queries"]) == 64


def test_p_shows_port_numbers_and_d_addresses_without_names() -> None:
    s = make([conn(1, dst="192.0.2.10", dport=443, service="https", hostname_dst="www.example.org")])
    screen, _ = draw(s, 160, 12)
    assert "Service" in screen.display[2] and "Port" not in screen.display[2]
    assert "https" in screen.display[3] and "www.example.org:443" in screen.display[3]
    keys.handle(s, "p")
    keys.handle(s, "d")
    screen, _ = draw(s, 160, 12)
    header, row = screen.display[2], screen.display[3]
    assert "Port" in header and "Service" not in header
    assert "https" not in row and "www.example.org" not in row and "192.0.2.10:443" in row
    assert row[header.index("Port") :].split()[0] == "443"
    keys.handle(s, "p")
    keys.handle(s, "d")
    screen, _ = draw(s, 160, 12)
    assert "Service" in screen.display[2] and "www.example.org:443" in screen.display[3]


def test_tab_bar_marks_the_shown_tab_the_filter_and_the_capture() -> None:
    from rustnet.view.render import tab_spans

    s = make()
    screen, _ = draw(s, 120, 20)
    bar, accent = screen.display[0], screen.display[1]
    for n, name in enumerate(("Overview", "Details", "Activity", "Graph"), 1):
        assert f"{n} {name}" in bar
    assert bar.rstrip().endswith("● eth-test")
    spans = tab_spans(s, 120)
    x0, x1, name = spans[0]
    assert name == "Overview" and set(accent[x0:x1]) == {"━"} and set(accent[x1:]) <= {" "}
    for ch in "/curl":
        keys.handle(s, ch)
    keys.handle(s, "KEY_ENTER")
    keys.handle(s, "3")
    screen, _ = draw(s, 120, 20)
    assert "1 Overview●" in screen.display[0]  # a filter is on
    x0, x1, name = tab_spans(s, 120)[2]
    assert name == "Activity" and set(screen.display[1][x0:x1]) == {"━"}
    assert screen.display[0][x0:x1].strip() == "3 Activity"


def test_status_hints_follow_the_context() -> None:
    s = make()
    hints = draw(s, 120, 20)[0].display[-1]
    assert hints.startswith(" ↑↓ select  / filter  a group  t history  i info  c copy")
    assert hints.rstrip().endswith("h help  q quit")
    keys.handle(s, "a")
    s.message = ""
    hints = draw(s, 120, 20)[0].display[-1]
    assert hints.startswith(" space collapse  ↑↓ select") and "a grouped" in hints
    keys.handle(s, "2")
    hints = draw(s, 120, 20)[0].display[-1]
    assert hints.startswith(" j/k prev/next") and "esc back" in hints and "h help" in hints
    keys.handle(s, "4")
    assert draw(s, 120, 20)[0].display[-1].startswith(" esc back")
    narrow = draw(s, 14, 20)[0].display[-1]
    assert "back" not in narrow and "esc" in narrow  # narrow: the keys alone


def test_help_over_the_activity_interface_table_is_titled_interfaces() -> None:
    s = make()
    keys.handle(s, "3")
    keys.handle(s, "h")
    assert "Help · Activity" in text(draw(s, 120, 40)[0])
    keys.handle(s, "h")
    keys.handle(s, "i")
    keys.handle(s, "h")
    body = text(draw(s, 120, 40)[0])
    assert "Help · Interfaces" in body and "interface statistics / process activity" in body


def test_filter_typing_hints_select_left_apply_and_cancel_right() -> None:
    s = make()
    for ch in "/api":
        keys.handle(s, ch)
    line = draw(s, 120, 30)[0].display[-1]
    assert line.startswith("/api ") and "↑↓ select" in line
    assert line.rstrip().endswith("enter apply  esc cancel") and "h help" not in line
