"""The Graph tab in a real pty: rn-view replays a recording with known numbers (see
tests/tui/graph_records.py for how each figure is worked out) and the screen shows them."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tui.graph_records import graph_records
from tests.tui.harness import PtyView
from tests.tui.records import write_stream

pytestmark = pytest.mark.tui
DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture()
def view(tmp_path: Path) -> Iterator[PtyView]:
    path = str(tmp_path / "graph.rn")
    write_stream(path, graph_records())
    v = PtyView([path], cols=140, rows=40)
    yield v
    v.close()


def row_of(screen_text: str, needle: str) -> str:
    return next(line for line in screen_text.splitlines() if needle in line)


def test_graph_tab_shows_the_recorded_figures(view: PtyView) -> None:
    view.wait_for("13 conns")
    view.send("4")
    text = view.wait_for("↑ TX  190.00 KB/s ↗")
    time.sleep(1.3)  # the charts' ceilings ease up over 1.2 s: let them arrive, then redraw
    view.send("4")
    # A frame arrives in pieces: wait until its last panel is on screen too.
    text = view.wait_for(
        lambda s: "avg: 55.0ms / 0.34%" in s and "a-very-long-proce..." in s and "│Other " in s
    )
    assert "↓ RX  2.00 MB/s →  peak 2.00 MB/s" in text
    assert "peak 190.00 KB/s" in text
    assert "13 active  7 retained" in text
    assert "OPENED 2.0/s" in text and "CLOSED 0.7/s" in text
    assert "90.0ms" in row_of(text, "RTT ") and "0.20%" in row_of(text, "Loss")
    assert row_of(text, "Retransmits").split("│")[3].split() == ["Retransmits", "20"]
    states = {w: row_of(text, w + " ").split(w)[1].split("│")[0].split()[-1] for w in ("ESTAB", "SYN_SENT")}
    assert states == {"ESTAB": "8", "SYN_SENT": "1"}
    assert row_of(text, "│HTTPS ").split("│")[1].rstrip().endswith("38.5%")
    assert row_of(text, "firefox").split("│")[-2].split() == ["firefox", "3.00", "MB/s"]
    # The RX chart: full braille cells at the right edge of its rows.
    rx_row = text.splitlines()[text.splitlines().index(row_of(text, "↓ RX")) + 1]
    assert rx_row.split("│")[1].rstrip().endswith("\u28ff" * 10)
    # Tab switching away and back keeps it; Esc goes back to the overview.
    view.send("esc")
    view.wait_for(lambda s: "↓ RX" not in s)
    view.send("4")
    view.wait_for("↓ RX  2.00 MB/s")


@pytest.mark.parametrize(
    ("capture", "nonzero"),
    [
        ("corpus/pcaps/ndpi_android.pcap", ("Retransmits", "Out of Order")),
        ("made/rtt.pcap", ("Retransmits", "Fast Retrans")),
    ],
)
def test_tcp_counters_of_a_capture_are_the_sums_over_its_connections(
    capture: str, nonzero: tuple[str, ...]
) -> None:
    """A capture through the whole pipeline: the Graph's lifetime TCP counters are the sums of
    the counters its connections end with (their last records, as --json prints them)."""
    from tests.tui.test_rustnet_tui import RUSTNET, Terminal

    path = str(DATA / capture)
    out = subprocess.run([RUSTNET, "--read", path, "--json"], capture_output=True, text=True, check=True)
    last: dict[object, dict[str, object]] = {}
    for line in out.stdout.splitlines():
        rec = json.loads(line)
        if rec.get("t", "conn") == "conn":
            last[rec["id"]] = rec
    want = {label: f"{sum(int(r.get(k) or 0) for r in last.values()):,}" for label, k in COUNTERS.items()}
    assert all(want[k] != "0" for k in nonzero), want  # what the capture is chosen for
    t = Terminal([RUSTNET, "--read", path], cols=140, rows=40)
    try:
        t.wait_for("Overview")
        t.send(b"4")
        shown: dict[str, str] = {}
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and shown != want:
            t.pump(0.1)
            if all(k in t.text for k in COUNTERS):  # the Graph (the System panel says Fast Retrans too)
                shown = {k: row_of(t.text, k).split(k, 1)[1].split("│", 1)[0].strip() for k in COUNTERS}
        assert shown == want, t.text
    finally:
        t.close()


COUNTERS = {"Retransmits": "retransmits", "Out of Order": "out_of_order", "Fast Retrans": "fast_retransmits"}
