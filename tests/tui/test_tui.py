"""rn-view in a real pseudo-terminal: keys in, screen out, exit status, terminal restored."""

from __future__ import annotations

import base64
import signal
import termios
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.corpus import PCAPS
from tests.tui.harness import PtyView
from tests.tui.records import conn, sample, write_stream

pytestmark = pytest.mark.tui


@pytest.fixture()
def recording(tmp_path: Path) -> str:
    path = str(tmp_path / "session.rn")
    write_stream(
        path, sample() + [conn(100 + i, bytes=10 + i, sni=f"filler{i}.test", app="TLS") for i in range(40)]
    )
    return path


@pytest.fixture()
def views() -> Iterator[list[PtyView]]:
    started: list[PtyView] = []
    yield started
    for v in started:
        v.close()


def start(views: list[PtyView], *args: str, **kw: object) -> PtyView:
    kw.setdefault("cols", 180)  # wide enough for every column with App at full width
    v = PtyView(list(args), **kw)  # type: ignore[arg-type]
    views.append(v)
    return v


def assert_restored(v: PtyView) -> None:
    tail = bytes(v.raw[-200:])
    assert b"\x1b[?1049l" in tail  # left the alternate screen
    assert b"\x1b[?25h" in tail  # cursor shown again
    assert b"\x1b[?1000l" in tail and b"\x1b[?1006l" in tail  # no mouse reports to the shell
    lflag = termios.tcgetattr(v.fd)[3]
    assert lflag & termios.ICANON and lflag & termios.ECHO


def test_filter_navigate_details_copy_help_quit(recording: str, views: list[PtyView]) -> None:
    v = start(views, recording, cols=180, rows=30)
    v.wait_for("github.com")
    v.wait_for("47 conns")
    v.send("/", *"sni:example")
    v.wait_for(lambda s: "/sni:example" in s.splitlines()[-1] and "2 shown" in s)
    first = v.selected_line()
    v.send("down")  # arrows move the selection while typing
    v.wait_for(lambda s: v.selected_line() != first)
    second = v.selected_line()
    assert "api.examp" in second or "quic.examp" in second
    v.send("enter")  # keep the filter
    v.wait_for("filter: sni:example")
    v.send("enter")  # details of the selection
    details = v.wait_for("Remote Address ")
    assert "2 Details" in details and ("api.example.org" in details or "quic.example.net" in details)
    remote = next(line.split()[2] for line in details.splitlines() if line.startswith("Remote Address "))
    v.send("esc")  # clears the filter first (RustNet's order), staying on Details
    v.wait_for(lambda s: "filter: " not in s and "Remote Address " in s)
    v.send("esc")
    v.wait_for(lambda s: "Rx↓/Tx↑" in s)
    v.send("c")
    v.wait_for(f"copied {remote}")
    assert b"\x1b]52;c;" + base64.b64encode(remote.encode()) in v.raw
    v.send("h")
    v.wait_for(lambda s: "Help · Overview" in s and "previous row (wraps)" in s)
    v.send("G")  # the help scrolls
    v.wait_for(lambda s: "Privileges" in s and "viewer" in s)
    v.send("q")
    v.wait_for("Press 'q' again to quit or any other key to cancel")
    v.send("q")
    assert v.wait_exit() == 0
    assert_restored(v)


def test_records_on_stdin_keys_from_the_terminal(tmp_path: Path, views: list[PtyView]) -> None:
    path = str(tmp_path / "s.rn")
    write_stream(path, sample())
    v = start(views, stdin_data=Path(path).read_bytes())
    v.wait_for("github.com")
    v.wait_for("end of input")
    v.send("/", *"redis")
    v.wait_for(lambda s: "redis-cli" in s and "github.com" not in s)
    v.send("esc")
    v.wait_for("github.com")
    v.send("q", "q")
    assert v.wait_exit() == 0
    assert_restored(v)


