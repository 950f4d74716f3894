"""``rustnet --read`` shows a file whole, in a real pseudo-terminal (screen read back with pyte).

* A merged capture (ndpi_ssh.pcap: packets of 2011, then of 2024) lists its connection of 2011,
  ended 13 years of stream time before the file does, without a key press.
* An ended connection shows no rate at the end of the file (dpkt_http.pcap's CLOSED row).
* A capture cut mid-record shows what came before the cut, the one-line warning in the status
  bar, stays until quit, then exits 3 with that line.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.corpus import PCAPS
from tests.tui.test_rustnet_tui import RUSTNET, Terminal

pytestmark = pytest.mark.tui


@pytest.fixture
def screens() -> Iterator[list[Terminal]]:
    made: list[Terminal] = []
    yield made
    for t in made:
        t.close()


def row_of(screen: str, needle: str) -> str:
    rows = [ln for ln in screen.splitlines() if needle in ln]
    assert len(rows) == 1, screen
    return rows[0]


def test_a_merged_capture_lists_what_ended_years_before_its_end(screens: list[Terminal]) -> None:
    t = Terminal([RUSTNET, "--read", str(PCAPS / "ndpi_ssh.pcap")])
    screens.append(t)
    screen = t.wait_for("end of input")
    # The largest flow (tshark: 258 frames, 35 kB), ended in 2011, grey as closed but listed
    # (State "closed" and rates "n/a", as RustNet shows history).
    row = row_of(screen, "172.16.238.168:22")
    assert "closed" in row and "n/a" in row and "35K" in row
    assert "127.0.0.1:8000" in screen
    assert "1 closed shown" in screen
    t.send(b"qq")
    assert t.finish() == 0


def test_an_ended_connection_shows_no_rate_at_the_end_of_the_file(screens: list[Terminal]) -> None:
    t = Terminal([RUSTNET, "--read", str(PCAPS / "dpkt_http.pcap")])
    screens.append(t)
    screen = t.wait_for("end of input")
    row = row_of(screen, "www.ethereal.")  # (App is cut to its width)
    assert "CLOSED" in row and " -/- " in row, row
    t.send(b"qq")
    assert t.finish() == 0


def test_a_cut_capture_shows_the_good_part_and_the_warning_then_exits_3(
    screens: list[Terminal], tmp_path: Path
) -> None:
    cut = tmp_path / "cut.pcap"
    shutil.copyfile(PCAPS / "derived_zeek_http_get_cut-mid-record.pcap", cut)
    t = Terminal([RUSTNET, "--read", str(cut)], cols=320)
    screens.append(t)
    screen = t.wait_for("end of input")
    assert "192.150.187.43:80" in screen and "bro.org" in screen  # its 13 good packets
    bar = row_of(screen, "damaged capture file")
    assert f"{cut}: damaged capture file after 13 packets: truncated dump file" in bar
    assert t.proc.poll() is None  # stays until quit
    t.send(b"qq")
    assert t.finish() == 3
    after = t.raw.rsplit(b"\x1b[?1049l", 1)[1].decode(errors="replace")
    lines = [ln for ln in after.splitlines() if ln.strip() and "without capabilities" not in ln]
    assert lines[-1].endswith(
        f"rustnet: {cut}: damaged capture file after 13 packets: "
        "truncated dump file; tried to read 66 captured bytes, only got 33"
    ), lines


def test_rn_view_shows_a_file_whole_and_a_live_stream_by_the_60_s_rule(tmp_path: Path) -> None:
    from tests.tui.harness import PtyView
    from tests.tui.records import conn, header, write_stream

    v = PtyView([str(PCAPS / "ndpi_ssh.pcap")], cols=140)
    try:
        screen = v.wait_for("end of input", timeout=20)
        assert "172.16.238.168:22" in screen and "1 closed shown" in screen
        v.send("q", "q")
        assert v.wait_exit() == 0
    finally:
        v.close()
    # The same two connections from a live stream on stdin: the one that ended 13 years of stream
    # time earlier has left the history.
    live = {**header(), "live": True}
    recs = [
        live,
        conn(1, dst="172.16.238.168", dport=22, last_seen=1320435464.0),
        conn(
            1,
            dst="172.16.238.168",
            dport=22,
            state="TIME_WAIT",
            last_seen=1320435713.0,
            final=True,
            end="timeout",
        ),
        conn(2, dst="127.0.0.1", dport=8000, last_seen=1720684522.0),
    ]
    write_stream(str(tmp_path / "live.rn"), recs)
    data = (tmp_path / "live.rn").read_bytes()
    v = PtyView([], cols=140, stdin_data=data)
    try:
        screen = v.wait_for("end of input", timeout=20)
        assert "127.0.0.1:8000" in screen and "172.16.238.168" not in screen
        v.send("t")
        assert "172.16.238.168" not in v.wait_for("showing closed", timeout=5)
    finally:
        v.close()
