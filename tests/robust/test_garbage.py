"""Garbage into every stage: random bytes, hostile containers, valid MessagePack of wrong shapes.

Every record-consuming command (rn-dissect, rn-track, rn-enrich, rn-view --json and
--table) and ``rustnet --read`` must answer with at most one line on stderr, no
traceback, a documented status (0, or 3 for damaged input; never 1 "internal
error"), in bounded time. Records of the wrong shape are skipped or counted, and
valid records after them still come through. tests/test_stage_contract.py covers
the well-formed contract (empty, header only, cut, newer version, | head) for three
of the stages; this module adds rn-view and rustnet and the hostile inputs.
"""

from __future__ import annotations

import random
import subprocess
import time
from pathlib import Path
from typing import Any

import msgpack
import pytest
from rustnet.stream.records import make_header

from tests.robust.util import assert_one_line_no_traceback, cmd, json_lines, pack, run

HEADER = make_header("rn-capture 0.1.0", 1, "garbage.pcap", False, 262144, 1_700_000_000.0)
CONN_HEADER = make_header("rn-track 0.1.0", 1, "garbage.pcap", False, 262144, 1_700_000_000.0)
PARSERS: list[list[str]] = [
    ["rn-dissect", "--format", "json"],
    ["rn-track", "--format", "json"],
    ["rn-enrich", "--format", "json"],
    ["rn-track", "--enrich", "--format", "json"],  # rn-enrich's names in rn-track's process
]
VIEWERS: list[list[str]] = [["rn-view", "--json"], ["rn-view", "--table"]]
STAGES = PARSERS + VIEWERS
STAGE_IDS = [" ".join(s) for s in STAGES]
A, B = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
# Generous: one command on this input takes ~0.2 s; a hang or a quadratic blow-up does not fit.
TIME_LIMIT = 20.0


def _random_blobs() -> list[tuple[str, bytes]]:
    rng = random.Random(9)
    blobs = []
    for size in (3, 200_000):
        blobs.append((f"random-{size}", rng.randbytes(size)))
    # Start bytes that steer format detection: a JSON object, a msgpack frame, a pcap magic.
    blobs.append(("json-prefix", b'{"t":"hdr"' + rng.randbytes(3000)))
    blobs.append(("pcap-magic", b"\xd4\xc3\xb2\xa1" + rng.randbytes(3000)))
    return blobs


HOSTILE_CONTAINERS = [
    ("array32-4G-elements", b"\xdd\xff\xff\xff\xff" + b"\xc0" * 100),
    ("str32-4GB", b"\xdb\xff\xff\xff\xff" + b"a" * 100),
    ("bin32-4GB-in-frame", b"\x91\xc6\xff\xff\xff\xff" + b"a" * 100),
    ("map32-4G-pairs", b"\xdf\xff\xff\xff\xff"),
    ("nested-arrays", b"\x91" * 200_000),
    ("nested-maps", b"\x81\xa1t" * 100_000),
    ("ext-type", pack(HEADER) + b"\xd4\x05\x00"),
    ("bad-timestamp-ext", pack(HEADER) + b"\xc7\x0c\xff" + b"\xff" * 12),
    ("invalid-utf8-str", pack(HEADER) + b"\x91\xa4\xff\xfe\xfd\xfc"),
    ("json-nested", b'{"t":' + b"[" * 200_000 + b"\n"),
    ("json-line-over-16MiB", b'{"t":"x","a":"' + b"a" * (17 << 20)),
    ("json-invalid-bytes", b'{"t":"conn","id":1}\n{"t":\xff\xfe}\n'),
    ("json-huge-int", b'{"t":"conn","id":1,"packets":1' + b"0" * 5000 + b"}\n"),
    ("json-array", b"[1,2,3]\n"),
]


def _sum(**over: Any) -> list[Any]:
    rec: list[Any] = ["sum", 1_700_000_001.0, 60, 6, A, 40000, B, 443, 0x02, 1, 0, 0, 64240, None, None]
    names = (
        "t",
        "ts",
        "wirelen",
        "proto",
        "src",
        "sport",
        "dst",
        "dport",
        "flags",
        "seq",
        "ack",
        "paylen",
        "window",
        "vlan",
        "info",
    )
    for k, v in over.items():
        rec[names.index(k)] = v
    return rec


