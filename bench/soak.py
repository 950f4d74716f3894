"""Soak: 10 minutes at 20,000 packets/s; is memory steady, are packets dropped?

    sudo .venv/bin/python bench/soak.py [--minutes 10] [--rate 20000] [--every 10]

``rustnet -i veth-b --record STREAM`` runs with its TUI in a pseudo-terminal in host "b" of
two namespaces (the whole product: rn-capture | rn-dissect | rn-track | rn-enrich and the
viewer in the rustnet process), while tcpreplay sends the mixed capture, looped, from host
"a" at ``--rate`` for ``--minutes``; the recording gives the capture's ``stats`` records.
Every ``--every`` seconds the RSS of each process is sampled from /proc. Printed: RSS per
process at the start of the second minute (warm: the connection table is full by then, the
mixed capture's flows live for seconds), at the end, the maximum, and the drift per minute
from a least-squares line over the warm samples; then the drops. "Steady" means no process
grows by more than 10% over the warm period.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from bench_idle import drain, start_tui, stop  # noqa: E402
from bench_live import StatsFollower, wait_for_header  # noqa: E402
from benchlib import descendants, have, mixed_pcap, proc_name, rss_kb, table  # noqa: E402
from netns import TwoHosts, can_make_namespaces  # noqa: E402

STATS_INTERVAL = 1.0  # rustnet's rn-capture reports its statistics every second


def slope_per_minute(samples: list[tuple[float, int]]) -> float:
    """Least-squares slope of (seconds, KiB), in KiB per minute."""
    n = len(samples)
    if n < 2:
        return 0.0
    mx = sum(t for t, _ in samples) / n
    my = sum(v for _, v in samples) / n
    den = sum((t - mx) ** 2 for t, _ in samples)
    if den == 0:
        return 0.0
    return sum((t - mx) * (v - my) for t, v in samples) / den * 60


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--rate", type=int, default=20_000)
    ap.add_argument("--every", type=float, default=10.0, help="seconds between RSS samples")
    a = ap.parse_args()
    if not can_make_namespaces() or not have("tcpreplay"):
        print("soak: needs root, ip netns and tcpreplay; skipped")
        return 0
    pcap = mixed_pcap(200_000)
    seconds = a.minutes * 60
    samples: dict[str, list[tuple[float, int]]] = {}
    with TwoHosts() as net, tempfile.TemporaryDirectory() as tmp:
        stream = Path(tmp) / "soak.rn"
        proc, master = start_tui(net, ["--record", str(stream)])
        try:
            deadline = time.monotonic() + 20
            while not (stream.exists() and stream.stat().st_size) and time.monotonic() < deadline:
                drain(master)
                time.sleep(0.05)
            wait_for_header(stream, timeout=1.0)
            follow = StatsFollower(stream)
            for _ in range(20):
                drain(master)
                time.sleep(0.05)
            pids = {p: proc_name(p) for p in descendants(proc.pid)}
            limit = int(a.rate * seconds)
            multi = str(max(1, a.rate // 10000))
            rp = net.spawn("a", ["tcpreplay", "-q", "-K", "-i", net.iface("a"), "--pps", str(a.rate),
                                 "--pps-multi", multi, "--loop", "0", "--limit", str(limit), str(pcap)])
            t0 = time.monotonic()
            print(f"soak: {a.rate:,} packets/s for {a.minutes:g} min; RSS sampled every {a.every:g} s",
                  flush=True)
            next_sample = 0.0
            while rp.poll() is None and time.monotonic() - t0 < seconds + 120:
                now = time.monotonic() - t0
                if now >= next_sample:
                    for pid, name in pids.items():
                        kb = rss_kb(pid)
                        if kb:
                            samples.setdefault(name, []).append((now, kb))
                    follow.update()
                    next_sample = now + a.every
                drain(master)
                time.sleep(0.05)
            caught = time.monotonic()
            lag = float("inf")
            while time.monotonic() - caught < 60:
                drain(master)
                st = follow.update()
                if st and st["packets"] + st["dropped"] >= st["received"]:
                    lag = time.monotonic() - caught
                    break
                time.sleep(STATS_INTERVAL)
            st = follow.update()
            follow.close()
        finally:
            stop(proc)
            os.close(master)
    rows = []
    steady = True
    for name, ss in sorted(samples.items()):
        warm = [s for s in ss if s[0] >= 60] or ss
        start, end, peak = warm[0][1], warm[-1][1], max(v for _, v in ss)
        growth = (end - start) / start * 100 if start else 0.0
        steady &= growth <= 10
        rows.append([name, start / 1024, end / 1024, peak / 1024, slope_per_minute(warm) / 1024, growth])
    print(table(["process", "RSS MiB at 1 min", "at end", "max", "drift MiB/min", "growth %"], rows))
    print(f"\npackets: sent {limit:,} (asked of tcpreplay), captured {st.get('packets', 0):,}, "
          f"kernel dropped {st.get('dropped', 0):,}; caught up {lag:.1f} s after the replay "
          f"(rn-capture's stats every {STATS_INTERVAL} s)")
    print(f"memory steady (no process grew > 10% after the first minute): {'yes' if steady else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
