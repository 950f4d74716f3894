"""Streams cut at every offset of a small real recording, into every stage.

A real capture from the corpus is recorded through the real commands (packet records,
summaries, connection records). Each recording is then cut at EVERY byte offset and
fed to the stage that consumes it, in-process through the same read loop the command
runs (rustnet.cli.pump.run_stream_stage, rn-view's model): every record complete before
the cut must come out, and the status is 3 unless the cut falls between two frames
(then the shorter stream is whole: 0). A sample of offsets goes through the real
commands as well (one line on stderr, exit 3, what came before kept).

Record boundaries are computed here independently of the reader: each frame element is
re-packed (the writer's packing is canonical) to find where it ends.
"""

from __future__ import annotations

import struct
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
from rustnet.cli.pump import run_stream_stage
from rustnet.dissect.engine import Dissector
from rustnet.enrich.stage import Enricher
from rustnet.stream import RecordReader, RecordWriter
from rustnet.track.table import Tracker
from rustnet.view.model import ConnTable
from rustnet.view.state import ViewState
from rustnet.view.table import table_lines

from tests.corpus import PCAPS as CORPUS
from tests.robust.util import assert_one_line_no_traceback, cmd, json_lines, run

CAPTURE = CORPUS / "tcpdump_dns_tcp.pcap"
pytestmark = pytest.mark.skipif(not CAPTURE.exists(), reason="corpus not present")


def _array_header_len(n: int) -> int:
    return 1 if n < 16 else 3 if n < 65536 else 5


def layout(data: bytes) -> tuple[list[tuple[int, Any]], set[int]]:
    """(end offset, record) of every record, and the offsets where a top-level object ends."""
    up = msgpack.Unpacker(raw=False, strict_map_key=False)
    up.feed(data)
    records: list[tuple[int, Any]] = []
    ends = {0}
    start = 0
    for obj in up:
        end = up.tell()
        if isinstance(obj, list) and obj and not isinstance(obj[0], str):
            pos = start + _array_header_len(len(obj))
            for rec in obj:
                pos += len(msgpack.packb(rec, use_bin_type=True))
                records.append((pos, rec))
            assert pos == end, "frame elements must re-pack to the same bytes"
        elif isinstance(obj, list) and obj and obj[0] == "pkb":
            # Many frames, all there once the record is: read here with struct, as the format says.
            data_ = obj[3]
            for sec, usec, off, caplen in struct.iter_unpack("<iiII" if obj[1] else "<IIII", obj[2]):
                records.append((end, ["pkt", sec + usec * 1e-6, caplen, data_[off : off + caplen]]))
        else:
            records.append((end, obj))
        ends.add(end)
        start = end
    return records, ends


@pytest.fixture(scope="module")
def recordings() -> dict[str, bytes]:
    pkt = subprocess.run([cmd("rn-capture"), "-r", str(CAPTURE)], capture_output=True, check=True).stdout
    summ = run(["rn-dissect"], pkt).stdout
    conn = run(["rn-track"], summ).stdout
    return {"pkt": pkt, "sum": summ, "conn": conn}


def _tagged(records: list[tuple[int, Any]], cut: int, tag: str) -> list[Any]:
    out = []
    for end, rec in records:
        if end > cut:
            break
        if (isinstance(rec, list) and rec[0] == tag) or (isinstance(rec, dict) and rec.get("t") == tag):
            out.append(rec)
    return out


def _run_stage(
    stage: Any, prog: str, data: bytes, capsys: pytest.CaptureFixture[str]
) -> tuple[int, list[Any]]:
    """The command's body in-process: status and every record it wrote."""
    with tempfile.NamedTemporaryFile() as src, tempfile.TemporaryFile() as dst:
        src.write(data)
        src.flush()
        status = run_stream_stage(prog, stage, [src.name], RecordWriter(dst.fileno(), "msgpack"))
        dst.seek(0)
        out = [
            r
            for frame in msgpack.Unpacker(dst, raw=False, strict_map_key=False)
            for r in (
                frame if isinstance(frame, list) and not (frame and isinstance(frame[0], str)) else [frame]
            )
        ]
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == (1 if status == 3 else 0), err
    return status, out


def _offsets(n: int) -> Iterator[int]:
    yield from range(1, n)


def _expected_status(cut: int, ends: set[int]) -> int:
    return 0 if cut in ends else 3


def test_dissect_every_offset(recordings: dict[str, bytes], capsys: pytest.CaptureFixture[str]) -> None:
    data = recordings["pkt"]
    records, ends = layout(data)
    assert len(_tagged(records, len(data), "pkt")) > 10
    for cut in _offsets(len(data)):
        status, out = _run_stage(Dissector(), "rn-dissect", data[:cut], capsys)
        want = len(_tagged(records, cut, "pkt"))
        assert status == _expected_status(cut, ends), cut
        got = sum(1 for r in out if isinstance(r, list) and r[0] == "sum")
        assert got == want, (cut, got, want)
        dstats = [r for r in out if isinstance(r, dict) and r.get("t") == "dstats"]
        if want:
            assert dstats[-1]["packets"] == want
        assert any(isinstance(r, dict) and r.get("t") == "warn" for r in out) == (status == 3)