# Valid MessagePack, wrong shapes: each is one record a careless stage would trip over.
WRONG_SHAPES: list[tuple[str, Any]] = [
    ("sum-str-wirelen", _sum(wirelen="x")),
    ("sum-str-ts", _sum(ts="yesterday")),
    ("sum-nan-ts", _sum(ts=float("nan"))),
    ("sum-inf-ts", _sum(ts=float("inf"))),
    ("sum-negative-ts", _sum(ts=-5.0)),
    ("sum-huge-ints", _sum(wirelen=2**63, sport=2**64 - 1, seq=2**64 - 1, dport=-7, flags=-1)),
    ("sum-int-addresses", _sum(src=5, dst=None)),
    ("sum-list-address", _sum(src=[1, 2], dst={"a": 1})),
    ("sum-odd-address-length", _sum(src=b"\x01\x02\x03", dst=b"\x00" * 17)),
    ("sum-float-proto", _sum(proto=6.5)),
    ("sum-junk-info", _sum(vlan=[1, "x", [2]], info={"app": [1], "sni": {"a": b"\x1b[2J"}, 5: None})),
    ("sum-info-not-a-map", _sum(info=[1, 2, 3])),
    ("sum-short", ["sum", 1_700_000_001.0]),
    ("sum-only-tag", ["sum"]),
    ("sum-long", _sum() + [1, 2, 3]),
    ("pkt-str-data", ["pkt", 1_700_000_001.0, 60, "not bytes"]),
    ("pkt-int-data", ["pkt", 1_700_000_001.0, "x", 5]),
    ("pkt-none", ["pkt", None, None, None]),
    ("pkt-short", ["pkt"]),
    ("pkt-huge-wirelen", ["pkt", 1_700_000_001.0, 2**64 - 1, b"\x00" * 60]),
    (
        "hdr-junk",
        {
            "t": "hdr",
            "v": "one",
            "linktype": "eth",
            "stages": 5,
            "live": "yes",
            "snaplen": [1],
            "start": "now",
        },
    ),
    ("hdr-huge-linktype", {"t": "hdr", "v": 1, "linktype": 2**64 - 1}),
    ("hdr-negative-version", {"t": "hdr", "v": -1}),
    (
        "conn-junk",
        {
            "t": "conn",
            "id": [1, 2],
            "proto": 5,
            "src": b"\xff",
            "sport": "x",
            "dst": {"a": 1},
            "dport": None,
            "state": 7,
            "packets": "many",
            "bytes": -1,
            "first_seen": "x",
            "last_seen": None,
            "final": "yes",
            "sni": b"\x1b[2J",
            "rate_src": "x",
            "process": [1],
            "pid": "x",
            "vlan": "x",
            "dns_answers": {"x": [1, {"y": 2}]},
        },
    ),
    ("conn-no-fields", {"t": "conn"}),
    ("conn-unhashable-id", {"t": "conn", "id": {"a": 1}, "final": True}),
    (
        "conn-nan-numbers",
        {
            "t": "conn",
            "id": 9,
            "bytes": float("nan"),
            "packets": float("inf"),
            "first_seen": float("-inf"),
            "last_seen": float("nan"),
            "rate_src": float("nan"),
        },
    ),
    ("stats-junk", {"t": "stats", "ts": "x", "packets": "x", "dropped": [1], "received": None}),
    (
        "stats-nan",
        {
            "t": "stats",
            "ts": float("nan"),
            "packets": float("nan"),
            "dropped": float("inf"),
            "received": float("nan"),
            "ifdropped": float("-inf"),
        },
    ),
    ("dstats-junk", {"t": "dstats", "packets": "x", "malformed": {"a": 1}}),
    (
        "sock-junk",
        {
            "t": "sock",
            "ts": "x",
            "proto": 1,
            "local": 5,
            "lport": "x",
            "remote": None,
            "rport": [1],
            "listening": "x",
            "pid": "x",
            "process": b"\x1b",
        },
    ),
    ("warn-junk", {"t": "warn", "ts": "x", "stage": [1], "msg": {"a": b"\x1b"}}),
    ("map-int-keys", {"t": "conn", 1: 2, None: 3}),
]

