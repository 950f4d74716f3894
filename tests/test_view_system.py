"""The System panel beside the Overview: what it says, when it shows, its colours. Expectations
are written out by hand from the records fed in."""

from __future__ import annotations

import re

from rustnet.view import keys
from rustnet.view.model import ConnTable
from rustnet.view.state import ViewState

from tests.test_view_render import draw
from tests.tui.records import T0, conn, header


def iface(name: str, rx: int, tx: int, **counters: int) -> dict:
    base = dict.fromkeys(
        ("rx_packets", "tx_packets", "rx_errors", "tx_errors", "rx_dropped", "tx_dropped", "collisions"), 0
    )
    return {"name": name, "rx_bytes": rx, "tx_bytes": tx, **base, **counters}


def ifstats(ts: float, captured: str, *ifaces: dict) -> dict:
    return {"t": "ifstats", "ts": ts, "captured": captured, "ifaces": list(ifaces)}


PRIVS = [
    {"stage": "rn-capture", "user": "nobody", "uid": 65534, "caps": ["cap_net_raw"], "nnp": True},
    {"stage": "rn-enrich", "user": "root", "uid": 0, "caps": [], "nnp": False},
]


def make(recs: list[dict], **hdr: object) -> ViewState:
    t = ConnTable()
    h = dict(
        header(), live=True, linktype=1, attribution="sock_diag + procfs + fast socket watch", privs=PRIVS
    )
    h.update(hdr)
    t.ingest([h, *recs])
    return ViewState(t)


def panel(screen: object, w: int) -> list[str]:
    return [line[w - 34 :].rstrip() for line in screen.display]  # type: ignore[attr-defined]


RECS = [
    conn(1, process="firefox", pid=1, retransmits=3, out_of_order=1),
    conn(2, process="firefox", pid=1, retransmits=4),
    conn(3, proto="udp", process="systemd-resolved", pid=2, state="UDP_ACTIVE"),
    conn(4, process="gone", final=True, end="timeout", retransmits=100),
    {"t": "stats", "ts": T0 + 1, "received": 1000, "packets": 1000, "dropped": 0},
    {"t": "stats", "ts": T0 + 2, "received": 3000, "packets": 3000, "dropped": 7},
]


def test_the_panel_says_what_the_stream_says() -> None:
    s = make(RECS)
    screen, _ = draw(s, 160, 50)
    p = panel(screen, 160)
    body = "\n".join(p)
    for want in (
        "Statistics",
        "Interface: eth-test",
        "Link Layer: Ethernet",
        "Detection: sock_diag + procfs",
        "   + fast socket watch",
        "TCP Connections: 2",
        "UDP Connections: 1",
        "Processes: 2",  # firefox and systemd-resolved; the closed one is history
        "Total Connections: 3",
        "Historic: 1",
        "Packets Processed: 3,000",
        "Packets/sec: 2,000",
        "Packets Dropped: 7 (kernel)",
        "Network Stats (active / total)",
        "TCP Retransmits: 7 / 107",  # open ones now / every record's growth since the start
        "Out-of-Order: 1 / 1",
        "Fast Retransmits: 0 / 0",
        "Active TCP Flows: 2",
        "Security",
        "capture: nobody, cap_net_raw",
        "enrich: root, no capabilities",
    ):
        assert want in p, (want, body)
    y = p.index("Packets Dropped: 7 (kernel)")
    assert screen.buffer[y][160 - 34].fg == "brown"  # the warn colour (pyte's ANSI yellow)
    y = p.index("enrich: root, no capabilities")
    assert screen.buffer[y][160 - 34].fg == "brown"
    assert all(line[160 - 35] == "│" for line in screen.display[2:-2])


def test_shown_from_90_columns_and_toggled_with_i() -> None:
    s = make(RECS)
    screen, _ = draw(s, 90, 40)
    assert "Statistics" in screen.display[2] and screen.display[2][90 - 35] == "│"
    screen, _ = draw(s, 89, 40)
    assert "Statistics" not in "\n".join(screen.display)
    keys.handle(s, "i")
    screen, _ = draw(s, 160, 40)
    assert "Statistics" not in "\n".join(screen.display)
    keys.handle(s, "i")
    screen, _ = draw(s, 160, 40)
    assert "Statistics" in screen.display[2]


def test_the_table_gives_the_panel_its_columns() -> None:
    # 160 - 35 = 125 cells for the table: Total (the sort), Service and Local give way.
    s = make(RECS)
    screen, _ = draw(s, 160, 30)
    header_line = screen.display[2][:125]
    assert header_line.split()[:4] == ["Process", "Remote", "App", "State"]
    assert "Total ▼" in header_line


def test_traffic_waves_and_interface_errors() -> None:
    recs = [
        ifstats(T0 + 0.0, "eth-test", iface("eth-test", 0, 0), iface("lo", 0, 0)),
        ifstats(T0 + 0.5, "eth-test", iface("eth-test", 512_000, 1024), iface("lo", 9, 9, rx_errors=5)),
        ifstats(
            T0 + 1.0,
            "eth-test",
            iface("eth-test", 1_024_000, 2048, rx_errors=2, tx_dropped=3),
            iface("lo", 9, 9),
        ),
        conn(1),
    ]
    s = make(recs)
    screen, _ = draw(s, 160, 50)
    p = panel(screen, 160)
    assert "Traffic" in p
    rx = next(y for y, line in enumerate(p) if line.startswith("RX "))
    assert re.search("[\u2801-\u28ff]", p[rx]) and re.search("[\u2801-\u28ff]", p[rx + 1])
    assert p[rx + 1].startswith("TX ")
    assert screen.buffer[rx][160 - 31].fg == "green" and screen.buffer[rx + 1][160 - 31].fg == "blue"
    # Two samples of 1,024,000 B/s rx smoothed: the wave's rate line shows the latest average.
    assert p[rx + 2] == "↓1000K/s ↑2K/s"
    # Only the captured interface is listed, its errors red.
    assert p[rx + 3] == "eth-test: Err: 2  Drop: 3" and not any(line.startswith("lo:") for line in p)
    assert screen.buffer[rx + 3][160 - 34].fg == "red"


def test_on_any_every_interface_with_a_problem_is_listed_and_the_rest_counted() -> None:
    names = [f"veth{i}" for i in range(40)]
    first = ifstats(T0, "any", *(iface(n, 0, 0) for n in names))
    second = ifstats(T0 + 0.5, "any", *(iface(n, 10, 10, rx_dropped=1) for n in names))
    s = make([first, second, conn(1)], source="any")
    screen, _ = draw(s, 160, 40)
    p = panel(screen, 160)
    listed = [line for line in p if line.startswith("veth")]
    assert listed and all(line.endswith("Err: 0  Drop: 1") for line in listed)
    more = [line for line in p if line.startswith("... ")]
    assert more == [f"... {40 - len(listed)} more"]


def test_hostile_header_text_stays_escaped() -> None:
    s = make([conn(1)], source="eth\x1b[2J", attribution="x\x1b]0;pwned\x07")
    screen, out = draw(s, 160, 40)
    assert "\x1b[2J" not in out and "\x1b]0;pwned" not in out
    p = panel(screen, 160)
    assert "Interface: eth\\x1b[2J" in p and any(line.startswith("Detection: x\\x1b]0;pwned") for line in p)
