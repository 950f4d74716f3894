"""Live: the highest replay rate the full pipeline takes with zero drops.

    sudo .venv/bin/python bench/bench_live.py [--rates 25000,50000,100000,150000,200000]
                                              [--seconds 30] [--pcap F] [--reference] [--rustnet]

Two network namespaces joined by a veth pair (tests/netns.py). In host "b" runs the
whole pipeline with DPI, enrichment and the viewer's model, as rustnet runs it:

    rn-capture -i veth-b | rn-dissect | rn-track | rn-enrich | tee STREAM | rn-view --json

(with ``rn-track --dissect`` for ``rn-dissect | rn-track`` where rustnet would run that, fewer
than 3 idle cores: rustnet.app.launch.dissect_in_track; ``--separate`` and ``--chain`` force
either)

(``tee`` keeps the stream so the capture's ``stats`` records, which every stage passes
through, can be read afterwards). In host "a", ``tcpreplay --pps R`` sends the mixed
capture (bench/make_mixed_pcap.py, looped) onto the veth for ``--seconds`` (30 by default: the
64 MiB kernel buffer holds about 3 s of these packets, so a shorter replay can pass a rate the
stages do not sustain: 150,000 packets/s passed 10 s runs here and dropped 17-28% over 30 s). Then
rn-capture gets SIGINT, the stages drain, and the final ``stats`` record says how many
packets libpcap saw and how many the kernel dropped. A rate passes when nothing was
dropped and every packet tcpreplay sent was captured. Each step prints the rate
tcpreplay achieved, the drops, and the CPU the pipeline used (% of one core, all
processes); the rates are tried in order until one fails.

``--rustnet`` replays each rate into ``rustnet -i IFACE`` itself instead, with its TUI on a
pseudo-terminal (read and thrown away as fast as it draws): the stages rustnet picks, and its
viewer getting the records in-process. The counts come from its session log's final capture
statistics (``-l info``, which logs no connection records); it is quit once its processes go
idle after the replay (the lag column: how long they took to read the backlog).

``--reference`` replays each rate into ``tshark -i IFACE -q -z conv,tcp -z conv,udp`` too (the
offline benchmarks' reference), in the same run: what it captured, the drops dumpcap reports,
its CPU. It is stopped once dumpcap's temporary file stops growing (the kernel buffer is empty).
"""

from __future__ import annotations

import argparse
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from bench_idle import start_tui  # noqa: E402
from benchlib import (  # noqa: E402
    REPLAY_TIMER,
    descendants,
    have,
    mixed_pcap,
    proc_name,
    rn,
    table,
    tcpreplay_argv,
    tree_cpu,
)
from netns import TwoHosts, can_make_namespaces, stop  # noqa: E402
from rustnet.app.launch import Options, dissect_in_track  # noqa: E402
from rustnet.stream import RecordReader  # noqa: E402

STATS_INTERVAL = 0.25  # seconds between rn-capture's stats records: the resolution of the lag


@dataclass
class Step:
    rate: int  # asked
    sent: int
    actual_pps: float
    captured: int
    received: int
    dropped: int
    ifdropped: int
    cpu_pct: float  # all pipeline processes, % of one core, during the replay
    per_stage: dict[str, float]
    conns: int
    drain_s: float
    lag_s: float  # after the replay ended, until rn-capture had read every packet the kernel took

    @property
    def ok(self) -> bool:
        return self.dropped == 0 and self.ifdropped == 0 and self.captured >= self.sent > 0


def pipeline_cmd(
    iface: str, stream: Path, out: Path, dpi: bool = True, enrich: bool = True, chain: bool | str = False
) -> str:
    """The stages as a shell pipeline; ``chain``: rn-track dissects itself (``rn-track --dissect``),
    "capture": rn-capture does (``rn-capture --dissect``)."""
    capture = f"{rn('rn-capture')} -i {iface} --stats-interval {STATS_INTERVAL}"
    if chain == "capture":
        capture += " --dissect"
        tracker = rn("rn-track")
    elif chain:
        tracker = f"{rn('rn-track')} --dissect" + ("" if dpi else " --no-dpi")
    else:
        tracker = f"{rn('rn-dissect')}" + ("" if dpi else " --no-dpi") + f" | {rn('rn-track')}"
    enricher = f" | {rn('rn-enrich')}" if enrich else ""
    return f"{capture} | {tracker}{enricher} | tee {stream} | {rn('rn-view')} --json > {out}"