# After the junk, records that must still be understood.
GOOD_SUM = _sum(ts=1_700_000_002.0, sport=40001, dport=80)
GOOD_CONN = {
    "t": "conn",
    "id": 777,
    "proto": "tcp",
    "src": "10.0.0.1",
    "sport": 40001,
    "dst": "10.0.0.2",
    "dport": 80,
    "state": "ESTABLISHED",
    "packets": 3,
    "bytes": 180,
    "packets_src": 2,
    "bytes_src": 120,
    "packets_dst": 1,
    "bytes_dst": 60,
    "first_seen": 1_700_000_002.0,
    "last_seen": 1_700_000_002.5,
    "rate_src": 0,
    "rate_dst": 0,
    "final": True,
    "end": "eof",
}


def _check(p: subprocess.CompletedProcess[bytes], elapsed: float, statuses: tuple[int, ...] = (0, 3)) -> None:
    assert_one_line_no_traceback(p.stderr)
    assert p.returncode in statuses, (p.returncode, p.stderr)
    assert b"internal error" not in p.stderr
    assert elapsed < TIME_LIMIT


def _timed(argv: list[str], data: bytes) -> tuple[subprocess.CompletedProcess[bytes], float]:
    t = time.monotonic()
    p = run(argv, data, timeout=TIME_LIMIT * 3)
    return p, time.monotonic() - t


@pytest.mark.parametrize("argv", STAGES, ids=STAGE_IDS)
@pytest.mark.parametrize(("name", "blob"), _random_blobs(), ids=[n for n, _ in _random_blobs()])
def test_random_bytes(argv: list[str], name: str, blob: bytes) -> None:
    p, elapsed = _timed(argv, blob)
    _check(p, elapsed, (3,) if len(blob) > 1 else (0, 3))
    if p.returncode == 3:
        assert p.stderr.startswith(argv[0].encode() + b": ")


# Every stage reads through the same RecordReader: every container against two stages (one
# a Stage, one the viewer's Source), three of them against all; tests/fuzz/test_pipeline_fuzz.py
# feeds each wrong-shaped record alone to every stage in-process.
_CONTAINER_CASES = [
    (argv, name, blob)
    for name, blob in HOSTILE_CONTAINERS
    for argv in (STAGES if name in ("nested-arrays", "json-nested", "str32-4GB") else [STAGES[1], VIEWERS[0]])
]


@pytest.mark.parametrize(
    ("argv", "name", "blob"), _CONTAINER_CASES, ids=[f"{n}-{a[0]}{a[-1]}" for a, n, _ in _CONTAINER_CASES]
)
def test_hostile_containers_are_damage(argv: list[str], name: str, blob: bytes) -> None:
    p, elapsed = _timed(argv, blob)
    _check(p, elapsed, (3,))


@pytest.mark.parametrize("argv", PARSERS, ids=[" ".join(a) for a in PARSERS])
def test_wrong_shapes_then_good_records_still_flow(argv: list[str]) -> None:
    """All the wrong shapes in one frame, then a good summary and a good connection record."""
    junk = [rec for _, rec in WRONG_SHAPES]
    data = pack(HEADER, junk, [GOOD_SUM], [GOOD_CONN])
    p, elapsed = _timed(argv, data)
    _check(p, elapsed)
    out = json_lines(p.stdout)
    if argv[0] == "rn-track":
        # The good summary after the junk makes its connection; the junk ones count as damaged.
        finals = [
            r
            for r in out
            if r.get("t") == "conn"
            and r.get("final")
            and r.get("dport") == 80
            and r.get("sport") == 40001
            and r.get("id") != 777
        ]
        assert finals and finals[0]["packets"] == 1
        assert any(r.get("t") == "warn" and "damaged" in str(r.get("msg")) for r in out)
    else:
        assert any(r.get("t") == "conn" and r.get("id") == 777 for r in out)
    if argv[0] == "rn-dissect":
        # Damaged pkt records are counted, never silent.
        dstats = [r for r in out if r.get("t") == "dstats"]
        assert dstats and dstats[-1]["malformed"] >= 4


@pytest.mark.parametrize("argv", VIEWERS, ids=[" ".join(a) for a in VIEWERS])
def test_viewer_shows_the_good_connection_after_junk(argv: list[str]) -> None:
    junk = [rec for _, rec in WRONG_SHAPES if not (isinstance(rec, dict) and rec.get("t") == "hdr")]
    p, elapsed = _timed(argv, pack(CONN_HEADER, junk, [GOOD_CONN]))
    _check(p, elapsed)
    text = p.stdout.decode()
    if "--json" in argv:
        assert any(r.get("id") == 777 and r.get("bytes") == 180 for r in json_lines(p.stdout))
    else:
        assert "10.0.0.2:80" in text
    assert "\x1b" not in text


