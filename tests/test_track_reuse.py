"""``Tracker.reuse_records`` (what rn-track sets): a record's dict also serves as its
connection's copy for the next record once the writer is done with it, instead of a copy made
for it. The records must be the very ones the copies give.

Each corpus capture's summaries go through two trackers, a few summaries per call, with a
refresh of 10 ms of packet time so that connections get many updates. The records of each call
are queued, as the writer queues them, and encoded only when the writer would flush: every call,
every third call, or once at the end (all of a connection's records then sit in the queue
together). Only then is the reusing tracker told (``released()``). A tracker that changed a
record still queued, even once, would encode something else than records encoded at once.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rustnet.stream import RecordReader
from rustnet.track.table import Tracker

from tests.corpus import PCAPS

BIN = Path(sys.executable).parent
CAPTURES = sorted(PCAPS.glob("*.pcap")) if PCAPS.is_dir() else []


def _summaries(path: Path) -> list[Any]:
    run = subprocess.run(
        ["bash", "-o", "pipefail", "-c", f'"{BIN}/rn-capture" -r "$1" | "{BIN}/rn-dissect"', "-", str(path)],
        capture_output=True,
        timeout=120,
    )
    reader = RecordReader(-1)
    return reader.feed(run.stdout) + reader.feed(b"")


def _encoded(recs: list[Any], reuse: bool, flush_every: int | None, per_call: int = 5) -> list[str]:
    tracker = Tracker(refresh=0.01)
    tracker.reuse_records = reuse
    queued: list[Any] = []
    written: list[str] = []

    def flush() -> None:
        written.extend(json.dumps(r) for r in queued)
        queued.clear()
        tracker.released()

    for n, i in enumerate(range(0, len(recs), per_call), 1):
        queued += tracker.process(recs[i : i + per_call])
        if flush_every and n % flush_every == 0:
            flush()
    queued += tracker.finish()
    flush()
    return written


@pytest.mark.parametrize("path", CAPTURES, ids=[p.name for p in CAPTURES])
def test_reused_records_are_the_copies_records(path: Path) -> None:
    recs = _summaries(path)
    want = _encoded(recs, reuse=False, flush_every=1)
    for flush_every in (3, None):
        # Copies or not, a record once returned stays as it was (a DPI list grown by a later
        # packet of the same call is a new list: tests DNS queries on mDNS, zeek_dns_mdns.pcap).
        assert _encoded(recs, reuse=False, flush_every=flush_every) == want, flush_every
    for flush_every in (1, 3, None):
        assert _encoded(recs, reuse=True, flush_every=flush_every) == want, flush_every


def test_many_records_of_one_connection_in_one_call() -> None:
    # All of a capture in one call, encoded after it: every record of a connection but the first
    # must be a copy, the first still queued.
    recs = _summaries(PCAPS / "zeek_http_get.pcap")
    want = _encoded(recs, reuse=False, flush_every=1, per_call=len(recs))
    got = _encoded(recs, reuse=True, flush_every=None, per_call=len(recs))
    assert got == want
    ids = [json.loads(r).get("id") for r in want]
    assert len(ids) > len(set(ids))  # a connection with more than one record


def test_snapshot_marks_a_copy() -> None:
    # A snapshot record is marked in a copy: the connection's next record carries no mark.
    recs = _summaries(PCAPS / "zeek_http_get.pcap")
    tracker = Tracker(refresh=0.01)
    tracker.reuse_records = True
    half = len(recs) // 2
    out = tracker.process(recs[:half])
    tracker.released()
    tracker.snapshot_requested = True
    snap = [r for r in tracker.process([]) if isinstance(r, dict) and r.get("snapshot")]
    assert snap
    tracker.released()
    later = tracker.process(recs[half:]) + tracker.finish()
    assert out and not any(isinstance(r, dict) and r.get("snapshot") for r in later)
