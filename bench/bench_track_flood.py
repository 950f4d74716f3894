"""rn-track under a SYN flood: µs per packet, Python heap per connection, peak RSS.

    .venv/bin/python bench/bench_track_flood.py [--connections 300000] [--heap-sample 20000]
        [--stream SUMS.rn]   # also time a real stream: rn-capture -r X | rn-dissect > SUMS.rn

Feeds the Tracker stage (in-process, as rn-track runs it) one SYN per distinct
connection (random-looking source addresses and ports towards one server), in
frames of 256 summaries like the record reader delivers them, then a second
workload of established flows exchanging data. Summaries are built outside the
timed region; times are CPU time of this process (time.process_time), so other load
on the machine does not inflate them. Prints: µs/packet for both, tracemalloc bytes per idle connection
(on a smaller sample, tracemalloc slows everything down), and the process's peak
RSS after the full flood. Targets (issue 4): <= 1 KB heap per idle TCP connection,
300k connections under 600 MB peak RSS.
"""

from __future__ import annotations

import argparse
import gc
import resource
import struct
import time
import tracemalloc
from typing import Any

from rustnet.track.table import Tracker

BATCH = 256
SERVER = bytes([10, 0, 0, 1])


def syn(i: int, ts: float) -> list[Any]:
    src = struct.pack("!I", 0x0B000000 + (i // 50000) * 65536 + (i % 50000) // 2 + 1)
    return ["sum", ts, 74, 6, src, 1024 + (i % 60000), SERVER, 443, 0x02, (i * 2654435761) & 0xFFFFFFFF,
            0, 0, 64240, None, None]


def flood(tracker: Tracker, n: int, t0: float) -> float:
    """Seconds spent in tracker.process for ``n`` SYNs (1 µs apart in packet time)."""
    spent = 0.0
    for start in range(0, n, BATCH):
        batch = [syn(i, t0 + i * 1e-6) for i in range(start, min(n, start + BATCH))]
        t = time.process_time()
        tracker.process(batch)
        spent += time.process_time() - t
    return spent


def established(tracker: Tracker, flows: int, packets: int, t0: float) -> float:
    """Seconds in tracker.process for ``packets`` data segments spread over ``flows`` open flows."""
    spent = 0.0
    seqs = [1000] * flows
    for start in range(0, packets, BATCH):
        batch = []
        for j in range(start, min(packets, start + BATCH)):
            f = j % flows
            fwd = (j // flows) % 2 == 0
            src = struct.pack("!I", 0x0C000000 + f)
            ts = t0 + j * 1e-5
            if fwd:
                batch.append(["sum", ts, 1514, 6, src, 40000 + f % 20000, SERVER, 443, 0x10, seqs[f], 7,
                              1448, 500, None, None])
                seqs[f] += 1448
            else:
                batch.append(["sum", ts, 66, 6, SERVER, 443, src, 40000 + f % 20000, 0x10, 7, seqs[f],
                              0, 500, None, None])
        t = time.process_time()
        tracker.process(batch)
        spent += time.process_time() - t
    return spent


def stream(path: str) -> None:
    from rustnet.stream import open_inputs

    batches = []
    for reader in open_inputs([path]):
        while not reader.done:
            recs = reader.poll(None)
            for i in range(0, len(recs), BATCH):
                batches.append(recs[i:i + BATCH])
    n = sum(len(b) for b in batches)
    tracker = Tracker()
    t = time.process_time()
    out = sum(len(tracker.process(b)) for b in batches)
    out += len(tracker.finish())
    spent = time.process_time() - t
    print(f"{path}: {n} records, {tracker.connections} connections, {out} records out, "
          f"{1e6 * spent / n:.2f} µs/record, {n / spent:,.0f} records/s")


def heap_per_connection(n: int) -> float:
    gc.collect()
    tracemalloc.start()
    tracker = Tracker(max_connections=10 * n)
    base = tracemalloc.get_traced_memory()[0]
    flood(tracker, n, 1_700_000_000.0)
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    assert len(tracker.table) == n
    return used / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--connections", type=int, default=300_000)
    ap.add_argument("--heap-sample", type=int, default=20_000)
    ap.add_argument("--data-packets", type=int, default=500_000)
    ap.add_argument("--stream", help="a recorded summary stream to time rn-track's stage on")
    a = ap.parse_args()

    per_conn = heap_per_connection(a.heap_sample)
    print(f"heap per idle TCP connection (tracemalloc, {a.heap_sample} SYNs): {per_conn:.0f} bytes")

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracker = Tracker(max_connections=a.connections + 1)
    spent = flood(tracker, a.connections, 1_700_000_000.0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"SYN flood: {a.connections} connections, {1e6 * spent / a.connections:.2f} µs/packet, "
          f"{a.connections / spent:,.0f} packets/s; live={len(tracker.table)}")
    print(f"peak RSS: {rss / 1024:.0f} MB (before the flood: {rss0 / 1024:.0f} MB)")
    t = time.process_time()
    final = tracker.finish()
    print(f"finish: {len(final)} final records in {time.process_time() - t:.2f} s")
    del tracker, final
    gc.collect()

    tracker = Tracker()
    spent = established(tracker, 1000, a.data_packets, 1_700_000_100.0)
    print(f"established flows: {a.data_packets} data packets over 1000 flows, "
          f"{1e6 * spent / a.data_packets:.2f} µs/packet, {a.data_packets / spent:,.0f} packets/s")

    capped = Tracker(max_connections=50_000)
    spent = flood(capped, 200_000, 1_700_000_200.0)
    print(f"SYN flood at a cap of 50000: 200000 SYNs, {1e6 * spent / 200_000:.2f} µs/packet, "
          f"evicted={capped.evicted}, live={len(capped.table)}")
    if a.stream:
        stream(a.stream)


if __name__ == "__main__":
    main()