def test_wrong_shapes_in_json_lines() -> None:
    """The same junk as JSON Lines (the other input format) into every stage."""
    import json

    lines = [json.dumps({"t": "hdr", "v": 1})]
    for _, rec in WRONG_SHAPES:
        if isinstance(rec, dict):
            lines.append(json.dumps({str(k): v for k, v in rec.items()}, default=lambda b: b.hex()))
        else:
            lines.append(json.dumps({"t": rec[0], "fields": rec[1:]}, default=lambda b: b.hex()))
    lines.append('{"t":"sum","ts":"x","src":5,"dst":[1],"sport":"a","info":7}')
    lines.append('{"t":"pkt","ts":1,"wirelen":60,"data":"zz-not-hex"}')
    lines.append('{"t":"pkt","ts":1,"wirelen":60,"data":12}')
    data = ("\n".join(lines) + "\n").encode()
    for argv in STAGES:
        p, elapsed = _timed(argv, data)
        _check(p, elapsed)


# --- rustnet --read and rn-view --read of garbage files ------------------------------------
@pytest.mark.parametrize("what", ["random", "msgpack-junk", "pcap-header-then-junk", "json-junk"])
@pytest.mark.parametrize("prog", ["rustnet", "rn-view"])
def test_read_of_a_garbage_file(tmp_path: Path, prog: str, what: str) -> None:
    rng = random.Random(what)
    data = {
        "random": rng.randbytes(5000),
        "msgpack-junk": pack(HEADER, [rec for _, rec in WRONG_SHAPES]) + b"\xc1\xc1",
        "pcap-header-then-junk": bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000")
        + rng.randbytes(3000),
        "json-junk": b'{"t":"hdr","v":1}\n{"t":"conn","id":[1]}\n{"t": nope}\n',
    }[what]
    f = tmp_path / "garbage.bin"
    f.write_bytes(data)
    argv = [prog, "--read", str(f), "--json"]
    t = time.monotonic()
    p = subprocess.run([cmd(prog), *argv[1:]], capture_output=True, timeout=60)
    _check(p, time.monotonic() - t, (3,))
    assert p.stderr.strip(), "damage must be reported"


# --- not damage: concatenated recordings and unknown record types ----------------------------
def _recording(cid: int) -> bytes:
    conn = dict(GOOD_CONN, id=cid, sport=40000 + cid)
    return pack(CONN_HEADER, [conn, {"t": "from-the-future", "x": [1, 2]}, ["novel-positional", 1, b"\x00"]])


@pytest.mark.parametrize("argv", VIEWERS, ids=[" ".join(a) for a in VIEWERS])
def test_concatenated_recordings_and_unknown_types_in_the_viewer(argv: list[str]) -> None:
    p = run(argv, _recording(1) + _recording(2) + msgpack.packb({"t": "odd-map", "v": 1}))
    assert p.returncode == 0, p.stderr
    assert p.stderr == b""
    if "--json" in argv:
        assert sorted(r["sport"] for r in json_lines(p.stdout)) == [40001, 40002]
    else:
        assert "10.0.0.1:40001" in p.stdout.decode() and "10.0.0.1:40002" in p.stdout.decode()


def test_concatenated_recording_file_through_rustnet(tmp_path: Path) -> None:
    f = tmp_path / "two.rn"
    f.write_bytes(_recording(1) + _recording(2))
    p = subprocess.run([cmd("rustnet"), "--read", str(f), "--json"], capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert sorted(r["sport"] for r in json_lines(p.stdout)) == [40001, 40002]


@pytest.mark.tui
def test_garbage_in_the_tui_is_reported_on_screen_and_exits_3(tmp_path: Path) -> None:
    from tests.tui.harness import PtyView

    f = tmp_path / "garbage.rn"
    f.write_bytes(pack(CONN_HEADER, [GOOD_CONN]) + random.Random(1).randbytes(3000))
    v = PtyView([str(f)], cols=200, rows=20)
    try:
        screen = v.wait_for("garbage.rn: corru", timeout=20)
        assert "10.0.0.2:80" in screen  # what came before the damage is shown
        v.send("q", "q")
        assert v.wait_exit() == 3
    finally:
        v.close()
    assert b"Traceback" not in bytes(v.raw)
