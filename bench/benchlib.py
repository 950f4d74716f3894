"""What every bench script shares: run a pipeline of processes and measure each one.

Each stage's CPU seconds and peak RSS come from the kernel's rusage of that very child
(``os.wait4``), so a stage is measured alone even though the stages run at once; the
wall time is from the first spawn to the last exit. References (tshark, tcpdump) run
through the same function, in the same rounds, interleaved with ours, so a noisy
machine slows both sides alike and the ratio stays meaningful.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PYTHON = sys.executable

# How tcpreplay keeps its rate. "nano" sleeps between bursts; its default ("gtod") spins on the
# clock, which took a whole core of the two here (99% of a core against 25% for nano at 150,000
# packets/s, the same rate achieved), leaving the pipeline the other one. On a real host the packets
# come from the network, not from a spinning process beside the pipeline. bench_live.py's
# --replay-timer gtod gives the earlier runs' conditions.
REPLAY_TIMER = "nano"


def tcpreplay_argv(iface: str, pcap: Path, rate: int, packets: int, timer: str = REPLAY_TIMER) -> list[str]:
    """tcpreplay sending ``pcap`` (looped) onto ``iface`` at ``rate`` packets/s until ``packets``
    are sent, in bursts of a packet per 10,000 packets/s (one timer wake-up per burst)."""
    return [
        "tcpreplay",
        "-q",
        "-K",
        "-T",
        timer,
        "--pps-multi",
        str(max(1, rate // 10000)),
        "-i",
        iface,
        "--pps",
        str(rate),
        "--loop",
        "0",
        "--limit",
        str(packets),
        str(pcap),
    ]


def rn(name: str) -> str:
    """The path of one of our commands in this venv (falls back to PATH)."""
    exe = BIN / name
    return str(exe) if exe.exists() else (shutil.which(name) or name)


@dataclass
class StageUsage:
    """One process of a pipeline, as the kernel accounted it."""

    name: str
    cpu: float  # user + system seconds
    maxrss_kb: int
    status: int


@dataclass
class RunResult:
    wall: float
    stages: list[StageUsage] = field(default_factory=list)

    @property
    def cpu(self) -> float:
        return sum(s.cpu for s in self.stages)

    @property
    def ok(self) -> bool:
        return all(s.status == 0 for s in self.stages)


def run_pipeline(
    argvs: Sequence[Sequence[str]],
    stdin: IO[Any] | int | None = None,
    stdout: IO[Any] | int | None = subprocess.DEVNULL,
    timeout: float = 600.0,
    env: dict[str, str] | None = None,
) -> RunResult:
    """Run ``argvs[0] | argvs[1] | ...``; wall time and every stage's rusage.

    The stages' stderr is discarded (tshark's "running as root" notice); a stage that
    fails shows in its ``status``.
    """
    procs: list[subprocess.Popen[bytes]] = []
    t0 = time.perf_counter()
    prev: Any = stdin
    for i, argv in enumerate(argvs):
        last = i == len(argvs) - 1
        p = subprocess.Popen(
            list(argv),
            stdin=prev,
            stdout=stdout if last else subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        if i > 0 and prev is not None and hasattr(prev, "close"):
            prev.close()  # only the next stage holds the read end: EOF and SIGPIPE work
        prev = p.stdout
        procs.append(p)
    timer = threading.Timer(timeout, _kill_all, (procs,))
    timer.daemon = True
    timer.start()
    usages: dict[int, StageUsage] = {}
    try:
        for p in procs:
            _, st, ru = os.wait4(p.pid, 0)
            p.returncode = os.waitstatus_to_exitcode(st)
            usages[p.pid] = StageUsage(
                Path(p.args[0]).name,  # type: ignore[index]
                ru.ru_utime + ru.ru_stime,
                ru.ru_maxrss,
                p.returncode,
            )
    finally:
        timer.cancel()
    wall = time.perf_counter() - t0
    return RunResult(wall, [usages[p.pid] for p in procs])


def _kill_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.returncode is None:
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain text table, numbers right-aligned."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, r in enumerate(cells):
        parts = [c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r)]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(v: Any) -> str:
    if isinstance(v, float):
        if v != v:
            return "-"
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        if abs(v) >= 10:
            return f"{v:.1f}"
        return f"{v:.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def count_packets(path: Path) -> int:
    """Packets in a capture file (libpcap reads ~millions per second)."""
    import pcapy

    reader = pcapy.open_offline(str(path))
    n = 0
    while True:
        hdr, _ = reader.next()
        if hdr is None:
            return n
        n += 1


def mixed_pcap(packets: int, path: Path | None = None) -> Path:
    """The mixed-traffic capture of bench/make_mixed_pcap.py, built once and reused (the name
    holds a digest of the generator: a changed generator makes a new file)."""
    digest = hashlib.sha256((ROOT / "bench" / "make_mixed_pcap.py").read_bytes()).hexdigest()[:8]
    path = path or Path("/tmp") / f"rn-bench-mixed-{packets}-{digest}.pcap"
    if not path.exists() or path.stat().st_size == 0:
        tmp = path.with_suffix(".part")
        subprocess.run(
            [PYTHON, str(ROOT / "bench" / "make_mixed_pcap.py"), "-n", str(packets), "-o", str(tmp)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        tmp.rename(path)
    return path


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


def cpu_times(pid: int) -> float:
    """User + system seconds of a running process (and its reaped children), from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / tick


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (read from /proc/<pid>/task/*/children)."""
    out = [pid]
    i = 0
    while i < len(out):
        p = out[i]
        i += 1
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    out.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return out


def tree_cpu(pid: int) -> dict[int, float]:
    """CPU seconds so far of ``pid`` and each live descendant."""
    out: dict[int, float] = {}
    for p in descendants(pid):
        try:
            out[p] = cpu_times(p)
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
    return out


def proc_name(pid: int) -> str:
    """A short name: the script name for our python commands, else the executable."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return "?"
    names = [Path(a.decode(errors="replace")).name for a in argv if a]
    for a in names[:3]:
        if a.startswith(("rn-", "rustnet")):
            return a
    return names[0] if names else "?"


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0
