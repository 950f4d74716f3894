"""Compare two builds of rn-track record for record: final records must be identical.

Each capture goes through one rn-capture and one rn-dissect (the OLD build's, so both
trackers see the same input), then through each build's rn-track three ways: the full
stream (``--format json``), ``--final-only``, and ``--dissect`` on the packet records.
Final connection records must be equal, in order and field for field (the fields' order
too), in all three; the full streams' updates are compared too and their differences
counted (reported, not an error: updates may change where the record contract allows).

    python bench/compare_track.py --old /tmp/old-track/.venv/bin --new .venv/bin \\
        tests/data/corpus/pcaps/*.pcap* /tmp/mixed.pcap

Exit status 0 when every final record matches, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any


def run(cmd: list[str], stdin: Path | None = None) -> bytes:
    with open(stdin, "rb") if stdin else open("/dev/null", "rb") as f:
        p = subprocess.run(cmd, stdin=f, capture_output=True, timeout=600)
    if p.returncode not in (0, 3):  # 3: damaged input (a cut capture), still written up to there
        raise RuntimeError(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr.decode(errors='replace')[:300]}")
    return p.stdout


def conns(out: bytes) -> list[dict[str, Any]]:
    recs = [json.loads(line) for line in out.splitlines() if line.strip()]
    return [r for r in recs if r.get("t") == "conn"]


def finals(recs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in recs if r.get("final") is True]


def first_difference(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> str:
    if len(a) != len(b):
        return f"{len(a)} vs {len(b)} records"
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if list(x.items()) != list(y.items()):
            keys = sorted(k for k in set(x) | set(y) if x.get(k) != y.get(k))
            changes = ", ".join(f"{k}: {x.get(k)!r} -> {y.get(k)!r}" for k in keys)
            return f"record {i} (id {x.get('id')}): {changes or 'the fields in another order'}"
    return ""


def compare(capture: Path, old: Path, new: Path, work: Path) -> bool:
    pkts = work / "pkts.rn"
    sums = work / "sums.rn"
    pkts.write_bytes(run([str(old / "rn-capture"), "--no-sandbox", "-r", str(capture)]))
    sums.write_bytes(run([str(old / "rn-dissect"), "--no-sandbox"], stdin=pkts))
    ok = True
    notes = []
    full: dict[str, list[dict[str, Any]]] = {}
    for name, bindir in (("old", old), ("new", new)):
        track = [str(bindir / "rn-track"), "--no-sandbox", "--format", "json"]
        full[name] = conns(run([*track, str(sums)]))
        for how, args, src in (("final-only", ["--final-only"], sums), ("dissect", ["--dissect"], pkts)):
            got = finals(conns(run([*track, *args, str(src)])))
            want = finals(full[name])
            if first_difference(want, got):
                ok = False
                notes.append(f"{name} {how} differs from its own full stream: {first_difference(want, got)}")
            full[f"{name} {how}"] = got
    diff = first_difference(finals(full["old"]), finals(full["new"]))
    if diff:
        ok = False
        notes.append(f"final records differ: {diff}")
    for how in ("final-only", "dissect"):
        diff = first_difference(full[f"old {how}"], full[f"new {how}"])
        if diff:
            ok = False
            notes.append(f"{how}: final records differ: {diff}")
    updates = {k: [r for r in full[k] if r.get("final") is not True] for k in ("old", "new")}
    same_updates = not first_difference(updates["old"], updates["new"])
    print(
        f"{'ok  ' if ok else 'FAIL'} {capture.name}: {len(finals(full['new']))} final records; updates "
        f"{len(updates['old'])} -> {len(updates['new'])}{'' if same_updates else ' (differ)'}"
    )
    for n in notes:
        print(f"     {n}")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old", type=Path, required=True, help="bin directory of the reference build")
    ap.add_argument("--new", type=Path, required=True, help="bin directory of the build under test")
    ap.add_argument("captures", nargs="+", type=Path)
    a = ap.parse_args()
    bad = 0
    with tempfile.TemporaryDirectory(prefix="compare-track-") as tmp:
        for cap in a.captures:
            try:
                if not compare(cap, a.old, a.new, Path(tmp)):
                    bad += 1
            except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
                print(f"FAIL {cap.name}: {exc}")
                bad += 1
    print(f"{len(a.captures) - bad} of {len(a.captures)} captures: final records identical")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
