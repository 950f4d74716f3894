"""``rn-track --enrich`` writes what ``rn-track | rn-enrich --no-process --no-resolve-dns`` writes.

The names rn-enrich adds to a capture file's records (services, hostnames from DNS answers seen,
GeoIP), added in rn-track's process instead: every corpus capture, and one with a GeoIP
database (tests/mmdb_writer.py) that places every public IPv4 address. The reference is the
separate rn-enrich command. What may differ is only what says when and as whom it ran: the
header's start time and privileges, and the wall-clock times of counters.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.corpus import PCAPS
from tests.mmdb_writer import country, write_mmdb

BIN = Path(sys.executable).parent
CAPTURE, DISSECT = str(BIN / "rn-capture"), str(BIN / "rn-dissect")
TRACK, ENRICH = str(BIN / "rn-track"), str(BIN / "rn-enrich")
CAPTURES = sorted(PCAPS.glob("*.pcap*")) if PCAPS.is_dir() else []


def _summaries(path: Path) -> bytes:
    run = subprocess.run(
        ["bash", "-o", "pipefail", "-c", f'"{CAPTURE}" -r "$1" | "{DISSECT}"', "-", str(path)],
        capture_output=True,
        timeout=120,
    )
    assert run.stdout, run.stderr
    return run.stdout


def _records(out: bytes) -> list[Any]:
    recs = [json.loads(line) for line in out.splitlines()]
    return [{k: v for k, v in r.items() if k not in ("ts", "start", "privs")} for r in recs]


def _both(summaries: bytes, *names: str) -> tuple[list[Any], list[Any]]:
    piped = subprocess.run(
        [
            "bash",
            "-o",
            "pipefail",
            "-c",
            f'"{TRACK}" | "{ENRICH}" --no-process --no-resolve-dns --format json "$@"',
            "-",
            *names,
        ],
        input=summaries,
        capture_output=True,
        timeout=120,
    )
    one = subprocess.run(
        [TRACK, "--enrich", "--format", "json", *names], input=summaries, capture_output=True, timeout=120
    )
    assert piped.returncode == one.returncode == 0, (piped.stderr, one.stderr)
    assert one.stderr == b""
    return _records(piped.stdout), _records(one.stdout)


@pytest.mark.parametrize("path", CAPTURES, ids=[p.name for p in CAPTURES])
def test_the_same_records_as_rn_enrich_after_rn_track(path: Path) -> None:
    want, got = _both(_summaries(path))
    assert want[0]["t"] == "hdr" and want[0]["producer"].startswith("rn-enrich")
    assert want[0]["stages"][-2:] == ["rn-track", "rn-enrich"]
    assert got == want


def test_names_are_added() -> None:
    # DNS answers in the capture name the addresses later connections go to; ports get services.
    want, got = _both(_summaries(PCAPS / "zeek_wikipedia.pcap"))
    assert got == want
    conns = [r for r in got if r["t"] == "conn"]
    assert sum(r.get("hostname_dst_via") == "dns" for r in conns) >= 10
    assert any(r.get("service") == "http" for r in conns)


def test_geoip_options_reach_the_names(tmp_path: Path) -> None:
    db = write_mmdb(
        tmp_path / "GeoLite2-Country.mmdb",
        "GeoLite2-Country",
        {"0.0.0.0/1": country("AA", "Low Half"), "128.0.0.0/1": country("BB", "High Half")},
    )
    path = next(p for p in CAPTURES if p.name == "zeek_http_get.pcap")
    want, got = _both(_summaries(path), "--geoip-country", str(db))
    assert got == want
    assert got[0]["geoip"] == ["country"]
    placed = [r["geo_country"] for r in got if r["t"] == "conn" and "geo_country" in r]
    assert placed and set(placed) <= {"AA", "BB"}
    # --no-geoip: none.
    _, off = _both(_summaries(path), "--no-geoip")
    assert not any("geo_country" in r for r in off)


def test_geoip_options_need_enrich() -> None:
    run = subprocess.run([TRACK, "--no-geoip"], input=b"", capture_output=True, timeout=60)
    assert run.returncode == 2 and b"--enrich" in run.stderr
