"""rn-capture's batched file reading: the same records as reading packet by packet.

The batched path (``next_batch``) has no wire length, so it may only run on packets libpcap
proved whole (``rustnet.capture.wirelen``). Each test compares it with the exact path
(``next()``, ``getlen()``) or with a pcap parser written here, on corpus files and on
hand-made files with cut, overlong, empty and appended packets.
"""

from __future__ import annotations

import os
import random
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
from rustnet import _compiled
from rustnet.capture import walk, wirelen
from rustnet.capture.offline import open_capture_file, pump_file
from rustnet.capture.pcapwrite import PcapWriter
from rustnet.capture.wirelen import WholePacketProof
from rustnet.stream import RecordReader, RecordWriter

from tests.corpus import PCAPS as CORPUS_PCAPS

PCAPS = CORPUS_PCAPS
CORPUS = sorted(PCAPS.glob("*.pcap*")) if PCAPS.is_dir() else []


def write_pcap(
    path: Path,
    packets: list[tuple[int, int, bytes, int]],
    linktype: int = 1,
    snaplen: int = 65535,
    append: bool = False,
) -> None:
    """A classic pcap: (sec, usec, data, wirelen) per packet, written with struct (not our writer)."""
    with open(path, "ab" if append else "wb") as fh:
        if not append:
            fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype))
        for sec, usec, data, wirelen in packets:
            fh.write(struct.pack("<IIII", sec, usec, len(data), wirelen))
            fh.write(data)


def pcap_records(path: Path) -> list[tuple[int, int, int, int]]:
    """(sec, usec, caplen, wirelen) of each record, parsed independently of libpcap."""
    data = path.read_bytes()
    out, pos = [], 24
    while pos + 16 <= len(data):
        sec, usec, caplen, wirelen = struct.unpack_from("<IIII", data, pos)
        out.append((sec, usec, caplen, wirelen))
        pos += 16 + caplen
    return out


def read(
    path: Path, bpf: str = "", count: int = 0, batched: bool = True, dump: Path | None = None
) -> tuple[list[Any], int, str | None, int]:
    """(records, packets, damage, packets proven whole) of reading ``path`` as rn-capture does."""
    reader = open_capture_file(str(path))
    if bpf:
        reader.setfilter(bpf)
    whole = 0
    if batched:
        proof = WholePacketProof.open(str(path), bpf, int(reader.datalink()))
        whole = proof.whole_prefix() if proof is not None else 0
    tmp = path.with_suffix(".rn")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    writer = RecordWriter(fd)
    pw = PcapWriter(str(dump), int(reader.datalink()), 65535) if dump else None
    n, damage = pump_file(reader, writer, count, pw, lambda: False, whole)
    writer.close()
    os.close(fd)
    if pw:
        pw.close()
    out = tmp.read_bytes()
    tmp.unlink()
    return decode(out), n, damage, whole


def decode(data: bytes) -> list[Any]:
    reader = RecordReader(-1)
    recs = reader.feed(data) + reader.feed(b"")
    assert reader.damage is None
    return recs


def both(path: Path, **kw: Any) -> tuple[list[Any], int]:
    """Read both ways; assert they agree; (records, packets proven whole)."""
    fast, n_fast, dmg_fast, whole = read(path, batched=True, **kw)
    slow, n_slow, dmg_slow, _ = read(path, batched=False, **kw)
    assert (n_fast, dmg_fast) == (n_slow, dmg_slow)
    assert fast == slow
    return fast, whole


def packet(rng: random.Random, size: int) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(size))


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_corpus_files_read_the_same_both_ways(path: Path) -> None:
    recs, whole = both(path)
    assert all(r[0] == "pkt" for r in recs)
    # The proof holds exactly when no packet is cut: wire length == captured length everywhere.
    assert (whole > 0) == (bool(recs) and all(r[2] == len(r[3]) for r in recs) and whole == len(recs))


