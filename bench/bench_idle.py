"""Idle cost and cost at 10,000 packets/s: CPU of every rustnet process, as % of one core.

    sudo .venv/bin/python bench/bench_idle.py [--seconds 10] [--rate 10000]

In host "b" of two fresh namespaces (tests/netns.py):

* ``rustnet -i veth-b`` with its TUI in a pseudo-terminal (the real thing, redrawing every
  refresh interval), and
* ``rustnet -i veth-b --json`` (headless),

each measured over ``--seconds`` on the idle interface (target: < 1% of one core for all
processes together), then while host "a" replays the mixed capture with tcpreplay at
``--rate`` packets/s (target: < 30%). CPU is read from /proc for the whole process tree
(rustnet and every stage it started) before and after the window.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from bench_startup import read_pty  # noqa: E402
from benchlib import have, mixed_pcap, proc_name, rn, table, tcpreplay_argv, tree_cpu  # noqa: E402
from netns import TwoHosts, can_make_namespaces  # noqa: E402


def window_cpu(
    root: int, seconds: float, during: subprocess.Popen[bytes] | None = None, pty_master: int | None = None
) -> tuple[float, dict[str, float]]:
    """% of one core used by ``root``'s tree over ``seconds`` (total, and per process name)."""
    before = tree_cpu(root)
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        if pty_master is not None:
            read_pty(pty_master)
        time.sleep(0.05)
    after = tree_cpu(root)
    wall = time.monotonic() - t0
    per: dict[str, float] = {}
    for pid, c in after.items():
        name = proc_name(pid)
        per[name] = per.get(name, 0.0) + (c - before.get(pid, 0.0)) / wall * 100
    return sum(per.values()), per


def start_tui(
    net: TwoHosts,
    extra: list[str] | None = None,
    cwd: Path | None = None,
    env_extra: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[bytes], int]:
    """``rustnet -i veth-b`` (plus ``extra``, in ``cwd``) with its TUI on a 120x40 pty; returns
    (process, master)."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = dict(os.environ, TERM="xterm-256color", **(env_extra or {}))
    proc = subprocess.Popen(
        net.cmd("b", [rn("rustnet"), "-i", net.iface("b"), *(extra or [])]),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    os.close(slave)
    return proc, master


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def replay(net: TwoHosts, pcap: Path, rate: int, seconds: float) -> subprocess.Popen[bytes]:
    return net.spawn("a", tcpreplay_argv(net.iface("a"), pcap, rate, int(rate * (seconds + 3))))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rate", type=int, default=10_000)
    a = ap.parse_args()
    if not can_make_namespaces():
        print("bench_idle: needs root and ip netns; skipped")
        return 0
    pcap = mixed_pcap(200_000)
    rows = []
    details = []
    for mode in ("TUI", "--json"):
        with TwoHosts() as net:
            master = None
            if mode == "TUI":
                proc, master = start_tui(net)
            else:
                proc = net.spawn("b", [rn("rustnet"), "-i", net.iface("b"), "--json"])
            try:
                time.sleep(3.0)  # start-up is not idle cost
                idle, per_idle = window_cpu(proc.pid, a.seconds, pty_master=master)
                rows.append([f"rustnet {mode}, idle interface", idle, "< 1%"])
                details.append((f"{mode} idle", per_idle))
                if have("tcpreplay"):
                    rp = replay(net, pcap, a.rate, a.seconds)
                    time.sleep(1.0)
                    busy, per_busy = window_cpu(proc.pid, a.seconds, pty_master=master)
                    rp.wait(timeout=a.seconds * 3 + 30)
                    rows.append([f"rustnet {mode}, {a.rate:,} packets/s", busy, "< 30%"])
                    details.append((f"{mode} {a.rate} pps", per_busy))
            finally:
                stop(proc)
                if master is not None:
                    os.close(master)
    print(table(["what", "CPU % of one core (all processes)", "target"], rows))
    for name, per in details:
        parts = ", ".join(f"{k} {v:.1f}%" for k, v in sorted(per.items(), key=lambda kv: -kv[1]) if v >= 0.05)
        print(f"  {name}: {parts or 'nothing measurable'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
