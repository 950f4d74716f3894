"""How long rn-dissect spends per packet: in-process L2-L4, with DPI, and as a command.

    .venv/bin/python bench/bench_dissect.py [--packets 200000] [--pcap PATH] [--command]

In-process figures are CPU time (``time.process_time``), best of 3, so a busy machine
skews them less; the command figures are CPU time too (the child's user+sys).

Builds (once) a capture of ``--packets`` Ethernet frames by repeating the frames of the
Ethernet captures in the corpus (a mix of TCP, UDP, QUIC, ICMP, ARP, IPv6, VLAN), with dpkt,
then prints µs/packet for:

* ``Dissector.process`` with ``--no-dpi`` (the L2-L4 path; target < 2 µs),
* ``Dissector.process`` with DPI,
* dpkt parsing the same frames to L4, as the reference the issue quotes (~8 µs),
* with ``--command``: ``rn-dissect`` (``--no-dpi`` and with DPI) over a msgpack stream of
  those packets, median CPU time of 3 runs including start-up, record decoding and encoding.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dpkt
import pcapy
from rustnet.dissect.engine import Dissector
from rustnet.stream import RecordWriter
from rustnet.stream.records import make_header

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "corpus" / "pcaps"
BATCH = 256


def corpus_frames() -> list[tuple[float, int, bytes]]:
    """Every frame of the corpus captures whose link type is Ethernet."""
    frames: list[tuple[float, int, bytes]] = []
    for path in sorted(CORPUS.iterdir()):
        try:
            reader = pcapy.open_offline(str(path))
        except pcapy.PcapError:
            continue
        if reader.datalink() != 1:
            continue
        while True:
            try:
                hdr, data = reader.next()
            except pcapy.PcapError:
                break
            if hdr is None or (not data and hdr.getlen() == 0):
                break
            sec, usec = hdr.getts()
            frames.append((sec + usec / 1e6, hdr.getlen(), data))
    return frames


def build_capture(path: Path, count: int) -> None:
    frames = corpus_frames()
    with path.open("wb") as f:
        w = dpkt.pcap.Writer(f, snaplen=262144, linktype=dpkt.pcap.DLT_EN10MB)
        t = 1_700_000_000.0
        for i in range(count):
            _, _, data = frames[i % len(frames)]
            w.writepkt(data, ts=t + i * 1e-5)


def load(path: Path) -> list[list[object]]:
    reader = pcapy.open_offline(str(path))
    recs: list[list[object]] = []
    while True:
        hdr, data = reader.next()
        if hdr is None or (not data and hdr.getlen() == 0):
            break
        sec, usec = hdr.getts()
        recs.append(["pkt", sec + usec / 1e6, hdr.getlen(), data])
    return recs


def time_dissector(recs: list[list[object]], dpi: bool, rounds: int = 3) -> tuple[float, int]:
    """Best of ``rounds``: µs per packet, and the summaries produced."""
    best = float("inf")
    sums = 0
    batches = [recs[i : i + BATCH] for i in range(0, len(recs), BATCH)]
    hdr = make_header("rn-capture bench", 1, "bench", False, 262144, 0.0)
    for _ in range(rounds):
        d = Dissector(dpi=dpi)
        d.process([hdr])
        n = 0
        t0 = time.process_time()  # CPU time: the machine may be shared with other work
        for b in batches:
            n += len(d.process(b))  # type: ignore[arg-type]
        dt = time.process_time() - t0
        best = min(best, dt)
        sums = n
    return best / len(recs) * 1e6, sums


def time_dpkt(recs: list[list[object]], limit: int = 50_000) -> float:
    """dpkt to L4 (the object parse the issue measured), µs per packet."""
    sample = recs[:limit]
    t0 = time.process_time()
    for r in sample:
        eth = dpkt.ethernet.Ethernet(r[3])
        ip = eth.data
        if isinstance(ip, (dpkt.ip.IP, dpkt.ip6.IP6)):
            l4 = ip.data
            getattr(l4, "sport", None)
    return (time.process_time() - t0) / len(sample) * 1e6


def time_command(recs: list[list[object]], dpi: bool, runs: int = 3) -> float:
    """``rn-dissect`` over a msgpack file of the packets: median CPU µs per packet (user+sys).

    The whole command: start-up, reading pkt records, dissecting, writing sum records.
    """
    exe = Path(sys.executable).parent / "rn-dissect"
    with tempfile.TemporaryDirectory() as tmp:
        stream = Path(tmp) / "pkts.rn"
        fd = os.open(stream, os.O_WRONLY | os.O_CREAT)
        w = RecordWriter(fd)
        w.write(make_header("rn-capture bench", 1, "bench", False, 262144, 0.0))
        w.write_many(recs)  # type: ignore[arg-type]
        w.close()
        os.close(fd)
        cpu = []
        for _ in range(runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run(
                [str(exe), *([] if dpi else ["--no-dpi"]), str(stream)], stdout=subprocess.DEVNULL, check=True
            )
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        return statistics.median(cpu) / len(recs) * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--packets", type=int, default=200_000)
    ap.add_argument("--pcap", type=Path, default=None)
    ap.add_argument("--command", action="store_true", help="also time the rn-dissect command")
    a = ap.parse_args()
    path = a.pcap or Path(tempfile.gettempdir()) / f"rn-bench-dissect-{a.packets}.pcap"
    if not path.exists():
        print(f"building {path} ({a.packets} frames from the corpus)...", flush=True)
        build_capture(path, a.packets)
    recs = load(path)
    print(f"capture: {path} ({len(recs)} packets)")
    us, sums = time_dissector(recs, dpi=False)
    print(
        f"dissect L2-L4 (--no-dpi), in-process: {us:.2f} us/packet ({1e6 / us:,.0f} packets/s, "
        f"{sums} summaries)"
    )
    us, _ = time_dissector(recs, dpi=True)
    print(f"dissect with DPI, in-process:         {us:.2f} us/packet ({1e6 / us:,.0f} packets/s)")
    print(f"dpkt to L4 (reference):               {time_dpkt(recs):.2f} us/packet")
    if a.command:
        us = time_command(recs, dpi=False)
        print(f"rn-dissect --no-dpi command, CPU:     {us:.2f} us/packet ({1e6 / us:,.0f} packets/s)")
        us = time_command(recs, dpi=True)
        print(f"rn-dissect command (DPI), CPU:        {us:.2f} us/packet ({1e6 / us:,.0f} packets/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