def test_whole_files_are_proven_and_match_an_independent_parser(tmp_path: Path) -> None:
    rng = random.Random(1)
    datas = [packet(rng, rng.randrange(1, 1600)) for _ in range(700)]
    pkts = [(1700000000 + i, rng.randrange(1_000_000), d, len(d)) for i, d in enumerate(datas)]
    f = tmp_path / "whole.pcap"
    write_pcap(f, pkts)
    recs, whole = both(f)
    assert whole == 700
    assert [(r[1], r[2], r[3]) for r in recs] == [(s + u * 1e-6, w, d) for s, u, d, w in pkts]


@pytest.mark.parametrize("where", [0, 1, 255, 256, 257, 599])
@pytest.mark.parametrize("kind", ["cut", "overlong", "empty", "empty-claims-bytes"])
def test_one_odd_packet_anywhere_disables_the_batches(tmp_path: Path, where: int, kind: str) -> None:
    rng = random.Random(where)
    pkts = [(i, 0, packet(rng, 60 + i % 40), 0) for i in range(600)]
    pkts = [(s, u, d, len(d)) for s, u, d, _ in pkts]
    s, u, d, _w = pkts[where]
    pkts[where] = {
        "cut": (s, u, d, len(d) + 1),
        "overlong": (s, u, d, len(d) - 1),
        "empty": (s, u, b"", 0),
        "empty-claims-bytes": (s, u, b"", 60),
    }[kind]
    f = tmp_path / "odd.pcap"
    write_pcap(f, pkts)
    recs, whole = both(f)
    assert whole == 0
    assert [r[2] for r in recs] == [w for _s, _u, _d, w in pkts]


def test_random_files_agree(tmp_path: Path) -> None:
    rng = random.Random(8)
    for trial in range(40):
        n = rng.randrange(0, 900)
        cut = rng.random() < 0.5
        pkts = []
        for _ in range(n):
            data = packet(rng, rng.randrange(0, 300))
            wirelen = len(data) + (rng.randrange(1, 50) if cut and rng.random() < 0.01 else 0)
            pkts.append((rng.randrange(2**31), rng.randrange(1_000_000), data, wirelen))
        f = tmp_path / f"r{trial}.pcap"
        write_pcap(f, pkts, snaplen=rng.choice([64, 65535, 262144]))
        bpf = rng.choice(["", "ether[0] & 1 = 0", "len > 100"])
        count = rng.choice([0, 0, rng.randrange(1, 1000)])
        both(f, bpf=bpf, count=count)


@pytest.mark.parametrize("bpf", ["", "len >= 200", "vlan", "tcp"])
def test_user_filter_applies_to_the_proof(tmp_path: Path, bpf: str) -> None:
    rng = random.Random(3)
    pkts = [(i, 0, packet(rng, 100 + i), 100 + i) for i in range(300)]
    pkts[10] = (10, 0, pkts[10][2], 4000)  # a cut packet the filter "len >= 200" also keeps
    f = tmp_path / "f.pcap"
    write_pcap(f, pkts)
    recs, whole = both(f, bpf=bpf)
    assert whole == 0 or all(r[2] == len(r[3]) for r in recs)


def test_count_and_dump_in_batches(tmp_path: Path) -> None:
    rng = random.Random(4)
    pkts = [(i, i, packet(rng, 40 + i % 1400), 0) for i in range(1000)]
    pkts = [(s, u, d, len(d)) for s, u, d, _ in pkts]
    f, dump = tmp_path / "c.pcap", tmp_path / "dump.pcap"
    write_pcap(f, pkts)
    recs, n, damage, whole = read(f, count=777, dump=dump)
    assert (n, damage, whole, len(recs)) == (777, None, 1000, 777)
    assert pcap_records(dump) == [(s, u, len(d), w) for s, u, d, w in pkts[:777]]


