"""Fuzz every stage with records of the wrong shape, in-process (the commands' Stage objects).

The record reader accepts any map with a string ``t`` and any array whose first element
is a string, so from there on every stage meets hostile shapes: a ``sum`` with text where
an int belongs, a ``pkt`` whose data is not bytes, ``conn`` records with nested junk,
headers with nonsense, records too short or too long. For any batch of such records
(mixed with valid ones):

* Dissector, Tracker and Enricher never raise (process, tick, finish), and whatever
  they pass on can still be written (MessagePack and JSON Lines);
* the viewer's model takes everything, and its table, overview and details render
  without raising and without a raw control, C1 or bidi character;
* the reader over arbitrary bytes yields only records (maps with a string tag, arrays
  with a string head) or stops with a damage note: nothing else escapes.

tests/robust/test_garbage.py runs the same shapes through the real commands.
"""

from __future__ import annotations

import math
import re
import struct
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rustnet.dissect.engine import Dissector
from rustnet.enrich.stage import Enricher
from rustnet.stream import NewerFormatError, RecordReader, fields
from rustnet.stream.records import FORMAT_VERSION, PKT_FIELDS, SUM_FIELDS, make_header
from rustnet.stream.writer import json_lines
from rustnet.track.table import Tracker
from rustnet.view.model import ConnTable
from rustnet.view.render import Theme, details_lines, render
from rustnet.view.state import ViewState
from rustnet.view.table import table_lines

from tests.robust.test_garbage import GOOD_CONN, GOOD_SUM, WRONG_SHAPES

# Raw characters no rendered text may hold: C0 (but the renderer's own ESC sequences are
# removed first), DEL, C1, bidi controls, line separators, lone surrogates.
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")
OWN_ESCAPES = re.compile(r"\x1b\[\d+;\d+H|\x1b\[K|\r?\n")

HEADER = make_header("rn-capture 0.1.0", 1, "fuzz", False, 262144, 1_700_000_000.0)
LIVE_HEADER = make_header("rn-capture 0.1.0", 1, "fuzz0", True, 262144, 1_700_000_000.0)
HOSTILE_TEXT = st.sampled_from(
    [
        "\x1b[2J",
        "\x1b]52;c;AAAA\x07",
        "\x9b31m",
        "\u202e",
        "\x00",
        "\ufffd",
        "a" * 300,
        "10.0.0.1",
        "::1",
        "tcp",
        "ESTABLISHED",
        "",
        "\n",
    ]
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    HOSTILE_TEXT,
    st.binary(max_size=40),
    st.sampled_from([b"\x0a\x00\x00\x01", b"\x00" * 16, b"\x0a\x00\x00\x02"]),
)
keys = st.sampled_from(["t", "id", "x", "", "\x1b", 0, 1])
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=8,
)

CONN_KEYS = [
    "id",
    "proto",
    "src",
    "sport",
    "dst",
    "dport",
    "state",
    "packets",
    "bytes",
    "packets_src",
    "bytes_src",
    "packets_dst",
    "bytes_dst",
    "first_seen",
    "last_seen",
    "rate_src",
    "rate_dst",
    "app",
    "sni",
    "http_host",
    "dns_query",
    "dns_answers",
    "process",
    "pid",
    "service",
    "vlan",
    "final",
    "end",
    "local_side",
    "rtt_ms",
]
MAP_KEYS = {
    "conn": CONN_KEYS,
    "hdr": ["v", "producer", "linktype", "source", "live", "snaplen", "start", "stages"],
    "stats": ["ts", "source", "packets", "received", "dropped", "ifdropped"],
    "dstats": ["ts", "packets", "malformed"],
    "sock": [
        "ts",
        "proto",
        "local",
        "lport",
        "remote",
        "rport",
        "listening",
        "pid",
        "process",
        "cmdline",
        "user",
        "netns",
    ],
    "warn": ["ts", "stage", "msg"],
    "from-the-future": ["x"],
}


@st.composite
def map_records(draw: st.DrawFn) -> dict[Any, Any]:
    tag = draw(st.sampled_from(sorted(MAP_KEYS)))
    keys = draw(st.lists(st.sampled_from(MAP_KEYS[tag]), max_size=8, unique=True))
    rec: dict[Any, Any] = {"t": tag}
    if tag == "conn" and draw(st.booleans()):
        rec.update(GOOD_CONN)  # a plausible record, then some fields replaced with junk
    if tag == "hdr":
        rec["v"] = draw(st.integers(-3, FORMAT_VERSION))  # a newer version is refused by the reader
    for k in keys:
        if not (tag == "hdr" and k == "v"):
            rec[k] = draw(values)
    return rec


