"""A QUIC Initial flood against rn-dissect: CPU per packet beside ordinary traffic and tshark.

    .venv/bin/python bench/bench_quic_flood.py [--packets 50000] [--rate 25000] [--rounds 3]

Builds three captures of ``--packets`` Ethernet frames each:

* ``flood``: valid client Initials, each under its own random DCID from a random source
  address and port to 192.0.2.1:443, ``--rate`` per second of capture time: the real
  Initial of a corpus capture (curl to www.google.de) sealed again under each DCID
  (tests/quic_flood.py), so every one costs a receiver a key derivation;
* ``junk``: the same headers with random protected bytes (no key opens them);
* ``udp``: the same datagrams with a zero first byte (not QUIC): as many new UDP flows;
* ``mixed``: ordinary traffic (bench/make_mixed_pcap.py: short HTTP/TLS flows, DNS pairs).

Each goes through ``rn-capture -r F | rn-dissect`` (median over ``--rounds`` of
rn-dissect's own CPU from its rusage) and through ``tshark -r F -T fields -e
tls.handshake.extensions_server_name`` (tshark decrypts QUIC Initials too), interleaved in
the same rounds. rn-dissect's ``dstats`` of one more run says how many Initials were
skipped over the budget (``quic_skipped``). Before the budget every flood packet cost a
key derivation, a decryption and a ClientHello parse.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from benchlib import have, median, mixed_pcap, rn, run_pipeline, table  # noqa: E402

from tests.quic_flood import flood_frames  # noqa: E402
from tests.robust.util import write_pcap  # noqa: E402


def dissect_cpu(pcap: Path) -> float:
    r = run_pipeline([[rn("rn-capture"), "-r", str(pcap)], [rn("rn-dissect")]])
    assert r.ok, r.stages
    return r.stages[1].cpu


def tshark_cpu(pcap: Path) -> float:
    argv = ["tshark", "-n", "-r", str(pcap), "-T", "fields", "-e", "tls.handshake.extensions_server_name"]
    return run_pipeline([argv]).stages[0].cpu


def dstats(pcap: Path) -> dict[str, int]:
    line = f"'{rn('rn-capture')}' -r '{pcap}' | '{rn('rn-dissect')}' --format json | tail -n 1"
    out = subprocess.run(["bash", "-o", "pipefail", "-c", line], capture_output=True, check=True)
    rec = json.loads(out.stdout)
    return {k: v for k, v in rec.items() if isinstance(v, int)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--packets", type=int, default=50_000)
    ap.add_argument("--rate", type=float, default=25_000.0, help="flood packets per second of capture time")
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    n = a.packets
    with tempfile.TemporaryDirectory() as tmp:
        files = {
            "flood": Path(tmp) / "flood.pcap",
            "junk": Path(tmp) / "junk.pcap",
            "udp": Path(tmp) / "udp.pcap",
            "mixed": mixed_pcap(n),
        }
        write_pcap(files["flood"], flood_frames(n), step=1 / a.rate)
        write_pcap(files["junk"], flood_frames(n, junk=True), step=1 / a.rate)
        write_pcap(files["udp"], flood_frames(n, not_quic=True), step=1 / a.rate)
        ours: dict[str, list[float]] = {k: [] for k in files}
        ref: dict[str, list[float]] = {k: [] for k in files}
        for _ in range(a.rounds):
            for name, pcap in files.items():
                ours[name].append(dissect_cpu(pcap))
                if have("tshark"):
                    ref[name].append(tshark_cpu(pcap))
        rows = []
        for name, pcap in files.items():
            us = median(ours[name]) / n * 1e6
            ts = median(ref[name]) / n * 1e6 if ref[name] else float("nan")
            skipped = dstats(pcap).get("quic_skipped", 0) if name in ("flood", "junk") else 0
            rows.append([name, f"{us:.1f}", f"{ts:.1f}", f"{us / ts:.2f}x" if ts == ts else "-", skipped])
        print(f"{n} packets per capture; flood at {a.rate:.0f} Initials/s of capture time")
        print(table(["capture", "rn-dissect µs/pkt", "tshark µs/pkt", "ratio", "quic_skipped"], rows))


if __name__ == "__main__":
    main()