def test_packets_appended_after_the_proof_are_read_exactly(tmp_path: Path) -> None:
    rng = random.Random(5)
    first = [(i, 0, packet(rng, 80), 80) for i in range(300)]
    later = [(1000 + i, 0, packet(rng, 80), 80 + (i % 3)) for i in range(300)]  # some cut
    f = tmp_path / "grow.pcap"
    write_pcap(f, first)
    reader = open_capture_file(str(f))
    proof = WholePacketProof.open(str(f), "", 1)
    assert proof is not None
    whole = proof.whole_prefix()
    assert whole == 300
    write_pcap(f, later, append=True)
    tmp = tmp_path / "out.rn"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT)
    writer = RecordWriter(fd)
    n, damage = pump_file(reader, writer, 0, None, lambda: False, whole)
    writer.close()
    os.close(fd)
    recs = decode(tmp.read_bytes())
    assert (n, damage) == (600, None)
    assert [r[2] for r in recs] == [w for _s, _u, _d, w in first + later]


def test_nothing_is_proven_for_pipes_nor_by_the_passes_for_offset_link_types(tmp_path: Path) -> None:
    # Radiotap's header has a length of its own: BPF's link[i] is not byte i there, so the passes
    # (BPF filters) prove nothing. The walk reads no packet: it proves the file as for any link type.
    f = tmp_path / "radiotap.pcap"
    rng = random.Random(12)
    write_pcap(f, [(i, 0, packet(rng, 700 + i), 700 + i) for i in range(50)], linktype=127)
    assert WholePacketProof.open(str(f), "len > 0", 127) is None
    proof = WholePacketProof.open(str(f), "", 127)
    assert proof is not None and proof.whole_prefix() == 50
    recs, whole = both(f)
    assert whole == 50 and len(recs) == 50
    assert WholePacketProof.open("-", "", 1) is None
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert WholePacketProof.open(str(fifo), "", 1) is None


def test_a_damaged_file_is_read_packet_by_packet(tmp_path: Path) -> None:
    rng = random.Random(6)
    pkts = [(i, 0, packet(rng, 90), 90) for i in range(500)]
    f = tmp_path / "cut.pcap"
    write_pcap(f, pkts)
    with open(f, "r+b") as fh:
        fh.truncate(os.path.getsize(f) - 50)
    recs, n, damage, whole = read(f)
    assert whole == 0 and n == 499 and damage
    assert len(recs) == 499


def frames(data: bytes) -> Iterator[Any]:
    up = msgpack.Unpacker(raw=False)
    up.feed(data)
    yield from up


def test_write_packets_matches_write_record_by_record(tmp_path: Path) -> None:
    outs = []
    for batched in (True, False):
        path = tmp_path / f"w{batched}.rn"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT)
        w = RecordWriter(fd, max_records=100, max_bytes=20_000)
        r2 = random.Random(9)
        w.write({"t": "hdr", "v": 1})
        for _ in range(60):
            sizes = [r2.randrange(0, 3000) for _ in range(r2.randrange(1, 150))]
            recs = [["pkt", 1.5, n, packet(r2, n)] for n in sizes]
            if batched:
                w.write_packets(recs, sum(len(r[3]) for r in recs))
            else:
                for rec in recs:
                    w.write(rec)
        w.close()
        os.close(fd)
        data = path.read_bytes()
        for frame in frames(data):
            assert len(frame) <= 100
            assert sum(len(r[3]) + 24 if isinstance(r, list) else 64 for r in frame) <= 20_000 + 3000 + 24
        outs.append([r for frame in frames(data) for r in frame])
    assert outs[0] == outs[1]


def test_files_beyond_the_page_cache_budget_are_read_one_by_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "big.pcap"
    write_pcap(f, [(i, 0, bytes(60), 60) for i in range(100)])
    size = f.stat().st_size
    monkeypatch.setattr(wirelen, "cache_budget", lambda: size - 1)
    assert WholePacketProof.open(str(f), "", 1) is None
    monkeypatch.setattr(wirelen, "cache_budget", lambda: size)
    assert WholePacketProof.open(str(f), "", 1) is not None


