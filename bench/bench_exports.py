"""What each of rustnet's exports costs on a large capture.

``rustnet --read BIG --json`` without exports, then with ``--json-log``, ``--pcap-export``,
``--pcapng-export`` and all three, interleaved over several rounds. For each: wall time,
CPU of the whole run (rustnet and its stages, from wait4), the CPU the export adds over the
plain run per packet, the peak RSS of the rustnet process itself (its exports' queues and
tables live there), and the size of what was written.

    python bench/bench_exports.py -n 200000 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import count_packets, median, mixed_pcap, rn, table  # noqa: E402

CONFIGS = {
    "no export": [],
    "--json-log": ["--json-log", "{d}/events.jsonl"],
    "--pcap-export": ["--pcap-export", "{d}/out.pcap"],
    "--pcapng-export": ["--pcapng-export", "{d}/out.pcapng"],
    "all three": [
        "--json-log",
        "{d}/events.jsonl",
        "--pcap-export",
        "{d}/out.pcap",
        "--pcapng-export",
        "{d}/out.pcapng",
    ],
}


def peak_rss_kb(pid: int, stop: threading.Event, out: list[int]) -> None:
    """The process's VmHWM, read until it exits (the last value read is its peak)."""
    while not stop.is_set():
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        out[0] = max(out[0], int(line.split()[1]))
        except OSError:
            return
        time.sleep(0.05)


def run_once(capture: Path, extra: list[str]) -> tuple[float, float, int, int]:
    """(wall s, CPU s of the whole tree, peak RSS KiB of rustnet, bytes written)."""
    with tempfile.TemporaryDirectory() as d:
        argv = [rn("rustnet"), "--read", str(capture), "--json", *(a.format(d=d) for a in extra)]
        start = time.perf_counter()
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        stop, rss = threading.Event(), [0]
        watcher = threading.Thread(target=peak_rss_kb, args=(p.pid, stop, rss), daemon=True)
        watcher.start()
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - start
        stop.set()
        watcher.join()
        assert p.stderr is not None
        err = p.stderr.read().decode(errors="replace")
        p.stderr.close()
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            raise SystemExit(f"{argv}: status {p.returncode}: {err}")
        written = sum(f.stat().st_size for f in Path(d).iterdir())
    return wall, usage.ru_utime + usage.ru_stime, rss[0], written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--packets", type=int, default=200_000, help="packets in the mixed capture")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--capture", type=Path, help="use this capture instead of the mixed one")
    args = ap.parse_args()
    capture = args.capture or mixed_pcap(args.packets)
    packets = count_packets(capture)
    results: dict[str, list[tuple[float, float, int, int]]] = {name: [] for name in CONFIGS}
    for _ in range(args.rounds):
        for name, extra in CONFIGS.items():
            results[name].append(run_once(capture, extra))
    base_cpu = median([r[1] for r in results["no export"]])
    rows = []
    for name, runs in results.items():
        wall = median([r[0] for r in runs])
        cpu = median([r[1] for r in runs])
        rows.append(
            [
                name,
                wall,
                cpu,
                (cpu - base_cpu) / packets * 1e6,
                max(r[2] for r in runs) / 1024,
                runs[-1][3] / (1 << 20),
            ]
        )
    size = capture.stat().st_size / (1 << 20)
    print(f"{capture}: {packets:,} packets, {size:.1f} MiB; medians of {args.rounds}")
    print(
        table(["run", "wall s", "CPU s (all)", "added µs/pkt", "rustnet peak RSS MiB", "written MiB"], rows)
    )


if __name__ == "__main__":
    main()
