"""Mouse reports picked out of keyboard input, and what a click or the wheel does, without a terminal."""

from __future__ import annotations

from rustnet.view import keys, tabs
from rustnet.view.bar import bar_rows, tab_spans
from rustnet.view.clipboard import NOT_COPYABLE_VALUE, copy
from rustnet.view.model import ConnTable
from rustnet.view.mouse import MouseEvent, split
from rustnet.view.render import render
from rustnet.view.state import DETAILS, GRAPH, OVERVIEW, Group, ViewState
from rustnet.view.theme import Theme

from tests.tui.records import sample

W, H = 120, 30


def make() -> ViewState:
    t = ConnTable()
    t.ingest(sample())
    s = ViewState(t)
    render(s, W, H, Theme())  # lays the table out (viewport), as a frame does
    return s


def ev(x: int, y: int, button: int = 0, pressed: bool = True) -> MouseEvent:
    return MouseEvent(button, x, y, pressed)


def test_split_takes_sgr_reports_out_of_the_keys_in_order() -> None:
    pieces, rest = split("j\x1b[<0;12;5Mk\x1b[<0;12;5m\x1b[<65;1;1M\x1b[<35;3;4Mq")
    assert pieces == [
        "j",
        MouseEvent(0, 11, 4, True),
        "k",
        MouseEvent(0, 11, 4, False),
        MouseEvent(65, 0, 0, True),
        MouseEvent(3, 2, 3, True, motion=True),
        "q",
    ]
    assert rest == ""
    assert [p.click for p in pieces if isinstance(p, MouseEvent)] == [True, False, False, False]
    assert [p.wheel for p in pieces if isinstance(p, MouseEvent)] == [0, 0, 1, 0]
    # Modifier bits (shift 4, meta 8, ctrl 16) do not change the button.
    assert split("\x1b[<20;2;2M")[0] == [MouseEvent(0, 1, 1, True)]


def test_split_keeps_a_cut_report_for_the_next_read() -> None:
    for cut in ("\x1b", "\x1b[", "\x1b[<", "\x1b[<6", "\x1b[<64;1", "\x1b[<64;10;"):
        pieces, rest = split("ab" + cut)
        assert pieces == ["ab"] and rest == cut
        pieces, rest = split(rest + "\x1b[<64;10;20M"[len(cut) :])
        assert pieces == [MouseEvent(64, 9, 19, True)] and rest == ""
    # Keys that only look like the start of one stay keys: an arrow, a long number.
    assert split("\x1b[A") == (["\x1b[A"], "")
    assert split("\x1b[<123456;1;1M") == (["\x1b[<123456;1;1M"], "")


def test_click_on_a_tab_title_shows_it() -> None:
    s = make()
    for x0, x1, name in tab_spans(s, W):
        tabs.pointer_event(s, ev(x0, 0), W, H, 0.0)
        assert s.tab == name
        tabs.pointer_event(s, ev(x1 - 1, 0), W, H, 0.0)
        assert s.tab == name
    x0, _, _ = tab_spans(s, W)[0]
    tabs.pointer_event(s, ev(x0 - 1, 0), W, H, 0.0)  # left of the titles: nothing
    assert s.tab == GRAPH


