"""ormsgpack in the record stream: the writer's frames and the reader's records are exactly what the
msgpack-only paths give, for record-like and hostile values alike (msgpack is the fallback)."""

from __future__ import annotations

import datetime
import enum
import math
import os
import re
import struct
import subprocess
import sys
import tempfile
from collections.abc import Callable
from typing import Any

import msgpack
import ormsgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rustnet.stream import RecordReader, RecordWriter
from rustnet.stream import reader as reader_mod
from rustnet.stream import writer as writer_mod
from rustnet.stream.reader import MAX_CONTAINER

from tests.corpus import PCAPS

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- helpers -------------------------------------------------------------------------------------
def same(a: Any, b: Any) -> bool:
    """Equal values of the same types all the way down (True is not 1, NaN equals NaN bit for bit)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return (
            len(a) == len(b)
            and all(same(x, y) for x, y in zip(a, b, strict=True))
            and all(same(a[k], b[k]) for k in a)
        )
    return bool(a == b)


def write_frames(batches: list[list[Any]]) -> bytes:
    with tempfile.TemporaryFile() as f:
        writer = RecordWriter(f.fileno())
        for batch in batches:
            writer.write_many(batch)
            writer.flush()  # one frame per batch
        writer.close()
        f.seek(0)
        return f.read()


def read_all(data: bytes, steps: list[int]) -> tuple[list[Any], str | None]:
    """Records and damage from feeding ``data`` in chunks of the sizes in ``steps`` (cycled)."""
    reader = RecordReader(-1, "t")
    out: list[Any] = []
    i = k = 0
    while i < len(data):
        step = steps[k % len(steps)]
        out += reader.feed(data[i : i + step])
        i += step
        k += 1
    out += reader.feed(b"")
    return out, reader.damage


def read_both(data: bytes, steps: list[int]) -> tuple[Any, Any]:
    fast = read_all(data, steps)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(reader_mod, "ormsgpack", None)
        slow = read_all(data, steps)
    return fast, slow


def assert_same_reading(fast: tuple[list[Any], str | None], slow: tuple[list[Any], str | None]) -> None:
    assert fast[1] == slow[1]
    assert len(fast[0]) == len(slow[0])
    assert all(same(a, b) for a, b in zip(fast[0], slow[0], strict=True))


# --- values ----------------------------------------------------------------------------------------
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.integers(min_value=-(2**70), max_value=2**70),  # beyond 64 bits: written saturated
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.text(st.characters(codec=None, categories=["Cs", "Lu", "Cc"]), max_size=4),  # lone surrogates
    st.binary(max_size=30),
)
keys = st.one_of(st.text(max_size=8), st.integers(-5, 5), st.binary(max_size=3), st.booleans(), st.none())
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.tuples(inner, inner), st.dictionaries(keys, inner, max_size=5)
    ),
    max_leaves=20,
)
map_record = st.builds(
    lambda t, d: {"t": t, **d},
    st.sampled_from(["conn", "sock", "warn", "x"]),
    st.dictionaries(st.text(max_size=12), values, max_size=12),
)
positional = st.builds(
    lambda t, rest: [t, *rest], st.sampled_from(["pkt", "sum"]), st.lists(values, max_size=6)
)
records = st.one_of(map_record, map_record, positional)


# --- writer ----------------------------------------------------------------------------------------
def clamped(v: Any) -> Any:
    """``v`` with integers beyond MessagePack's range held at its ends (rustnet-records(5), LIMITS)."""
    if type(v) is int:
        return min(max(v, -(2**63)), 2**64 - 1)
    if isinstance(v, (list, tuple)):
        return [clamped(x) for x in v]
    if isinstance(v, dict):
        return {clamped(k): clamped(x) for k, x in v.items()}
    return v


def msgpack_frames(batches: list[list[Any]]) -> bytes | type[BaseException]:
    packer = msgpack.Packer(use_bin_type=True)
    try:
        return b"".join(packer.pack(clamped(b)) for b in batches)
    except Exception as exc:  # noqa: BLE001
        return type(exc)


