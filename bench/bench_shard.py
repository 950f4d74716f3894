"""The worker scaling curve: ``rustnet --workers N`` for N = 1..max, beside tshark, in one run.

    .venv/bin/python bench/bench_shard.py [--packets 200000] [--max-workers N] [--rounds 3]
                                          [--live] [--rates 50000,100000,150000] [--seconds 5]

Offline: a flow-heavy capture (bench/make_mixed_pcap.py's mix of short flows) and a bulk one
(``--bulk-flows`` long transfers), generated into a temporary directory. Interleaved round by
round, so that load on the machine falls on every command alike:

* ``rustnet --read F --json --workers N`` for each N (``--workers 1`` is what rustnet ran before
  it had workers: the stages one after another, side by side);
* ``tshark -r F -q -z conv,tcp -z conv,udp``.

Printed per capture: medians of wall seconds, CPU seconds (user + system of every process),
packets/s, speed against one worker and against tshark (their wall / ours: >1 is faster), CPU
against one worker. The default ``--max-workers`` is the number of cores we may run on (at
least 2).

``--live`` (root, ip netns, tcpreplay; as bench/bench_live.py): in one network namespace
``rustnet -i VETH --json --workers N --record STREAM``, in the other ``tcpreplay --pps R`` of the
flow-heavy capture for ``--seconds``; per N and rate: packets captured, dropped by the kernel
(summed over the workers' sockets), the lag (seconds after the replay until every packet was
read), packets/s over replay and lag, the CPU of the whole tree (% of one core), and whether it
kept up (nothing lost, under 1 s of lag). The rates are tried in order until one does not.

The load average is printed before and after: quote it with the figures.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

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
    tree_cpu,
)


def load_average() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def make_captures(tmp: Path, packets: int, bulk_flows: int) -> dict[str, Path]:
    gen = str(ROOT / "bench" / "make_mixed_pcap.py")
    heavy, bulk = tmp / "flow-heavy.pcap", tmp / "bulk.pcap"
    for argv in (["-o", str(heavy)], ["--bulk", str(bulk_flows), "-o", str(bulk)]):
        subprocess.run([PYTHON, gen, "-n", str(packets), *argv], check=True, stdout=subprocess.DEVNULL)
    return {"flow-heavy": heavy, "bulk": bulk}


def commands(pcap: Path, max_workers: int) -> dict[str, list[list[str]]]:
    f = str(pcap)
    cmds = {
        f"workers {n}": [[rn("rustnet"), "--read", f, "--json", "--workers", str(n)]]
        for n in range(1, max_workers + 1)
    }
    if have("tshark"):
        cmds["tshark conv"] = [["tshark", "-r", f, "-q", "-z", "conv,tcp", "-z", "conv,udp"]]
    return cmds


def offline(
    captures: dict[str, Path], max_workers: int, rounds: int
) -> dict[str, dict[str, list[RunResult]]]:
    out: dict[str, dict[str, list[RunResult]]] = {c: {} for c in captures}
    for _ in range(rounds):
        for cap, path in captures.items():
            for name, argvs in commands(path, max_workers).items():
                r = run_pipeline(argvs)
                if not r.ok:
                    raise SystemExit(f"{name} on {cap} failed (exit {r.stages[0].status})")
                out[cap].setdefault(name, []).append(r)
    return out


def offline_report(results: dict[str, dict[str, list[RunResult]]], packets: dict[str, int]) -> None:
    for cap, by_name in results.items():
        one = by_name["workers 1"]
        one_wall, one_cpu = median([r.wall for r in one]), median([r.cpu for r in one])
        ref = by_name.get("tshark conv")
        ref_wall = median([r.wall for r in ref]) if ref else float("nan")
        rows = []
        for name, rs in by_name.items():
            wall, cpu = median([r.wall for r in rs]), median([r.cpu for r in rs])
            rows.append(
                [name, wall, cpu, packets[cap] / wall, one_wall / wall, cpu / one_cpu, ref_wall / wall]
            )
        print(f"\n{cap} ({packets[cap]:,} packets), medians:")
        headers = [
            "command",
            "wall s",
            "CPU s",
            "pkt/s",
            "speed ÷ 1 worker",
            "CPU ÷ 1 worker",
            "speed ÷ tshark",
        ]
        print(table(headers, rows))


# --- live ------------------------------------------------------------------------------------
def live_step(net: object, pcap: Path, workers: int, rate: int, seconds: float, tmp: Path) -> list[object]:
    from bench_live import StatsFollower, replay, wait_caught_up, wait_for_header

    assert hasattr(net, "iface") and hasattr(net, "spawn") and hasattr(net, "run")
    stream, out = tmp / f"stream-{workers}-{rate}.rn", tmp / f"out-{workers}-{rate}.json"
    cmd = (
        f"exec {rn('rustnet')} -i {net.iface('b')} --json --no-resolve-dns --workers {workers} "
        f"--record {stream} > {out}"
    )
    proc = net.spawn("b", ["sh", "-c", cmd])
    wait_for_header(stream)
    time.sleep(1.0)
    before = tree_cpu(proc.pid)
    t0 = time.monotonic()
    sent, _, _ = replay(net, pcap, rate, seconds)
    follow = StatsFollower(stream)
    lag = wait_caught_up(follow, timeout=60.0)
    # Until every packet was read: what the kernel's buffer held back is work done after the replay.
    busy_s = time.monotonic() - t0
    after = tree_cpu(proc.pid)
    cpu_pct = sum(c - before.get(p, 0.0) for p, c in after.items()) / busy_s * 100
    os.kill(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    st = follow.update()
    follow.close()
    stream.unlink(missing_ok=True)
    out.unlink(missing_ok=True)
    captured, dropped = st.get("packets", 0), st.get("dropped", 0) + st.get("ifdropped", 0)
    lost = max(dropped, sent - captured)
    return [
        workers,
        f"{rate:,}",
        sent,
        captured,
        lost,
        lag,
        cpu_pct,
        captured / busy_s,
        "yes" if lost == 0 and lag < 1.0 else "no",
    ]


def live(max_workers: int, rates: list[int], seconds: float) -> None:
    from benchlib import mixed_pcap
    from netns import TwoHosts, can_make_namespaces

    if not can_make_namespaces() or not have("tcpreplay"):
        print("\nlive: needs root, ip netns and tcpreplay; skipped")
        return
    pcap = mixed_pcap(200_000)
    rows = []
    print(f"\nlive: tcpreplay of {pcap} for {seconds:.0f} s per rate into rustnet -i VETH --json --workers N")
    with TwoHosts() as net, tempfile.TemporaryDirectory() as tmpdir:
        for n in range(1, max_workers + 1):
            for rate in rates:
                row = live_step(net, pcap, n, rate, seconds, Path(tmpdir))
                print("  ", row, flush=True)
                rows.append(row)
                if row[-1] != "yes":
                    break
    headers = ["workers", "asked pps", "sent", "captured", "lost", "lag s", "CPU % core", "pkt/s", "kept up"]
    print(table(headers, rows))
    print(
        "(lag: seconds after the replay until every packet was read; pkt/s: captured over the replay "
        "and the lag; kept up: nothing lost and under 1 s of lag, i.e. not living on the kernel buffer)"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--packets", type=int, default=200_000, help="packets in each generated capture")
    ap.add_argument("--bulk-flows", type=int, default=8, help="transfers in the bulk capture")
    ap.add_argument("--max-workers", type=int, default=max(2, len(os.sched_getaffinity(0))))
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians are reported)")
    ap.add_argument("--live", action="store_true", help="also live, as root, with tcpreplay")
    ap.add_argument("--rates", default="50000,100000,150000", help="live: packets/s to try, in order")
    ap.add_argument("--seconds", type=float, default=5.0, help="live: seconds of replay per rate")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="rn-shard-bench-") as tmp:
        captures = make_captures(Path(tmp), a.packets, a.bulk_flows)
        packets = {cap: count_packets(p) for cap, p in captures.items()}
        print(f"{os.cpu_count()} cores; {a.rounds} rounds; load average before: {load_average()}")
        results = offline(captures, a.max_workers, max(a.rounds, 1))
        print(f"load average after: {load_average()}")
        offline_report(results, packets)
    if a.live:
        live(a.max_workers, [int(r) for r in a.rates.split(",") if r.strip()], a.seconds)
        print(f"load average after: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