def wait_or_kill(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Wait for ``proc`` to end; after ``timeout`` seconds, SIGKILL its process group."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wait_for_header(stream: Path, timeout: float = 15.0) -> None:
    """The stream's header made it through every stage: the capture is open."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stream.exists() and stream.stat().st_size > 0:
            return
        time.sleep(0.05)
    raise TimeoutError("the pipeline did not start (no header within 15 s)")


class StatsFollower:
    """Follows the growing stream file and keeps the latest capture ``stats`` record."""

    def __init__(self, stream: Path) -> None:
        self.fd = os.open(stream, os.O_RDONLY)
        self.reader = RecordReader(self.fd, str(stream))
        self.last: dict[str, int] = {}

    def update(self) -> dict[str, int]:
        while True:
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:  # the current end of the file, not the end of the stream
                return self.last
            for rec in self.reader.feed(chunk):
                if isinstance(rec, dict) and rec.get("t") == "stats":
                    self.last = {
                        k: int(rec.get(k) or 0) for k in ("packets", "received", "dropped", "ifdropped")
                    }

    def close(self) -> None:
        os.close(self.fd)


def wait_caught_up(follow: StatsFollower, timeout: float) -> float:
    """Seconds until rn-capture has read everything the kernel took in."""
    t0 = time.monotonic()
    prev = -1
    while time.monotonic() - t0 < timeout:
        st = follow.update()
        # Caught up: two stats records in a row with nothing new received and nothing left unread.
        # libpcap's "received" counts the packets the kernel dropped too.
        if st and st["packets"] + st["dropped"] >= st["received"] and st["received"] == prev:
            return time.monotonic() - t0
        prev = st.get("received", -1) if st else -1
        time.sleep(STATS_INTERVAL)
    return float("inf")


def run_step(
    net: TwoHosts,
    pcap: Path,
    rate: int,
    seconds: float,
    tmp: Path,
    dpi: bool = True,
    enrich: bool = True,
    chain: bool | str = False,
    timer: str = REPLAY_TIMER,
) -> Step:
    stream, out = tmp / f"stream-{rate}.rn", tmp / f"view-{rate}.json"
    proc = net.spawn("b", ["sh", "-c", pipeline_cmd(net.iface("b"), stream, out, dpi, enrich, chain)])
    wait_for_header(stream)
    time.sleep(0.5)
    pids = [p for p in descendants(proc.pid) if p != proc.pid]
    before = {p: c for p, c in tree_cpu(proc.pid).items()}
    sent, actual, replay_s = replay(net, pcap, rate, seconds, timer)
    after = tree_cpu(proc.pid)
    names = {p: proc_name(p) for p in pids}
    per_stage: dict[str, float] = {}
    for p, c in after.items():
        if p == proc.pid:
            continue
        name = names.get(p, proc_name(p))
        per_stage[name] = per_stage.get(name, 0.0) + (c - before.get(p, 0.0)) / replay_s * 100
    follow = StatsFollower(stream)
    lag = wait_caught_up(follow, timeout=60.0)
    t1 = time.monotonic()
    for p in pids:
        if names.get(p) == "rn-capture":
            os.kill(p, signal.SIGINT)
    wait_or_kill(proc, 120)
    drain = time.monotonic() - t1
    st = follow.update()
    follow.close()
    conns = sum(1 for line in out.read_text().splitlines() if line.strip()) if out.exists() else 0
    stream.unlink(missing_ok=True)
    out.unlink(missing_ok=True)
    return Step(
        rate,
        sent,
        actual,
        st.get("packets", 0),
        st.get("received", 0),
        st.get("dropped", 0),
        st.get("ifdropped", 0),
        sum(per_stage.values()),
        per_stage,
        conns,
        drain,
        lag,
    )


class PtyDrain:
    """Reads (and throws away) what the TUI draws, so that it never blocks on a full pty."""

    def __init__(self, master: int) -> None:
        self.master = master
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.done.is_set():
            if select.select([self.master], [], [], 0.1)[0]:
                try:
                    if not os.read(self.master, 1 << 16):
                        return
                except OSError:
                    return

    def stop(self) -> None:
        self.done.set()
        self.thread.join(5)


def _log_text(logdir: Path) -> str:
    return "".join(f.read_text(errors="replace") for f in sorted((logdir / "logs").glob("*.log")))


def wait_until_idle(root: int, timeout: float, below: float = 5.0) -> float:
    """Seconds until the stages that take every packet (rn-track, rn-dissect) under ``root`` use
    less than ``below`` % of a core over two 0.5 s windows in a row: the backlog the kernel
    held has been read. (Not the whole tree: the viewer redraws a large table every refresh.)"""

    def busy() -> float:
        return sum(c for p, c in tree_cpu(root).items() if proc_name(p) in ("rn-track", "rn-dissect"))

    t0 = time.monotonic()
    quiet = 0
    before = busy()
    while time.monotonic() - t0 < timeout:
        time.sleep(0.5)
        now = busy()
        quiet = quiet + 1 if (now - before) / 0.5 * 100 < below else 0
        before = now
        if quiet >= 2:
            return time.monotonic() - t0 - 1.0
    return float("inf")


def run_rustnet_step(
    net: TwoHosts, pcap: Path, rate: int, seconds: float, tmp: Path, timer: str = REPLAY_TIMER
) -> Step:
    """One rate into ``rustnet -i IFACE`` itself, its TUI on a pty: what users run. The counts are
    from the session log's final capture statistics (at INFO it logs no connection records)."""
    logdir = tmp / f"rustnet-{rate}"
    logdir.mkdir()
    # Its log in logdir/logs; the pty answers no terminal queries: blessed waits 0.2 s for them.
    proc, master = start_tui(net, ["-l", "info"], logdir, {"BLESSED_QUERY_TIMEOUT_SECONDS": "0.2"})
    drain = PtyDrain(master)
    try:
        deadline = time.monotonic() + 20
        while "stream: source=" not in _log_text(logdir):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise TimeoutError("rustnet did not start (no stream header in its log within 20 s)")
            time.sleep(0.1)
        time.sleep(0.5)
        before = tree_cpu(proc.pid)
        sent, actual, replay_s = replay(net, pcap, rate, seconds, timer)
        after = tree_cpu(proc.pid)
        per_stage: dict[str, float] = {}
        for p, c in after.items():
            name = proc_name(p)
            per_stage[name] = per_stage.get(name, 0.0) + (c - before.get(p, 0.0)) / replay_s * 100
        lag = wait_until_idle(proc.pid, timeout=60.0)
        t1 = time.monotonic()
        os.write(master, b"qq")  # quit (q asks, the second q confirms)
        wait_or_kill(proc, 60)
        took = time.monotonic() - t1
    finally:
        drain.stop()
        os.close(master)
    m = re.search(
        r"final capture statistics: packets=(\d+) received=(\d+) dropped=(\d+) ifdropped=(\d+)",
        _log_text(logdir),
    )
    packets, received, dropped, ifdropped = (int(g) for g in m.groups()) if m else (0, 0, 0, 0)
    return Step(
        rate,
        sent,
        actual,
        packets,
        received,
        dropped,
        ifdropped,
        sum(per_stage.values()),
        per_stage,
        0,
        took,
        lag,
    )


@dataclass
class Reference:
    """tshark at one rate: what it captured, what dumpcap says the kernel dropped, its CPU."""

    rate: int
    sent: int
    captured: int
    dropped: int
    cpu_pct: float  # tshark and dumpcap, % of one core, during the replay
    drain_s: float  # from the end of the replay until dumpcap's file stopped growing and tshark exited

    @property
    def ok(self) -> bool:
        return self.dropped == 0 and self.captured >= self.sent > 0


def replay(
    net: TwoHosts, pcap: Path, rate: int, seconds: float, timer: str = REPLAY_TIMER
) -> tuple[int, float, float]:
    """tcpreplay from host "a" at ``rate`` for ``seconds``, its timing mode ``timer``: (sent, achieved
    pps, wall seconds)."""
    argv = tcpreplay_argv(net.iface("a"), pcap, rate, int(rate * seconds), timer)
    t0 = time.monotonic()
    rp = net.run("a", argv, timeout=seconds * 4 + 60, check=False)
    took = time.monotonic() - t0
    text = (rp.stdout + rp.stderr).decode(errors="replace")
    if rp.returncode != 0:
        print(f"tcpreplay failed ({rp.returncode}): {text.strip()[-400:]}", file=sys.stderr)
    m = re.search(r"Actual:\s*(\d+)\s*packets", text)
    sent = int(m.group(1)) if m else 0
    m = re.search(r"Rated:.*?([\d.]+)\s*pps", text)
    return sent, float(m.group(1)) if m else sent / took, took


def run_reference(
    net: TwoHosts, pcap: Path, rate: int, seconds: float, timer: str = REPLAY_TIMER
) -> Reference:
    """The same replay into ``tshark -i IFACE -q -z conv,tcp -z conv,udp`` (the offline reference)."""
    argv = ["tshark", "-i", net.iface("b"), "-q", "-z", "conv,tcp", "-z", "conv,udp"]
    proc = net.spawn("b", argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err: list[str] = []
    started = threading.Event()

    def read_err() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode(errors="replace")
            err.append(line)
            if "Capturing on" in line:
                started.set()

    reader = threading.Thread(target=read_err, daemon=True)
    reader.start()
    started.wait(30)
    time.sleep(1.0)  # dumpcap has the interface open once tshark says so; a moment for the rest
    before = tree_cpu(proc.pid)
    sent, _, took = replay(net, pcap, rate, seconds, timer)
    after = tree_cpu(proc.pid)
    cpu = sum(c - before.get(p, 0.0) for p, c in after.items()) / took * 100
    # dumpcap writes what it reads to a temporary file that tshark follows: once that file stops
    # growing, the kernel's buffer is empty (stopping at once would discard a backlog unseen).
    t1 = time.monotonic()
    m = re.search(r'File: "([^"]+)"', "".join(err))
    if m:
        size, still = -1, t1
        while time.monotonic() - t1 < 60:
            try:
                now_size = os.path.getsize(m.group(1))
            except OSError:
                break
            if now_size != size:
                size, still = now_size, time.monotonic()
            elif time.monotonic() - still >= 0.5:
                break
            time.sleep(0.05)
    stop(proc, timeout=300)
    drain = time.monotonic() - t1
    reader.join(5)
    text = "".join(err)
    if os.environ.get("BENCH_DEBUG"):
        print(text, file=sys.stderr)
    m = re.search(r"(\d+) packets? captured", text)
    captured = int(m.group(1)) if m else 0
    dropped = sum(int(n) for n in re.findall(r"(\d+) packets? dropped", text))
    return Reference(rate, sent, captured, dropped, cpu, drain)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--rates",
        default="25000,50000,100000,150000,200000",
        help="packets/s to try, in order (comma-separated)",
    )
    ap.add_argument("--seconds", type=float, default=30.0, help="replay time per rate (default 30)")
    ap.add_argument("--pcap", type=Path, help="capture to replay (default: the mixed bench capture)")
    ap.add_argument("--no-dpi", action="store_true", help="run rn-dissect --no-dpi")
    ap.add_argument("--no-enrich", action="store_true", help="leave rn-enrich out (to see what it costs)")
    ap.add_argument(
        "--chain", action="store_true", help="rn-track --dissect for rn-dissect | rn-track (one process)"
    )
    ap.add_argument(
        "--separate",
        action="store_true",
        help="rn-dissect | rn-track even where rustnet would run rn-track --dissect",
    )
    ap.add_argument(
        "--capture-dissect", action="store_true", help="rn-capture --dissect for rn-capture | rn-dissect"
    )
    ap.add_argument(
        "--rustnet", action="store_true", help="replay into rustnet -i IFACE itself, its TUI on a pty"
    )
    ap.add_argument("--all", action="store_true", help="go on after the first rate with drops")
    ap.add_argument(
        "--replay-timer",
        choices=("nano", "gtod", "select"),
        default=REPLAY_TIMER,
        help="tcpreplay's timing mode (-T): nano sleeps between bursts, gtod (tcpreplay's default) "
        "spins a core (default %(default)s)",
    )
    ap.add_argument(
        "--reference",
        action="store_true",
        help="after each rate, the same replay into tshark -q -z conv,tcp -z conv,udp (needs tshark)",
    )
    a = ap.parse_args()
    if not can_make_namespaces() or not have("tcpreplay"):
        print("bench_live: needs root, ip netns and tcpreplay; skipped")
        return 0
    pcap = a.pcap or mixed_pcap(200_000)
    rates = [int(r) for r in a.rates.split(",") if r.strip()]
    steps: list[Step] = []
    refs: list[Reference] = []
    a.chain = a.chain or not (a.separate or a.capture_dissect or a.no_dpi or not dissect_in_track(Options()))
    middle = " | rn-dissect | rn-track"
    if a.capture_dissect:
        middle = " --dissect | rn-track"
    elif a.chain:
        middle = " | rn-track --dissect"
    what = (
        "rustnet -i IFACE (its TUI on a pty)"
        if a.rustnet
        else f"rn-capture{middle}{' --no-dpi' if a.no_dpi else ''}"
        f"{'' if a.no_enrich else ' | rn-enrich'} | tee | rn-view --json"
    )
    print(
        f"replaying {pcap} for {a.seconds:.0f} s per rate (tcpreplay -T {a.replay_timer}); pipeline: {what}",
        flush=True,
    )
    with TwoHosts() as net, tempfile.TemporaryDirectory() as tmpdir:
        for rate in rates:
            if a.rustnet:
                st = run_rustnet_step(net, pcap, rate, a.seconds, Path(tmpdir), a.replay_timer)
            else:
                st = run_step(
                    net,
                    pcap,
                    rate,
                    a.seconds,
                    Path(tmpdir),
                    dpi=not a.no_dpi,
                    enrich=not a.no_enrich,
                    chain="capture" if a.capture_dissect else a.chain,
                    timer=a.replay_timer,
                )
            steps.append(st)
            stages = ", ".join(
                f"{k} {v:.0f}%" for k, v in sorted(st.per_stage.items(), key=lambda kv: -kv[1])
            )
            print(
                f"  {rate:>7,} pps asked: sent {st.sent:,} at {st.actual_pps:,.0f} pps, captured "
                f"{st.captured:,}, dropped {st.dropped:,} (+{st.ifdropped:,} by the interface), "
                f"{st.conns:,} connections in the viewer, lag {st.lag_s:.1f} s, "
                f"{'OK' if st.ok else 'DROPS'}; "
                f"CPU {st.cpu_pct:.0f}% of a core ({stages})",
                flush=True,
            )
            if a.reference and have("tshark"):
                ref = run_reference(net, pcap, rate, a.seconds, a.replay_timer)
                refs.append(ref)
                print(
                    f"  {rate:>7,} pps into tshark: sent {ref.sent:,}, captured {ref.captured:,}, "
                    f"dropped {ref.dropped:,}, {'OK' if ref.ok else 'DROPS'}; CPU {ref.cpu_pct:.0f}% of "
                    f"a core; done {ref.drain_s:.1f} s after the replay",
                    flush=True,
                )
            if not st.ok and not a.all:
                break
    rows = [
        [
            f"{s.rate:,}",
            s.actual_pps,
            s.sent,
            s.captured,
            max(s.dropped + s.ifdropped, s.sent - s.captured),
            s.cpu_pct,
            s.lag_s,
            "yes" if s.ok else "no",
        ]
        for s in steps
    ]
    print()
    print(
        table(
            ["asked pps", "actual pps", "sent", "captured", "lost", "CPU % core", "lag s", "zero drops"], rows
        )
    )
    how = (
        "until rn-track went idle (0.5 s windows)"
        if a.rustnet
        else f"measured with {STATS_INTERVAL} s stats records"
    )
    print(
        "(lag: seconds after the replay ended until the pipeline had read every packet, "
        f"{how}; a longer lag means the kernel buffer held a backlog)"
    )
    best = max((s.actual_pps for s in steps if s.ok), default=0.0)
    print(f"\nhighest rate with zero drops: {best:,.0f} packets/s for {a.seconds:.0f} s")
    if refs:
        ref_best = max((r.rate for r in refs if r.ok), default=0)
        print(f"tshark (the same replays): {ref_best:,} packets/s with zero drops")
    return 0


if __name__ == "__main__":
    sys.exit(main())
