"""``pkb`` records: many whole frames in one record, as rn-capture writes them.

The bytes are built here by hand (struct and MessagePack's own encoding, not our writer), and
the frames are checked against the capture file parsed by a parser written here, so neither
side of a comparison is our code's copy of itself.
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgpack
import pytest
from rustnet.stream import RecordReader, RecordWriter

from tests.corpus import PCAPS

BIN = Path(sys.executable).parent
CORPUS = sorted(p for p in PCAPS.glob("*.pcap")) if PCAPS.is_dir() else []
HEADER = {"t": "hdr", "v": 1, "producer": "test", "linktype": 1}


def pkb(frames: list[tuple[int, int, bytes]], signed: bool = False, gap: int = 0) -> list[Any]:
    """A pkb record of (seconds, microseconds, bytes) frames laid out back to back (``gap`` bytes
    of filler before each)."""
    meta, data = b"", b""
    fmt = "<iiII" if signed else "<IIII"
    for sec, usec, frame in frames:
        data += b"\xee" * gap
        meta += struct.pack(fmt, sec, usec, len(data), len(frame))
        data += frame
    return ["pkb", signed, meta, data]


def decode(data: bytes, step: int = 0) -> tuple[list[Any], RecordReader]:
    reader = RecordReader(-1)
    out: list[Any] = []
    if step:
        for i in range(0, len(data), step):
            out += reader.feed(data[i : i + step])
    else:
        out += reader.feed(data)
    out += reader.feed(b"")
    return out, reader


def pcap_frames(path: Path) -> list[tuple[int, int, bytes]]:
    """(seconds, microseconds, frame) of a little-endian microsecond pcap, parsed here."""
    raw = path.read_bytes()
    assert struct.unpack_from("<I", raw)[0] == 0xA1B2C3D4
    out, pos = [], 24
    while pos + 16 <= len(raw):
        sec, usec, caplen, _ = struct.unpack_from("<IIII", raw, pos)
        out.append((sec, usec, raw[pos + 16 : pos + 16 + caplen]))
        pos += 16 + caplen
    return out


def test_a_reader_hands_each_frame_on_as_a_pkt_record() -> None:
    frames = [(1700000000, 250000, b"\x01" * 60), (1700000001, 999999, b""), (1700000002, 0, b"\x02" * 1514)]
    data = msgpack.packb([HEADER, pkb(frames, gap=3), ["sum", 1.0]]) + msgpack.packb(pkb(frames[:1]))
    for step in (0, 1, 7):
        recs, reader = decode(data, step)
        assert reader.damage is None
        assert recs[0] == HEADER
        assert [(r[0], r[2], r[3]) for r in recs[1:4]] == [("pkt", len(f), f) for _, _, f in frames]
        assert all(abs(r[1] - (s + u / 1e6)) < 1e-7 for r, (s, u, _) in zip(recs[1:4], frames, strict=True))
        assert recs[4] == ["sum", 1.0]
        assert recs[5][3] == frames[0][2] and recs[5][2] == 60


def test_signed_seconds_are_read_as_libpcap_reads_a_file() -> None:
    recs, _ = decode(msgpack.packb(pkb([(-2, 500000, b"x")], signed=True)))
    assert recs == [["pkt", -1.5, 1, b"x"]]
    recs, _ = decode(msgpack.packb(pkb([(0xFFFFFFFF, 0, b"x")])))
    assert recs == [["pkt", float(0xFFFFFFFF), 1, b"x"]]


FIRST = b"a" * 40  # the first frame of the records below, sound in all of them


def bad_records() -> dict[str, tuple[list[Any], int]]:
    """Damaged pkb records, each with how many of its frames come before the damage."""
    good = pkb([(1, 0, FIRST), (2, 0, b"b" * 40)])
    _, signed, meta, data = good
    over = bytearray(meta)
    struct.pack_into("<I", over, 16 + 8, 10)  # the second frame starts inside the first
    past = bytearray(meta)
    struct.pack_into("<I", past, 16 + 12, 41)  # one byte past the data
    huge = struct.pack("<IIII", 1, 0, 0, 0) * ((1 << 16) + 1)  # too many (empty) frames
    negative = bytearray(pkb([(1, 0, FIRST), (2, 0, b"b")], signed=True)[2])
    struct.pack_into("<i", negative, 16 + 12, -1)  # read with the seconds' signedness
    return {
        "overlapping": (["pkb", signed, bytes(over), data], 1),
        "past the data": (["pkb", signed, bytes(past), data], 1),
        "negative length": (["pkb", True, bytes(negative), FIRST + b"b"], 1),
        "meta not a multiple of 16": (["pkb", signed, meta[:-1], data], 0),
        "no frames": (["pkb", signed, b"", b""], 0),
        "too many frames": (["pkb", False, huge, b""], 0),
        "meta as text": (["pkb", signed, "meta", data], 0),
        "signed as an int": (["pkb", 1, meta, data], 0),
        "short": (["pkb", signed, meta], 0),
        "long": (["pkb", signed, meta, data, 1], 0),
    }


@pytest.mark.parametrize("name", list(bad_records()))
def test_a_pkb_is_read_up_to_its_damage_which_is_one_damaged_packet(name: str) -> None:
    bad, before = bad_records()[name]
    recs, reader = decode(msgpack.packb([HEADER, bad, ["sum", 1.0]]))
    assert reader.damage is None
    assert recs == [HEADER, *[["pkt", 1.0, 40, FIRST]] * before, ["pkt"], ["sum", 1.0]]


def test_a_pkb_may_hold_as_many_frames_as_a_frame_of_records() -> None:
    meta = struct.pack("<IIII", 7, 0, 0, 0) * (1 << 16)  # 65536 empty frames: the most allowed
    recs, reader = decode(msgpack.packb(["pkb", False, meta, b""]))
    assert reader.damage is None
    assert len(recs) == 1 << 16 and recs[0] == recs[-1] == ["pkt", 7.0, 0, b""]


def test_rn_dissect_counts_a_damaged_pkb_as_one_malformed_packet(tmp_path: Path) -> None:
    eth = bytes(12) + b"\x08\x00" + bytes(46)  # an empty IPv4 header: malformed as well
    good = pkb([(1, 0, eth)])
    bad = list(bad_records().values())
    stream = msgpack.packb([HEADER, *(rec for rec, _ in bad), good])
    out = subprocess.run(
        [str(BIN / "rn-dissect"), "--format", "json"], input=stream, capture_output=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stderr == b""
    stats = [json.loads(line) for line in out.stdout.splitlines() if b'"dstats"' in line][-1]
    frames_before = sum(before for _, before in bad)  # FIRST: EtherType 0x6161, not IP
    assert stats["packets"] == len(bad) + frames_before + 1
    assert stats["non_ip"] == frames_before
    # Each damaged record is one malformed packet, and so is the frame with an empty IPv4 header.
    assert stats["malformed"] == len(bad) + 1


def test_the_writer_puts_a_pkb_after_what_it_queued(tmp_path: Path) -> None:
    path = tmp_path / "out.rn"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    writer = RecordWriter(fd)
    assert writer.packet_batches
    _, _, meta, data = pkb([(5, 1, b"abc"), (6, 2, b"defg")], signed=True)
    writer.write(HEADER)
    writer.write(["sum", 1.0])
    writer.write_packet_batch(True, meta, data)
    writer.write(["sum", 2.0])
    writer.close()
    os.close(fd)
    assert writer.records_written == 5
    objs = list(msgpack.Unpacker(io.BytesIO(path.read_bytes()), raw=False))
    assert objs == [[HEADER, ["sum", 1.0]], ["pkb", True, meta, data], [["sum", 2.0]]]
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        assert RecordWriter(null, fmt="json").packet_batches is False
    finally:
        os.close(null)


@pytest.mark.skipif(not CORPUS, reason="no corpus captures")
def test_rn_capture_writes_whole_frames_as_pkb_records_that_match_the_file() -> None:
    checked = 0
    for path in CORPUS:
        raw = path.read_bytes()
        if struct.unpack_from("<I", raw)[0] != 0xA1B2C3D4:
            continue
        frames = pcap_frames(path)
        out = subprocess.run([str(BIN / "rn-capture"), "-r", str(path)], capture_output=True, timeout=120)
        if out.returncode == 3:
            continue  # a damaged file (the corpus has some on purpose)
        assert out.returncode == 0, out.stderr
        up = msgpack.Unpacker(raw=False, max_bin_len=1 << 30, max_buffer_size=1 << 30)
        up.feed(out.stdout)
        objs = list(up)
        batches = [o for o in objs if o and o[0] == "pkb"]
        if not batches:
            continue  # frames cut by the snaplen: written as pkt records, each with its wire length
        got = []
        for _, signed, meta, data in batches:
            assert signed is True
            for sec, usec, off, caplen in struct.iter_unpack("<iiII", meta):
                got.append((sec, usec, data[off : off + caplen]))
        assert got == frames, path.name
        checked += 1
    assert checked >= 3
