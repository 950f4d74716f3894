"""SYN flood through the real commands: peak RSS and time for 300,000 connections.

    .venv/bin/python bench/bench_flood.py [--connections 300000] [--cap 200000]

bench_track_flood.py measures the Tracker in-process; this one runs the commands people
run. It writes a pcap of N SYNs from distinct (address, port) pairs (each one a new
half-open connection), then:

1. ``rn-capture -r F | rn-dissect | rn-track --max-connections M > /dev/null`` with M = N
   (every connection kept: the 300k target) and with the default cap (evictions counted);
2. ``rn-track`` alone over the recorded summary stream (its own time, no pipe neighbours);
3. ``rn-view --json`` over the capture (the viewer completes the pipeline in-process).

Peak RSS is each process's VmHWM, sampled every 5 ms until it exits (wait4's ru_maxrss would
include this script's own RSS, inherited at fork); wall time from the pipeline's start to the
last exit. Target (issue 9): rn-track under 600 MB peak RSS for 300k.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.robust.util import syn_flood_frames, wait_with_peak_rss, write_pcap  # noqa: E402

BIN = Path(sys.executable).parent


def run_pipeline(
    argvs: list[list[str]], stdin: int | None, stdout: int
) -> tuple[float, list[tuple[int, float]]]:
    """Wall seconds and (status, peak RSS MiB) of each process of ``argvs`` joined by pipes."""
    procs: list[subprocess.Popen[bytes]] = []
    t = time.monotonic()
    prev: int | None = stdin
    for i, argv in enumerate(argvs):
        last = i == len(argvs) - 1
        p = subprocess.Popen(
            [str(BIN / argv[0]), *argv[1:]], stdin=prev, stdout=stdout if last else subprocess.PIPE
        )
        if i > 0 and procs[-1].stdout is not None:
            procs[-1].stdout.close()
        prev = p.stdout.fileno() if p.stdout is not None else None
        procs.append(p)
    peaks = wait_with_peak_rss(procs, timeout=3600)
    return time.monotonic() - t, [(p.returncode, peak) for p, peak in zip(procs, peaks, strict=True)]


def report(title: str, argvs: list[list[str]], wall: float, results: list[tuple[int, float]]) -> None:
    print(f"{title}: {wall:.1f} s wall")
    for argv, (status, rss) in zip(argvs, results, strict=True):
        print(f"  {' '.join(argv):55s} exit {status}  peak RSS {rss:7.1f} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--connections", type=int, default=300_000)
    ap.add_argument(
        "--cap", type=int, default=200_000, help="the cap for the evicting run (rn-track's default)"
    )
    a = ap.parse_args()
    n = a.connections
    with tempfile.TemporaryDirectory() as tmp:
        pcap = Path(tmp) / "flood.pcap"
        t = time.monotonic()
        write_pcap(pcap, syn_flood_frames(n), step=1e-6)  # all within 0.3 s: no handshake timeout
        size = pcap.stat().st_size / 1e6
        print(f"{n} SYNs written to a pcap ({size:.0f} MB) in {time.monotonic() - t:.1f} s")
        devnull = os.open(os.devnull, os.O_WRONLY)
        sums = Path(tmp) / "flood.sum.rn"

        for cap in (n + 1, a.cap):
            argvs = [
                ["rn-capture", "-r", str(pcap)],
                ["rn-dissect"],
                ["rn-track", "--max-connections", str(cap)],
            ]
            wall, res = run_pipeline(argvs, None, devnull)
            report(f"pipeline, cap {cap}", argvs, wall, res)

        fd = os.open(sums, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        run_pipeline([["rn-capture", "-r", str(pcap)], ["rn-dissect"]], None, fd)
        os.close(fd)
        for cap in (n + 1, a.cap):
            with open(sums, "rb") as f:
                argvs = [["rn-track", "--max-connections", str(cap), "--format", "json"]]
                out = Path(tmp) / "track.json"
                ofd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                wall, res = run_pipeline(argvs, f.fileno(), ofd)
                os.close(ofd)
            finals = evicted = 0
            with open(out, "rb") as f:
                for line in f:
                    if b'"final":true' in line:
                        finals += 1
                        evicted += b'"end":"evicted"' in line
            mb = sums.stat().st_size / 1e6
            report(f"rn-track alone over {mb:.0f} MB of summaries, cap {cap}", argvs, wall, res)
            print(f"  final records {finals}, evicted {evicted}")

        argvs = [["rn-view", "--read", str(pcap), "--json"]]
        wall, res = run_pipeline(argvs, None, devnull)
        report("viewer over the capture (dissect+track in-process)", argvs, wall, res)
        os.close(devnull)


if __name__ == "__main__":
    main()
