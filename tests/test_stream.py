"""The record stream: framing, batching, JSON, cut and corrupt streams, headers, versions."""

from __future__ import annotations

import json
import os
import socket
import tempfile

import msgpack
import pytest
from rustnet.stream import NewerFormatError, PipeClosed, RecordReader, RecordWriter
from rustnet.stream.records import (
    FORMAT_VERSION,
    from_json_obj,
    make_header,
    record_type,
    restamp_header,
    to_json_obj,
)

V4_A = socket.inet_aton("10.0.0.1")
V4_B = socket.inet_aton("10.0.0.2")
V6_A = socket.inet_pton(socket.AF_INET6, "fd00::1")


def header() -> dict[str, object]:
    return make_header("rn-capture 0.1.0", 1, "eth0", True, 262144, 1700000000.0)


def packet(i: int) -> list[object]:
    return ["pkt", 1700000000.0 + i * 0.001, 60 + i, bytes([i % 256]) * (20 + i % 40)]


def summary(i: int) -> list[object]:
    return [
        "sum",
        1700000000.5,
        74,
        6,
        V4_A,
        40000 + i,
        V4_B,
        443,
        0x12,
        1000 + i,
        2000,
        0,
        64240,
        [10, 20],
        {"app": "TLS", "sni": "example.com"},
    ]


def write_all(records: list[object], fmt: str = "msgpack", **kw: int) -> bytes:
    with tempfile.TemporaryFile() as f:
        writer = RecordWriter(f.fileno(), fmt, **kw)
        for rec in records:
            writer.write(rec)  # type: ignore[arg-type]
        writer.close()
        f.seek(0)
        return f.read()


def read_bytes(data: bytes, step: int | None = None) -> tuple[list[object], RecordReader]:
    reader = RecordReader(-1, "test")
    out: list[object] = []
    step = step or len(data) or 1
    for i in range(0, len(data), step):
        out += reader.feed(data[i : i + step])
    out += reader.feed(b"")
    return out, reader


def test_round_trip_preserves_every_record_and_type() -> None:
    recs = [header()] + [packet(i) for i in range(1000)] + [summary(i) for i in range(10)]
    data = write_all(recs)
    out, reader = read_bytes(data)
    assert out == recs
    assert reader.damage is None
    assert [record_type(r) for r in out[:2]] == ["hdr", "pkt"]


def test_writer_batches_records_into_frames() -> None:
    recs = [packet(i) for i in range(1000)]
    data = write_all(recs, max_records=256)
    up = msgpack.Unpacker(raw=False)
    up.feed(data)
    frames = list(up)
    assert len(frames) == 4  # 256 + 256 + 256 + 232
    assert [len(f) for f in frames] == [256, 256, 256, 232]


def test_writer_caps_frame_bytes() -> None:
    big = [["pkt", 1.0, 9000, b"x" * 9000] for _ in range(20)]
    data = write_all(big, max_bytes=64 * 1024)
    up = msgpack.Unpacker(raw=False)
    up.feed(data)
    assert max(len(f) for f in up) <= 8


def test_byte_by_byte_feeding_yields_the_same_records() -> None:
    recs = [header()] + [packet(i) for i in range(30)] + [summary(1)]
    data = write_all(recs)
    out, reader = read_bytes(data, step=1)
    assert out == recs and reader.damage is None


def test_cut_stream_keeps_every_complete_record_before_the_cut() -> None:
    recs = [header()] + [packet(i) for i in range(40)]
    data = write_all(recs, max_records=1000)  # one single frame: the cut falls inside it
    offsets = _record_end_offsets(recs)
    for cut in range(0, len(data)):
        out, reader = read_bytes(data[:cut])
        complete = sum(1 for end in offsets if end <= cut)
        assert out == recs[:complete], cut
        assert (reader.damage is not None) == (cut > 0), cut


def _record_end_offsets(recs: list[object]) -> list[int]:
    """Where each record ends inside a single frame holding all of them."""
    head = len(msgpack.packb(recs)) - sum(len(msgpack.packb(r, use_bin_type=True)) for r in recs)
    ends, pos = [], head
    for r in recs:
        pos += len(msgpack.packb(r, use_bin_type=True))
        ends.append(pos)
    return ends


def test_corrupt_bytes_stop_the_stream_with_a_damage_note() -> None:
    good = write_all([header(), packet(1), packet(2)])
    out, reader = read_bytes(good + b"\xc1\xc1\xc1" + write_all([packet(3)]))
    assert out == [header(), packet(1), packet(2)]
    assert reader.damage is not None and "corrupt" in reader.damage


