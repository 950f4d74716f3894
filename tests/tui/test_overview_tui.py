"""The Overview (columns, RTT, row colours, the System panel) and Details' cards in a real
terminal, from a recording of a live session built here: header with privileges and rn-enrich's
attribution, interface counters, connections at every stage of their idle timeout."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rustnet.stream import RecordWriter

from tests.tui.harness import PtyView
from tests.tui.records import T0, conn, header

pytestmark = pytest.mark.tui

NOW = T0 + 600.0
PRIVS = [
    {"stage": "rn-capture", "user": "nobody", "uid": 65534, "caps": [], "nnp": True},
    {"stage": "rn-enrich", "user": "root", "uid": 0, "caps": ["cap_sys_ptrace"], "nnp": False},
]


def iface(rx: int, tx: int, errors: int = 0) -> dict[str, Any]:
    counters = ("rx_packets", "tx_packets", "tx_errors", "rx_dropped", "tx_dropped", "collisions")
    return {
        "name": "eth-test",
        "rx_bytes": rx,
        "tx_bytes": tx,
        "rx_errors": errors,
        **dict.fromkeys(counters, 0),
    }


def recording() -> list[dict[str, Any]]:
    hdr = dict(header(), live=True, linktype=1, privs=PRIVS, attribution="sock_diag + procfs")
    recs: list[dict[str, Any]] = [hdr]
    for i in range(12):  # 6 s of interface counters, 1 MB/s in
        recs.append(
            {
                "t": "ifstats",
                "ts": NOW - 6 + i * 0.5,
                "captured": "eth-test",
                "ifaces": [iface(i * 512_000, i * 4096, i // 6)],
            }
        )
    recs += [
        conn(
            1,
            app="TLS",
            sni="github.com",
            process="firefox",
            pid=4242,
            rtt_ms=12.3,
            retransmits=5,
            rate_dst=300_000.0,
            bytes=9_000_000,
            first_seen=NOW - 30,
            last_seen=NOW,
            alpn=["h2"],
        ),
        conn(
            2,
            app="TLS",
            sni="api.example.org",
            process="curl",
            pid=77,
            rtt_ms=234.0,
            bytes=5000,
            first_seen=NOW - 250,
            last_seen=NOW - 240,
        ),  # 240 s of 300 quiet: yellow
        conn(
            3,
            app="HTTP",
            http_host="old.example",
            process="wget",
            pid=88,
            bytes=4000,
            first_seen=NOW - 400,
            last_seen=NOW - 300,
            final=True,
            end="timeout",
        ),  # history: grey
    ]
    return recs


@pytest.fixture()
def view(tmp_path: Path) -> Iterator[PtyView]:
    path = tmp_path / "session.rn"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        w = RecordWriter(fd, "msgpack")
        w.write_many(recording())
        w.close()
    finally:
        os.close(fd)
    v = PtyView(
        [str(path), "--sort", "process"], cols=180, rows=70
    )  # tall enough for the cards and the traffic
    yield v
    v.close()


def line_with(v: PtyView, needle: str) -> int:
    return next(y for y, line in enumerate(v.screen.display) if needle in line)


def test_overview_columns_colours_and_system_panel(view: PtyView) -> None:
    v = view
    v.wait_for("end of input")
    head = v.screen.display[2]
    # Sorted by process (--sort), so Total gives way first; the table is 180 - 35 cells.
    assert re.match(r"Process ▲ +Remote +Local +Service +App +State +RTT +Rx↓/Tx↑ +Total│Statistics", head), (
        head
    )
    panel = [line[180 - 34 :].rstrip() for line in v.screen.display]
    for want in (
        "Interface: eth-test",
        "Link Layer: Ethernet",
        "Detection: sock_diag + procfs",
        "TCP Connections: 2",
        "Historic: 1",
        "TCP Retransmits: 5 / 5",
        "capture: nobody, no capabilities",
        "enrich: root, cap_sys_ptrace",
        "eth-test: Err: 1  Drop: 0",
    ):
        assert want in panel, (want, v.text())
    rx = next(y for y, line in enumerate(panel) if line.startswith("RX "))
    assert re.search("[\u2801-\u28ff]", panel[rx]) and v.screen.buffer[rx][180 - 30].fg == "green"
    assert panel[rx + 2].startswith("↓1000K/s")
    # firefox: its RTT green; curl quiet for 80 % of its timeout: the whole row yellow; wget gone: grey.
    y = line_with(v, "firefox (4242)")
    assert v.screen.buffer[y][v.screen.display[y].index("12ms")].fg == "green"
    v.send("j")  # the selection (reversed) moves off curl
    v.wait_for(lambda s: "firefox" in v.selected_line())
    y = line_with(v, "curl (77)")
    assert "234ms" in v.screen.display[y] and v.screen.buffer[y][0].fg == "brown"  # ANSI yellow
    y = line_with(v, "wget (88)")
    assert "closed" in v.screen.display[y] and "n/a" in v.screen.display[y]
    assert v.screen.buffer[y][0].fg == "brightblack"
    v.send("i")  # the panel goes, the table takes its columns back
    v.wait_for(lambda s: "Statistics" not in s and "Local" in s.splitlines()[2])
    v.send("q", "q")
    assert v.wait_exit() == 0


def test_details_cards_and_chart(view: PtyView) -> None:
    v = view
    v.wait_for("end of input")
    v.send("j")  # curl -> firefox (sorted by process: curl, firefox, wget)
    v.wait_for(lambda s: "firefox" in v.selected_line())
    v.send("enter")
    s = v.wait_for(lambda s: "Application: TLS" in s and "↓ RX" in s and "Statistics" not in s)  # whole
    for label, value in (
        ("Protocol", "TCP"),
        ("Remote Address", "192.0.2.10:443"),
        ("Process", "firefox"),
        ("SNI", "github.com"),
        ("ALPN", "h2"),
        ("RTT", "12.3ms"),
        ("TCP Retransmits", "5"),
    ):
        assert re.search(rf"(?m)(^|  ){re.escape(label)} +{re.escape(value)}(  |$)", s), (label, s)
    assert "final" not in s and "True" not in s and "['" not in s and "hostname_dst" not in s
    assert "↓ RX 292.97 KB/s" in s and "Total " in s
    v.send("q", "q")
    assert v.wait_exit() == 0
