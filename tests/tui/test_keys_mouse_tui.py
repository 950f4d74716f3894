"""Tabs, the help overlay, RustNet's keys and the mouse, in a real pty: key bytes and SGR mouse
reports in, the screen (pyte) out."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tui.harness import PtyView
from tests.tui.records import conn, sample, write_stream

pytestmark = pytest.mark.tui

COLS, ROWS = 180, 30


@pytest.fixture()
def view(tmp_path: Path) -> Iterator[PtyView]:
    path = str(tmp_path / "session.rn")
    write_stream(
        path, sample() + [conn(100 + i, bytes=10 + i, sni=f"filler{i}.test", app="TLS") for i in range(40)]
    )
    v = PtyView([path], cols=COLS, rows=ROWS)
    try:
        v.wait_for("github.com")
        v.wait_for("end of input")
        yield v
    finally:
        v.close()


def press(x: int, y: int, button: int = 0) -> bytes:
    """An SGR mouse press at 0-based cell (x, y)."""
    return f"\x1b[<{button};{x + 1};{y + 1}M".encode()


def click(x: int, y: int) -> bytes:
    return press(x, y) + f"\x1b[<0;{x + 1};{y + 1}m".encode()


def shown_tab(v: PtyView) -> str:
    """The tab whose title has the accent line under it."""
    bar, accent = v.screen.display[0], v.screen.display[1]
    for name in ("1 Overview", "2 Details", "3 Activity", "4 Graph"):
        x = bar.find(name)
        if x >= 0 and accent[x] == "━":
            return name.split()[1]
    return ""


def wait_tab(v: PtyView, name: str) -> str:
    return v.wait_for(lambda s: shown_tab(v) == name)


def test_tabs_by_number_tab_and_brackets_and_the_help_overlay(view: PtyView) -> None:
    v = view
    assert shown_tab(v) == "Overview"
    for key, tab in (
        ("3", "Activity"),
        ("]", "Graph"),
        ("]", "Overview"),
        ("[", "Graph"),
        ("tab", "Overview"),
    ):
        v.send(key)
        wait_tab(v, tab)
    v.send("btab")
    wait_tab(v, "Graph")
    v.send("2")
    wait_tab(v, "Details")
    v.send("h")
    v.wait_for(lambda s: "Help · Details" in s and "scroll the details down 5 lines" in s)
    assert "sort by the next column" not in v.text()  # the Details' keys, not the Overview's
    v.send("1")  # switching tabs keeps the help open, now for the Overview
    v.wait_for(lambda s: "Help · Overview" in s and "sort by the next column" in s)
    v.send("G")  # the help scrolls to its end
    v.wait_for(lambda s: "Privileges" in s and "viewer" in s and "Help · Overview" in s)
    v.send("s")  # swallowed by the help
    v.send("esc")
    v.wait_for(lambda s: "Help ·" not in s)
    assert "Total ▼" in v.text()  # the s did not sort
    v.send("p")
    v.wait_for(lambda s: " Port " in s.splitlines()[2] and "Service" not in s.splitlines()[2])
    v.send("q")
    v.wait_for("Press 'q' again to quit or any other key to cancel")
    v.send("j")
    v.wait_for(lambda s: "Press 'q'" not in s)
    v.send("q", "q")
    assert v.wait_exit() == 0


def test_x_twice_clears_every_connection(view: PtyView) -> None:
    v = view
    v.wait_for("47 conns")
    v.send("x")
    v.wait_for("Press 'x' again to clear all connections or any other key to cancel")
    v.send("k")  # cancels
    v.wait_for(lambda s: "Press 'x'" not in s)
    assert "47 conns" in v.text()
    v.send("x", "x")
    v.wait_for(lambda s: "All connections cleared" in s and " 0 conns" in s)
    assert "github.com" not in v.text()
    v.send("q", "q")
    assert v.wait_exit() == 0


def test_mouse_tabs_rows_double_click_wheel_copy_and_help(view: PtyView) -> None:
    v = view
    assert b"\x1b[?1000h" in v.raw and b"\x1b[?1006h" in v.raw  # reporting asked for
    bar = v.screen.display[0]
    v.send(click(bar.index("4 Graph") + 2, 0))
    wait_tab(v, "Graph")
    v.send(click(bar.index("1 Overview") + 2, 0))
    wait_tab(v, "Overview")
    # A click selects the row under it (row 3 is the first connection).
    target = v.screen.display[6]
    v.send(click(10, 6))
    v.wait_for(lambda s: v.selected_line() == target)
    assert shown_tab(v) == "Overview"  # the report's "[" and "<" were not taken as keys
    v.send(press(10, 6, 65))  # wheel down: the next row
    v.wait_for(lambda s: v.selected_line() == v.screen.display[7] and v.selected_line() != target)
    v.send(press(10, 6, 64), press(10, 6, 64))  # wheel up twice
    v.wait_for(lambda s: v.selected_line() == v.screen.display[5])
    # Two clicks on one row within 400 ms: its Details.
    v.send(click(10, 4), pause=0.01)
    v.send(click(10, 4))
    wait_tab(v, "Details")
    screen = v.wait_for("Remote Address ")
    y = next(i for i, line in enumerate(screen.splitlines()) if line.startswith("Remote Address "))
    found = re.match(r"Remote Address +(\S.*?)(?:  |$)", screen.splitlines()[y])
    assert found
    value = found.group(1)
    v.send(click(30, y))
    v.wait_for(f"Copied: Remote Address: {value}")
    assert b"\x1b]52;c;" + base64.b64encode(value.encode()) in v.raw
    # Slow clicks are two single clicks: the Overview stays.
    v.send("1")
    wait_tab(v, "Overview")
    v.send(click(10, 5))
    time.sleep(0.5)
    v.send(click(10, 5))
    time.sleep(0.2)
    v.pump(0.1)
    assert shown_tab(v) == "Overview"
    v.send("h")
    v.wait_for("Help · Overview")
    v.send(click(1, 20))  # any click closes the help
    v.wait_for(lambda s: "Help ·" not in s)
    v.send("q", "q")
    assert v.wait_exit() == 0
    assert b"\x1b[?1000l" in bytes(v.raw[-300:])  # reporting off again before the shell is back


def test_control_keys_space_l_and_r_from_the_terminal(view: PtyView) -> None:
    v = view
    v.send("\x06")  # Ctrl+F: a page down
    v.wait_for(lambda s: v.selected_line() != "" and v.selected_line() != v.screen.display[3])
    y = next(y for y in range(ROWS) if v.screen.display[y] == v.selected_line())
    assert y > 10  # a page (the visible rows) further down
    v.send("\x02")  # Ctrl+B: back up
    v.wait_for(lambda s: v.selected_line() == v.screen.display[3])
    v.send("a")
    v.wait_for(lambda s: "▾ firefox" in s)
    v.send(" ")  # Space folds the selected group
    v.wait_for(lambda s: "▸ firefox" in s)
    v.send("l")
    v.wait_for(lambda s: "▾ firefox" in s)
    v.send(b"\x1b[D")  # ← folds it
    v.wait_for(lambda s: "▸ firefox" in s)
    v.send("r")  # reset: grouping off
    v.wait_for(lambda s: "firefox" in s and "▸" not in s and "▾" not in s)
    v.send("2")
    v.wait_for(lambda s: any(line.startswith("Protocol ") for line in s.splitlines()))
    v.send("\x04")  # Ctrl+D scrolls the details 5 lines: the cards' first rows go
    v.wait_for(lambda s: not any(line.startswith("Protocol ") for line in s.splitlines()))
    v.send("\x15")  # Ctrl+U back
    v.wait_for(lambda s: any(line.startswith("Protocol ") for line in s.splitlines()))
    v.send("q", "q")
    assert v.wait_exit() == 0


def test_mouse_and_keys_come_from_the_terminal_when_records_come_on_stdin(tmp_path: Path) -> None:
    path = tmp_path / "s.rn"
    write_stream(str(path), sample())
    v = PtyView([], cols=COLS, rows=ROWS, stdin_data=path.read_bytes())
    try:
        v.wait_for("end of input")
        v.send(click(v.screen.display[0].index("4 Graph") + 2, 0))
        wait_tab(v, "Graph")
        v.send("1")
        wait_tab(v, "Overview")
        v.send("q", "q")
        assert v.wait_exit() == 0
    finally:
        v.close()
