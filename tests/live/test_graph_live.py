"""The Graph tab of a live ``rustnet`` in a test namespace: real traffic draws the traffic chart.

rustnet runs on host a's interface under a real pty; host a pings host b with 1000-byte
payloads five times a second (about 5 KB/s each way on the wire) and keeps a TCP connection
to b sending 2 KB every 200 ms. The Graph must show a receive and a send rate other than
``-``, braille dots in the traffic chart, the connection among the TCP states, its
handshake's round trip in the RTT gauge and a peak of connections opened.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator

import pytest

from tests.netns import TwoHosts, can_make_namespaces
from tests.tui.test_rustnet_tui import RUSTNET, Terminal

pytestmark = [
    pytest.mark.live,
    pytest.mark.tui,
    pytest.mark.skipif(not can_make_namespaces(), reason="needs root and ip netns"),
]


@pytest.fixture
def net() -> Iterator[TwoHosts]:
    with TwoHosts() as hosts:
        yield hosts


def traffic_panel(text: str) -> list[str]:
    """The inside of the Traffic Over Time panel, one string per screen line."""
    lines = text.splitlines()
    top = next(i for i, line in enumerate(lines) if "Traffic Over Time" in line)
    out = []
    for line in lines[top + 1 :]:
        if line.startswith("└"):
            break
        out.append(line.split("│")[1])
    return out


def braille_cells(rows: list[str]) -> int:
    return sum(1 for row in rows for ch in row if 0x2801 <= ord(ch) <= 0x28FF)


def test_live_traffic_draws_the_graph(net: TwoHosts) -> None:
    net.spawn("b", [sys.executable, "-c", _HOLD_SERVER, net.addr_b])
    net.wait_port("b", PORT)
    t = Terminal(net.cmd("a", [RUSTNET, "-i", net.iface("a")]), cols=140, rows=40)
    try:
        t.wait_for("Overview")
        t.send(b"4")
        t.wait_for("Traffic Over Time")
        net.spawn("a", ["ping", "-q", "-i", "0.2", "-s", "1000", "-c", "100", net.addr_b])
        net.spawn("a", [sys.executable, "-c", _TICK_CLIENT, net.addr_b])
        deadline = time.monotonic() + 20
        rows: list[str] = []
        while time.monotonic() < deadline:
            t.pump(0.2)
            try:
                rows = traffic_panel(t.text)
            except StopIteration:
                continue
            if (
                braille_cells(rows) >= 4
                and rate_shown(rows, "↓ RX")
                and rate_shown(rows, "↑ TX")
                and "ESTAB " in t.text
                and rtt_shown(t.text)
            ):
                break
        text = t.text
        assert "Waiting for traffic data" not in text, text
        assert braille_cells(rows) >= 4, text
        assert rate_shown(rows, "↓ RX") and rate_shown(rows, "↑ TX"), text
        assert "ESTAB " in text, text  # the client's connection, among the TCP states
        assert rtt_shown(text), text  # its handshake's round trip, in the RTT gauge
        opened = next(line for line in text.splitlines() if "OPENED" in line)
        assert "peak 0.0/s" not in opened, opened  # the connection and the pings opened
    finally:
        t.close()


def rate_shown(rows: list[str], label: str) -> bool:
    """The header of ``label`` shows a current rate (``-`` means none)."""
    header = next((r for r in rows if label in r), "")
    now = header.split(label, 1)[-1].split("peak", 1)[0]
    return "B/s" in now


def rtt_shown(text: str) -> bool:
    """The RTT gauge shows a value in ms (``--`` means no sample)."""
    row = next((line for line in text.splitlines() if "│RTT " in line), "")
    return row.split("│")[1].rstrip().endswith("ms") if row else False


PORT = 9000
# A server that accepts one connection and keeps it open, reading what comes.
_HOLD_SERVER = f"""
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], {PORT}))
s.listen()
c, _ = s.accept()
while c.recv(65536):
    pass
"""
# A client that sends 2 KB every 200 ms for 30 s on one connection.
_TICK_CLIENT = f"""
import socket, sys, time
c = socket.create_connection((sys.argv[1], {PORT}))
for _ in range(150):
    c.sendall(b"x" * 2048)
    time.sleep(0.2)
"""