@SETTINGS
@given(st.lists(st.lists(records, min_size=1, max_size=6), min_size=1, max_size=4))
def test_writer_frames_decode_as_msgpack_frames(batches: list[list[Any]]) -> None:
    want = msgpack_frames(batches)
    if isinstance(want, type):
        with pytest.raises(want):
            write_frames(batches)
        return
    got = write_frames(batches)
    assert got == want  # ormsgpack writes the same bytes for every type it takes
    up = msgpack.Unpacker(raw=False, strict_map_key=False)
    up.feed(got)
    decoded = list(up)
    up = msgpack.Unpacker(raw=False, strict_map_key=False)
    up.feed(want)
    assert all(same(a, b) for a, b in zip(decoded, list(up), strict=True))


class Colour(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


def value_id(value: object) -> str:
    """The test id of a value: its repr without a memory address (the same in every xdist worker)."""
    return re.sub(r" at 0x[0-9a-f]+", "", repr(value))


@pytest.mark.parametrize(
    "value",
    [
        {1: "a"},
        {b"k": 1},
        {(1, 2): 3},
        msgpack.ExtType(5, b"x"),
        msgpack.Timestamp(1, 2),
        Level.HIGH,
        (1, [2, (3,)]),
        bytearray(b"ab"),
        memoryview(b"cd"),
        float("nan"),
        -0.0,
        True,
    ],
    ids=value_id,
)
def test_values_ormsgpack_refuses_or_writes_the_same(value: Any) -> None:
    batch = [{"t": "conn", "v": value}, ["sum", value]]
    assert write_frames([batch]) == msgpack.packb(batch, use_bin_type=True)


@pytest.mark.parametrize(
    "value",
    [
        Colour.RED,
        datetime.datetime(2024, 1, 1),
        datetime.date(2024, 1, 1),
        {1, 2},
        object(),
        "\ud800",
    ],
    ids=value_id,
)
def test_values_msgpack_refuses_still_fail(value: Any) -> None:
    # ormsgpack would write enums and datetimes; the stream never did, and still does not.
    with pytest.raises(Exception) as want:
        msgpack.packb([value])
    with pytest.raises(want.type):
        write_frames([[{"t": "conn", "v": value}]])


@pytest.mark.parametrize(
    ("value", "written"), [(2**64, 2**64 - 1), (2**90, 2**64 - 1), (-(2**63) - 1, -(2**63))], ids=repr
)
def test_values_beyond_64_bits_are_written_saturated(value: int, written: int) -> None:
    # msgpack refuses them (an OverflowError ended a stage); a counter past 64 bits stops at the end.
    got = write_frames([[{"t": "conn", "bytes": value}, ["sum", 1.0, value]]])
    assert got == msgpack.packb([{"t": "conn", "bytes": written}, ["sum", 1.0, written]], use_bin_type=True)


def test_writer_uses_ormsgpack(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = ormsgpack.packb

    def counting(obj: Any, **kw: Any) -> bytes:
        calls.append(1)
        return real(obj, **kw)

    monkeypatch.setattr(writer_mod.ormsgpack, "packb", counting)
    write_frames([[{"t": "conn", "id": 1}]])
    assert calls


def test_writer_without_ormsgpack_writes_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    batches = [[{"t": "conn", "id": i, "b": b"\x00" * i, "f": i / 7} for i in range(50)], [["sum", 1, 2.5]]]
    fast = write_frames(batches)
    monkeypatch.setattr(writer_mod, "ormsgpack", None)
    assert write_frames(batches) == fast


# --- reader ----------------------------------------------------------------------------------------
def enc_raw(tree: Any) -> bytes:
    """MessagePack of a tree of ("map"|"array", items) nodes and raw-byte leaves: lets a test build
    encodings msgpack never writes (long headers for short containers, invalid text, ext types)."""
    if isinstance(tree, bytes):
        return tree
    kind, wide, items = tree
    n = len(items) // 2 if kind == "map" else len(items)
    small, medium, large = (0x80, 0xDE, 0xDF) if kind == "map" else (0x90, 0xDC, 0xDD)
    if wide or n > 0xFFFF:
        head = struct.pack(">BI", large, n)
    else:
        head = bytes([small | n]) if n < 16 else struct.pack(">BH", medium, n)
    return head + b"".join(enc_raw(i) for i in items)


odd_leaves = st.one_of(
    st.builds(
        lambda v: msgpack.packb(v, use_bin_type=True),
        scalars.filter(
            lambda v: (
                not (isinstance(v, int) and not -(2**63) <= v < 2**64)
                and not (isinstance(v, str) and any(0xD800 <= ord(c) <= 0xDFFF for c in v))
            )
        ),
    ),
    st.sampled_from(
        [
            b"\xa2\xc3\x28",  # invalid UTF-8
            b"\xa3\xed\xa0\x80",  # an encoded surrogate
            b"\xd4\x01\x02",
            b"\xd6\xff\x00\x00\x00\x01",  # ext, timestamp
            b"\xcf\x00\x00\x00\x00\x00\x00\x00\x05",
            b"\xd9\x01a",
            b"\xc5\x00\x01z",  # long forms
            b"\xca\x3f\x80\x00\x00",
            b"\xc1",  # float32, never used
        ]
    ),
)
raw_values = st.recursive(
    odd_leaves,
    lambda inner: st.one_of(
        st.builds(lambda w, xs: ("array", w, xs), st.booleans(), st.lists(inner, max_size=4)),
        st.builds(
            lambda w, kv: ("map", w, [x for pair in kv for x in pair]),
            st.booleans(),
            st.lists(st.tuples(st.one_of(inner, st.text(max_size=3).map(msgpack.packb)), inner), max_size=4),
        ),
    ),
    max_leaves=12,
)
raw_map_record = st.builds(
    lambda w, tag, kv: ("map", w, [msgpack.packb("t"), msgpack.packb(tag), *(x for kv_ in kv for x in kv_)]),
    st.booleans(),
    st.sampled_from(["conn", "sock", "hdr"]),
    st.lists(
        st.tuples(st.one_of(st.text(max_size=6).map(msgpack.packb), odd_leaves), raw_values), max_size=6
    ),
)
raw_frame = st.builds(
    lambda w, recs: ("array", w, recs),
    st.booleans(),
    st.lists(st.one_of(raw_map_record, raw_map_record, raw_values), min_size=1, max_size=5),
)


@SETTINGS
@given(
    st.lists(raw_frame, min_size=1, max_size=4),
    st.lists(st.integers(1, 64), min_size=1, max_size=4),
    st.integers(0, 10**6),
)
def test_hostile_frames_read_as_without_ormsgpack(frames: list[Any], steps: list[int], cut: int) -> None:
    data = b"".join(enc_raw(f) for f in frames)
    for d in (data, data[: cut % (len(data) + 1)]):
        for s in (steps, [len(d) or 1]):
            assert_same_reading(*read_both(d, s))


@SETTINGS
@given(
    st.lists(st.lists(map_record, min_size=1, max_size=8), min_size=1, max_size=4),
    st.integers(4, 300),
    st.integers(0, 10**6),
    st.integers(0, 255),
)
def test_record_frames_cut_or_damaged_read_as_without_ormsgpack(
    batches: list[list[Any]], step: int, at: int, byte: int
) -> None:
    packer = msgpack.Packer(use_bin_type=True)
    try:
        data = b"".join(packer.pack(b) for b in batches)
    except (OverflowError, UnicodeEncodeError, TypeError, ValueError):
        return
    at %= len(data)
    damaged = data[:at] + bytes([byte]) + data[at + 1 :]
    for d in (data, data[:at], damaged):
        assert_same_reading(*read_both(d, [step]))


def conn(i: int) -> dict[str, Any]:
    return {
        "t": "conn",
        "id": i,
        "proto": "tcp",
        "src": "10.0.0.1",
        "sport": 1000 + i,
        "bytes": i * 10,
        "first_seen": 1.7e9 + i / 3,
        "alpn": ["h2"],
        "app": None,
    }


def test_conn_stream_cut_at_every_offset_reads_as_without_ormsgpack() -> None:
    data = b"".join(msgpack.packb([conn(i + 10 * f) for i in range(10)]) for f in range(3))
    for cut in range(len(data) + 1):
        for steps in ([len(data) or 1], [97, 5]) if cut % 61 else ([1], [3]):
            assert_same_reading(*read_both(data[:cut], steps))


@pytest.mark.parametrize(
    ("value", "over"),
    [
        (("map", False, [msgpack.packb(str(i)) for i in range(2 * (MAX_CONTAINER + 1))]), True),
        (("array", True, [b"\x01"] * (MAX_CONTAINER + 1)), True),
        (("map", True, [msgpack.packb(str(i)) for i in range(2 * MAX_CONTAINER)]), False),  # at the limit
        (("array", False, [b"\x01"] * MAX_CONTAINER), False),
    ],
    ids=["map-over", "array-over", "map-at", "array-at"],
)
def test_containers_over_the_limits_in_a_whole_frame_are_still_damage(value: Any, over: bool) -> None:
    record = ("map", False, [msgpack.packb("t"), msgpack.packb("conn"), msgpack.packb("x"), enc_raw(value)])
    frame = ("array", False, [enc_raw(record), msgpack.packb(conn(1))])
    data = msgpack.packb([conn(0)]) + enc_raw(frame)
    fast, slow = read_both(data, [len(data)])
    assert_same_reading(fast, slow)
    assert (fast[1] is not None) == over
    assert len(fast[0]) == (1 if over else 3)


@pytest.mark.parametrize("depth", [100, 300, 1100])
def test_deep_nesting_reads_as_without_ormsgpack(depth: int) -> None:
    deep = b"\x91" * depth + b"\x01"
    data = msgpack.packb([conn(0)]) + b"\x92" + b"\x82\xa1t\xa4conn\xa1x" + deep + msgpack.packb(conn(1))
    assert_same_reading(*read_both(data, [len(data)]))
    assert_same_reading(*read_both(data, [5]))


def test_reader_decodes_map_frames_with_ormsgpack(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real: Callable[..., Any] = ormsgpack.unpackb

    def counting(data: Any) -> Any:
        calls.append(1)
        return real(data)

    monkeypatch.setattr(reader_mod.ormsgpack, "unpackb", counting)
    recs = [conn(i) for i in range(600)]
    data = write_frames([recs])
    for step in (len(data), 1000, 1):
        calls.clear()
        out, damage = read_all(data, [step])
        assert damage is None and out == recs
        assert len(calls) == 3  # 256 + 256 + 88: every frame went through ormsgpack, however cut
    assert math.isnan(read_all(write_frames([[{"t": "conn", "f": math.nan}]]), [3])[0][0]["f"])


@pytest.mark.parametrize("capture", ["ndpi_chrome.pcap", "ndpi_dns.pcap", "xargs_illustrated-quic.pcap"])
def test_a_real_connection_stream_reads_the_same_with_and_without_ormsgpack(capture: str) -> None:
    """rn-track's own msgpack output over corpus captures, read whole and in odd-sized pieces."""
    bin_dir = os.path.dirname(sys.executable)
    stages = [f"rn-capture -r {PCAPS / capture}", "rn-dissect", "rn-track --format msgpack"]
    pipeline = " | ".join(f"{bin_dir}/{stage}" for stage in stages)
    data = subprocess.run(["sh", "-c", pipeline], capture_output=True, check=True).stdout
    fast, slow = read_both(data, [len(data)])
    assert fast[1] is None and sum(1 for r in fast[0] if isinstance(r, dict) and r.get("t") == "conn") > 0
    for steps in ([len(data)], [65537, 4093], [7]):
        assert_same_reading(*read_both(data, steps))


@pytest.mark.parametrize("bad", [{"x": 1}, {"t": 5}, {"t": None}, {"t": "hdr", "v": 99}, ["x"][1:], 7])
def test_a_bad_record_in_a_map_frame_stops_the_stream_as_without_ormsgpack(bad: Any) -> None:
    frames = [[conn(0), conn(1)], [conn(2), bad, conn(3)], [conn(4)]]
    data = b"".join(msgpack.packb(f) for f in frames)
    for steps in ([len(data)], [11]):
        try:
            fast: Any = read_all(data, steps)
        except reader_mod.NewerFormatError as exc:
            fast = str(exc)
        with pytest.MonkeyPatch.context() as m:
            m.setattr(reader_mod, "ormsgpack", None)
            try:
                slow: Any = read_all(data, steps)
            except reader_mod.NewerFormatError as exc:
                slow = str(exc)
        assert fast == slow
        if isinstance(fast, tuple):
            assert fast[1] is not None and [r["id"] for r in fast[0]] == [0, 1, 2]
