"""CPU and wall time against tshark on a flow-heavy and a bulk capture, side by side, one run.

    .venv/bin/python bench/bench_cpu_report.py [--packets 200000] [--rounds 3] [--bulk-flows 8]
                                               [--busy-core]

Two captures are generated into a temporary directory (deleted afterwards):

* flow-heavy: bench/make_mixed_pcap.py's mix, short flows: HTTP and TLS connections of 9
  packets, DNS pairs (7.6 packets per connection on average);
* bulk: ``--bulk-flows`` long TCP transfers (make_mixed_pcap.py ``--bulk``).

On each, interleaved round by round so that load on the machine falls on every command alike:

* pipe:      ``rn-capture -r F | rn-dissect | rn-track --format json > /dev/null``
* one process: ``rn-capture -r F | rn-track --dissect --format json``: the same records, with
  dissection and tracking in one process (less CPU; the two no longer run side by side)
* capture --dissect: ``rn-capture -r F --dissect | rn-track --format json``: the same records,
  dissection in rn-capture's process (the packets' bytes never piped; what rustnet runs)
* rustnet:   ``rustnet --read F --json > /dev/null`` (its stages are its children: their CPU
  counts in its rusage, and its peak RSS is the largest of the tree)
* tshark:    ``tshark -r F -q -z conv,tcp -z conv,udp``

Printed: medians of wall seconds and CPU seconds (user + system of every process), packets/s,
CPU µs per packet, speed (tshark's wall / ours: >1 is faster) and CPU ratio (ours / tshark's:
<1 uses less), then each pipe stage's CPU µs per packet and peak RSS. CPU time is what a loaded
machine disturbs least; the load average is printed before and after, quote it with the figures.

Last, each command's start-up: its CPU on a capture with no packet (a pcap header alone), run in
the same rounds, and its CPU a packet beyond that, against tshark's the same way. Start-up is
paid once a run (each stage is an interpreter importing its libraries; tshark loads its
dissectors): on 200k packets it is a large part of the totals above, on a larger capture less.

``--busy-core`` keeps one core busy with other work while it measures (a shell busy loop, stopped
at the end): the speed figures then say whether we keep up on a machine that is not idle.
"""

from __future__ import annotations

import argparse
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import (  # noqa: E402
    PYTHON,
    ROOT,
    RunResult,
    count_packets,
    have,
    median,
    rn,
    run_pipeline,
    table,
)


def load_average() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# The capture with no packet: what each command costs before its first packet (start-up).
EMPTY = "empty"


def make_captures(tmp: Path, packets: int, bulk_flows: int) -> dict[str, Path]:
    gen = str(ROOT / "bench" / "make_mixed_pcap.py")
    heavy, bulk, empty = tmp / "flow-heavy.pcap", tmp / "bulk.pcap", tmp / "empty.pcap"
    for argv in (["-o", str(heavy)], ["--bulk", str(bulk_flows), "-o", str(bulk)]):
        subprocess.run([PYTHON, gen, "-n", str(packets), *argv], check=True, stdout=subprocess.DEVNULL)
    # A classic pcap header (little-endian, version 2.4, snaplen 262144, Ethernet) and nothing else.
    empty.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
    return {"flow-heavy": heavy, "bulk": bulk, EMPTY: empty}


def commands(pcap: Path) -> dict[str, list[list[str]]]:
    f = str(pcap)
    cmds = {
        "pipe": [[rn("rn-capture"), "-r", f], [rn("rn-dissect")], [rn("rn-track"), "--format", "json"]],
        "pipe, one process": [[rn("rn-capture"), "-r", f], [rn("rn-track"), "--dissect", "--format", "json"]],
        "capture --dissect": [[rn("rn-capture"), "-r", f, "--dissect"], [rn("rn-track"), "--format", "json"]],
        "rustnet --json": [[rn("rustnet"), "--read", f, "--json"]],
    }
    if have("tshark"):
        cmds["tshark conv"] = [["tshark", "-r", f, "-q", "-z", "conv,tcp", "-z", "conv,udp"]]
    return cmds


