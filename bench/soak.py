"""Soak: 10 minutes at 20,000 packets/s; is memory steady, are packets dropped?

    sudo .venv/bin/python bench/soak.py [--minutes 10] [--rate 20000] [--every 10]

``rustnet -i veth-b`` runs with its TUI in a pseudo-terminal in host "b" of two namespaces
(the whole product: rn-capture | rn-dissect | rn-track | rn-enrich and the viewer in the
rustnet process), while tcpreplay sends the mixed capture, looped, from host "a" at
``--rate`` for ``--minutes``. The drops are read where a user reads them: the status line
("drops N", from rn-capture's ``stats`` records). ``--record`` makes rustnet also save the
stream (through its relay) and then reports the capture's exact counters from it.
Every ``--every`` seconds the RSS of each process is sampled from /proc. Printed: RSS per
process at the start of the second minute (warm: the connection table is full by then, the
mixed capture's flows live for seconds), at the end, the maximum, and the drift per minute
from a least-squares line over the warm samples; then the drops. "Steady" means no process
grows by more than 10% over the warm period.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from bench_idle import start_tui, stop  # noqa: E402
from bench_live import StatsFollower, wait_for_header  # noqa: E402
from bench_startup import read_pty  # noqa: E402
from benchlib import descendants, have, mixed_pcap, proc_name, rss_kb, table, tree_cpu  # noqa: E402
from netns import TwoHosts, can_make_namespaces  # noqa: E402

STATS_INTERVAL = 1.0  # rustnet's rn-capture reports its statistics every second
_DROPS = re.compile(rb"drops ([\d,]+)")
_RATE = re.compile(rb"([\d,]+) pkt/s")


class StatusWatch:
    """Reads the TUI's output (answering terminal queries) and keeps the status line's figures."""

    def __init__(self) -> None:
        self.tail = b""
        self.drops = 0
        self.rate = "?"
        self.seen = 0

    def read(self, master: int) -> None:
        chunk = read_pty(master)
        if not chunk:
            return
        text = self.tail + chunk
        for m in _DROPS.finditer(text):
            self.drops = int(m.group(1).replace(b",", b""))
            self.seen += 1
        for m in _RATE.finditer(text):
            self.rate = m.group(1).decode()
        self.tail = text[-64:]


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
    ap.add_argument(
        "--record", action="store_true", help="rustnet --record: exact capture counters from the recording"
    )
    a = ap.parse_args()
    if not can_make_namespaces() or not have("tcpreplay"):
        print("soak: needs root, ip netns and tcpreplay; skipped")
        return 0
    pcap = mixed_pcap(200_000)
    seconds = a.minutes * 60
    samples: dict[str, list[tuple[float, int]]] = {}
    status = StatusWatch()
    cpu_pct: dict[str, float] = {}
    st: dict[str, int] = {}
    lag = float("nan")
    with TwoHosts() as net, tempfile.TemporaryDirectory() as tmp:
        stream = Path(tmp) / "soak.rn"
        proc, master = start_tui(net, ["--record", str(stream)] if a.record else [])
        follow = None
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and status.seen == 0:
                status.read(master)
                time.sleep(0.05)
            if a.record:
                wait_for_header(stream)
                follow = StatsFollower(stream)
            time.sleep(1.0)
            pids = {p: proc_name(p) for p in descendants(proc.pid)}
            limit = int(a.rate * seconds)
            multi = str(max(1, a.rate // 10000))
            rp = net.spawn(
                "a",
                [
                    "tcpreplay",
                    "-q",
                    "-K",
                    "-i",
                    net.iface("a"),
                    "--pps",
                    str(a.rate),
                    "--pps-multi",
                    multi,
                    "--loop",
                    "0",
                    "--limit",
                    str(limit),
                    str(pcap),
                ],
            )
            t0 = time.monotonic()
            cpu0 = tree_cpu(proc.pid)
            print(
                f"soak: {a.rate:,} packets/s for {a.minutes:g} min; RSS sampled every {a.every:g} s",
                flush=True,
            )
            next_sample = 0.0
            while rp.poll() is None and time.monotonic() - t0 < seconds + 120:
                now = time.monotonic() - t0
                if now >= next_sample:
                    for pid, name in pids.items():
                        kb = rss_kb(pid)
                        if kb:
                            samples.setdefault(name, []).append((now, kb))
                    if follow is not None:
                        follow.update()
                    next_sample = now + a.every
                status.read(master)
                time.sleep(0.05)
            end = time.monotonic()
            cpu1 = tree_cpu(proc.pid)
            for pid, c in cpu1.items():
                name = pids.get(pid, proc_name(pid))
                cpu_pct[name] = cpu_pct.get(name, 0.0) + (c - cpu0.get(pid, 0.0)) / (end - t0) * 100
            while time.monotonic() - end < 5:  # the status line catches up with the last stats
                status.read(master)
                time.sleep(0.05)
            if follow is not None:
                while time.monotonic() - end < 60:
                    status.read(master)
                    st = follow.update()
                    if st and st["packets"] + st["dropped"] >= st["received"]:
                        lag = time.monotonic() - end
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
        rows.append(
            [
                name,
                start / 1024,
                end / 1024,
                peak / 1024,
                slope_per_minute(warm) / 1024,
                growth,
                cpu_pct.get(name, float("nan")),
            ]
        )
    print(
        table(
            ["process", "RSS MiB at 1 min", "at end", "max", "drift MiB/min", "growth %", "CPU % core"], rows
        )
    )
    print(
        f"\npackets: {limit:,} asked of tcpreplay; the status line's last figures: drops "
        f"{status.drops:,}, {status.rate} pkt/s"
    )
    if st:
        print(
            f"recording: captured {st.get('packets', 0):,}, kernel dropped {st.get('dropped', 0):,}; "
            f"caught up {lag:.1f} s after the replay"
        )
    print(f"memory steady (no process grew > 10% after the first minute): {'yes' if steady else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
