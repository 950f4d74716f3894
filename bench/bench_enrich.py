"""What process attribution costs, and how often it catches short-lived connections.

    .venv/bin/python bench/bench_enrich.py [--sockets 2000] [--runs 20] [--skip-curl]
        [--parts poll,watcher,packets,conns,idle,curl] [--idle-seconds 30] [--old PYTHONPATH]

1. Cost per poll of the socket table with ``--sockets`` sockets on loopback (held by a
   child process: half client sockets, half accepted ones, plus a listener):
   the first poll (every owner looked up by the /proc/*/fd scan), the steady poll
   (nothing new: the figure that is paid every --poll-interval) through sock_diag and
   through /proc/net text, a poll after 100 new connections, and psutil.net_connections()
   as the reference (which also sees only its own network namespace). Wall time and CPU
   time (user+system of this process, less skewed by a busy machine) are both shown.
2. Attribution in namespaces (root and ``ip netns`` needed), capture in namespace a,
   ``python -m http.server`` in namespace b: ten long-lived connections (slow downloads by
   a renamed Python binary), then ``--runs`` short-lived curl requests, for both
   placements of rn-enrich:
   * after rn-track:   rn-capture | rn-dissect | rn-track | rn-enrich
   * after rn-capture: rn-capture | rn-enrich | rn-dissect | rn-track   (sock records)
   and the fraction of connections whose final record names the right process, with the
   short-lived watcher (default) and without it (--watch-interval 0).
3. The watcher's own cost on a quiet host: idle (waiting to be armed) and armed.
4. rn-enrich right after rn-capture: CPU per packet over the corpus's Ethernet captures
   (packets pass through; each new flow is looked up at once).
5. Connection records (after rn-track), in-process: µs per record for flows with no local
   address (a router's, a replayed capture's: no socket lookup) and for local flows whose
   socket is gone (the common case for short connections); then the whole rn-enrich
   process over a stream of 50,000 new connections (CPU per record, and what 10,000 new
   connections a second cost).
6. Idle: CPU of rn-enrich alone in a live pipeline on a quiet veth (``--idle-seconds``),
   as % of one core.
7. Replay: the mixed capture replayed with tcpreplay at ``--rate`` packets/s for 10 s onto
   a veth whose peer runs the live pipeline (many short flows, none with a local address):
   rn-enrich's CPU, the connection records it got, and its CPU per record.

``--old PYTHONPATH`` runs parts 2, 5 (the process) and 6 also with another checkout's
rn-enrich (a directory holding ``rustnet`` and ``rustnet_cmds``, e.g. from ``git archive``),
for before/after figures in the same sitting.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from rustnet.enrich.owners import SocketOwners

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent

HOLDER = """
import resource, socket, sys, time
n = int(sys.argv[1])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * n + 256)), hard))
lst = socket.socket(); lst.bind(("127.0.0.1", 0)); lst.listen(4096)
keep = []
def pairs(k):
    for _ in range(k):
        c = socket.create_connection(lst.getsockname()); a, _ = lst.accept(); keep.extend((c, a))
