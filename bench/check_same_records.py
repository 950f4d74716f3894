"""Check that two builds of rustnet write the same records for the same captures.

    .venv/bin/python bench/check_same_records.py --old /tmp/old/.venv/bin [--new .venv/bin] [PCAP ...]

For every capture (default: the corpus, tests/data/corpus/pcaps), each build runs

* ``rn-capture -r F | rn-dissect``: the summaries, compared record by record;
* ``rn-capture -r F | rn-dissect | rn-track --format json``: the connection records;
* ``rn-capture -r F | rn-track --dissect --format json``: the same, dissected in-process;
* ``rustnet --read F --json`` (``--with-rustnet``): what the wrapper writes;

(``--final-only``: rn-track writes final connection records only, for changes that mean to
change the updates but not what each connection ends as)

and every record must be equal: connection records (updates and final records, field by field:
RTT, duplicate ACKs, fast retransmits, DPI fields...) and summaries in the same order, element
by element; the other records (headers, warnings, stats) as a set. Only what depends on the wall
clock or on the build is left out: the ``ts``/``start`` of header, stats and warn records, a
header's ``producer``/``privs``/``stages`` and format version ``v``, and the ``dstats`` records
a stage writes on its wall-clock tick (only the last, the totals, is compared). Exit 1 when
anything differed (each difference is printed with the capture, command and record index), 0
when everything matched. The reference build's output is kept in ``--cache``, under a digest of
that build's sources (a worktree of another commit at the same path does not reuse it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgpack

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "corpus" / "pcaps"
# Fields that change run to run (wall clock) or build to build, by record type.
_VOLATILE: dict[str, frozenset[str]] = {
    "hdr": frozenset({"start", "producer", "privs", "stages", "v"}),
    "stats": frozenset({"ts"}),
    "dstats": frozenset({"ts"}),
    "warn": frozenset({"ts"}),
    "sock": frozenset({"ts"}),
}


def _stable(rec: Any) -> Any:
    if isinstance(rec, dict):
        drop = _VOLATILE.get(rec.get("t", ""), frozenset())
        return {k: v for k, v in rec.items() if k not in drop}
    return rec


def _pipeline(argvs: list[list[str]]) -> tuple[bytes, list[int]]:
    """Run argvs[0] | argvs[1] | ...; the last one's stdout and every exit status."""
    procs: list[subprocess.Popen[bytes]] = []
    prev: Any = None
    for i, argv in enumerate(argvs):
        last = i == len(argvs) - 1
        p = subprocess.Popen(argv, stdin=prev, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        if prev is not None:
            prev.close()
        prev = p.stdout
        procs.append(p)
        if last:
            out = p.communicate()[0]
    statuses = [p.wait() for p in procs]
    return out, statuses


def build_digest(bin_dir: Path) -> str:
    """What the build in ``bin_dir`` is: a digest of the rustnet sources its Python imports (a
    worktree of another commit at the same path is another build, and its cached outputs stale)."""
    where = subprocess.run(
        [str(bin_dir / "python"), "-c", "import rustnet, os; print(os.path.dirname(rustnet.__file__))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    h = hashlib.sha256()
    for path in sorted(Path(where).rglob("*.py")):
        h.update(str(path.relative_to(where)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _cached(cache: Path, build: str, pcap: str, name: str, argvs: list[list[str]]) -> tuple[bytes, list[int]]:
    """The reference build's output for ``pcap`` (run once, then kept in ``cache``)."""
    st = Path(pcap).stat()
    tag = hashlib.sha256(
        repr((build, str(Path(pcap).resolve()), st.st_size, st.st_mtime_ns, argvs)).encode()
    ).hexdigest()
    path = cache / f"{tag[:24]}.out"
    if path.exists():
        data = path.read_bytes()
        statuses = json.loads(data[: data.index(b"\n")])
        return data[data.index(b"\n") + 1 :], statuses
    out, statuses = _pipeline(argvs)
    cache.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(json.dumps(statuses).encode() + b"\n" + out)
    return out, statuses


def _records(out: bytes, fmt: str) -> list[Any]:
    if fmt == "json":
        return [_stable(json.loads(line)) for line in out.splitlines() if line.strip()]
    recs: list[Any] = []
    up = msgpack.Unpacker(raw=False, max_buffer_size=1 << 30, strict_map_key=False)
    up.feed(out)
    for frame in up:
        if isinstance(frame, list) and frame and isinstance(frame[0], str):
            recs.append(_stable(frame))
        elif isinstance(frame, list):
            recs.extend(_stable(r) for r in frame)
        else:
            recs.append(_stable(frame))
    return recs


def commands(
    bin_dir: Path, pcap: str, with_rustnet: bool, final_only: bool = False
) -> dict[str, tuple[list[list[str]], str]]:
    b = str(bin_dir)
    cap = [f"{b}/rn-capture", "-r", pcap]
    track = [f"{b}/rn-track", "--format", "json", *(["--final-only"] if final_only else [])]
    cmds = {
        "dissect": ([cap, [f"{b}/rn-dissect"]], "msgpack"),
        "pipe": ([cap, [f"{b}/rn-dissect"], track], "json"),
        "track --dissect": ([cap, [*track, "--dissect"]], "json"),
    }
    if with_rustnet:
        cmds["rustnet --json"] = ([[f"{b}/rustnet", "--read", pcap, "--json"]], "json")
    return cmds


def _ordered(recs: list[Any]) -> tuple[list[Any], list[str]]:
    """The records whose order is the stream's (summaries, connection records), and the rest as
    sorted text; of the dstats records only the last (the others come at wall-clock ticks)."""
    ordered: list[Any] = []
    rest: list[str] = []
    last_dstats: Any = None
    for rec in recs:
        tag = rec.get("t") if isinstance(rec, dict) else None
        if tag == "dstats":
            last_dstats = rec
        elif tag is None or tag == "conn":
            ordered.append(rec)
        else:
            rest.append(json.dumps(rec, sort_keys=True, default=repr))
    if last_dstats is not None:
        rest.append(json.dumps(last_dstats, sort_keys=True, default=repr))
    return ordered, sorted(rest)


def _first_difference(old_all: list[Any], new_all: list[Any]) -> str | None:
    old, old_rest = _ordered(old_all)
    new, new_rest = _ordered(new_all)
    if old_rest != new_rest:
        gone = sorted(set(old_rest) - set(new_rest))[:2]
        added = sorted(set(new_rest) - set(old_rest))[:2]
        return f"other records differ:\n  old {gone}\n  new {added}"
    for i, (a, b) in enumerate(zip(old, new, strict=False)):
        if a != b:
            return f"record {i}:\n  old {str(a)[:600]}\n  new {str(b)[:600]}"
    if len(old) != len(new):
        return f"{len(old)} records before, {len(new)} now"
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old", required=True, type=Path, help="bin directory of the reference build's venv")
    ap.add_argument("--new", default=Path(sys.executable).parent, type=Path, help="bin directory to check")
    ap.add_argument("--with-rustnet", action="store_true", help="also compare rustnet --read F --json")
    ap.add_argument(
        "--final-only",
        action="store_true",
        help="connection records: final ones only (rn-track --final-only), not the updates",
    )
    ap.add_argument("--cache", type=Path, default=Path("/tmp/rustnet-same-records"), help="reference outputs")
    ap.add_argument("pcaps", nargs="*", help="captures (default: every capture of the corpus)")
    args = ap.parse_args()
    pcaps = args.pcaps or sorted(str(p) for p in CORPUS.iterdir() if p.suffix in (".pcap", ".pcapng"))
    failed = 0
    compared = 0
    build = build_digest(args.old)
    for pcap in pcaps:
        old_cmds = commands(args.old, pcap, args.with_rustnet, args.final_only)
        new_cmds = commands(args.new, pcap, args.with_rustnet, args.final_only)
        for name, (argvs, fmt) in new_cmds.items():
            old_out, old_st = _cached(args.cache, build, pcap, name, old_cmds[name][0])
            new_out, new_st = _pipeline(argvs)
            old_recs, new_recs = _records(old_out, fmt), _records(new_out, fmt)
            compared += len(new_recs)
            diff = None if old_st == new_st else f"exit statuses {old_st} before, {new_st} now"
            diff = diff or _first_difference(old_recs, new_recs)
            if diff is not None:
                failed += 1
                print(f"DIFFERENT {Path(pcap).name} [{name}]: {diff}")
            else:
                print(f"same      {Path(pcap).name} [{name}]: {len(new_recs)} records")
    print(f"{len(pcaps)} captures, {compared} records compared, {failed} differences")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