def test_hostile_host_and_sni_are_shown_escaped(tmp_path: Path, views: list[PtyView]) -> None:
    path = str(tmp_path / "evil.rn")
    # Distinct markers (X, EVIL) after each sequence: blessed's own start-up queries use some of them.
    evil_host = "evil\x1b]0;pwned\x07\x1b[6nX\x1b[2J.example"
    evil_sni = "\u202etxt.exe\x9b1;1H\x1bP+qEVIL\x1b\\"
    write_stream(
        path,
        [
            conn(1, app="HTTP", http_host=evil_host, bytes=100),
            conn(2, app="TLS", sni=evil_sni, bytes=50, process="\x1b[31mred"),
        ],
    )
    v = start(views, path, cols=240, rows=30)  # App wide enough beside the System panel
    screen = v.wait_for("evil\\x1b]0;pwned")
    assert "\\u202etxt.exe\\x9b1;1H" in screen and "\\x1b[31mred" in screen
    v.send("enter")
    v.wait_for("evil\\x1b]0;pwned\\x07\\x1b[6nX\\x1b[2J.example")
    v.send("esc", "j", "enter")
    v.wait_for("\\u202etxt.exe\\x9b1;1H\\x1bP+qEVIL\\x1b\\")  # a backslash stays one (one rule)
    v.send("q", "q")
    assert v.wait_exit() == 0
    raw = bytes(v.raw)
    for bad in (
        b"\x1b]0;pwned",
        b"\x1b[6nX",
        b"\x1b[2J",
        "\u202e".encode(),
        "\x9b".encode(),
        b"\x1bP+qEVIL",
        b"\x1b[31mred",
    ):
        assert bad not in raw, bad
    assert v.screen.title == ""


def test_copy_of_a_hostile_remote_sends_nothing(tmp_path: Path, views: list[PtyView]) -> None:
    path = str(tmp_path / "evil.rn")
    write_stream(
        path,
        [
            conn(1, dst="10.0.0.2\n; touch /tmp/x\n\x1b]0;pwned\x07", bytes=100),
            conn(2, dst="192.0.2.77", dport=8443, bytes=50),
        ],
    )
    v = start(views, path, cols=180, rows=30)
    v.wait_for("192.0.2.77")
    v.send("c")
    v.wait_for("not copied: the remote end is not a valid address or host name")
    assert b"\x1b]52" not in v.raw
    v.send("j", "c")  # a real address still copies
    v.wait_for("copied 192.0.2.77:8443")
    assert b"\x1b]52;c;" + base64.b64encode(b"192.0.2.77:8443") in v.raw
    assert v.raw.count(b"\x1b]52") == 1
    v.send("q", "q")
    assert v.wait_exit() == 0


def test_ctrl_c_quits_at_once_and_restores(recording: str, views: list[PtyView]) -> None:
    v = start(views, recording)
    v.wait_for("github.com")
    v.send("ctrl-c")
    assert v.wait_exit() == 130
    assert_restored(v)


def test_sigterm_restores_the_terminal(recording: str, views: list[PtyView]) -> None:
    import os

    v = start(views, recording)
    v.wait_for("github.com")
    os.kill(v.pid, signal.SIGTERM)
    assert v.wait_exit() == 143
    assert_restored(v)


def test_tiny_terminal_and_resize(recording: str, views: list[PtyView]) -> None:
    v = start(views, recording, cols=40, rows=10)
    v.wait_for(lambda s: "Remote" in s and "github" not in s.splitlines()[0])
    assert all(len(line) <= 40 for line in v.text().splitlines())
    v.resize(130, 24)
    v.wait_for(lambda s: "Rx↓/Tx↑" in s and "Total" in s)
    v.send("q", "q")
    assert v.wait_exit() == 0


def test_no_color(recording: str, views: list[PtyView]) -> None:
    v = start(views, recording, env={"NO_COLOR": "1"})
    v.wait_for("github.com")
    v.send("q", "q")
    assert v.wait_exit() == 0
    raw = bytes(v.raw)
    for sgr in (b"\x1b[32m", b"\x1b[31m", b"\x1b[33m", b"\x1b[36m", b"\x1b[30m"):
        assert sgr not in raw
    assert b"\x1b[7m" in raw  # the selection is still visible (reverse video)


def test_capture_file_through_the_pipeline(views: list[PtyView]) -> None:
    pcap = PCAPS / "dpkt_http.pcap"
    if not pcap.exists():
        pytest.skip("corpus not present")
    v = start(views, "--read", str(pcap), cols=240, rows=20)  # App wide enough beside the System panel
    v.wait_for("www.ethereal.com")
    v.wait_for("end of input")
    v.send("q", "q")
    assert v.wait_exit() == 0
