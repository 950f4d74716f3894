"""What exporting IPFIX costs per connection record.

    .venv/bin/python bench/bench_export.py [--records 100000] [--runs 5]

1. In-process: µs of CPU per final connection record for rustnet.export's Exporter to turn it
   into an IPFIX flow and send it (UDP, to a loopback socket that is not read: the kernel drops
   what overflows, as it would for a slow collector), with the messages per record.
2. The command: CPU of ``rn-export --ipfix`` over a file of the same records (decoding and
   re-encoding the pass-through stream included), against the same file whose records are not
   final (nothing to export: the cost of passing records through alone). The difference is the
   export's own cost per record.

Records: half IPv4, half IPv6 TCP connections with an application name and a server name.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))

from benchlib import rn  # noqa: E402
from rustnet.export.ipfix.messages import MessageBuilder  # noqa: E402
from rustnet.export.ipfix.stage import Exporter  # noqa: E402
from rustnet.export.ipfix.transport import UdpSender  # noqa: E402
from rustnet.stream import RecordWriter  # noqa: E402
from rustnet.stream.records import make_header  # noqa: E402


def records(n: int, final: bool) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        v6 = i % 2
        rec: dict[str, Any] = {
            "t": "conn",
            "id": i + 1,
            "proto": "tcp",
            "src": f"2001:db8::{i % 65536:x}" if v6 else f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
            "sport": 1024 + i % 60000,
            "dst": "2001:db8:1::443" if v6 else "192.0.2.80",
            "dport": 443,
            "state": "CLOSED",
            "packets": 20,
            "bytes": 9000,
            "packets_src": 10,
            "bytes_src": 1500,
            "packets_dst": 10,
            "bytes_dst": 7500,
            "first_seen": 1700000000.0 + i * 0.001,
            "last_seen": 1700000001.0 + i * 0.001,
            "app": "TLS",
            "sni": f"host{i % 1000}.example.com",
        }
        if final:
            rec["final"] = True
            rec["end"] = "timeout"
        out.append(rec)
    return out


def in_process(recs: list[dict[str, Any]], port: int) -> tuple[float, int]:
    exporter = Exporter(UdpSender("127.0.0.1", port), MessageBuilder(0, 32473, 1400))
    hdr = {"t": "hdr", "v": 1, "linktype": 1}
    t0 = time.process_time()
    exporter.process([hdr])
    for i in range(0, len(recs), 2048):
        exporter.process(recs[i : i + 2048])
    exporter.finish()
    cpu = time.process_time() - t0
    exporter.close(0)
    return cpu / len(recs) * 1e6, exporter.sender.sent_messages


def command_cpu(path: Path, port: int) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [rn("rn-export"), "--ipfix", f"127.0.0.1:{port}", str(path)], stdout=subprocess.DEVNULL, check=True
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def write_stream(path: Path, recs: list[dict[str, Any]]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    w = RecordWriter(fd, "msgpack")
    w.write(make_header("rn-track 0.1.0", 1, "bench", False, 262144, 1700000000.0))
    w.write_many(recs)
    w.close()
    os.close(fd)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    port = sink.getsockname()[1]
    final = records(args.records, True)
    costs = []
    for _ in range(args.runs):
        us, messages = in_process(final, port)
        costs.append(us)
    print(
        f"in-process: {statistics.median(costs):.2f} µs CPU per final record "
        f"(median of {args.runs}; {messages} messages for {args.records} records, "
        f"{args.records / messages:.1f} flows per 1400-byte message)"
    )
    with tempfile.TemporaryDirectory() as d:
        exported, passed = Path(d) / "final.rn", Path(d) / "updates.rn"
        write_stream(exported, final)
        write_stream(passed, records(args.records, False))
        with_export = statistics.median(command_cpu(exported, port) for _ in range(args.runs))
        pass_only = statistics.median(command_cpu(passed, port) for _ in range(args.runs))
    n = args.records
    print(
        f"rn-export command: {with_export / n * 1e6:.2f} µs CPU per record exported, "
        f"{pass_only / n * 1e6:.2f} µs per record only passed through "
        f"(export's own: {(with_export - pass_only) / n * 1e6:.2f} µs; start-up included, {n} records)"
    )
    sink.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
