"""Viewer speed: frame time, filter keystroke, update throughput, key latency under load, idle CPU.

    .venv/bin/python bench/bench_view.py [--sizes 10000,50000] [--rate 10000] [--no-live]

In-process figures are CPU time (time.process_time), so a busy machine does not inflate
them; the live figures are wall-clock. Targets from issue 6: with 10,000 connections a
frame renders in under 30 ms and a filter keystroke in under 50 ms; the viewer keeps up
with 10,000 connection updates per second and stays responsive to keys; idle CPU under
1 % of a core.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import blessed  # noqa: E402
import msgpack  # noqa: E402
import psutil  # noqa: E402
from rustnet.stream import RecordReader, RecordWriter  # noqa: E402
from rustnet.view import keys  # noqa: E402
from rustnet.view.model import ConnTable  # noqa: E402
from rustnet.view.render import Theme, render  # noqa: E402
from rustnet.view.state import ViewState  # noqa: E402

W, H = 200, 60
WORDS = ("api", "cdn", "static", "mail", "login", "img", "video", "assets", "auth", "edge")
TLDS = ("com", "net", "org", "io", "de")
PROCS = ("firefox", "chrome", "curl", "sshd", "systemd-resolved", "python3", "nginx", "postgres", None)
STATES = (
    "ESTABLISHED",
    "SYN_SENT",
    "TIME_WAIT",
    "FIN_WAIT1",
    "CLOSE_WAIT",
    "UDP_ACTIVE",
    "DNS_RESPONSE",
    "QUIC_CONNECTED",
)


def make_conn(i: int, rnd: random.Random, ts: float) -> dict[str, Any]:
    tcp = rnd.random() < 0.7
    host = f"{rnd.choice(WORDS)}{rnd.randrange(100)}.{rnd.choice(WORDS)}.{rnd.choice(TLDS)}"
    rec: dict[str, Any] = {
        "t": "conn",
        "id": i,
        "proto": "tcp" if tcp else "udp",
        "src": f"10.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}",
        "sport": rnd.randrange(1024, 65535),
        "dst": f"203.0.{rnd.randrange(114)}.{rnd.randrange(1, 255)}",
        "dport": rnd.choice((443, 80, 53, 22, 8443, 5432)),
        "state": rnd.choice(STATES),
        "packets": rnd.randrange(1, 10**5),
        "bytes": rnd.randrange(60, 10**8),
        "first_seen": ts - rnd.random() * 100,
        "last_seen": ts,
        "rate_src": rnd.random() * 1e5,
        "rate_dst": rnd.random() * 1e6,
        "app": rnd.choice(("TLS", "HTTP", "DNS", "QUIC", "SSH")),
        "sni": host,
        "process": rnd.choice(PROCS),
        "pid": rnd.randrange(1, 60000),
        "service": "https",
    }
    return rec


def viewer_table() -> ConnTable:
    """The table as rn-view builds it: socket joiner, service names, DNS-learned hostnames."""
    from rustnet.enrich.join import SocketJoiner
    from rustnet.enrich.names import HostNames
    from rustnet.enrich.services import ServiceNames

    return ConnTable(SocketJoiner(), ServiceNames(), HostNames())


def build(n: int) -> tuple[ConnTable, list[dict[str, Any]]]:
    rnd = random.Random(n)
    recs = [make_conn(i, rnd, 1.7e9) for i in range(n)]
    t = viewer_table()
    t.ingest(recs)
    return t, recs


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.2f} ms"


def bench_frames(n: int) -> None:
    table, recs = build(n)
    state = ViewState(table)
    term = blessed.Terminal(kind="xterm-256color", stream=io.StringIO(), force_styling=True)
    theme = Theme.from_terminal(term)
    render(state, W, H, theme)
    # A frame with unchanged data (key presses that only move the cursor).
    t0 = time.process_time()
    reps = 50
    for _ in range(reps):
        keys.handle(state, "j")
        render(state, W, H, theme)
    cached = (time.process_time() - t0) / reps
    # A frame after new data: re-sort and re-filter everything (what a live refresh costs).
    rnd = random.Random(1)
    times = []
    for _ in range(10):
        table.ingest([dict(recs[rnd.randrange(n)], bytes=rnd.randrange(10**9)) for _ in range(100)])
        t0 = time.process_time()
        render(state, W, H, theme)
        times.append(time.process_time() - t0)
    fresh = statistics.median(times)
    print(f"  frame, {n:,} conns, {W}x{H}: data unchanged {ms(cached)}; after new data (re-sort) {ms(fresh)}")
    # Filter keystrokes: each one re-filters and re-ranks every connection, then draws.
    for query, label in (
        ("goo", "fuzzy word"),
        ("port:44", "keyword"),
        ("sni:api !state:time", "keyword+neg"),
        ("fx api", "two fuzzy words"),
    ):
        t0 = time.process_time()
        keys.handle(state, "/")
        enter = time.process_time() - t0
        times = []
        for ch in query:
            t0 = time.process_time()
            keys.handle(state, ch)
            render(state, W, H, theme)
            times.append(time.process_time() - t0)
        shown = len(state.entries())
        keys.handle(state, "KEY_ESCAPE")
        print(
            f"  filter keystroke, {n:,} conns, {label:16} {query!r:24}: "
            f"median {ms(statistics.median(times))}, "
            f"worst {ms(max(times))} ({shown:,} shown; '/' itself {ms(enter)})"
        )


def bench_ingest(n: int) -> None:
    """Decode + fold connection updates (msgpack frames as rn-track writes them)."""
    table, recs = build(n)
    rnd = random.Random(2)
    updates = 100_000
    r, w = os.pipe()
    data = bytearray()
    packer = msgpack.Packer(use_bin_type=True)
    batch = []
    for _ in range(updates):
        rec = dict(recs[rnd.randrange(n)], bytes=rnd.randrange(10**9))
        batch.append(rec)
        if len(batch) == 256:
            data += packer.pack(batch)
            batch = []
    if batch:
        data += packer.pack(batch)
    os.close(w)
    os.close(r)
    reader = RecordReader(-1, "bench")
    t0 = time.process_time()
    for off in range(0, len(data), 1 << 18):
        table.ingest(reader.feed(bytes(data[off : off + (1 << 18)])))
    dt = time.process_time() - t0
    print(
        f"  updates, {n:,} conns: {updates / dt:,.0f} conn updates/s decoded and folded "
        f"({dt / updates * 1e6:.1f} µs each; target 10,000/s)"
    )


def bench_live(rate: int, seconds: float, n_conns: int) -> None:
    """rn-view on a pipe fed ``rate`` updates/s: key latency and CPU; then idle CPU with no traffic."""
    import pty
    import select
    import signal

    import pyte

    r, w = os.pipe()
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.close(w)
            os.dup2(r, 0)
            os.close(r)
            from tests.tui.harness import RN_VIEW, set_size

            set_size(1, 160, 50)
            env = dict(os.environ, TERM="xterm-256color", BLESSED_QUERY_TIMEOUT_SECONDS="0.05", ESCDELAY="25")
            os.execve(RN_VIEW, [RN_VIEW], env)
        finally:
            os._exit(127)
    os.close(r)
    screen = pyte.Screen(160, 50)
    stream = pyte.ByteStream(screen)
    stop = threading.Event()
    stop_feeding = threading.Event()
    lock = threading.Lock()

    def drain() -> None:
        while not stop.is_set():
            rr, _, _ = select.select([fd], [], [], 0.05)
            if rr:
                try:
                    data = os.read(fd, 1 << 16)
                except OSError:
                    return
                with lock:
                    stream.feed(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    writer = RecordWriter(w)
    rnd = random.Random(3)
    base = [make_conn(i, rnd, time.time()) for i in range(n_conns)]
    writer.write(
        {"t": "hdr", "v": 1, "producer": "bench", "source": "bench0", "live": True, "start": time.time()}
    )
    writer.write_many(base)
    writer.flush()
    proc = psutil.Process(pid)
    time.sleep(1.0)  # start-up and the first frame
    latencies: list[float] = []
    sent = [0]

    def feed() -> None:
        # The update stream, in its own thread so measuring keys never slows it down.
        step = 0.02
        per_step = max(1, int(rate * step))
        nxt = time.monotonic()
        while not stop_feeding.is_set():
            for _ in range(per_step):
                rec = dict(base[rnd.randrange(n_conns)], bytes=rnd.randrange(10**9), last_seen=time.time())
                writer.write(rec)
            writer.flush()
            sent[0] += per_step
            nxt += step
            time.sleep(max(0.0, nxt - time.monotonic()))

    tab_help = [False]

    def key_latency() -> float:
        """Press h (help on/off) and wait until the screen shows it; includes pyte's parsing."""
        time.sleep(0.4)
        tab_help[0] = not tab_help[0]
        want = "KEYS" if tab_help[0] else "Proto/App"
        k0 = time.monotonic()
        os.write(fd, b"h")
        while time.monotonic() - k0 < 5:
            with lock:
                if any(want in line for line in screen.display[:3]):
                    break
            time.sleep(0.001)
        return time.monotonic() - k0

    quiet = [key_latency() for _ in range(6)]
    print(
        f"  key -> screen latency with no traffic: median {ms(statistics.median(quiet))} "
        f"(the measuring side's pyte parse included)"
    )
    feeder = threading.Thread(target=feed, daemon=True)
    t_start = time.monotonic()
    cpu0 = proc.cpu_times()
    feeder.start()
    while time.monotonic() - t_start < seconds:
        latencies.append(key_latency())
    stop_feeding.set()
    feeder.join()
    elapsed = time.monotonic() - t_start
    cpu1 = proc.cpu_times()
    busy = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / elapsed
    print(
        f"  live: {sent[0] / elapsed:,.0f} updates/s into rn-view ({n_conns:,} conns): key -> screen latency "
        f"median {ms(statistics.median(latencies))}, worst {ms(max(latencies))} ({len(latencies)} keys); "
        f"CPU {busy * 100:.0f}% of a core"
    )
    # Idle: the pipe stays open, nothing arrives.
    time.sleep(1.5)
    c0 = proc.cpu_times()
    idle_s = 10.0
    time.sleep(idle_s)
    c1 = proc.cpu_times()
    idle = max(0.0, (c1.user + c1.system - c0.user - c0.system) / idle_s)
    print(f"  idle (open pipe, no traffic, {idle_s:.0f} s): CPU {idle * 100:.2f}% of a core (target < 1%)")
    os.write(fd, b"qq")
    writer.close()
    os.close(w)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and os.waitpid(pid, os.WNOHANG) == (0, 0):
        time.sleep(0.05)
    else:
        if psutil.pid_exists(pid):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    stop.set()
    reader.join()
    os.close(fd)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,50000")
    ap.add_argument("--live-seconds", type=float, default=8.0)
    ap.add_argument("--rate", type=int, default=10_000)
    ap.add_argument("--no-live", action="store_true")
    args = ap.parse_args()
    print("rn-view benchmark")
    for n in (int(x) for x in args.sizes.split(",")):
        bench_frames(n)
        bench_ingest(n)
    if not args.no_live:
        bench_live(args.rate, args.live_seconds, 10_000)


if __name__ == "__main__":
    main()