def test_click_selects_double_click_opens_details_and_folds_groups() -> None:
    s = make()
    first_row = bar_rows(H) + 1  # under the tab bar and the header
    tabs.pointer_event(s, ev(5, first_row + 3), W, H, 10.0)
    assert s.cursor == 3 and s.tab == OVERVIEW
    tabs.pointer_event(s, ev(5, first_row + 2), W, H, 10.1)  # another row: no double-click
    assert s.cursor == 2 and s.tab == OVERVIEW
    tabs.pointer_event(s, ev(5, first_row + 2), W, H, 10.6)  # too late
    assert s.tab == OVERVIEW
    tabs.pointer_event(s, ev(5, first_row + 2), W, H, 10.9)
    assert s.tab == DETAILS and s.cursor == 2
    keys.handle(s, "1")
    tabs.pointer_event(s, ev(5, first_row - 1), W, H, 20.0)  # the header
    tabs.pointer_event(s, ev(5, first_row + 50), W, H, 20.1)  # under the last row
    assert s.cursor == 2
    keys.handle(s, "a")
    render(s, W, H, Theme())
    group_y = next(i for i, e in enumerate(s.entries()) if isinstance(e, Group)) + first_row
    tabs.pointer_event(s, ev(5, group_y), W, H, 30.0)
    name = s.selected_group()
    assert isinstance(s.selected(), Group) and name not in s.collapsed
    tabs.pointer_event(s, ev(5, group_y), W, H, 30.2)
    assert name in s.collapsed and s.tab == OVERVIEW


def test_wheel_moves_the_selection_and_scrolls_details_and_help() -> None:
    s = make()
    tabs.pointer_event(s, ev(5, 10, 65), W, H, 0.0)
    tabs.pointer_event(s, ev(5, 10, 65), W, H, 0.0)
    assert s.cursor == 2
    tabs.pointer_event(s, ev(5, 10, 64), W, H, 0.0)
    assert s.cursor == 1
    keys.handle(s, "2")
    tabs.pointer_event(s, ev(5, 10, 65), W, H, 0.0)
    assert s.details_scroll == 3 and s.cursor == 1
    keys.handle(s, "h")
    tabs.pointer_event(s, ev(5, 10, 65), W, H, 0.0)
    assert s.help_open and s.help_scroll == 1
    tabs.pointer_event(s, ev(5, 10, 2), W, H, 0.0)  # any click, even the right button
    assert not s.help_open and s.tab == DETAILS


def test_click_on_a_details_line_copies_its_value() -> None:
    s = make()
    keys.handle(s, "KEY_ENTER")
    render(s, W, H, Theme())
    top = bar_rows(H)
    by_label = {label: (y, value) for y, _, _, label, value in s.copy_targets}
    y, value = by_label["Remote Address"]
    assert value == "192.0.2.10:443"
    tabs.pointer_event(s, ev(40, top + y), W, H, 0.0)
    assert s.copy_request == value and s.copy_label == "Remote Address"
    assert copy(value, None, "Remote Address") in (
        "Copied: Remote Address: 192.0.2.10:443",
    ) or "could not" in copy(value, None)
    s.copy_request = None
    tabs.pointer_event(s, ev(40, top + H - 4), W, H, 0.0)  # no value there
    assert s.copy_request is None


def test_a_copied_value_is_one_line_of_printable_ascii() -> None:
    sent: list[str] = []
    assert copy("443 (https)", sent.append, "Port") == "Copied: Port: 443 (https)"
    for bad in ("a\nb", "\x1b]52;c;x\x07", " leading", "é", "x" * 301, ""):
        assert copy(bad, sent.append, "Label") == NOT_COPYABLE_VALUE, bad
    assert len(sent) == 1


def test_a_click_cancels_a_pending_quit_or_clear() -> None:
    s = make()
    keys.handle(s, "q")
    tabs.pointer_event(s, ev(5, 5), W, H, 0.0)
    assert not s.quit_pending
    keys.handle(s, "x")
    tabs.pointer_event(s, ev(5, 5, 65), W, H, 0.0)
    assert not s.clear_pending and len(s.table) == 7


def test_wheel_scrolls_the_activity_interface_table_only() -> None:
    s = make()
    keys.handle(s, "3")
    tabs.pointer_event(s, ev(5, 10, 65), W, H, 0.0)
    assert s.activity.scroll == 0  # the process view has nothing to scroll
    keys.handle(s, "i")
    tabs.pointer_event(s, ev(5, 10, 65), W, H, 0.0)
    tabs.pointer_event(s, ev(5, 10, 65), W, H, 0.0)
    assert s.activity.interfaces and s.activity.scroll == 2
