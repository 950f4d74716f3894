"""Telling inputs apart by their first bytes (hand-built bytes, not our writer's output)."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import msgpack
import pytest
from rustnet.capture.offline import opening_size
from rustnet.stream.sniff import CAPTURE, EMPTY, OTHER, RECORDS, kind_of, sniff_fd, sniff_stream_head

from tests.corpus import PCAPS


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"", EMPTY),
        (b"\xd4\xc3\xb2\xa1" + bytes(20), CAPTURE),
        (b"\x0a\x0d\x0d\x0a" + bytes(20), CAPTURE),
        (b"\xd4\xc3", CAPTURE),  # a capture cut inside its magic: libpcap says it is truncated
        (b"\n", RECORDS),  # blank lines: an empty JSON Lines stream
        (b"M", OTHER),
        (b'{"t": "conn", "id": 1}\n', RECORDS),
        (b'{"id": 1}\n', RECORDS),  # JSON Lines without a type: connection records
        (b'{\n  "t": "conn"\n}\n', OTHER),  # a JSON document, not one object per line
        (b"[1, 2]\n", OTHER),
        (msgpack.packb(["pkt", 1.5, 60, b"\x00" * 60]), RECORDS),  # a single positional record
        (msgpack.packb([{"t": "hdr", "v": 1}, ["pkt", 1.5, 60, b""]]), RECORDS),  # a frame
        (msgpack.packb({"t": "hdr", "v": 1}), RECORDS),  # a single map record
        (msgpack.packb([]), RECORDS),  # an empty frame
        (msgpack.packb({"a": 1}), OTHER),  # a map without a type tag
        (msgpack.packb([1, 2, 3]), OTHER),
        (msgpack.packb("text"), OTHER),
        (b" " + msgpack.packb([{"t": "hdr"}]), OTHER),  # MessagePack starts at byte 0
        (b"\x89PNG\r\n\x1a\n", OTHER),
    ],
)
def test_kind_of(head: bytes, kind: str) -> None:
    assert kind_of(head, complete=True) == kind


def test_a_frame_longer_than_the_head_is_told_by_its_first_bytes() -> None:
    frame = msgpack.packb([{"t": "conn", "id": i, "pad": "x" * 400} for i in range(400)])
    assert len(frame) > 1 << 16
    assert kind_of(frame[: 1 << 16], complete=False) == RECORDS
    assert kind_of(b"\xdc\x01\x90" + b"\x01" * 100, complete=False) == OTHER  # an array of ints


def test_gzip_is_looked_into(tmp_path: Path) -> None:
    pcap = (PCAPS / "dpkt_http.pcap").read_bytes()
    f = tmp_path / "x.gz"
    f.write_bytes(gzip.compress(pcap))
    fd = os.open(f, os.O_RDONLY)
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        sniffed = sniff_fd(fd)
        assert os.lseek(fd, 0, os.SEEK_CUR) == 0  # the reader starts where it would have
    finally:
        os.close(fd)
    assert sniffed is not None and sniffed.kind == CAPTURE and sniffed.gzip
    assert sniffed.head == pcap[: len(sniffed.head)] and len(sniffed.head) == min(len(pcap), 1 << 16)
    cut = sniff_stream_head(gzip.compress(pcap)[:5], complete=True)
    assert cut.damage == "compressed data cut short"
    bad = sniff_stream_head(b"\x1f\x8b\x08\x00" + bytes(6) + b"\xff" * 8, complete=True)
    assert bad.damage == "compressed data corrupt (invalid block type)"


def block(btype: int, body: bytes) -> bytes:
    size = 12 + len(body)
    return struct.pack("<II", btype, size) + body + struct.pack("<I", size)


def test_opening_size_is_what_libpcap_reads_to_open_a_capture() -> None:
    shb = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    idb = block(1, struct.pack("<HHI", 1, 0, 65535))
    custom = block(0xBAD, bytes(64))  # a block libpcap skips while looking for the interface
    packet = block(6, bytes(32))
    assert opening_size(shb + idb + packet) == len(shb + idb)
    assert opening_size(shb + custom + idb + packet) == len(shb + custom + idb)
    assert opening_size(b"\xd4\xc3\xb2\xa1" + bytes(100)) == 24
    assert opening_size(shb) == len(shb)  # the whole (short) file: libpcap reads it all and fails
    assert opening_size(shb + custom * 2000) is None  # no interface in the first 64 KiB