def test_cache_budget_is_a_quarter_of_available_memory(tmp_path: Path) -> None:
    info = tmp_path / "meminfo"
    info.write_text("MemTotal:       8000000 kB\nMemFree:  100 kB\nMemAvailable:    4000000 kB\n")
    assert wirelen.cache_budget(str(info)) == 1_000_000 * 1024
    assert wirelen.cache_budget(str(tmp_path / "missing")) == wirelen.FALLBACK_BUDGET


def test_times_beyond_31_bits_read_the_same_both_ways(tmp_path: Path) -> None:
    # libpcap reads a classic pcap's seconds and microseconds as signed 32-bit numbers.
    pkts = [
        (0x90000000, 5, bytes(60), 60),
        (5, 0xFFFFFFF0, bytes(61), 61),
        (7, 2_000_000, bytes(62), 62),
        (0xFFFFFFFF, 999_999, bytes(63), 63),
    ]
    f, dump = tmp_path / "t.pcap", tmp_path / "dump.pcap"
    write_pcap(f, pkts)
    recs, whole = both(f)
    assert whole == 4
    recs, n, damage, whole = read(f, dump=dump)
    assert pcap_records(dump) == pcap_records(f)  # -w writes the same 32 bits back


def pcapng(packets: list[tuple[int, bytes]]) -> bytes:
    """A pcapng file: (timestamp in microseconds, data) per enhanced packet block."""
    return ng_file([(ts, data, len(data)) for ts, data in packets])


def test_pcapng_beyond_31_bits_of_seconds_is_read_packet_by_packet(tmp_path: Path) -> None:
    # pcapng timestamps are 64-bit; next_batch keeps 32 bits of the seconds.
    f = tmp_path / "far.pcapng"
    f.write_bytes(pcapng([((2**33) * 10**6 + 5, bytes(60)), (10**6, bytes(70))]))
    recs, whole = both(f)
    assert whole == 0
    assert [r[1] for r in recs] == [2**33 + 5e-6, 1.0]


def ng_block(order: str, btype: int, body: bytes, trailer: int | None = None) -> bytes:
    body += b"\0" * (-len(body) % 4)
    n = len(body) + 12
    return (
        struct.pack(order + "II", btype, n)
        + body
        + struct.pack(order + "I", n if trailer is None else trailer)
    )


def ng_file(
    packets: list[tuple[int, bytes, int]],
    order: str = "<",
    tsresol: int | None = None,
    extra_idb: tuple[int, int] | None = None,
    idb_options: bytes = b"",
    between: bytes = b"",
    sections: int = 1,
) -> bytes:
    """A pcapng file written here with struct: ``sections`` sections, each with an Ethernet interface
    (snap length 65535, ``if_tsresol`` if given) and an enhanced packet block per (ticks, data,
    original length); ``between`` (whole blocks) after the first packet of each section."""
    opts = idb_options
    if tsresol is not None:
        opts += struct.pack(order + "HHB3x", 9, 1, tsresol)
    if opts:
        opts += struct.pack(order + "HH", 0, 0)
    out = b""
    for _ in range(sections):
        out += ng_block(order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1))
        out += ng_block(order, 1, struct.pack(order + "HHI", 1, 0, 65535) + opts)
        if extra_idb is not None:
            out += ng_block(order, 1, struct.pack(order + "HHI", extra_idb[0], 0, extra_idb[1]))
        for i, (ticks, data, wire) in enumerate(packets):
            head = struct.pack(order + "5I", 0, ticks >> 32, ticks & 0xFFFFFFFF, len(data), wire)
            out += ng_block(order, 6, head + data)
            if i == 0:
                out += between
    return out


def ng_walk(path: Path) -> int:
    fd = os.open(path, os.O_RDONLY)
    try:
        return walk.whole_pcapng_records(fd)
    finally:
        os.close(fd)


NG_PACKETS = [(1_700_000_000_000_000 + 1000 * i, bytes([i]) * (60 + i * 7), 60 + i * 7) for i in range(40)]


