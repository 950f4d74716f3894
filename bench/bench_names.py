"""What reverse DNS and GeoIP cost in rn-enrich: connection records a second, with and without.

    .venv/bin/python bench/bench_names.py [-n 50000] [--addresses 5000] [--rounds 3]

A stream of ``-n`` connection records (a live header; TCP and DNS as rn-track writes them)
whose remote ends are ``--addresses`` distinct public addresses, each seen several times,
goes through the rn-enrich process (``--no-process``: names only) four ways, interleaved
in each round: nothing, reverse DNS, GeoIP (Country, City and ASN databases of 20,000
networks each, written by tests/mmdb_writer.py), both. Reverse DNS asks a DNS server in a
network namespace (tests/live/ptr_server.py, answering every PTR after 10 ms), so the
figures include the resolver threads' own CPU; its queries are rate-limited, so most
addresses stay unnamed: the cost measured is the pipeline's, which never waits for them.
Needs root (namespaces); without it, only the GeoIP rows are measured.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from benchlib import run_pipeline  # noqa: E402
from rustnet.stream import RecordWriter  # noqa: E402

from tests.mmdb_writer import asn, city, country, write_mmdb  # noqa: E402
from tests.netns import TwoHosts, can_make_namespaces  # noqa: E402

ENRICH = str(Path(sys.executable).parent / "rn-enrich")


def remote(i: int) -> str:
    # 81.0.0.0/8 onwards: public, placeable, and inside the databases' networks.
    return f"{81 + (i >> 16) % 20}.{(i >> 8) & 255}.{i & 255}.{1 + i % 200}"


def records(n: int, addresses: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(n):
        t = 1.7e9 + i / 1e4
        out.append(
            {
                "t": "conn",
                "id": i + 1,
                "proto": "tcp",
                "src": "10.1.0.2",
                "sport": 20000 + i % 40000,
                "dst": remote(i % addresses),
                "dport": 443,
                "state": "ESTABLISHED",
                "app": "TLS",
                "first_seen": t,
                "last_seen": t,
                "packets": 9,
                "bytes": 700,
                "bytes_src": 450,
                "bytes_dst": 250,
            }
        )
    return out


def databases(d: Path) -> dict[str, Path]:
    nets = [f"{81 + (k >> 8) % 20}.{k & 255}.0.0/16" for k in range(20 * 256)]
    return {
        "country": write_mmdb(d / "c.mmdb", "GeoLite2-Country", {n: country("DE", "Germany") for n in nets}),
        "city": write_mmdb(
            d / "ci.mmdb", "GeoLite2-City", {n: city("DE", "Germany", "Berlin") for n in nets}
        ),
        "asn": write_mmdb(
            d / "a.mmdb",
            "GeoLite2-ASN",
            {n: asn(64500 + (i % 500), "EXAMPLE-AS") for i, n in enumerate(nets)},
        ),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=50_000)
    ap.add_argument("--addresses", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-names-"))
    try:
        dbs = databases(tmp)
        stream = tmp / "conns.rn"
        fd = os.open(stream, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        w = RecordWriter(fd, "msgpack")
        w.write({"t": "hdr", "v": 1, "producer": "bench", "live": True, "stages": ["bench"]})
        w.write_many(records(args.n, args.addresses))
        w.close()
        os.close(fd)
        geo = [f"--geoip-{k}={p}" for k, p in dbs.items()]
        ways = {
            "nothing": ["--no-resolve-dns", "--no-geoip"],
            "reverse DNS": ["--resolve-dns", "--no-geoip"],
            "GeoIP": ["--no-resolve-dns", *geo],
            "both": ["--resolve-dns", *geo],
        }
        if can_make_namespaces():
            with TwoHosts() as net:
                _measure_in(net, tmp, stream, ways, args)
        else:
            print("not root: reverse DNS not measured")
            _measure(
                lambda argv: argv, stream, {k: v for k, v in ways.items() if "--resolve-dns" not in v}, args
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _measure_in(net: TwoHosts, tmp: Path, stream: Path, ways: dict[str, list[str]], args: Any) -> None:
    etc = Path("/etc/netns") / net.ns_a
    etc.mkdir(parents=True, exist_ok=True)
    try:
        (etc / "resolv.conf").write_text(f"nameserver {net.addr_b}\noptions timeout:2 attempts:1\n")
        (etc / "nsswitch.conf").write_text("hosts: files dns\n")
        server = net.spawn(
            "b",
            [sys.executable, str(ROOT / "tests/live/ptr_server.py"), net.addr_b, str(tmp / "q.log"), "0.01"],
            stdout=subprocess.PIPE,
        )
        assert server.stdout is not None
        server.stdout.readline()
        server.stdout.close()
        _measure(lambda argv: net.cmd("a", argv), stream, ways, args, tmp / "q.log")
    finally:
        shutil.rmtree(etc, ignore_errors=True)
        try:
            etc.parent.rmdir()
        except OSError:
            pass


def _measure(
    wrap: Any, stream: Path, ways: dict[str, list[str]], args: Any, qlog: Path | None = None
) -> None:
    cpu: dict[str, list[float]] = {k: [] for k in ways}
    wall: dict[str, list[float]] = {k: [] for k in ways}
    for _ in range(args.rounds):
        for name, flags in ways.items():
            run = run_pipeline([wrap([ENRICH, "--no-process", *flags, str(stream)])])
            assert run.stages[0].status == 0, (name, run.stages[0])
            cpu[name].append(run.stages[0].cpu)
            wall[name].append(run.wall)
    base = statistics.median(cpu["nothing"])
    print(f"rn-enrich --no-process over {args.n:,} connection records, {args.addresses:,} remote addresses")
    print(f"{'':14} {'records/s (CPU)':>16} {'records/s (wall)':>17} {'µs/record':>10} {'vs nothing':>11}")
    for name in ways:
        c, wl = statistics.median(cpu[name]), statistics.median(wall[name])
        print(
            f"{name:14} {args.n / c:16,.0f} {args.n / wl:17,.0f} {c / args.n * 1e6:10.2f} {c / base:10.2f}x"
        )
    if qlog is not None and qlog.exists():
        print(f"PTR queries answered by the test server over all runs: {len(qlog.read_text().splitlines())}")
    time.sleep(0)


if __name__ == "__main__":
    main()