def test_non_record_values_are_damage_not_records() -> None:
    out, reader = read_bytes(msgpack.packb(42) + msgpack.packb([{"t": "conn"}]))
    assert out == []
    assert reader.damage is not None


def test_header_in_mid_stream_and_unknown_types_pass() -> None:
    a = write_all([header(), packet(1), {"t": "future-thing", "x": 1}])
    b = write_all([header(), ["novel", 1, 2], packet(2)])
    out, reader = read_bytes(a + b)
    assert [record_type(r) for r in out] == ["hdr", "pkt", "future-thing", "hdr", "novel", "pkt"]
    assert reader.damage is None


def test_newer_format_version_is_refused_clearly() -> None:
    hdr = dict(header(), v=FORMAT_VERSION + 1)
    with pytest.raises(NewerFormatError, match="newer"):
        read_bytes(write_all([hdr, packet(1)]))


def test_json_lines_round_trip_and_detection() -> None:
    recs = [header(), packet(7), summary(3), {"t": "conn", "id": 5, "proto": "tcp", "sni": "a\\x1bb"}]
    data = write_all(recs, fmt="json")
    lines = data.decode().splitlines()
    assert len(lines) == 4
    obj = json.loads(lines[2])
    assert obj["src"] == "10.0.0.1" and obj["dport"] == 443 and obj["vlan"] == [10, 20]
    assert json.loads(lines[1])["data"] == packet(7)[3].hex()  # type: ignore[union-attr]
    out, reader = read_bytes(data)
    assert out == recs and reader.damage is None


def test_json_positional_conversion_handles_ipv6_and_missing_fields() -> None:
    rec = ["sum", 1.0, 100, 17, V6_A, 5353, V6_A, 5353, 0, 0, 0, 20, 0, None, None]
    obj = to_json_obj(rec)
    assert obj["src"] == "fd00::1" and "info" not in obj and "vlan" not in obj
    assert from_json_obj(obj) == rec
    partial = from_json_obj({"t": "sum", "ts": 2.0, "proto": 6, "src": "1.2.3.4", "dst": "5.6.7.8"})
    assert partial[4] == socket.inet_aton("1.2.3.4") and partial[5] == 0


def test_truncated_or_invalid_json_is_damage_after_good_lines() -> None:
    out, reader = read_bytes(b'{"t":"conn","id":1}\n{"t":"conn","id":2}\n{"t":"co')
    assert len(out) == 2 and reader.damage and "truncated" in reader.damage
    out, reader = read_bytes(b'{"t":"conn","id":1}\nnot json\n')
    assert len(out) == 1 and reader.damage and "invalid" in reader.damage


def test_json_lines_without_type_default_to_connection_records() -> None:
    out, _ = read_bytes(b'{"id": 1, "proto": "udp"}\n')
    assert out == [{"id": 1, "proto": "udp", "t": "conn"}]


def test_empty_stream_is_not_damage() -> None:
    out, reader = read_bytes(b"")
    assert out == [] and reader.damage is None and reader.eof


def test_unbatched_positional_and_map_records_are_accepted() -> None:
    data = msgpack.packb(header()) + msgpack.packb(packet(1), use_bin_type=True)
    out, reader = read_bytes(data)
    assert out == [header(), packet(1)] and reader.damage is None


def test_restamped_header_lists_the_stages() -> None:
    h = restamp_header(header(), "rn-dissect 0.1.0")
    assert h["stages"] == ["rn-capture", "rn-dissect"] and h["producer"] == "rn-dissect 0.1.0"
    assert h["linktype"] == 1


def test_writer_reports_a_closed_pipe_as_pipe_closed() -> None:
    r, w = os.pipe()
    os.close(r)
    writer = RecordWriter(w)
    writer.write(packet(1))
    with pytest.raises(PipeClosed):
        writer.flush()
    os.close(w)


def test_poll_returns_nothing_on_timeout_and_records_when_ready() -> None:
    r, w = os.pipe()
    reader = RecordReader(r, "pipe")
    assert reader.poll(0.01) == []
    os.write(w, msgpack.packb([header(), packet(1)], use_bin_type=True))
    assert reader.poll(1.0) == [header(), packet(1)]
    os.close(w)
    assert reader.poll(1.0) == [] and reader.eof
    os.close(r)