@st.composite
def positional_records(draw: st.DrawFn) -> list[Any]:
    tag = draw(st.sampled_from(["sum", "pkt", "pkb", "novel"]))
    if draw(st.booleans()):  # a valid record with some fields replaced
        frame = bytes.fromhex("020000000002020000000001080045") + bytes(45)
        rec = list(GOOD_SUM) if tag == "sum" else ["pkt", 1_700_000_001.0, 60, frame]
        if tag == "pkb":  # the same frame twice, as rn-capture writes them (rustnet.stream.pktbatch)
            meta = struct.pack("<8I", 1_700_000_001, 0, 0, 60, 1_700_000_002, 5, 60, 60)
            rec = ["pkb", False, meta, frame * 2]
        if tag == "novel":
            rec = ["novel", 1]
        for _ in range(draw(st.integers(1, 3))):
            rec[draw(st.integers(1, len(rec) - 1))] = draw(values)
        return rec
    width = len(SUM_FIELDS if tag == "sum" else PKT_FIELDS if tag == "pkt" else PKB_FIELDS)
    n = draw(st.integers(0, width + 2))
    return [tag, *draw(st.lists(values, min_size=n, max_size=n))]


PKB_FIELDS = fields.names(fields.PKB)
records = st.one_of(map_records(), positional_records())
# A stage example costs ~20 ms (three stages built, two batches, a render): a fifth of the
# profile's examples keeps make fuzz within its budget (the default profile's count stays).
STAGE_EXAMPLES = settings(max_examples=max(80, settings().max_examples // 5))
batches = st.lists(records, min_size=1, max_size=8)


def _writable(out: list[Any]) -> None:
    msgpack.packb(out, use_bin_type=True)
    json_lines(out)


def _stages() -> list[Any]:
    return [Dissector(), Tracker(), Enricher(processes=False)]


def _run_stage(stage: Any, recs: list[Any]) -> None:
    out = stage.process([HEADER, *recs])
    out += stage.process([LIVE_HEADER, *recs, GOOD_SUM, GOOD_CONN])
    out += stage.tick(1_700_000_100.0)
    out += stage.finish()
    _writable(out)


def _render_all(recs: list[Any]) -> None:
    table = ConnTable()
    table.ingest([HEADER, *recs, GOOD_CONN])
    state = ViewState(table)
    for line in table_lines(state, 120) + table_lines(state, None):
        assert UNSAFE.search(line) is None, repr(line)
    for w, h in ((120, 30), (20, 5)):
        screen = OWN_ESCAPES.sub("", render(state, w, h, Theme()))
        assert UNSAFE.search(screen) is None, repr(screen)
    for _ in range(len(table.rows)):
        for label, value in details_lines(state):
            assert UNSAFE.search(label + value) is None, repr((label, value))
        state.move(1)


@pytest.mark.parametrize(("name", "rec"), WRONG_SHAPES, ids=[n for n, _ in WRONG_SHAPES])
def test_each_wrong_shape_alone_in_every_stage(name: str, rec: Any) -> None:
    for stage in _stages():
        _run_stage(stage, [rec])
    _render_all([rec])


@STAGE_EXAMPLES
@given(batches)
def test_stages_never_raise_on_wrong_shapes(recs: list[Any]) -> None:
    for stage in _stages():
        _run_stage(stage, recs)


@STAGE_EXAMPLES
@given(batches)
def test_viewer_renders_wrong_shapes_inertly(recs: list[Any]) -> None:
    _render_all(recs)


@given(st.lists(st.one_of(records, values), max_size=8), st.binary(max_size=64), st.integers(0, 200))
def test_reader_yields_only_records_or_damage(objs: list[Any], junk: bytes, cut: int) -> None:
    data = b"".join(msgpack.packb(o, use_bin_type=True) for o in objs) + junk
    data = data[: max(0, len(data) - cut)] if cut % 3 == 0 else data
    reader = RecordReader(-1, "fuzz")
    try:
        got = []
        for i in range(0, len(data), 7):  # in small pieces, as a pipe delivers them
            got += reader.feed(data[i : i + 7])
        got += reader.feed(b"")
    except NewerFormatError:
        return
    for rec in got:
        assert (isinstance(rec, dict) and isinstance(rec.get("t"), str)) or (
            isinstance(rec, list) and rec and isinstance(rec[0], str)
        ), rec
    assert reader.done


def test_nan_and_infinite_times_do_not_poison_the_tracker() -> None:
    t = Tracker()
    junk = [list(GOOD_SUM) for _ in range(3)]
    junk[0][1], junk[1][1], junk[2][1] = math.nan, math.inf, -math.inf
    out = t.process([HEADER, *junk, GOOD_SUM]) + t.finish()
    finals = [r for r in out if isinstance(r, dict) and r.get("t") == "conn" and r.get("final")]
    assert [r["packets"] for r in finals] == [1]
    assert all(math.isfinite(r["first_seen"]) and math.isfinite(r["last_seen"]) for r in finals)


def test_times_beyond_the_calendar_render() -> None:
    """Found by this fuzz: a state history at 1e300 s crashed the details view (localtime)."""
    recs = [
        dict(GOOD_CONN, id=5, state="ESTABLISHED", first_seen=1e300, last_seen=1e300, final=False),
        dict(GOOD_CONN, id=5, state="CLOSED", last_seen=2**70),
        {"t": "stats", "ts": math.inf, "packets": math.nan, "dropped": math.inf, "received": math.nan},
    ]
    _render_all(recs)
