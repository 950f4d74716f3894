"""The Activity tab of a live ``rustnet`` in a test namespace, against what the peers and the
kernel know.

Host b serves 2,000,000 bytes to a Python client on host a; rustnet captures host a's
interface under a real pty. The client's process leads the Ingress ranking with about that
many bytes retained (plus headers); the capture sees all of the interface's traffic, so
coverage is near 100%; and the Interface Statistics show the kernel's packet counters
(``ip -s -j link``) once the link is quiet.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Iterator

import pytest

from tests.netns import TwoHosts, can_make_namespaces
from tests.tui.test_rustnet_tui import RUSTNET, Terminal

pytestmark = [
    pytest.mark.live,
    pytest.mark.tui,
    pytest.mark.skipif(not can_make_namespaces(), reason="needs root and ip netns"),
]

ACTIVITY_KEY = b"3"  # 1-4: Overview, Details, Activity, Graph
PORT = 9100
SIZE = 2_000_000
_SERVER = f"""
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], {PORT}))
s.listen()
while True:
    c, _ = s.accept()
    c.sendall(b"x" * {SIZE})
    c.close()
"""
_CLIENT = f"""
import socket, sys, time
c = socket.create_connection((sys.argv[1], {PORT}))
got = 0
while True:
    data = c.recv(65536)
    if not data:
        break
    got += len(data)
assert got == {SIZE}
time.sleep(30)  # stays alive, so its process keeps its name
"""


@pytest.fixture
def net() -> Iterator[TwoHosts]:
    with TwoHosts() as hosts:
        yield hosts


def wait_screen(t: Terminal, pred: Callable[[str], bool], timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        t.pump(0.2)
        if pred(t.text):
            t.pump(0.3)  # the rest of the frame
            if pred(t.text):
                return t.text
    raise AssertionError(t.text)


def mb(text: str) -> float:
    value, unit = text.split()
    return float(value) * {"B": 1, "KB": 1024, "MB": 1 << 20, "GB": 1 << 30}[unit]


def test_live_activity_and_interface_statistics(net: TwoHosts) -> None:
    net.spawn("b", [sys.executable, "-c", _SERVER, net.addr_b])
    net.wait_port("b", PORT)
    t = Terminal(net.cmd("a", [RUSTNET, "-i", net.iface("a")]), cols=160, rows=46)
    try:
        t.wait_for("Overview")
        time.sleep(1.0)  # the capture is open
        net.spawn("a", [sys.executable, "-c", _CLIENT, net.addr_b])
        t.send(ACTIVITY_KEY)
        t.send(b"d")  # Ingress

        def retained(screen: str) -> float:
            """The client's retained received bytes (the row's last size that is not a rate)."""
            for line in screen.splitlines():
                if re.match(r"python3? \(\d+\) ", line):
                    sizes = re.findall(r"\d+\.\d\d [KMG]?B(?!/)", line)
                    return mb(sizes[-1]) if sizes else 0.0
            return 0.0

        # The whole transfer (a loaded machine is slower): 2,000,000 bytes of payload plus their
        # TCP/IP/Ethernet headers, and no more.
        screen = wait_screen(t, lambda s: "Ingress (RX)" in s and retained(s) >= SIZE)
        assert retained(screen) <= SIZE * 1.1, screen
        # Everything on this interface is captured: coverage near 100% both ways.
        for d in ("TX", "RX"):
            pct = re.search(rf"{d} now .* (\d+)% observed", screen)
            assert pct is not None and int(pct.group(1)) >= 90, screen

        t.send(b"i")

        def kernel_packets() -> tuple[int, int]:
            out = json.loads(net.run("a", ["ip", "-s", "-j", "link", "show", net.iface("a")]).stdout)
            stats = out[0]["stats64"]
            return stats["rx"]["packets"], stats["tx"]["packets"]

        deadline = time.monotonic() + 20
        shown: list[str] = []
        while time.monotonic() < deadline:
            screen = wait_screen(t, lambda s: "Interface Statistics" in s)
            lines = screen.splitlines()
            head = next(i for i, line in enumerate(lines) if line.startswith("Interface "))
            shown = lines[head + 1].split()
            rx, tx = kernel_packets()
            if shown[0] == net.iface("a") and [int(x.replace(",", "")) for x in shown[-7:-5]] == [rx, tx]:
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"{shown} never showed the kernel's {kernel_packets()}")
        assert lines[head + 2].split()[0] == "lo"  # the captured interface first, then by name
    finally:
        t.close()
