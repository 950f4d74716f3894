"""Offline throughput of the whole pipeline against tshark and tcpdump, in the same run.

    .venv/bin/python bench/bench_pipeline.py [--packets 200000] [--runs 5] [--pcap F]

Input: bench/make_mixed_pcap.py's capture (many short TCP flows with HTTP requests and
TLS ClientHellos, DNS query/response pairs), built once under /tmp.

Each round runs, one after the other on the same file:

* ours:        ``rn-capture -r F | rn-dissect | rn-track --format json > /dev/null``
* ours --no-dpi: the same with ``rn-dissect --no-dpi``
* tshark conv: ``tshark -r F -q -z conv,tcp -z conv,udp`` (what the issue calls the reference)
* tshark SNI:  ``tshark -r F -T fields -e tls.handshake.extensions_server_name``
* tcpdump:     ``tcpdump -r F -w /dev/null`` (libpcap reading the file: the floor)

and prints the medians over the rounds: wall seconds, packets/s, µs/packet, CPU seconds
of all processes, the ratio of our packets/s to each reference's, then CPU seconds and
peak RSS of each of our stages. Wall time includes start-up (ours and theirs).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import (  # noqa: E402
    RunResult,
    count_packets,
    have,
    median,
    mixed_pcap,
    rn,
    run_pipeline,
    table,
)


def commands(pcap: Path) -> dict[str, list[list[str]]]:
    """Name -> pipeline, in the order a round runs them."""
    f = str(pcap)
    cmds: dict[str, list[list[str]]] = {
        "ours (DPI)": [[rn("rn-capture"), "-r", f], [rn("rn-dissect")], [rn("rn-track"), "--format", "json"]],
        "ours (--no-dpi)": [
            [rn("rn-capture"), "-r", f],
            [rn("rn-dissect"), "--no-dpi"],
            [rn("rn-track"), "--format", "json"],
        ],
    }
    if have("tshark"):
        cmds["tshark conv"] = [["tshark", "-r", f, "-q", "-z", "conv,tcp", "-z", "conv,udp"]]
        cmds["tshark SNI"] = [
            ["tshark", "-r", f, "-T", "fields", "-e", "tls.handshake.extensions_server_name"]
        ]
    if have("tcpdump"):
        cmds["tcpdump -w null"] = [["tcpdump", "-r", f, "-w", "/dev/null"]]
    return cmds


def measure(pcap: Path, runs: int, only: Sequence[str] | None = None) -> dict[str, list[RunResult]]:
    """Every command ``runs`` times, interleaved round by round."""
    cmds = commands(pcap)
    if only:
        cmds = {k: v for k, v in cmds.items() if k in only}
    results: dict[str, list[RunResult]] = {k: [] for k in cmds}
    for _ in range(runs):
        for name, argvs in cmds.items():
            r = run_pipeline(argvs)
            if not r.ok:
                failed = ", ".join(f"{s.name} exit {s.status}" for s in r.stages)
                raise SystemExit(f"{name} failed: {failed}")
            results[name].append(r)
    return results


def summarize(results: dict[str, list[RunResult]], packets: int) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name, rs in results.items():
        wall = median([r.wall for r in rs])
        out[name] = {
            "wall": wall,
            "pps": packets / wall,
            "us_per_packet": wall / packets * 1e6,
            "cpu": median([r.cpu for r in rs]),
            "best_wall": min(r.wall for r in rs),
        }
    return out


def report(results: dict[str, list[RunResult]], packets: int) -> dict[str, dict[str, float]]:
    s = summarize(results, packets)
    refs = [k for k in s if not k.startswith("ours")]
    headers = ["command", "wall s", "best s", "packets/s", "µs/packet", "CPU s"] + [f"÷ {r}" for r in refs]
    rows = []
    for name, v in s.items():
        row: list[object] = [name, v["wall"], v["best_wall"], v["pps"], v["us_per_packet"], v["cpu"]]
        row += [v["pps"] / s[r]["pps"] if name.startswith("ours") else float("nan") for r in refs]
        rows.append(row)
    print(table(headers, rows))
    print("\n(÷ ref: our packets/s divided by the reference's, medians of the same rounds; >1 is faster)")
    for name in ("ours (DPI)", "ours (--no-dpi)"):
        rs = results.get(name)
        if not rs:
            continue
        print(f"\nper stage, {name} (medians): CPU s, peak RSS MiB")
        srows = []
        for i, st in enumerate(rs[0].stages):
            cpu = median([r.stages[i].cpu for r in rs])
            rss = median([r.stages[i].maxrss_kb for r in rs]) / 1024
            srows.append([st.name, cpu, cpu / packets * 1e6, rss])
        print(table(["stage", "CPU s", "CPU µs/packet", "peak RSS MiB"], srows))
    return s


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--packets", type=int, default=200_000, help="size of the generated capture")
    ap.add_argument("--pcap", type=Path, help="use this capture instead of generating one")
    ap.add_argument("--runs", type=int, default=5, help="rounds (medians are reported)")
    ap.add_argument("--json", type=Path, help="also write the medians here as JSON")
    a = ap.parse_args()
    pcap = a.pcap or mixed_pcap(a.packets)
    packets = count_packets(pcap)
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    print(f"input: {pcap} ({packets:,} packets); {a.runs} rounds; load average before: {' '.join(load)}")
    results = measure(pcap, a.runs)
    s = report(results, packets)
    if a.json:
        a.json.write_text(json.dumps({"packets": packets, "medians": s}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
