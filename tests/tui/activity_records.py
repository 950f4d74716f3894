"""A recorded stream for the Activity tab's tests: interface counters and connections whose
numbers are chosen here, so every figure the tab shows can be worked out by hand."""

from __future__ import annotations

from typing import Any

from tests.tui.records import T0, conn

STEPS = 20  # ifstats records after the first, 500 ms apart: 10 s
ETH_RX_STEP = 100_000  # bytes per 500 ms: 200,000 B/s = 195.31 KB/s
ETH_TX_STEP = 50_000  # 100,000 B/s = 97.66 KB/s
WLAN_RX_STEP = 512  # 1,024 B/s = 1.00 KB/s
ETH_BASE = 7_000_000


def counters(name: str, step: int) -> dict[str, Any]:
    if name == "eth0":
        return {
            "name": name,
            "rx_bytes": ETH_BASE + step * ETH_RX_STEP,
            "tx_bytes": ETH_BASE + step * ETH_TX_STEP,
            "rx_packets": 5000 + step * 100,
            "tx_packets": 4000 + step * 50,
            "rx_errors": 3,
            "tx_errors": 1,
            "rx_dropped": 7,
            "tx_dropped": 2,
            "collisions": 5,
        }
    rx = step * WLAN_RX_STEP if name == "wlan0" else 0
    return {
        "name": name,
        "rx_bytes": rx,
        "tx_bytes": 0,
        "rx_packets": step,
        "tx_packets": 0,
        "rx_errors": 0,
        "tx_errors": 0,
        "rx_dropped": 0,
        "tx_dropped": 0,
        "collisions": 0,
    }


def ifstats(step: int, names: tuple[str, ...] = ("wlan0", "lo", "eth0", "br0")) -> dict[str, Any]:
    return {
        "t": "ifstats",
        "ts": T0 + step * 0.5,
        "captured": "eth0",
        "ifaces": [counters(n, step) for n in names],
    }


def activity_stream() -> list[dict[str, Any]]:
    """curl sends 300,000 and receives 900,000 bytes; firefox 200,000 / 2,100,000 over two
    connections (one closed); one connection without a process 1,000 / 3,000."""
    curl = {"process": "curl", "pid": 4242, "dst": "192.0.2.10", "dport": 443, "sni": "example.org"}
    ff_a = {"process": "firefox", "pid": 777, "dst": "198.51.100.7", "dport": 443, "sni": "a.test"}
    ff_b = {"process": "firefox", "pid": 777, "dst": "198.51.100.8", "dport": 80, "http_host": "b.test"}
    dns = {"proto": "udp", "dst": "203.0.113.5", "dport": 53, "state": "UDP_ACTIVE"}
    recs: list[dict[str, Any]] = []
    for step in range(STEPS + 1):
        recs.append(ifstats(step))
        if step == 2:
            recs.append(
                conn(1, first_seen=T0, last_seen=T0 + 1, bytes_src=100_000, bytes_dst=300_000, **curl)
            )
            recs.append(conn(2, first_seen=T0, last_seen=T0 + 1, bytes_src=10_000, bytes_dst=500_000, **ff_a))
            recs.append(
                conn(3, first_seen=T0, last_seen=T0 + 1, bytes_src=150_000, bytes_dst=100_000, **ff_b)
            )
            recs.append(conn(4, first_seen=T0, last_seen=T0 + 1, bytes_src=1000, bytes_dst=3000, **dns))
        if step == 4:
            recs.append(
                conn(
                    3,
                    first_seen=T0,
                    last_seen=T0 + 1,
                    bytes_src=150_000,
                    bytes_dst=100_000,
                    state="CLOSED",
                    final=True,
                    end="timeout",
                    **ff_b,
                )
            )
        if step == 18:
            recs.append(
                conn(
                    1,
                    first_seen=T0,
                    last_seen=T0 + 9,
                    bytes_src=300_000,
                    bytes_dst=900_000,
                    rate_src=30_000,
                    rate_dst=90_000,
                    **curl,
                )
            )
            recs.append(
                conn(
                    2,
                    first_seen=T0,
                    last_seen=T0 + 9,
                    bytes_src=50_000,
                    bytes_dst=2_000_000,
                    rate_src=5000,
                    rate_dst=200_000,
                    **ff_a,
                )
            )
    return recs