@pytest.mark.parametrize(
    ("case", "proven"),
    [
        ("plain", True),
        ("big-endian", True),
        ("nanoseconds", True),
        ("binary resolution", True),
        ("names and statistics between", True),
        ("two sections", True),
        ("second interface of the same kind", True),
        ("second interface of another link type", False),
        ("a cut packet", False),
        ("an overlong packet", False),
        ("an empty packet", False),
        ("a time offset", False),
        ("a simple packet block", False),
        ("trailer disagrees", False),
        ("partial block at the end", False),
        ("one byte more at the end", False),
        ("seconds past 31 bits", False),
    ],
)
def test_the_pcapng_walk_proves_what_libpcap_reads_unchanged(tmp_path: Path, case: str, proven: bool) -> None:
    pkts = list(NG_PACKETS)
    kw: dict[str, Any] = {}
    tail = b""
    if case == "big-endian":
        kw["order"] = ">"
    elif case == "nanoseconds":
        kw["tsresol"] = 9
        pkts = [(t * 1000 + 123, d, w) for t, d, w in pkts]
    elif case == "binary resolution":
        kw["tsresol"] = 0x80 | 20
        pkts = [((t // 10**6) << 20 | 12345, d, w) for t, d, w in pkts]
    elif case == "names and statistics between":
        kw["between"] = ng_block("<", 4, struct.pack("<HH", 0, 0)) + ng_block("<", 5, bytes(16))
    elif case == "two sections":
        kw["sections"] = 2
    elif case == "second interface of the same kind":
        kw["extra_idb"] = (1, 65535)
    elif case == "second interface of another link type":
        kw["extra_idb"] = (101, 65535)
    elif case == "a cut packet":
        pkts[7] = (pkts[7][0], pkts[7][1], pkts[7][2] + 1)
    elif case == "an overlong packet":
        pkts[7] = (pkts[7][0], pkts[7][1], pkts[7][2] - 1)
    elif case == "an empty packet":
        pkts[7] = (pkts[7][0], b"", 0)
    elif case == "a time offset":
        kw["idb_options"] = struct.pack("<HHq", 14, 8, 5)
    elif case == "a simple packet block":
        kw["between"] = ng_block("<", 3, struct.pack("<I", 60) + bytes(60))
    elif case == "trailer disagrees":
        kw["between"] = ng_block("<", 5, bytes(16), trailer=36)
    elif case == "partial block at the end":
        tail = ng_block("<", 6, struct.pack("<5I", 0, 0, 0, 60, 60) + bytes(60))[:-8]
    elif case == "one byte more at the end":
        tail = b"\0"
    elif case == "seconds past 31 bits":
        pkts[-1] = (2**31 * 10**6, pkts[-1][1], pkts[-1][2])
    f = tmp_path / "n.pcapng"
    f.write_bytes(ng_file(pkts, **kw) + tail)
    n = len(pkts) * kw.get("sections", 1) + (case == "a simple packet block")
    assert ng_walk(f) == (n if proven else 0)
    if "rustnet.capture.walk" in _compiled.compiled:
        proof = WholePacketProof.open(str(f), "", 1)
        assert proof is not None and proof.whole_prefix() == (n if proven else 0)
    both(f)  # proven or not, the records of next() (what libpcap reads), as far as it reads
    if proven:
        recs, _whole = both(f, count=13)
        assert len(recs) == 13


def test_the_pcapng_walk_crosses_its_reads_as_blocks_do(tmp_path: Path) -> None:
    # Blocks cut by the end of one read of the walk (1 MiB) and blocks longer than a read.
    for size in (60, 1514, 9000, 70000):
        n = (3 << 20) // (32 + size) + 3
        pkts = [(1_700_000_000_000_000 + i, bytes([i % 251]) * size, size) for i in range(n)]
        f = tmp_path / f"x{size}.pcapng"
        f.write_bytes(ng_file(pkts).replace(struct.pack("<HHI", 1, 0, 65535), struct.pack("<HHI", 1, 0, 0)))
        assert ng_walk(f) == n, size
        with open(f, "ab") as fh:
            fh.write(b"\0\0\0\0")
        assert ng_walk(f) == 0, size


def test_without_a_filter_the_proof_walks_headers_and_copies_no_packet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Large packets: the three libpcap passes would copy each three times; the headers say it all.
    rng = random.Random(10)
    pkts = [(i, 0, packet(rng, 1000 + i), 1000 + i) for i in range(200)]
    f = tmp_path / "w.pcap"
    write_pcap(f, pkts)

    def no_libpcap(path: str) -> Any:
        raise AssertionError("libpcap opened for the proof")

    monkeypatch.setattr(wirelen.pcapy, "open_offline", no_libpcap)
    proof = WholePacketProof.open(str(f), "", 1)
    assert proof is not None
    assert proof.whole_prefix() == 200


def write_pcap_as(
    path: Path, pkts: list[tuple[bytes, int]], order: str, magic: int, minor: int, snaplen: int
) -> None:
    """A classic pcap in either byte order, with any magic, minor version and snaplen: (data, wirelen)."""
    with open(path, "wb") as fh:
        fh.write(struct.pack(order + "IHHiIII", magic, 2, minor, 0, 0, snaplen, 1))
        for i, (data, wire) in enumerate(pkts):
            fh.write(struct.pack(order + "IIII", 1700000000 + i, 1000 * i, len(data), wire) + data)


@pytest.mark.parametrize(
    ("order", "magic", "minor", "snaplen", "longest", "proven"),
    [
        ("<", 0xA1B2C3D4, 4, 65535, 1514, True),
        (">", 0xA1B2C3D4, 4, 65535, 1514, True),  # written on a big-endian host
        ("<", 0xA1B23C4D, 4, 65535, 1514, True),  # nanosecond timestamps
        (">", 0xA1B23C4D, 4, 0, 1514, True),  # snaplen 0: libpcap reads with its largest
        ("<", 0xA1B2C3D4, 4, 1000, 1000, True),  # as long as the snaplen
        ("<", 0xA1B2C3D4, 4, 1000, 1001, False),  # longer than the snaplen: libpcap cuts it
        ("<", 0xA1B2C3D4, 4, 0, 262145, False),  # beyond libpcap's largest: refused
        ("<", 0xA1B2C3D4, 3, 65535, 1514, False),  # version 2.3: libpcap may swap the lengths
    ],
)
def test_the_header_walk_proves_what_libpcap_reads_unchanged(
    tmp_path: Path, order: str, magic: int, minor: int, snaplen: int, longest: int, proven: bool
) -> None:
    rng = random.Random(longest)
    sizes = [60, min(1514, longest), 333, longest, 90]
    pkts = [(packet(rng, n), n) for n in sizes]
    f = tmp_path / "v.pcap"
    write_pcap_as(f, pkts, order, magic, minor, snaplen)
    fd = os.open(f, os.O_RDONLY)
    try:
        assert wirelen.whole_records(fd) == (len(pkts) if proven else 0)
    finally:
        os.close(fd)
    proof = WholePacketProof.open(str(f), "", 1)  # the walk or the passes: the same answer
    assert proof is not None
    assert proof.whole_prefix() == (len(pkts) if proven else 0)
    if longest <= 262144:  # what libpcap reads to the end: the same records both ways
        both(f)


@pytest.mark.parametrize("size", [100, 1000])  # the passes, the walk
def test_a_partial_record_at_the_end_proves_nothing(tmp_path: Path, size: int) -> None:
    pkts = [(i, 0, bytes(size), size) for i in range(50)]
    f = tmp_path / "p.pcap"
    write_pcap(f, pkts)
    proof = WholePacketProof.open(str(f), "", 1)
    assert proof is not None
    assert proof.whole_prefix() == 50
    with open(f, "ab") as fh:
        fh.write(struct.pack("<IIII", 99, 0, size, size) + bytes(40))  # a writer still at it
    proof = WholePacketProof.open(str(f), "", 1)
    assert proof is not None
    assert proof.whole_prefix() == 0
    with open(f, "r+b") as fh:
        fh.truncate(24 + 50 * (16 + size) + 7)  # a record header cut short
    proof = WholePacketProof.open(str(f), "", 1)
    assert proof is not None
    assert proof.whole_prefix() == 0


def test_without_a_filter_the_walk_is_taken_for_large_packets_and_compiled_for_all(tmp_path: Path) -> None:
    small, large = tmp_path / "s.pcap", tmp_path / "l.pcap"
    write_pcap(small, [(i, 0, bytes(90), 90) for i in range(100)])
    write_pcap(large, [(i, 0, bytes(1514), 1514) for i in range(100)])
    compiled = "rustnet.capture.walk" in _compiled.compiled
    for path in (small, large):
        for bpf, walked in (("", compiled or path == large), ("len > 0", False)):
            proof = WholePacketProof.open(str(path), bpf, 1)
            assert proof is not None
            assert (proof._fd >= 0) is walked and (not proof._handles) is walked
            assert proof.whole_prefix() == 100


@pytest.mark.parametrize("size", [60, 1514, 9000, 70000])
def test_the_walk_crosses_its_reads_as_records_do(tmp_path: Path, size: int) -> None:
    # Records cut by the end of one read of the walk (1 MiB) and records longer than several reads
    # fit: the same count as an independent parser, and one byte more or less at the end is no proof.
    n = (3 << 20) // (16 + size) + 3
    f = tmp_path / "x.pcap"
    write_pcap(f, [(i, 0, bytes([i % 251]) * size, size) for i in range(n)], snaplen=262144)
    assert len(pcap_records(f)) == n
    fd = os.open(f, os.O_RDONLY)
    try:
        assert wirelen.whole_records(fd) == n
    finally:
        os.close(fd)
    for extra in (b"\0", b""):
        with open(f, "r+b") as fh:
            if extra:
                fh.seek(0, 2)
                fh.write(extra)
            else:
                fh.truncate(f.stat().st_size - 2)
        fd = os.open(f, os.O_RDONLY)
        try:
            assert wirelen.whole_records(fd) == 0
        finally:
            os.close(fd)


def test_reading_a_large_file_does_not_keep_it_in_memory(tmp_path: Path) -> None:
    # 64 MiB of full-size frames: the header walk touches a page of every packet, which used to
    # stay resident (rn-capture's peak RSS grew with the file). rn-capture's own peak is asked of
    # the kernel (wait4), and the packets it wrote are counted by an independent parser.
    frame = bytes(1514)
    n = (64 << 20) // (16 + len(frame))
    f = tmp_path / "big.pcap"
    with open(f, "wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        record = struct.pack("<IIII", 1700000000, 0, len(frame), len(frame)) + frame
        fh.write(record * n)
    out = tmp_path / "out.rn"
    rn_capture = Path(sys.executable).parent / "rn-capture"
    # Started from a small Python, not from this one: a child's peak counts its pages before exec,
    # which a fork of this large process would bring.
    starter = (
        "import os, subprocess, sys\n"
        "p = subprocess.Popen(sys.argv[1:], stdout=open(os.environ['OUT'], 'wb'))\n"
        "_, status, usage = os.wait4(p.pid, 0)\n"
        "print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)\n"
    )
    got = subprocess.run(
        [sys.executable, "-S", "-c", starter, str(rn_capture), "-r", str(f)],
        env={**os.environ, "OUT": str(out)},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    code, maxrss = map(int, got.stdout.split())
    assert code == 0, got.stderr
    reader, data, packets = RecordReader(-1), out.read_bytes(), 0
    for at in range(0, len(data) + 1, 1 << 16):  # as a pipe hands them over
        recs = reader.feed(data[at : at + (1 << 16)])
        packets += sum(1 for r in recs if isinstance(r, list) and r[0] == "pkt")
    packets += sum(1 for r in reader.feed(b"") if isinstance(r, list) and r[0] == "pkt")
    assert reader.damage is None and packets == n
    peak_mib = maxrss / 1024
    assert peak_mib < 48, f"rn-capture peaked at {peak_mib:.0f} MiB reading a 64 MiB file"
