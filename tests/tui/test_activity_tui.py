"""The Activity tab in a real pseudo-terminal, from a recorded stream whose numbers are chosen here
(tests/tui/activity_records.py), and from a capture file checked against tshark's byte counts.

Every figure asserted is worked out by hand in the comments from what the stream carries.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.corpus import PCAPS, TRUTH
from tests.tui.activity_records import activity_stream, counters
from tests.tui.harness import PtyView
from tests.tui.records import T0, write_stream

pytestmark = pytest.mark.tui
ACTIVITY_KEY = "3"  # the key of the Activity tab


@pytest.fixture()
def views() -> Iterator[list[PtyView]]:
    started: list[PtyView] = []
    yield started
    for v in started:
        v.close()


def start(views: list[PtyView], *args: str, cols: int = 150, rows: int = 44) -> PtyView:
    v = PtyView(list(args), cols=cols, rows=rows)
    views.append(v)
    return v


def line_of(screen: str, needle: str) -> str:
    found = [ln for ln in screen.splitlines() if needle in ln]
    assert len(found) == 1, screen
    return found[0]


def table_part(screen: str) -> str:
    """The Top Processes table of an Activity screen (between its title and the share bars)."""
    rows = screen.splitlines()
    start = rows.index(line_of(screen, "Top Processes"))
    end = next((i for i, r in enumerate(rows) if "Share (60s)" in r), len(rows))
    return "\n".join(rows[start:end])


def whole(*needles: str) -> Callable[[str], bool]:
    """A drawn frame that shows every one of ``needles``."""
    return lambda s: all(n in s for n in needles) and "h help" in s.splitlines()[-1]


def settled(v: PtyView, pred: Callable[[str], bool]) -> str:
    """The screen once ``pred`` holds and the program has written nothing more for 0.2 s (a frame
    arrives in pieces: its first lines can match while the rest are still the previous frame's)."""
    while True:
        v.wait_for(pred)
        size = len(v.raw)
        v.pump(0.2)
        if len(v.raw) == size and pred(v.text()):
            return v.text()


def cells(line: str) -> list[str]:
    """The cells of a table line (columns are separated by runs of spaces)."""
    return [c.strip() for c in line.split("  ") if c.strip()]


@pytest.fixture()
def recording(tmp_path: Path) -> str:
    path = str(tmp_path / "activity.rn")
    write_stream(path, activity_stream())
    return path


def test_the_ranking_shows_what_the_stream_carried(recording: str, views: list[PtyView]) -> None:
    v = start(views, recording)
    v.wait_for("end of input")
    v.send(ACTIVITY_KEY)
    screen = settled(v, whole("Top Processes: Egress (TX)", "Interface Pulse: TX", "↑98K ↓195K"))
    # Captured TX over 60 s: 300,000 + 200,000 + 1,000 bytes = 489.26 KB; eth0 sent 20 x 50,000
    # bytes between its first and last sample = 976.56 KB; 501,000 / 1,000,000 = 50%.
    assert "TX now 34.18 KB/s   60s captured 489.26 KB / eth0 976.56 KB   50% observed" in screen
    # RX: 3,003,000 captured against 2,000,000 counted: capped at 100%.
    assert "RX now 283.20 KB/s   60s captured 2.86 MB / eth0 1.91 MB   100% observed" in screen
    # Unknown: 1,000 of 501,000 bytes sent; 3,000 of 3,003,000 received (99.9%: not yet all).
    assert "process attribution TX 99%  unknown 1000 B   RX 99%  unknown 2.93 KB" in screen
    part = table_part(screen)
    rows = part.splitlines()
    curl, firefox, unknown = (
        rows.index(line_of(part, n)) for n in ("curl (4242)", "firefox (777)", "Unknown  ")
    )
    assert curl < firefox < unknown  # retained TX: 300,000 > 200,000 > 1,000
    # rate now 30,000 B/s; 60 s share 300,000 / 501,000; of eth0's 1,000,000: 30%.
    assert cells(rows[curl]) == [
        "curl (4242)",
        "██████",
        "29.30 KB/s",
        "29.30 KB/s",
        "60%",
        "30%",
        "292.97 KB",
        "292.97 KB",
        "1/1",
        "1",
        "example.org:443",
    ]
    # Two connections, one closed (rate 5,000 B/s from the open one); the top peer by bytes sent
    # is the closed one, known by its HTTP Host.
    assert cells(rows[firefox])[2:] == [
        "4.88 KB/s",
        "4.88 KB/s",
        "40%",
        "20%",
        "195.31 KB",
        "195.31 KB",
        "1/2",
        "2",
        "b.test:80",
    ]
    assert cells(rows[unknown])[-3:] == ["1/1", "1", "203.0.113.5:53"]
    # The share bars and the interface pulse (eth0 busiest: 97.66 KB/s out, 195.31 KB/s in).
    assert "Egress Share (60s)" in screen and "Interface Pulse: TX" in screen
    assert line_of(screen, "↑98K ↓195K").split("│")[1].startswith("eth0")

    v.send("d")  # Ingress
    screen = settled(v, whole("Top Processes: Ingress (RX) · Retained RX ↓", "Interface Pulse: RX"))
    part = table_part(screen)
    rows = part.splitlines()
    firefox_row = line_of(part, "firefox (777)  ")
    assert rows.index(firefox_row) < rows.index(line_of(part, "curl (4242)  "))  # 2.1 MB > 900 KB
    # 200,000 B/s; 2,100,000 of 3,003,000 (70%); of eth0's 2,000,000: over 100%, shown as 100%.
    assert cells(firefox_row)[2:] == [
        "195.31 KB/s",
        "195.31 KB/s",
        "70%",
        "100%",
        "2.00 MB",
        "2.00 MB",
        "1/2",
        "2",
        "a.test:443",
    ]

    v.send("s")
    v.wait_for("60s RX ↓")
    v.send("s", "s", "s", "s", "s")  # Rate, Peak, Connections, Destinations, Process
    part = table_part(settled(v, whole("· Process ↑", "Interface Pulse")))
    rows = part.splitlines()
    order = [rows.index(line_of(part, n)) for n in ("curl (4242)  ", "firefox (777)  ", "Unknown  ")]
    assert order == sorted(order)  # by name
    v.send("S")
    part = table_part(settled(v, whole("· Process ↓", "Interface Pulse")))
    rows = part.splitlines()
    order = [rows.index(line_of(part, n)) for n in ("curl (4242)  ", "firefox (777)  ", "Unknown  ")]
    assert order == sorted(order, reverse=True)
    v.send("s")
    v.wait_for("Retained RX ↓")  # back to the start of the cycle, descending again


def test_columns_drop_by_width(recording: str, views: list[PtyView]) -> None:
    v = start(views, recording, cols=100)
    v.wait_for("end of input")
    v.send(ACTIVITY_KEY)
    screen = settled(v, whole("Top Processes", "Interface Pulse"))
    header = line_of(table_part(screen), "Process  ")
    assert cells(header) == [
        "Process",
        "Pulse",
        "TX now",
        "60s %",
        "Retained",
        "Conns",
        "Remote",
        "Top remote peer",
    ]
    v.resize(80, 44)
    screen = settled(v, lambda s: whole("Top Processes", "Interface Pulse")(s) and "Pulse  " not in s)
    assert cells(line_of(table_part(screen), "Process  ")) == [
        "Process",
        "TX now",
        "60s %",
        "Retained",
        "Conns",
    ]


def test_interface_statistics_lists_the_counters_captured_interface_first(
    recording: str, views: list[PtyView]
) -> None:
    v = start(views, recording)
    v.wait_for("end of input")
    v.send(ACTIVITY_KEY, "i")
    screen = settled(v, whole("Interface Statistics", "wlan0"))
    rows = screen.splitlines()
    head = rows.index(line_of(screen, "Interface  "))
    assert cells(rows[head]) == [
        "Interface",
        "RX Rate",
        "TX Rate",
        "RX Packets",
        "TX Packets",
        "RX Err",
        "TX Err",
        "RX Drop",
        "TX Drop",
        "Collisions",
    ]
    last = counters("eth0", 20)
    # eth0 first (captured), then alphabetically; rates from the last two samples.
    assert cells(rows[head + 1]) == [
        "eth0",
        "195.31 KB/s",
        "97.66 KB/s",
        f"{last['rx_packets']:,}",
        f"{last['tx_packets']:,}",
        "3",
        "1",
        "7",
        "2",
        "5",
    ]
    assert cells(rows[head + 2])[:3] == ["br0", "-", "-"]
    assert cells(rows[head + 3])[:3] == ["lo", "-", "-"]
    assert cells(rows[head + 4])[:3] == ["wlan0", "1.00 KB/s", "-"]
    v.send("h")  # the help of this view: its scrolling keys
    v.wait_for(lambda s: "Help · Interfaces" in s and "scroll the interface table down" in s)
    v.send("h", "i")
    v.wait_for("Top Processes")


def test_the_interface_table_scrolls(tmp_path: Path, views: list[PtyView]) -> None:
    names = ["eth0", *(f"veth{i:02d}" for i in range(60))]
    recs = [
        {
            "t": "ifstats",
            "ts": T0 + step * 0.5,
            "captured": "eth0",
            "ifaces": [{"name": n, "rx_bytes": step * 1024, "tx_bytes": 0} for n in names],
        }
        for step in range(3)
    ]
    path = str(tmp_path / "many.rn")
    write_stream(path, recs)
    v = start(views, path, cols=120, rows=24)
    v.wait_for("end of input")
    v.send(ACTIVITY_KEY, "i")
    screen = v.wait_for("Interface Statistics")

    def first_row(s: str) -> str:
        rows = s.splitlines()
        return cells(rows[rows.index(line_of(s, "Interface  ")) + 1])[0]

    assert first_row(screen) == "eth0"
    v.send("j", "j")
    v.wait_for(lambda s: first_row(s) == "veth01")
    v.send("G")
    screen = v.wait_for("veth59")
    assert "eth0  " not in screen
    v.send("g")
    v.wait_for(lambda s: first_row(s) == "eth0")
    v.send("pgdn")
    v.wait_for(lambda s: first_row(s) == "veth09")


def test_a_capture_file_plots_captured_bytes(views: list[PtyView]) -> None:
    truth = json.loads((TRUTH / "dpkt_http.pcap.json").read_text())
    convs = truth["tcp_conversations"] + truth["udp_conversations"]
    # No process and no local address in a file: the originator's end is the local one.
    sent = sum(c["bytes_a_to_b"] for c in convs)  # 2,323 bytes: 2.27 KB
    received = sum(c["bytes_b_to_a"] for c in convs)  # 22,768 bytes: 22.23 KB
    v = start(views, str(PCAPS / "dpkt_http.pcap"))
    v.wait_for("end of input")
    v.send(ACTIVITY_KEY)
    screen = settled(v, whole("Top Processes", "Interface Pulse"))
    assert f"TX now -   60s captured {sent / 1024:.2f} KB" in screen
    assert f"RX now -   60s captured {received / 1024:.2f} KB" in screen
    assert "TX 60s coverage: no interface counters in this stream" in screen
    row = cells(line_of(table_part(screen), "Unknown  "))
    assert row[-3:] == ["3/3", "3", "www.ethereal.com:80"]
    assert f"{sent / 1024:.2f} KB" in row
    v.send("i")
    v.wait_for("no interface counters in this stream (a capture file has none)")
