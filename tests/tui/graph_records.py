"""A recorded stream with known numbers for the Graph tab, and what the tab must show for it.

Seconds 0-9 of stream time (from T0): two connections open every second (ids 2s, 2s+1), each
with 250 packets and an RTT of 10*(s+1) ms; the TCP ones (all but 14, 16, 18) with 1
retransmission. From second 3
on, one connection per second ends by timeout (ids 0, 2, ..., 12 at seconds 3..9) and moves
to history. At 10.5 s an update of connection 1 brings its retransmissions from 1 to 4
(that second is still open, so only the lifetime total sees it).

Worked out by hand:
- OPENED: 2 per second for seconds 0-9: 3-second mean 2.0/s. CLOSED: seconds 0-9 are
  0,0,0,1,1,1,1,1,1,1: 10-second mean 0.7/s.
- active 13 (20 opened, 7 closed), retained 7.
- RTT: per-second means 10..100 ms; gauge = mean of seconds 7, 8, 9 = 90.0 ms; avg over
  the history 55.0 ms. A DNS response time of 5000 ms (rtt_kind dns, connection 14 at 8.6 s)
  is not a path RTT.
- Loss: seconds 0-6: 2 retransmissions of 500 packets = 0.40 %; seconds 7-9 (one UDP
  connection each): 1 of 500 = 0.20 %. Gauge (last 3) 0.20 %; avg (7*0.4 + 3*0.2)/10 = 0.34 %.
- TCP totals: retransmits 17 + 3 = 20; out of order 3 (connection 1); fast retransmits 2
  (connection 3).
- TCP states of the active TCP rows: ESTAB 8, SYN_SENT 1, TIME_WAIT 1 (the closed rows are
  ESTABLISHED too, and must not count).
- Applications of the 13 active rows: HTTPS 5 (38.5 %), HTTP 2 (15.4 %), QUIC 2 (15.4 %),
  Other 2 (15.4 %), DNS 1 (7.7 %), SSH 1 (7.7 %).
- Traffic (ifstats records every 0.5 s from T0, one interface): rx grows 1 MiB a sample
  (2 MiB/s); tx at sample k (1..20) runs at 10 KiB/s * k. Shown: RX 2.00 MB/s, trend →,
  peak 2.00 MB/s; TX: each point averaged with the two before, so now (18+19+20)/3 * 10 KiB/s
  = 190.00 KB/s, a slope of 10 KiB/s a sample > 5 % of that: ↗; peak 190.00 KB/s.
- Top processes by rx+tx: firefox 3.00 MB/s (2 MiB/s + 1 MiB/s), curl 512.00 KB/s,
  a-very-long-proce... 1000 B/s; the closed "huge" (1 GB/s) is history and not listed.
"""

from __future__ import annotations

from typing import Any

from tests.tui.records import T0, conn

CLOSED_IDS = (0, 2, 4, 6, 8, 10, 12)  # closed at seconds 3..9
APP_OF = {1: "TLS", 3: "TLS", 5: "TLS", 7: "TLS", 9: "TLS", 11: "HTTP", 13: "HTTP", 15: "SSH", 14: "DNS"}
APP_OF |= {16: "QUIC", 18: "QUIC"}
STATE_OF = {17: "SYN_SENT", 19: "TIME_WAIT", 14: "DNS_RESPONSE", 16: "QUIC_CONNECTED", 18: "QUIC_CONNECTED"}
RATES = {1: (0.0, 2 * 1024 * 1024.0), 3: (1024 * 1024.0, 0.0), 5: (0.0, 512 * 1024.0), 7: (1000.0, 0.0)}
PROCESS_OF = {1: "firefox", 3: "firefox", 5: "curl", 7: "a-very-long-process-name-here", 9: "idle"}


def _opened(cid: int, s: int) -> dict[str, Any]:
    udp = cid in (14, 16, 18)
    closed = cid in CLOSED_IDS
    rate_src, rate_dst = RATES.get(cid, (0.0, 0.0))
    if closed and cid == 0:
        rate_src = 1e9
    return conn(
        cid,
        proto="udp" if udp else "tcp",
        state=STATE_OF.get(cid, "ESTABLISHED"),
        app="TLS" if closed else APP_OF.get(cid),
        process="huge" if closed and cid == 0 else PROCESS_OF.get(cid),
        first_seen=T0 + s + 0.1,
        last_seen=T0 + s + 0.2,
        packets=250,
        retransmits=None if udp else 1,
        out_of_order=3 if cid == 1 else None,
        fast_retransmits=2 if cid == 3 else None,
        rtt_ms=10.0 * (s + 1),
        rate_src=rate_src,
        rate_dst=rate_dst,
    )


TX_STEP = 10 * 1024  # B/s more at each sample


def ifstats(k: int) -> dict[str, Any]:
    """Sample k: rx 1 MiB a sample; tx at 10 KiB/s * j during sample j (cumulative counters)."""
    return {
        "t": "ifstats",
        "ts": T0 + 0.5 * k,
        "captured": "eth-test",
        "ifaces": [
            {
                "name": "eth-test",
                "rx_bytes": k * 1024 * 1024,
                "tx_bytes": sum(TX_STEP * j // 2 for j in range(1, k + 1)),
                "rx_packets": 100 * k,
                "tx_packets": 50 * k,
                "rx_errors": 0,
                "tx_errors": 0,
                "rx_dropped": 0,
                "tx_dropped": 0,
                "collisions": 0,
            }
        ],
    }


def graph_records() -> list[dict[str, Any]]:
    recs: list[dict[str, Any]] = [ifstats(0)]
    first: dict[int, dict[str, Any]] = {}
    for s in range(10):
        recs.append(ifstats(2 * s + 1))
        recs.append(ifstats(2 * s + 2))
        for cid in (2 * s, 2 * s + 1):
            first[cid] = _opened(cid, s)
            recs.append(first[cid])
        if s >= 3:
            cid = CLOSED_IDS[s - 3]
            recs.append(dict(first[cid], last_seen=T0 + s + 0.5, final=True, end="timeout"))
        if s == 8:
            # A DNS response time: not a path RTT, never in the RTT gauge.
            recs.append(dict(first[14], rtt_ms=5000.0, rtt_kind="dns", last_seen=T0 + s + 0.6))
    recs.append(dict(first[1], retransmits=4, last_seen=T0 + 10.5))
    return recs