def measure(captures: dict[str, Path], rounds: int) -> dict[str, dict[str, list[RunResult]]]:
    """capture -> command -> one result per round; every command of every capture in each round."""
    out: dict[str, dict[str, list[RunResult]]] = {c: {} for c in captures}
    for _ in range(rounds):
        for cap, path in captures.items():
            for name, argvs in commands(path).items():
                r = run_pipeline(argvs)
                if not r.ok:
                    failed = ", ".join(f"{s.name} exit {s.status}" for s in r.stages)
                    raise SystemExit(f"{name} on {cap} failed: {failed}")
                out[cap].setdefault(name, []).append(r)
    return out


def report(results: dict[str, dict[str, list[RunResult]]], packets: dict[str, int]) -> None:
    caps = [c for c in results if c != EMPTY]
    headers = ["command"]
    for cap in caps:
        headers += [f"{cap} wall s", "CPU s", "CPU µs/pkt", "speed ÷ tshark", "CPU ÷ tshark"]
    names = list(results[caps[0]])
    rows = []
    for name in names:
        row: list[object] = [name]
        for cap in caps:
            rs = results[cap][name]
            ref = results[cap].get("tshark conv")
            wall, cpu = median([r.wall for r in rs]), median([r.cpu for r in rs])
            row += [wall, cpu, cpu / packets[cap] * 1e6]
            if ref:
                row += [median([r.wall for r in ref]) / wall, cpu / median([r.cpu for r in ref])]
            else:
                row += [float("nan"), float("nan")]
        rows.append(row)
    print(table(headers, rows))
    print("\n(medians; speed: tshark's wall / ours, >1 faster; CPU: ours / tshark's, <1 less)")
    for cap in caps:
        print(f"\n{cap} ({packets[cap]:,} packets): per stage (medians)")
        srows = []
        for name in names:
            rs = results[cap][name]
            for i, st in enumerate(rs[0].stages):
                cpu = median([r.stages[i].cpu for r in rs])
                rss = median([r.stages[i].maxrss_kb for r in rs]) / 1024
                srows.append([f"{name}: {st.name}", cpu / packets[cap] * 1e6, rss])
        print(table(["stage", "CPU µs/packet", "peak RSS MiB"], srows))
    if EMPTY in results:
        report_startup(results, packets, caps, names)


def report_startup(
    results: dict[str, dict[str, list[RunResult]]], packets: dict[str, int], caps: list[str], names: list[str]
) -> None:
    """Each command's CPU on the capture with no packet (its start-up, paid once a run), and its
    CPU a packet beyond that: what a larger capture costs it, against tshark's the same way."""
    start = {name: median([r.cpu for r in rs]) for name, rs in results[EMPTY].items()}

    def beyond(cap: str, name: str) -> float:
        return (median([r.cpu for r in results[cap][name]]) - start[name]) / packets[cap] * 1e6

    headers = ["command", "start-up CPU s"]
    for cap in caps:
        headers += [f"{cap} µs/pkt beyond it", "÷ tshark"]
    rows = []
    for name in names:
        row: list[object] = [name, start[name]]
        for cap in caps:
            ours = beyond(cap, name)
            ref = beyond(cap, "tshark conv") if "tshark conv" in start else float("nan")
            row += [ours, ours / ref]
        rows.append(row)
    print("\nstart-up: each command on a capture with no packet (medians), and its CPU a packet beyond that")
    print(table(headers, rows))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--packets", type=int, default=200_000, help="packets in each generated capture")
    ap.add_argument("--bulk-flows", type=int, default=8, help="transfers in the bulk capture")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians are reported)")
    ap.add_argument("--busy-core", action="store_true", help="keep one core busy with a busy loop meanwhile")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="rn-cpu-report-") as tmp:
        captures = make_captures(Path(tmp), a.packets, a.bulk_flows)
        packets = {cap: count_packets(p) for cap, p in captures.items()}
        busy = subprocess.Popen(["sh", "-c", "while :; do :; done"]) if a.busy_core else None
        try:
            busy_note = "; one core busy" if busy else ""
            print(f"{a.rounds} rounds{busy_note}; load average before: {load_average()}")
            results = measure(captures, max(a.rounds, 1))
            print(f"load average after: {load_average()}\n")
        finally:
            if busy is not None:
                busy.kill()
                busy.wait()
        report(results, packets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
