"""``rn-capture -r F --dissect`` writes what ``rn-capture -r F | rn-dissect`` writes.

Every corpus capture (pcap and pcapng, several link types, a file cut mid-record, pcapng with
interfaces of different link types), a gzip'd one and one read from standard input: the two
ways give the same records and the same exit status. What may differ is only what says when
and as whom it ran: the header's start time and the dissecting stage's privileges (in one
process it is rn-capture's user; piped, rn-dissect's), and the wall-clock times of counters.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rustnet.stream import RecordReader

from tests.corpus import PCAPS

BIN = Path(sys.executable).parent
CAPTURE, DISSECT = str(BIN / "rn-capture"), str(BIN / "rn-dissect")
CAPTURES = sorted(PCAPS.glob("*.pcap*")) if PCAPS.is_dir() else []


def _records(data: bytes) -> list[Any]:
    reader = RecordReader(-1)
    recs = reader.feed(data) + reader.feed(b"")
    assert reader.damage is None
    out = []
    for rec in recs:
        if isinstance(rec, dict):
            rec = {k: v for k, v in rec.items() if k not in ("ts", "start", "privs")}
        out.append(rec)
    return out


def _both(args: list[str], stdin: bytes | None = None) -> None:
    piped = subprocess.run(
        ["bash", "-o", "pipefail", "-c", f'"{CAPTURE}" "$@" | "{DISSECT}"', "-", *args],
        input=stdin,
        capture_output=True,
        timeout=120,
    )
    one = subprocess.run([CAPTURE, *args, "--dissect"], input=stdin, capture_output=True, timeout=120)
    assert one.returncode == piped.returncode, (one.stderr, piped.stderr)
    want, got = _records(piped.stdout), _records(one.stdout)
    assert want and want[0].get("t") == "hdr" and want[0].get("producer", "").startswith("rn-dissect")
    assert got == want


@pytest.mark.parametrize("path", CAPTURES, ids=[p.name for p in CAPTURES])
def test_the_same_records_as_rn_dissect_after_rn_capture(path: Path) -> None:
    _both(["-r", str(path)])


def test_gzipped_and_standard_input(tmp_path: Path) -> None:
    src = PCAPS / "zeek_http_get.pcap"
    gz = tmp_path / "t.pcap.gz"
    gz.write_bytes(gzip.compress(src.read_bytes()))
    _both(["-r", str(gz)])
    _both(["-r", "-"], stdin=src.read_bytes())


def test_a_filter_and_a_count_apply_before_the_dissecting() -> None:
    _both(["-r", str(PCAPS / "zeek_web.pcap"), "-c", "40", "tcp port 80"])


@pytest.mark.parametrize("shard", ["0/2", "1/2"])
def test_a_shard_is_dissected_after_its_share_is_taken(shard: str) -> None:
    # The other shards' packets become clock records, which the Dissector passes on.
    _both(["-r", str(PCAPS / "ndpi_android.pcap"), "--shard", shard])
