"""rn-track under a SYN flood: µs per packet, Python heap per connection, peak RSS; live ticks.

    .venv/bin/python bench/bench_track_flood.py [--connections 300000] [--heap-sample 20000]
        [--idle 200000]      # table size for the live tick / busy-traffic figures
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

Then the same heap figure once every connection has had its records (an update, and the one
showing its rate fell to 0: a connection keeps a copy of its record only while its rate is not
0), and live operation with a large idle table (issue 8: no O(table) work per tick): CPU per
tick() of a live tracker holding ``--idle`` established idle connections, and µs per packet of
100,000 packets/s of traffic on 1000 busy flows beside 1000 vs ``--idle`` idle connections
(expiry sweeps and refreshes included).
"""

from __future__ import annotations

import argparse
import gc
import resource
import struct
import time
import tracemalloc
from typing import Any

from rustnet.stream.gctune import tune_gc
from rustnet.track.table import Tracker

BATCH = 256
SERVER = bytes([10, 0, 0, 1])


def syn(i: int, ts: float) -> list[Any]:
    src = struct.pack("!I", 0x0B000000 + (i // 50000) * 65536 + (i % 50000) // 2 + 1)
    return [
        "sum",
        ts,
        74,
        6,
        src,
        1024 + (i % 60000),
        SERVER,
        443,
        0x02,
        (i * 2654435761) & 0xFFFFFFFF,
        0,
        0,
        64240,
        None,
        None,
    ]


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
                batch.append(
                    [
                        "sum",
                        ts,
                        1514,
                        6,
                        src,
                        40000 + f % 20000,
                        SERVER,
                        443,
                        0x10,
                        seqs[f],
                        7,
                        1448,
                        500,
                        None,
                        None,
                    ]
                )
                seqs[f] += 1448
            else:
                batch.append(
                    [
                        "sum",
                        ts,
                        66,
                        6,
                        SERVER,
                        443,
                        src,
                        40000 + f % 20000,
                        0x10,
                        7,
                        seqs[f],
                        0,
                        500,
                        None,
                        None,
                    ]
                )
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
                batches.append(recs[i : i + BATCH])
    n = sum(len(b) for b in batches)
    tracker = Tracker()
    t = time.process_time()
    out = sum(len(tracker.process(b)) for b in batches)
    out += len(tracker.finish())
    spent = time.process_time() - t
    print(
        f"{path}: {n} records, {tracker.connections} connections, {out} records out, "
        f"{1e6 * spent / n:.2f} µs/record, {n / spent:,.0f} records/s"
    )


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


def heap_per_connection_after_records(n: int) -> float:
    """Heap per idle connection once each has written its update and its rate-0 record."""
    gc.collect()
    tracemalloc.start()
    tracker = Tracker(max_connections=10 * n)
    base = tracemalloc.get_traced_memory()[0]
    flood(tracker, n, 1_700_000_000.0)
    probe = bytes([10, 9, 9, 9])
    for k in range(1, 5):  # packet time moves on: two refreshes write every connection twice
        tracker.process(
            [["sum", 1_700_000_000.0 + k * 1.1, 60, 17, probe, 9, SERVER, 9, 0, 0, 0, 0, 0, None, None]]
        )
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    assert len(tracker.table) == n + 1 and len(tracker._rating) <= 1  # the probe
    return used / n


def handshakes(tracker: Tracker, n: int, t0: float) -> None:
    """``n`` established TCP connections (SYN, SYN-ACK, ACK), then idle."""
    for start in range(0, n, BATCH):
        batch = []
        for i in range(start, min(n, start + BATCH)):
            src = struct.pack("!I", 0x0D000000 + i)
            ts = t0 + i * 1e-6
            batch += [
                ["sum", ts, 74, 6, src, 40000, SERVER, 443, 0x02, 1000, 0, 0, 500, None, None],
                ["sum", ts, 74, 6, SERVER, 443, src, 40000, 0x12, 7, 1001, 0, 500, None, None],
                ["sum", ts, 66, 6, src, 40000, SERVER, 443, 0x10, 1001, 8, 0, 500, None, None],
            ]
        tracker.process(batch)


def live_ticks(idle: int) -> tuple[float, float, int]:
    """A live tracker holding ``idle`` idle connections, ticked 10 times per second of (simulated)
    wall time: CPU µs per tick over the first 20 s (each connection's update and rate-0 record, and
    one expiry-wheel visit when its handshake-time deadline comes: once per connection), and over
    the 20 s after (steady state); and the records written in the steady state."""
    from rustnet.stream.records import make_header

    tracker = Tracker(local_addrs=[], max_connections=idle + 10_000)
    tracker.process([make_header("bench", 1, "veth0", True, 65535, time.time())])
    handshakes(tracker, idle, time.time())
    wall = tracker._wall_at_packet
    spent = [0.0, 0.0]
    written = 0
    for k in range(1, 401):
        t = time.process_time()
        out = tracker.tick(wall + k * 0.1)
        spent[k > 200] += time.process_time() - t
        written += len(out) if k > 200 else 0
    return 1e6 * spent[0] / 200, 1e6 * spent[1] / 200, written


def busy_beside_idle(idle: int, packets: int = 500_000) -> float:
    """µs per packet of 100,000 packets/s (packet time) on 1000 busy flows beside ``idle`` idle ones,
    once the idle ones are settled (records written, first wheel visit done: 20 s of a probe)."""
    tracker = Tracker(max_connections=idle + 10_000)  # below the cap (at it, new flows churn)
    handshakes(tracker, idle, 1_700_000_000.0)
    probe = bytes([10, 9, 9, 9])
    for k in range(1, 41):
        tracker.process(
            [["sum", 1_700_000_000.0 + k * 0.5, 60, 17, probe, 9, SERVER, 9, 0, 0, 0, 0, 0, None, None]]
        )
    return 1e6 * established(tracker, 1000, packets, 1_700_000_021.0) / packets


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--connections", type=int, default=300_000)
    ap.add_argument("--heap-sample", type=int, default=20_000)
    ap.add_argument("--data-packets", type=int, default=500_000)
    ap.add_argument("--idle", type=int, default=200_000)
    ap.add_argument("--stream", help="a recorded summary stream to time rn-track's stage on")
    a = ap.parse_args()
    tune_gc()  # as the stage runs (rustnet.cli.pump)

    per_conn = heap_per_connection(a.heap_sample)
    print(f"heap per idle TCP connection (tracemalloc, {a.heap_sample} SYNs): {per_conn:.0f} bytes")

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracker = Tracker(max_connections=a.connections + 1)
    spent = flood(tracker, a.connections, 1_700_000_000.0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"SYN flood: {a.connections} connections, {1e6 * spent / a.connections:.2f} µs/packet, "
        f"{a.connections / spent:,.0f} packets/s; live={len(tracker.table)}"
    )
    print(f"peak RSS: {rss / 1024:.0f} MB (before the flood: {rss0 / 1024:.0f} MB)")
    t = time.process_time()
    final = tracker.finish()
    print(f"finish: {len(final)} final records in {time.process_time() - t:.2f} s")
    del tracker, final
    gc.collect()

    tracker = Tracker()
    spent = established(tracker, 1000, a.data_packets, 1_700_000_100.0)
    print(
        f"established flows: {a.data_packets} data packets over 1000 flows, "
        f"{1e6 * spent / a.data_packets:.2f} µs/packet, {a.data_packets / spent:,.0f} packets/s"
    )

    capped = Tracker(max_connections=50_000)
    spent = flood(capped, 200_000, 1_700_000_200.0)
    print(
        f"SYN flood at a cap of 50000: 200000 SYNs, {1e6 * spent / 200_000:.2f} µs/packet, "
        f"evicted={capped.evicted}, live={len(capped.table)}"
    )
    del capped
    gc.collect()

    per_conn = heap_per_connection_after_records(a.heap_sample)
    print(f"heap per idle TCP connection after its records (update, rate 0): {per_conn:.0f} bytes")
    for n in (1000, a.idle):
        first, steady, written = live_ticks(n)
        print(
            f"live, {n} idle connections: µs CPU per tick (10/s): {first:.0f} over the first 20 s "
            f"(records, first wheel visit), {steady:.0f} over the next 20 s ({written} records)"
        )
    for n in (1000, a.idle):
        print(
            f"100k packets/s on 1000 busy flows beside {n} idle connections: "
            f"{busy_beside_idle(n):.2f} µs/packet"
        )
    if a.stream:
        stream(a.stream)


if __name__ == "__main__":
    main()