pairs(n // 2)
print("ready", flush=True)
for line in sys.stdin:
    pairs(int(line))
    print("ready", flush=True)
"""


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def bench_poll(n: int) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(n)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "ready"
        print(
            f"socket table poll, {n} sockets on loopback held by pid {holder.pid} "
            f"({len(os.listdir('/proc'))} /proc entries):"
        )
        for use_diag in (True, False):
            owners = SocketOwners(use_diag=use_diag)
            t0 = time.perf_counter()
            owners.refresh()
            first = time.perf_counter() - t0
            owned = sum(1 for _e, s in owners._socks.values() if s["pid"] == holder.pid)
            steady, steady_cpu = [], []
            for _ in range(20):
                c0 = time.process_time()
                owners.refresh()
                steady_cpu.append(time.process_time() - c0)
                steady.append(owners.last_cost)
            holder.stdin.write("50\n")  # 50 new connections = 100 new sockets
            holder.stdin.flush()
            assert holder.stdout.readline().strip() == "ready"
            owners.refresh()
            incremental = owners.last_cost
            src = "sock_diag" if use_diag else "/proc/net"
            print(
                f"  {src:10s} first poll {ms(first)} ({owned} sockets attributed to the holder), "
                f"steady poll median {ms(statistics.median(steady))} wall, "
                f"{ms(statistics.median(steady_cpu))} CPU (min {ms(min(steady))} wall), "
                f"after 100 new sockets {ms(incremental)}; {len(owners)} sockets indexed"
            )
            owners.close()
        t = []
        for _ in range(3):
            t0 = time.perf_counter()
            psutil.net_connections("inet")
            t.append(time.perf_counter() - t0)
        print(f"  reference: psutil.net_connections('inet') {ms(min(t))} per call (own namespace only)")
    finally:
        holder.stdin.close()
        holder.kill()
        holder.wait()
        holder.stdout.close()


def enrich_cmd(old: str | None) -> str:
    """rn-enrich of this checkout, or of the one at PYTHONPATH ``old``."""
    return f"env PYTHONPATH={old} {BIN / 'rn-enrich'}" if old else str(BIN / "rn-enrich")


def bench_curl(runs: int, old: str | None = None) -> None:
    from tests.netns import TwoHosts, can_make_namespaces

    if not can_make_namespaces():
        print("short-lived curl: skipped (needs root and ip netns)")
        return
    cap, dis, trk = (str(BIN / n) for n in ("rn-capture", "rn-dissect", "rn-track"))
    enr = enrich_cmd(old)
    with TwoHosts() as net, tempfile.TemporaryDirectory() as www:
        os.chmod(www, 0o755)
        Path(www, "small.txt").write_text("hello\n")
        Path(www, "big.bin").write_bytes(os.urandom(4 << 20))
        net.spawn(
            "b", [sys.executable, "-m", "http.server", "8000", "--bind", net.addr_b, "--directory", www]
        )
        net.wait_port("b", 8000)
        capture = f"{cap} -i {net.if_a} tcp port 8000"
        layouts = {
            "after rn-track, watcher on  ": f"{capture} | {dis} | {trk} -r 100 | {enr} --format json",
            "after rn-capture, watcher on": f"{capture} | {enr} | {dis} | {trk} -r 100 --format json",
            "after rn-track, watcher off ": f"{capture} | {dis} | {trk} -r 100 | {enr} --watch-interval 0 "
            "--format json",
        }
        bench_long_lived(net, capture, f"{dis} | {trk} -r 100 | {enr} --format json", www)
        print(
            f"short-lived curl connections ({runs} runs, capture in the client's namespace"
            f"{', rn-enrich from ' + old if old else ''}):"
        )
        for name, pipeline in layouts.items():
            named, total, median = run_curls(net, pipeline, runs)
            print(
                f"  {name}: {named}/{total} curl connections attributed to curl "
                f"({100.0 * named / max(1, total):.0f}%); a curl run takes {ms(median)} "
                "(median, with ip netns exec)"
            )


SLOW_CLIENT = """
import socket, sys, time
s = socket.create_connection((sys.argv[1], 8000))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.sendall(b"GET /big.bin HTTP/1.0\\r\\n\\r\\n")
while s.recv(1024):
    time.sleep(0.05)
"""


def bench_long_lived(net: Any, capture: str, rest: str, www: str, clients: int = 10) -> None:
    """Long-lived clients (slow downloads by a renamed Python) started while the pipeline runs."""
    exe = Path(www, "rn-slow-fetch")
    shutil.copy2(os.path.realpath(sys.executable), exe)
    out = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        net.cmd("a", ["sh", "-c", f"{capture} | {rest}"]),
        stdout=out,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    slow: list[subprocess.Popen[bytes]] = []
    try:
        time.sleep(2.0)
        for _ in range(clients):
            slow.append(net.spawn("a", [str(exe), "-c", SLOW_CLIENT, net.addr_b]))
            time.sleep(0.1)
        time.sleep(2.0)
    finally:
        for p in slow:
            p.kill()
            p.wait()
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    out.seek(0)
    finals: dict[Any, dict[str, Any]] = {}
    for line in out.read().decode().splitlines():
        rec = json.loads(line)
        if rec.get("t") == "conn" and rec.get("dport") == 8000:
            finals[rec["id"]] = rec
    out.close()
    pids = {p.pid for p in slow}
    named = sum(1 for r in finals.values() if r.get("process") == exe.name and r.get("pid") in pids)
    print(
        f"long-lived connections ({clients} slow downloads, after rn-track): {named}/{len(finals)} "
        f"attributed to the right pid and name ({100.0 * named / max(1, len(finals)):.0f}%)"
    )


def run_curls(net: Any, pipeline: str, runs: int) -> tuple[int, int, float]:
    """Run the pipeline in namespace a, curl ``runs`` times, drain it; (named curl, total, median run)."""
    out = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        net.cmd("a", ["sh", "-c", pipeline]), stdout=out, stderr=subprocess.DEVNULL, start_new_session=True
    )
    durations = []
    try:
        time.sleep(2.0)  # every stage started and the capture open
        for _ in range(runs):
            t0 = time.perf_counter()
            net.run("a", ["curl", "-s", "-o", "/dev/null", f"http://{net.addr_b}:8000/small.txt"])
            durations.append(time.perf_counter() - t0)
            time.sleep(0.2)
        time.sleep(1.0)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    out.seek(0)
    finals: dict[Any, dict[str, Any]] = {}
    for line in out.read().decode().splitlines():
        rec = json.loads(line)
        if rec.get("t") == "conn" and rec.get("dport") == 8000:
            finals[rec["id"]] = rec
    out.close()
    named = sum(1 for r in finals.values() if r.get("process") == "curl")
    return named, len(finals), statistics.median(durations)


OCCASIONAL = """
import socket, sys
for line in sys.stdin:                  # one short HTTP request per line, from one long-lived process
    s = socket.create_connection((sys.argv[1], 8000))
    s.sendall(b"GET /small.txt HTTP/1.0\\r\\n\\r\\n")
    while s.recv(4096):
        pass
    s.close()
    print("done", flush=True)
"""


def bench_occasional(requests: int = 4, gap: float = 12.0, old: str | None = None) -> None:
    """The watcher's blind spot: a long-running program (no exec) making a short connection now and
    then, more than its arming time apart. Runs ``requests`` requests ``gap`` seconds apart."""
    from tests.netns import TwoHosts, can_make_namespaces

    if not can_make_namespaces():
        print("occasional connections: skipped (needs root and ip netns)")
        return
    cap, dis, trk = (str(BIN / n) for n in ("rn-capture", "rn-dissect", "rn-track"))
    for label, path in (("this checkout", None), ("--old", old)):
        if label == "--old" and not path:
            continue
        with TwoHosts() as net, tempfile.TemporaryDirectory() as www:
            os.chmod(www, 0o755)
            Path(www, "small.txt").write_text("hello\n")
            exe = Path(www, "rn-occasional")
            shutil.copy2(os.path.realpath(sys.executable), exe)
            net.spawn(
                "b", [sys.executable, "-m", "http.server", "8000", "--bind", net.addr_b, "--directory", www]
            )
            net.wait_port("b", 8000)
            client = net.spawn(
                "a", [str(exe), "-c", OCCASIONAL, net.addr_b], stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )
            assert client.stdin is not None and client.stdout is not None
            out = tempfile.TemporaryFile()
            pipe = (
                f"{cap} -i {net.if_a} tcp port 8000 | {dis} | {trk} -r 100 | {enrich_cmd(path)} --format json"
            )
            proc = subprocess.Popen(
                net.cmd("a", ["sh", "-c", pipe]),
                stdout=out,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            try:
                time.sleep(gap)
                for _ in range(requests):
                    client.stdin.write(b"go\n")
                    client.stdin.flush()
                    client.stdout.readline()
                    time.sleep(gap)
            finally:
                os.killpg(proc.pid, signal.SIGINT)
                proc.wait(timeout=20)
            out.seek(0)
            finals = {
                r["id"]: r
                for r in map(json.loads, out.read().decode().splitlines())
                if r.get("t") == "conn" and r.get("dport") == 8000
            }
            out.close()
            named = sum(1 for r in finals.values() if r.get("pid") == client.pid)
            print(
                f"occasional short connections of a long-running program, {gap:g} s apart ({label}): "
                f"{named}/{len(finals)} attributed"
            )


WATCHER_IDLE = """
import time
from rustnet.enrich.watch import ShortLivedWatcher
w = ShortLivedWatcher()
time.sleep(0.2)
c0, t0 = time.process_time(), time.monotonic()
time.sleep(10.0)
cpu = (time.process_time() - c0) / (time.monotonic() - t0)
print(f"{100 * cpu:.3f}% of a CPU (exec events {'on' if w.exec_events else 'unavailable'}; {w.wakeups} "
      f"wake-ups, armed {w.arms} times {w.reasons}, {w.passes} listings in 10 s)")
w.close()
"""


def bench_watcher_idle() -> None:
    """What the short-lived watcher costs on a quiet host: waiting to be armed (in a fresh network
    namespace when possible: the host's may be busy), and armed."""
    from tests.netns import TwoHosts, can_make_namespaces

    if can_make_namespaces():
        with TwoHosts() as net:
            res = net.run("a", [sys.executable, "-c", WATCHER_IDLE], timeout=60, check=False)
        text = res.stdout.decode().strip() or res.stderr.decode()[-300:]
        print(f"watcher not armed, quiet namespace: {text}")
    res = subprocess.run([sys.executable, "-c", WATCHER_IDLE], capture_output=True, timeout=60)
    print(f"watcher not armed, this host's namespace: {res.stdout.decode().strip()}")
    for interval in (0.001, 0.002, 0.01):
        from rustnet.enrich.watch import ShortLivedWatcher

        w = ShortLivedWatcher(interval=interval, armed=1e9)
        time.sleep(0.2)
        c0, t0 = time.process_time(), time.monotonic()
        time.sleep(3.0)
        cpu = (time.process_time() - c0) / (time.monotonic() - t0)
        print(
            f"watcher armed, every {interval * 1000:g} ms on a quiet host: {100 * cpu:.1f}% of a CPU "
            f"({w.checks} counter reads, {w.passes} listings)"
        )
        w.close()


def bench_packets(limit: int = 200_000) -> None:
    """rn-enrich right after rn-capture: per-packet cost of passing packets and noticing new flows."""
    import pcapy
    from rustnet.enrich.stage import Enricher
    from rustnet.stream.records import Record, make_header

    corpus = ROOT / "tests" / "data" / "corpus" / "pcaps"
    frames: list[Record] = []
    for path in sorted(corpus.glob("*.pcap")) if corpus.is_dir() else []:
        try:
            reader = pcapy.open_offline(str(path))
        except pcapy.PcapError:
            continue
        if reader.datalink() != 1:
            continue
        while len(frames) < limit:
            try:
                hdr, data = reader.next()
            except pcapy.PcapError:  # a deliberately cut capture in the corpus
                break
            if not hdr:
                break
            frames.append(["pkt", 0.0, hdr.getlen(), data])
    if not frames:
        print("per-packet cost: skipped (no Ethernet captures in the corpus)")
        return
    while len(frames) < limit:
        frames.extend(frames[: limit - len(frames)])
    enr = Enricher(watch_interval=0)
    enr.process([make_header("rn-capture 0.1.0", 1, "bench", True, 262144, time.time())])
    c0 = time.process_time()
    for i in range(0, len(frames), 256):
        enr.process(frames[i : i + 256])
    cpu = time.process_time() - c0
    print(
        f"after rn-capture, {len(frames)} Ethernet frames from the corpus ({enr.flows_new} new flows, "
        f"each looked up at once): {cpu / len(frames) * 1e6:.2f} µs CPU per packet"
    )
    enr.finish()


def conn_records(n: int, local: str | None = None) -> list[dict[str, Any]]:
    """``n`` connection records as rn-track writes them for short flows: two thirds TCP (HTTP and
    TLS), one third DNS with answers. Remote ends are in 198.18.0.0/15 (the benchmarking range);
    ``local``: the client address instead of 10.1.x.y (an address of this host, no socket)."""
    out: list[dict[str, Any]] = []
    for i in range(n):
        cli = local or f"10.1.{(i >> 8) & 255}.{i & 255}"
        t = 1.7e9 + i / 1e4
        base = {
            "t": "conn",
            "id": i + 1,
            "src": cli,
            "first_seen": t,
            "last_seen": t,
            "packets": 9,
            "bytes": 700,
            "packets_src": 6,
            "bytes_src": 450,
            "packets_dst": 3,
            "bytes_dst": 250,
        }
        if i % 3 == 2:
            name = f"name{i % 3000}.example.net"
            out.append(
                {
                    **base,
                    "proto": "udp",
                    "sport": 30000 + i % 30000,
                    "dst": "198.18.0.53",
                    "dport": 53,
                    "state": "DNS_RESPONSE",
                    "app": "DNS",
                    "dns_query": name,
                    "dns_answers": [f"{name} A 198.19.{(i >> 8) & 255}.{i & 255}"],
                    "dns_resolved": [f"198.19.{(i >> 8) & 255}.{i & 255} {name}"],
                }
            )
        else:
            tls = i % 3 == 0
            out.append(
                {
                    **base,
                    "proto": "tcp",
                    "sport": 20000 + i % 40000,
                    "dst": f"198.18.1.{1 + i % 200}",
                    "dport": 443 if tls else 80,
                    "state": "TIME_WAIT",
                    "rtt_ms": 0.4,
                    "app": "TLS" if tls else "HTTP",
                }
            )
    return out


def bench_conns(n: int = 50_000, old: str | None = None) -> None:
    """Connection records after rn-track: µs per record, in-process and for the whole process."""
    from benchlib import run_pipeline
    from rustnet.enrich.stage import Enricher
    from rustnet.stream import RecordWriter
    from rustnet.stream.records import make_header

    hdr = make_header("rn-track 0.1.0", 1, "bench", True, 262144, time.time(), ["rn-capture", "rn-dissect"])
    for name, recs in (
        ("no local address", conn_records(n)),
        ("local client, socket gone", conn_records(n // 5, local="127.0.0.1")),
    ):
        cpu_new, cpu_again = [], []
        for _ in range(3):
            enr = Enricher(watch_interval=0)
            enr.process([dict(hdr)])
            for into in (cpu_new, cpu_again):  # first sight, then a later record of the same ids
                batches = [[dict(r) for r in recs[i : i + 256]] for i in range(0, len(recs), 256)]
                c0 = time.process_time()
                for b in batches:
                    enr.process(b)
                into.append((time.process_time() - c0) / len(recs))
            enr.finish()
        print(
            f"conn records, {name}: {statistics.median(cpu_new) * 1e6:.2f} µs CPU per record on first "
            f"sight, {statistics.median(cpu_again) * 1e6:.2f} µs for a later record (in-process, median "
            "of 3)"
        )
    with tempfile.NamedTemporaryFile(suffix=".rn") as f:
        w = RecordWriter(f.fileno(), "msgpack")
        w.write(hdr)
        w.write_many(conn_records(n))
        w.close()
        for label, path in (("this checkout", None), ("--old", old)):
            if label == "--old" and not path:
                continue
            argv = enrich_cmd(path).split() + [f.name]
            cpus = [run_pipeline([argv]).stages[0].cpu for _ in range(3)]
            per = statistics.median(cpus) / n
            print(
                f"rn-enrich process ({label}), {n} new connections with no local address: "
                f"{per * 1e6:.1f} µs CPU per record (incl. start-up); 10,000 new connections/s "
                f"= {per * 1e4 * 100:.0f}% of a core"
            )


def bench_idle(seconds: float, old: str | None = None) -> None:
    """CPU of rn-enrich alone in a live pipeline on a quiet veth, % of one core."""
    from benchlib import cpu_times, descendants, proc_name

    from tests.netns import TwoHosts, can_make_namespaces

    if not can_make_namespaces():
        print("idle pipeline: skipped (needs root and ip netns)")
        return
    for label, path in (("this checkout", None), ("--old", old)):
        if label == "--old" and not path:
            continue
        with TwoHosts() as net:
            pipe = (
                f"{BIN / 'rn-capture'} -i {net.if_a} | {BIN / 'rn-dissect'} | {BIN / 'rn-track'} "
                f"-r 1000 | {enrich_cmd(path)} --format json > /dev/null"
            )
            proc = subprocess.Popen(net.cmd("a", ["sh", "-c", pipe]), start_new_session=True)
            try:
                time.sleep(3.0)  # started, first poll done
                pids = {proc_name(p): p for p in descendants(proc.pid)}
                enr = pids.get("rn-enrich")
                if enr is None:
                    print("idle pipeline: rn-enrich did not start")
                    continue
                c0, t0 = cpu_times(enr), time.monotonic()
                time.sleep(seconds)
                share = (cpu_times(enr) - c0) / (time.monotonic() - t0)
                print(
                    f"idle live pipeline ({label}): rn-enrich {100 * share:.2f}% of a core over {seconds:g} s"
                )
            finally:
                os.killpg(proc.pid, signal.SIGINT)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def bench_replay(rate: int, seconds: float = 10.0, old: str | None = None) -> None:
    """rn-enrich in a live pipeline while tcpreplay sends the mixed capture at ``rate``."""
    from benchlib import cpu_times, descendants, have, mixed_pcap, proc_name
    from rustnet.stream.reader import open_inputs

    from tests.netns import TwoHosts, can_make_namespaces

    if not (can_make_namespaces() and have("tcpreplay")):
        print("replay: skipped (needs root, ip netns and tcpreplay)")
        return
    pcap = mixed_pcap(200_000)
    for label, path in (("this checkout", None), ("--old", old)):
        if label == "--old" and not path:
            continue
        with TwoHosts() as net, tempfile.NamedTemporaryFile(suffix=".rn") as out:
            pipe = (
                f"{BIN / 'rn-capture'} -i {net.if_b} | {BIN / 'rn-dissect'} | {BIN / 'rn-track'} "
                f"-r 1000 | {enrich_cmd(path)} > {out.name}"
            )
            proc = subprocess.Popen(net.cmd("b", ["sh", "-c", pipe]), start_new_session=True)
            try:
                time.sleep(3.0)
                pids = {proc_name(p): p for p in descendants(proc.pid)}
                before = {n: cpu_times(p) for n, p in pids.items() if n.startswith("rn-")}
                t0 = time.monotonic()
                net.run(
                    "a",
                    [
                        "tcpreplay",
                        "-q",
                        "-K",
                        "-i",
                        net.if_a,
                        "--pps",
                        str(rate),
                        "--limit",
                        str(int(rate * seconds)),
                        str(pcap),
                    ],
                    timeout=seconds * 4 + 30,
                )
                time.sleep(2.0)  # the last connections' records
                wall = time.monotonic() - t0
                use = {n: 100 * (cpu_times(p) - before[n]) / wall for n, p in pids.items() if n in before}
            finally:
                os.killpg(proc.pid, signal.SIGINT)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            conns = 0
            for reader in open_inputs([out.name]):
                while not reader.done:
                    conns += sum(1 for r in reader.poll(None) if isinstance(r, dict) and r.get("t") == "conn")
            enr = use.get("rn-enrich", 0.0)
            per = enr / 100 * wall / max(1, conns)
            print(
                f"replay at {rate} packets/s for {seconds:g} s ({label}): rn-enrich {enr:.1f}% of a core "
                f"over {wall:.0f} s for {conns} conn records = {per * 1e6:.1f} µs CPU per record; other "
                "stages " + ", ".join(f"{n} {v:.0f}%" for n, v in sorted(use.items()) if n != "rn-enrich")
            )


PARTS = ("poll", "watcher", "packets", "conns", "idle", "curl", "replay", "occasional")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sockets", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--skip-curl", action="store_true")
    ap.add_argument("--parts", default=",".join(PARTS), help="comma-separated subset of " + ",".join(PARTS))
    ap.add_argument("--idle-seconds", type=float, default=30.0)
    ap.add_argument("--rate", type=int, default=20_000, help="packets/s of the replay part")
    ap.add_argument("--old", metavar="PYTHONPATH", help="also measure the rn-enrich found on this path")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    sys.path.insert(0, str(ROOT / "bench"))
    if "poll" in parts:
        bench_poll(args.sockets)
    if "watcher" in parts:
        bench_watcher_idle()
    if "packets" in parts:
        bench_packets()
    if "conns" in parts:
        bench_conns(old=args.old)
    if "idle" in parts:
        bench_idle(args.idle_seconds, args.old)
    if "replay" in parts:
        bench_replay(args.rate, old=args.old)
    if "occasional" in parts:
        bench_occasional(old=args.old)
    if "curl" in parts and not args.skip_curl:
        bench_curl(args.runs)
        if args.old:
            bench_curl(args.runs, args.old)


if __name__ == "__main__":
    main()