def test_track_every_offset(recordings: dict[str, bytes], capsys: pytest.CaptureFixture[str]) -> None:
    data = recordings["sum"]
    records, ends = layout(data)
    for cut in _offsets(len(data)):
        status, out = _run_stage(Tracker(), "rn-track", data[:cut], capsys)
        assert status == _expected_status(cut, ends), cut
        finals = [r for r in out if isinstance(r, dict) and r.get("t") == "conn" and r.get("final")]
        assert sum(r["packets"] for r in finals) == len(_tagged(records, cut, "sum")), cut


def test_enrich_every_offset(recordings: dict[str, bytes], capsys: pytest.CaptureFixture[str]) -> None:
    data = recordings["conn"]
    records, ends = layout(data)
    for cut in _offsets(len(data)):
        status, out = _run_stage(Enricher(processes=False), "rn-enrich", data[:cut], capsys)
        assert status == _expected_status(cut, ends), cut
        got = [(r["id"], r["packets"]) for r in out if isinstance(r, dict) and r.get("t") == "conn"]
        assert got == [(r["id"], r["packets"]) for r in _tagged(records, cut, "conn")], cut


def test_viewer_model_every_offset(recordings: dict[str, bytes]) -> None:
    data = recordings["conn"]
    records, ends = layout(data)
    for cut in _offsets(len(data)):
        reader = RecordReader(-1, "cut")
        recs = reader.feed(data[:cut]) + reader.feed(b"")
        assert (reader.damage is not None) == (_expected_status(cut, ends) == 3), cut
        table = ConnTable()
        table.ingest(recs)
        want = {r["id"] for r in _tagged(records, cut, "conn")}
        assert set(table.rows) == want, cut
        lines = table_lines(ViewState(table), 120)
        assert len(lines) == 1 + len(want)


# --- the real commands at a sample of offsets ----------------------------------------------
STAGE_INPUT = {"rn-dissect": "pkt", "rn-track": "sum", "rn-enrich": "conn", "rn-view": "conn"}


def _sample(data: bytes, ends: set[int]) -> list[int]:
    inner = sorted(set(range(1, len(data))) - ends)
    return [inner[0], inner[len(inner) // 3], inner[2 * len(inner) // 3], inner[-1]]


@pytest.mark.parametrize("prog", list(STAGE_INPUT))
def test_real_commands_at_sampled_offsets(recordings: dict[str, bytes], prog: str) -> None:
    kind = STAGE_INPUT[prog]
    data = recordings[kind]
    records, ends = layout(data)
    argv = [prog, "--json"] if prog == "rn-view" else [prog, "--format", "json"]
    for cut in _sample(data, ends):
        p = run(argv, data[:cut])
        assert p.returncode == 3, (cut, p.stderr)
        assert_one_line_no_traceback(p.stderr)
        assert p.stderr.startswith(f"{prog}: ".encode()), p.stderr
        out = json_lines(p.stdout)
        if prog == "rn-dissect":
            assert sum(r["t"] == "sum" for r in out) == len(_tagged(records, cut, "pkt"))
        elif prog == "rn-track":
            want = len(_tagged(records, cut, "sum"))
            assert sum(r["packets"] for r in out if r["t"] == "conn" and r.get("final")) == want
        elif prog == "rn-enrich":
            want_ids = [r["id"] for r in _tagged(records, cut, "conn")]
            assert [r["id"] for r in out if r["t"] == "conn"] == want_ids
        else:
            assert {r["id"] for r in out} == {r["id"] for r in _tagged(records, cut, "conn")}
        if prog != "rn-view":
            assert out[-1]["t"] in ("warn", "dstats", "conn")
            assert any(r["t"] == "warn" for r in out), "the damage is also a record downstream"


def test_rustnet_read_of_a_cut_recording(recordings: dict[str, bytes], tmp_path: Path) -> None:
    data = recordings["pkt"]
    records, ends = layout(data)
    cut = _sample(data, ends)[2]
    f = tmp_path / "cut.rn"
    f.write_bytes(data[:cut])
    p = subprocess.run([cmd("rustnet"), "--read", str(f), "--json"], capture_output=True, timeout=60)
    assert p.returncode == 3, p.stderr
    assert_one_line_no_traceback(p.stderr)
    total = sum(r["packets"] for r in json_lines(p.stdout))
    assert total == len(_tagged(records, cut, "pkt"))


def test_cut_stream_on_a_pipe_after_a_pause(recordings: dict[str, bytes]) -> None:
    """The cut arrives after the good part was already processed (a crashed upstream)."""
    data = recordings["sum"]
    records, ends = layout(data)
    cut = _sample(data, ends)[1]
    p = subprocess.Popen(
        [cmd("rn-track"), "--format", "json"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert p.stdin is not None
    p.stdin.write(data[:cut])
    p.stdin.flush()
    out, err = p.communicate(timeout=30)
    assert p.returncode == 3 and len(err.splitlines()) == 1
    finals = [r for r in json_lines(out) if r["t"] == "conn" and r.get("final")]
    assert sum(r["packets"] for r in finals) == len(_tagged(records, cut, "sum"))
