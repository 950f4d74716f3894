"""CPU per stage of two builds of rustnet on the same captures, interleaved in the same rounds.

    .venv/bin/python bench/bench_compare_builds.py --old /tmp/old/.venv/bin [--new .venv/bin]
        [--rounds 3] [--pure] [--tshark] PCAP [PCAP ...]

For each capture and round, in alternating order (so that load on the machine falls on both
alike): ``rn-capture -r F | rn-dissect | rn-track --format json`` (pipe) and ``rn-capture -r F |
rn-track --dissect --format json`` (chain) of each build; ``--pure`` adds the new build with
``RUSTNET_PURE=1`` (its compiled modules off: what the Python changes alone do), ``--tshark``
``tshark -r F -q -z conv,tcp -z conv,udp``. Printed: medians of wall seconds, CPU seconds (user +
system, every process) and each stage's CPU, with the load average before and after: quote it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def run(argvs: list[list[str]], env: dict[str, str] | None = None) -> tuple[float, list[float]]:
    """argvs[0] | argvs[1] | ...: wall seconds and each process's CPU seconds."""
    procs: list[subprocess.Popen[bytes]] = []
    prev: Any = None
    t0 = time.perf_counter()
    for i, argv in enumerate(argvs):
        last = i == len(argvs) - 1
        p = subprocess.Popen(
            argv,
            stdin=prev,
            stdout=subprocess.DEVNULL if last else subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        if prev is not None:
            prev.close()
        prev = p.stdout
        procs.append(p)
    cpu = []
    for p in procs:
        _, status, ru = os.wait4(p.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{' '.join(p.args)} failed")  # type: ignore[arg-type]
        cpu.append(ru.ru_utime + ru.ru_stime)
    return time.perf_counter() - t0, cpu


def commands(b: str, f: str) -> dict[str, list[list[str]]]:
    return {
        "pipe": [[f"{b}/rn-capture", "-r", f], [f"{b}/rn-dissect"], [f"{b}/rn-track", "--format", "json"]],
        "chain": [[f"{b}/rn-capture", "-r", f], [f"{b}/rn-track", "--dissect", "--format", "json"]],
    }


def load() -> str:
    with open("/proc/loadavg") as fh:
        return " ".join(fh.read().split()[:3])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old", required=True, help="bin directory of the reference build's venv")
    ap.add_argument("--new", default=str(Path(sys.executable).parent), help="bin directory to compare")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pure", action="store_true", help="also the new build with RUSTNET_PURE=1")
    ap.add_argument("--tshark", action="store_true", help="also tshark conv, in the same rounds")
    ap.add_argument("pcaps", nargs="+")
    args = ap.parse_args()
    builds: dict[str, tuple[str, dict[str, str] | None]] = {"old": (args.old, None), "new": (args.new, None)}
    if args.pure:
        builds["new, pure"] = (args.new, dict(os.environ, RUSTNET_PURE="1"))
    results: dict[tuple[str, str, str], list[tuple[float, list[float]]]] = {}
    print(f"load before: {load()}")
    order = list(builds)
    for r in range(args.rounds):
        for f in args.pcaps:
            for build in order if r % 2 == 0 else order[::-1]:
                bin_dir, env = builds[build]
                for name, argvs in commands(bin_dir, f).items():
                    results.setdefault((f, name, build), []).append(run(argvs, env))
            if args.tshark:
                argv = ["tshark", "-r", f, "-q", "-z", "conv,tcp", "-z", "conv,udp"]
                results.setdefault((f, "tshark", ""), []).append(run([argv]))
    print(f"load after:  {load()}")
    for (f, name, build), runs in results.items():
        stages = [statistics.median(cpu[i] for _, cpu in runs) for i in range(len(runs[0][1]))]
        total = statistics.median(sum(cpu) for _, cpu in runs)
        wall = statistics.median(w for w, _ in runs)
        per_stage = " ".join(f"{s:.3f}" for s in stages)
        print(f"{Path(f).name:20} {name:6} {build:9} wall {wall:6.3f}  cpu {total:6.3f}  stages {per_stage}")


if __name__ == "__main__":
    main()
