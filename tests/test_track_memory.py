"""Memory per tracked connection: the issue's target is <= 1 KB of Python heap per idle TCP connection."""

from __future__ import annotations

import gc
import struct
import tracemalloc

from rustnet.track.table import Tracker

from tests.track_util import SYN, B, header, tcp

N = 5000


def test_idle_tcp_connection_heap_under_1kb() -> None:
    t = Tracker()
    t.process([header()])
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        # Built under tracemalloc so the addresses the keys keep are counted; the rest is freed below.
        recs = [
            tcp(
                1000.0 + i * 1e-4,
                struct.pack("!I", 0x0B000000 + i),
                1024 + i % 50000,
                B,
                443,
                SYN,
                (i * 7919) & 0xFFFFFFFF,
            )
            for i in range(N)
        ]
        for i in range(0, N, 256):
            t.process(recs[i : i + 256])
        del recs  # the tracker must not depend on the summaries it was given, beyond shared addresses
        gc.collect()
        used = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert len(t.table) == N
    per_conn = used / N
    assert per_conn <= 1024, f"{per_conn:.0f} bytes per idle TCP connection"
