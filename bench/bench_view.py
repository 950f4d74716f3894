"""Viewer speed: frames (Overview, Graph), filter keystroke, update throughput, key latency, idle CPU.

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
from rustnet.view.graphstats import GraphMetrics  # noqa: E402
from rustnet.view.model import ConnTable  # noqa: E402
from rustnet.view.render import Theme, render  # noqa: E402
from rustnet.view.state import ACTIVITY, ViewState  # noqa: E402
from rustnet.view.traffic import ProcessWindow, process_key  # noqa: E402

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
    from rustnet.enrich.names import HostNames
    from rustnet.enrich.services import ServiceNames
    from rustnet.track.join import SocketJoiner

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
    # A frame after new data (what a live refresh costs): a few or many connections changed.
    rnd = random.Random(1)
    fresh = []
    for changed in (100, n // 10):
        times = []
        for _ in range(10):
            table.ingest([dict(recs[rnd.randrange(n)], bytes=rnd.randrange(10**9)) for _ in range(changed)])
            t0 = time.process_time()
            render(state, W, H, theme)
            times.append(time.process_time() - t0)
        fresh.append(f"{ms(statistics.median(times))} after {changed:,} updates")
    print(f"  frame, {n:,} conns, {W}x{H}: data unchanged {ms(cached)}; " + "; ".join(fresh))
    # The same with a filter on (its scores are kept per row until the row changes).
    state.set_filter("port:44")
    render(state, W, H, theme)
    times = []
    for _ in range(10):
        table.ingest([dict(recs[rnd.randrange(n)], bytes=rnd.randrange(10**9)) for _ in range(100)])
        t0 = time.process_time()
        render(state, W, H, theme)
        times.append(time.process_time() - t0)
    state.clear_filter()
    print(f"  frame with filter 'port:44', after 100 updates: {ms(statistics.median(times))}")
    # Filter keystrokes: each one re-filters and re-ranks every connection, then draws.
    for query, label in (
        ("goo", "fuzzy word"),
        ("port:44", "keyword"),
        ("port:/^443$/", "keyword regex"),
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


def ifstats_records(start: float, samples: int) -> list[dict[str, Any]]:
    """Interface counter samples every 500 ms (a busy link: about 5 MB/s in, 1 MB/s out)."""
    rnd = random.Random(3)
    rx = tx = 0
    out = []
    for k in range(samples):
        rx += rnd.randrange(2_000_000, 3_000_000)
        tx += rnd.randrange(400_000, 600_000)
        iface = {
            "name": "eth0",
            "rx_bytes": rx,
            "tx_bytes": tx,
            "rx_packets": rx // 1000,
            "tx_packets": tx // 1000,
        }
        out.append({"t": "ifstats", "ts": start + k * 0.5, "captured": "eth0", "ifaces": [iface]})
    return out


def bench_graph(n: int) -> None:
    """The Graph tab's frame: traffic charts, lifecycle, health, and the active connections counted
    by difference (the first frame counts them all; later ones only what changed)."""
    table, recs = build(n)
    table.ingest(ifstats_records(1.7e9 - 60, 121))
    state = ViewState(table)
    term = blessed.Terminal(kind="xterm-256color", stream=io.StringIO(), force_styling=True)
    theme = Theme.from_terminal(term)
    render(state, W, H, theme)  # the Overview first, as a session starts
    t0 = time.process_time()
    keys.handle(state, "4")
    render(state, W, H, theme)
    first = time.process_time() - t0
    t0 = time.process_time()
    reps = 20
    for _ in range(reps):
        render(state, W, H, theme)
    cached = (time.process_time() - t0) / reps
    rnd = random.Random(4)
    fresh = []
    for changed in (100, n // 10):
        times = []
        for _ in range(10):
            table.ingest([dict(recs[rnd.randrange(n)], bytes=rnd.randrange(10**9)) for _ in range(changed)])
            t0 = time.process_time()
            render(state, W, H, theme)
            times.append(time.process_time() - t0)
        fresh.append(f"{ms(statistics.median(times))} after {changed:,} updates")
    # What the Graph's metrics cost per record whether or not the tab is shown.
    metrics = GraphMetrics()
    pairs = [(recs[i], dict(recs[i], packets=recs[i]["packets"] + 5)) for i in range(min(n, 20_000))]
    t0 = time.process_time()
    for old, new in pairs:
        metrics.conn(old, new, 1.7e9)
    per_record = (time.process_time() - t0) / len(pairs)
    print(
        f"  Graph tab, {n:,} conns, {W}x{H}: key 4 {ms(first)}; data unchanged {ms(cached)}; "
        + "; ".join(fresh)
        + f"; its bookkeeping {per_record * 1e6:.2f} µs per record (any tab)"
    )


def bench_system(n: int) -> None:
    """The Overview with and without the System panel after new data, and the panel's pass over
    every connection (processes, counter sums: every data frame up to 2,000 connections, once
    a second above), plus what following the selected connection's rates (Details' charts) keeps."""
    from rustnet.view import system

    table, recs = build(n)
    table.ingest(ifstats_records(1.7e9 - 60, 121))
    state = ViewState(table)
    term = blessed.Terminal(kind="xterm-256color", stream=io.StringIO(), force_styling=True)
    theme = Theme.from_terminal(term)
    rnd = random.Random(5)
    out = []
    for shown in (False, True):
        state.show_system = shown
        render(state, W, H, theme)
        times = []
        for _ in range(10):
            table.ingest([dict(recs[rnd.randrange(n)], bytes=rnd.randrange(10**9)) for _ in range(100)])
            t0 = time.process_time()
            render(state, W, H, theme)
            times.append(time.process_time() - t0)
        out.append(ms(statistics.median(times)))
    passes = []
    for i in range(10):
        table.ingest([dict(recs[i], bytes=i)])
        system._TALLIES.pop(state, None)
        t0 = time.process_time()
        system.lines(state, H)
        passes.append(time.process_time() - t0)
    rates = state.conn_rates
    row = state.selected_row()
    for i in range(240):  # two minutes of stream time followed: the ring is full
        rates.observe(row, 1.7e9 + i * 0.5)
    kept = sys.getsizeof(rates.rx) + sys.getsizeof(rates.tx) + 2 * 24 * len(rates.rx)
    print(
        f"  System panel, {n:,} conns, {W}x{H}, after 100 updates: Overview {out[0]}, with the panel "
        f"{out[1]}; its pass over every connection {ms(statistics.median(passes))}; "
        f"Details' rate history {len(rates.rx)} samples, {kept / 1024:.1f} KiB (one connection)"
    )


def bench_activity(n: int) -> None:
    """The Activity tab's frame: the first one (a pass over every connection) and the cached ones,
    and what its process accounting costs per record whatever the tab."""
    table, recs = build(n)
    table.ingest(ifstats_records(1.7e9 - 60, 121))
    state = ViewState(table)
    state.tab = ACTIVITY
    term = blessed.Terminal(kind="xterm-256color", stream=io.StringIO(), force_styling=True)
    theme = Theme.from_terminal(term)
    firsts = []
    for _ in range(5):
        state.activity.cached = None
        t0 = time.process_time()
        render(state, W, H, theme)
        firsts.append(time.process_time() - t0)
    t0 = time.process_time()
    reps = 20
    for _ in range(reps):
        render(state, W, H, theme)
    cached = (time.process_time() - t0) / reps
    window = ProcessWindow()
    some = recs[: min(n, 20_000)]
    t0 = time.process_time()
    for rec in some:
        window.add(process_key(rec), 1.7e9, 500.0, 0.0)
    per_record = (time.process_time() - t0) / len(some)
    print(
        f"  Activity tab, {n:,} conns, {W}x{H}: recomputed (once a second at most) "
        f"{ms(statistics.median(firsts))}; between recomputes {ms(cached)}; "
        f"process accounting {per_record * 1e6:.2f} µs per record (any tab)"
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
        shown = tab_help[0]  # the help box's title shows, or is gone
        k0 = time.monotonic()
        os.write(fd, b"h")
        while time.monotonic() - k0 < 5:
            with lock:
                if any("Help ·" in line for line in screen.display[:4]) == shown:
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


# --- churn: an endless stream of new short connections (memory must stay steady) ----------
CHURN_RATE = 10_000  # new connections per second of stream time
CHURN_LIFE = 6.0  # seconds from a connection's update to its final record (rn-track's closed timeout)


def churn_records(n: int, rate: int = CHURN_RATE) -> Any:
    """rn-track's output for ``n`` short connections, in stream-time order: each gets one update
    (what rn-track sends once per refresh interval) and, CHURN_LIFE seconds later, its final
    record (``end: timeout``)."""
    import collections

    rnd = random.Random(7)
    t0 = 1.7e9
    yield {"t": "hdr", "v": 1, "producer": "bench", "source": "churn0", "live": True, "start": t0}
    waiting: collections.deque[dict[str, Any]] = collections.deque()
    for i in range(1, n + 1):
        ts = t0 + i / rate
        while waiting and waiting[0]["last_seen"] <= ts:
            yield waiting.popleft()
        rec = make_conn(i, rnd, ts)
        rec["first_seen"] = ts - 0.2
        yield rec
        waiting.append(
            dict(
                rec,
                state="CLOSED",
                last_seen=ts + CHURN_LIFE,
                rate_src=0,
                rate_dst=0,
                final=True,
                end="timeout",
            )
        )
    yield from waiting


def churn_file(n: int) -> Path:
    """The churn stream as a msgpack recording (cached in /tmp: building 1M takes a while)."""
    path = Path(f"/tmp/rn-bench-churn-{n}.rn")
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        w = RecordWriter(fd)
        for rec in churn_records(n):
            w.write(rec)
        w.close()
        os.close(fd)
        tmp.rename(path)
    return path


def _status_kb(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_sampled(argv: list[str], every: float = 0.5) -> tuple[float, int, list[int], int]:
    """Run ``argv`` (stdout to /dev/null): CPU seconds, peak RSS (VmHWM) KiB, RSS samples, status."""
    import subprocess

    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    samples: list[int] = []
    hwm = 0
    while True:
        pid, st, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        hwm = max(hwm, _status_kb(p.pid, "VmHWM"))
        samples.append(_status_kb(p.pid, "VmRSS"))
        time.sleep(every)
    return ru.ru_utime + ru.ru_stime, hwm, samples, os.waitstatus_to_exitcode(st)


def _mib(kb: float) -> str:
    return f"{kb / 1024:6.1f} MiB"


def bench_churn_json(n: int) -> None:
    """``rn-view --json`` over the churn stream: CPU, peak RSS, RSS over the run."""
    path = churn_file(n)
    cpu, hwm, samples, status = run_sampled([sys.executable, "-m", "rustnet_cmds.view", "--json", str(path)])
    quarter = [samples[min(len(samples) - 1, len(samples) * k // 4)] for k in (1, 2, 3)] if samples else []
    print(
        f"  rn-view --json, {n:,} short conns ({2 * n:,} records): CPU {cpu:.1f} s "
        f"({cpu / (2 * n) * 1e6:.1f} µs/record), peak RSS {_mib(hwm)}, RSS at 1/4 1/2 3/4: "
        + " ".join(_mib(s) for s in quarter)
        + f" (status {status})"
    )


def churn_model(path: str, frame_every: float) -> None:
    """The TUI's model over the churn stream, in this process: a frame per ``frame_every`` s of
    stream time (the refresh interval when live); prints RSS as it goes and the costs."""
    import rustnet_cmds.view

    if hasattr(rustnet_cmds.view, "tune_gc"):  # the collector as this tree's rn-view sets it
        rustnet_cmds.view.tune_gc()
    table = viewer_table()
    state = ViewState(table)
    term = blessed.Terminal(kind="xterm-256color", stream=io.StringIO(), force_styling=True)
    theme = Theme.from_terminal(term)
    reader = RecordReader(-1, "churn")
    fd = os.open(path, os.O_RDONLY)
    next_frame = 0.0
    ingest_cpu = 0.0
    frames: list[float] = []
    updates = 0
    next_report = 1
    last_report = -1
    print(f"    {'records in':>10} {'table rows':>10} {'RSS':>10}")
    while True:
        chunk = os.read(fd, 1 << 16)
        recs = reader.feed(chunk)
        t0 = time.process_time()
        table.ingest(recs)
        ingest_cpu += time.process_time() - t0
        updates += len(recs)
        if table.clock >= next_frame:
            t0 = time.process_time()
            render(state, W, H, theme)
            frames.append(time.process_time() - t0)
            next_frame = table.clock + frame_every
        if updates >= next_report * 200_000 or (not chunk and updates != last_report):
            last_report = updates
            print(f"    {updates:>10,} {len(table):>10,} {_mib(_status_kb(os.getpid(), 'VmRSS'))}")
            next_report += 1
        if not chunk:
            break
    os.close(fd)
    print(
        f"    model: {ingest_cpu / updates * 1e6:.1f} µs per record ingested (decode excluded); "
        f"frames: {len(frames)}, median {ms(statistics.median(frames))}, worst {ms(max(frames))}; "
        f"peak RSS {_mib(_status_kb(os.getpid(), 'VmHWM'))}"
    )


def bench_churn_model(n: int) -> None:
    import subprocess

    path = churn_file(n)
    print(f"  TUI model, {n:,} short conns at {CHURN_RATE:,}/s of stream time, a frame per stream second:")
    sys.stdout.flush()
    subprocess.run([sys.executable, __file__, "--churn-model", str(path)], check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,50000")
    ap.add_argument("--live-seconds", type=float, default=8.0)
    ap.add_argument("--rate", type=int, default=10_000)
    ap.add_argument("--no-live", action="store_true")
    ap.add_argument("--live-conns", type=int, default=10_000, help="connections the live stream updates")
    ap.add_argument(
        "--churn",
        type=int,
        default=0,
        metavar="N",
        help="also feed N short connections to rn-view --json and to the TUI model (RSS)",
    )
    ap.add_argument("--churn-model", metavar="FILE", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.churn_model:
        churn_model(args.churn_model, 1.0)
        return
    print("rn-view benchmark")
    for n in (int(x) for x in args.sizes.split(",") if x):
        bench_frames(n)
        bench_system(n)
        bench_graph(n)
        bench_activity(n)
        bench_ingest(n)
    if args.churn:
        bench_churn_json(args.churn)
        bench_churn_model(args.churn)
    if not args.no_live:
        bench_live(args.rate, args.live_seconds, args.live_conns)


if __name__ == "__main__":
    main()
