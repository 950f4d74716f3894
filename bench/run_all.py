"""``make bench``: every benchmark, one after the other, printing its figures.

    .venv/bin/python bench/run_all.py [--quick] [--skip NAME ...]

Order: start-up, offline pipeline vs tshark/tcpdump (and the guard on its CPU per packet),
dissect and track in-process, the viewer, enrichment, idle cost, new-connection latency,
live rates with tcpreplay, the worker scaling curve (offline and live), and the 10-minute
soak (``--quick`` skips the soak and shortens the rest). The benches needing root and network
namespaces say so and skip themselves when those are missing. A bench that fails is
reported and the others still run; the exit status is 1 if any failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (name, arguments, arguments with --quick); None: skipped with --quick.
BENCHES: list[tuple[str, list[str], list[str] | None]] = [
    ("bench_startup.py", [], ["--runs", "5"]),
    ("bench_pipeline.py", ["--runs", "5"], ["--runs", "3"]),
    ("bench_cpu_report.py", [], ["--packets", "50000", "--rounds", "1"]),
    ("guard_pipeline.py", [], []),
    ("bench_dissect.py", ["--command"], []),
    ("bench_track_flood.py", [], ["--connections", "100000"]),
    ("bench_quic_flood.py", [], ["--packets", "20000", "--rounds", "1"]),
    ("bench_view.py", [], []),
    ("bench_exports.py", [], ["-n", "50000", "--rounds", "1"]),
    ("bench_export.py", [], ["--records", "20000", "--runs", "1"]),
    ("bench_enrich.py", [], []),
    ("bench_names.py", [], ["-n", "20000", "--rounds", "1"]),
    ("bench_idle.py", [], ["--seconds", "5"]),
    ("bench_latency.py", [], ["--samples", "5"]),
    ("bench_live.py", [], ["--seconds", "5"]),
    ("bench_shard.py", ["--live"], ["--packets", "50000", "--rounds", "1", "--live", "--seconds", "3"]),
    ("soak.py", [], None),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="shorter runs, no soak")
    ap.add_argument("--skip", nargs="*", default=[], metavar="NAME", help="bench scripts to leave out")
    a = ap.parse_args()
    failed = []
    for name, args, quick_args in BENCHES:
        script = HERE / name
        if name in a.skip or name.removesuffix(".py") in a.skip or not script.exists():
            continue
        if a.quick and quick_args is None:
            print(f"\n=== {name}: skipped (--quick)")
            continue
        argv = [sys.executable, str(script), *(quick_args if a.quick else args)]
        print(f"\n=== {name} {' '.join(argv[2:])}".rstrip(), flush=True)
        t0 = time.monotonic()
        status = subprocess.run(argv).returncode
        print(
            f"=== {name}: {'ok' if status == 0 else f'FAILED (exit {status})'} "
            f"in {time.monotonic() - t0:.0f} s",
            flush=True,
        )
        if status:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
