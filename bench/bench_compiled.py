"""CPU of each stage, pure Python against the mypyc-compiled modules, side by side in one run.

    .venv/bin/python bench/bench_compiled.py CAPTURE [CAPTURE...] [--rounds 3]

For each capture, the stages' inputs are written once to a temporary directory (rn-capture's
packet records, rn-dissect's summaries); then, round by round and interleaved so that load on the
machine falls on both builds alike, each of these runs once pure (``RUSTNET_PURE=1``) and once
compiled:

* ``rn-dissect < packets`` (the stream reader, the Dissector),
* ``rn-track --format json < summaries`` (the reader, the Tracker),
* ``rn-capture -r F | rn-dissect | rn-track --format json`` (the whole pipe, every stage's CPU),
* ``rn-capture -r F | rn-track --dissect --format json`` (the in-process chain).

Printed: medians of CPU seconds (user + system, from each process's rusage) and compiled ÷ pure.
Needs the compiled modules (``make``); says so and exits 1 when they are not in use. The load
average is printed before and after: quote it with the figures.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import PYTHON, ROOT, median, rn, run_pipeline, table  # noqa: E402


def load_average() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("captures", nargs="+", type=Path)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    status = subprocess.run(
        [PYTHON, str(ROOT / "scripts" / "build_compiled.py"), "--status"], capture_output=True, text=True
    )
    print(status.stdout.splitlines()[0] if status.stdout else status.stderr)
    if status.returncode != 0:
        return 1
    envs = {"pure": {**os.environ, "RUSTNET_PURE": "1"}, "compiled": {**os.environ, "RUSTNET_PURE": ""}}
    print(f"load average before: {load_average()}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for cap in args.captures:
            pkts, sums = Path(tmp) / "packets.rn", Path(tmp) / "sums.rn"
            with open(pkts, "wb") as f:
                subprocess.run(
                    [rn("rn-capture"), "-r", str(cap)], stdout=f, check=True, stderr=subprocess.DEVNULL
                )
            with open(pkts, "rb") as i, open(sums, "wb") as o:
                subprocess.run([rn("rn-dissect")], stdin=i, stdout=o, check=True, env=envs["pure"])
            runs: dict[tuple[str, str], list[float]] = {}
            for _ in range(args.rounds):
                for build, env in envs.items():
                    with open(pkts, "rb") as f:
                        r = run_pipeline([[rn("rn-dissect")]], stdin=f, env=env)
                    runs.setdefault(("rn-dissect < packets", build), []).append(r.cpu)
                    with open(sums, "rb") as f:
                        r = run_pipeline([[rn("rn-track"), "--format", "json"]], stdin=f, env=env)
                    runs.setdefault(("rn-track < summaries", build), []).append(r.cpu)
                    r = run_pipeline(
                        [
                            [rn("rn-capture"), "-r", str(cap)],
                            [rn("rn-dissect")],
                            [rn("rn-track"), "--format", "json"],
                        ],
                        env=env,
                    )
                    runs.setdefault(("pipe (3 stages)", build), []).append(r.cpu)
                    r = run_pipeline(
                        [
                            [rn("rn-capture"), "-r", str(cap)],
                            [rn("rn-track"), "--dissect", "--format", "json"],
                        ],
                        env=env,
                    )
                    runs.setdefault(("capture | track --dissect", build), []).append(r.cpu)
            for what in dict.fromkeys(k[0] for k in runs):
                pure, comp = median(runs[(what, "pure")]), median(runs[(what, "compiled")])
                rows.append([cap.name, what, pure, comp, f"{comp / pure:.2f}"])
    print(table(["capture", "run", "pure CPU s", "compiled CPU s", "compiled/pure"], rows))
    print(f"load average after: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
