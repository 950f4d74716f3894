"""Integers out of range in a summary stream (issue 21): hand-built streams through the real commands.

The rule (rustnet-records(5), LIMITS): a summary whose wirelen is outside 0..2**32-1 (pcap's
32-bit length field), or whose ports are outside 0..65535, is damaged: rn-track counts it in its
warn record and skips it. A vlan id beyond 12 bits or a DPI integer beyond 64 bits is dropped.
Whatever still holds an integer beyond 64 bits (a stream written by something else) is written
saturated, at 2**64-1 or -2**63, by every stage, in MessagePack and JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgpack
import pytest

from tests.track_util import ACK, PSH, SYN, A, B, header, tcp, udp

BIN = Path(sys.executable).parent
U64 = (1 << 64) - 1
I64_MIN = -(1 << 63)

# Each of these summaries is damaged by one integer: rn-track must count it, not track it.
DAMAGED = [
    tcp(1.0, A, 1000, B, 80, ACK, wirelen=U64),
    tcp(1.1, A, 1000, B, 80, ACK, wirelen=1 << 63),
    tcp(1.2, A, 1000, B, 80, ACK, wirelen=1 << 32),
    tcp(1.3, A, 1000, B, 80, ACK, wirelen=-1),
    tcp(1.4, A, 1000, B, 80, ACK, wirelen=1.5),  # type: ignore[arg-type]
    tcp(1.5, A, 1000, B, 80, ACK, wirelen=float("nan")),  # type: ignore[arg-type]
    udp(1.6, A, U64, B, 53),
    udp(1.7, A, 5000, B, 70000),
]
# Counted: the largest length a capture can record, on two connections.
GOOD = [
    tcp(2.0, A, 1000, B, 80, ACK, wirelen=(1 << 32) - 1, vlan=[1 << 63]),
    tcp(2.1, A, 1000, B, 80, ACK, wirelen=(1 << 32) - 1, info={"tls_version": U64 + 1, "http_host": "h"}),
    udp(2.2, A, 5000, B, 6000, wirelen=(1 << 32) - 1),
]
# What msgpack can hold: tls_version 2**64 cannot be packed, so that record carries 2**64-1.
GOOD_PACKABLE = [
    *GOOD[:1],
    tcp(2.1, A, 1000, B, 80, ACK, wirelen=(1 << 32) - 1, info={"tls_version": U64}),
    GOOD[2],
]


def run(cmd: str, *args: str, data: bytes) -> subprocess.CompletedProcess[bytes]:
    p = subprocess.run([str(BIN / cmd), *args], input=data, capture_output=True, timeout=120)
    assert b"Traceback" not in p.stderr and b"internal error" not in p.stderr, p.stderr
    assert p.returncode == 0, p.stderr
    return p


def msgpack_records(data: bytes) -> list[Any]:
    out: list[Any] = []
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
    unpacker.feed(data)
    for frame in unpacker:
        if isinstance(frame, list) and frame and not isinstance(frame[0], str):
            out.extend(frame)
        else:
            out.append(frame)
    return out


def jsonl(recs: list[Any]) -> bytes:
    lines = []
    for r in recs:
        if isinstance(r, dict):
            lines.append(json.dumps(r))
            continue
        _t, ts, wl, proto, src, sp, dst, dp, flags, seq, ack, plen, win, vlan, info = r
        obj: dict[str, Any] = {
            "t": "sum",
            "ts": ts,
            "wirelen": wl,
            "proto": proto,
            "src": ".".join(map(str, src)),
            "sport": sp,
            "dst": ".".join(map(str, dst)),
            "dport": dp,
            "flags": flags,
            "seq": seq,
            "ack": ack,
            "paylen": plen,
            "window": win,
        }
        if vlan is not None:
            obj["vlan"] = vlan
        if info is not None:
            obj["info"] = info
        lines.append(json.dumps(obj))  # NaN as JSON's NaN token, which Python's reader accepts
    return ("\n".join(lines) + "\n").encode()


def check_tracked(recs: list[Any]) -> None:
    """Only the good summaries count; the damaged ones are counted in the warn record."""
    final = {
        (r["proto"], r["sport"]): r
        for r in recs
        if isinstance(r, dict) and r.get("t") == "conn" and r.get("final")
    }
    assert sorted(final) == [("tcp", 1000), ("udp", 5000)]
    assert final[("tcp", 1000)]["bytes"] == 2 * ((1 << 32) - 1)
    assert final[("tcp", 1000)]["packets"] == 2
    assert final[("udp", 5000)]["bytes"] == (1 << 32) - 1
    assert "vlan" not in final[("tcp", 1000)]
    assert "tls_version" not in final[("tcp", 1000)] or final[("tcp", 1000)]["tls_version"] <= U64
    warns = [r["msg"] for r in recs if isinstance(r, dict) and r.get("t") == "warn"]
    assert f"{len(DAMAGED)} damaged packet summaries skipped" in warns


def test_rn_track_msgpack_counts_out_of_range_summaries() -> None:
    stream = msgpack.packb([header(), *DAMAGED, *GOOD_PACKABLE], use_bin_type=True)
    p = run("rn-track", "--format", "msgpack", data=stream)
    check_tracked(msgpack_records(p.stdout))


@pytest.mark.parametrize("fmt", ["msgpack", "json"])
def test_rn_track_json_input_beyond_64_bits(fmt: str) -> None:
    beyond = [
        tcp(1.8, A, 1000, B, 80, ACK, wirelen=1 << 70),
        udp(1.9, A, 1 << 70, B, 53),
    ]
    stream = jsonl([header(), *DAMAGED, *beyond, *GOOD])
    p = run("rn-track", "--format", fmt, data=stream)
    recs = msgpack_records(p.stdout) if fmt == "msgpack" else [json.loads(x) for x in p.stdout.splitlines()]
    warns = [r["msg"] for r in recs if r.get("t") == "warn"]
    assert f"{len(DAMAGED) + 2} damaged packet summaries skipped" in warns
    final = [r for r in recs if r.get("t") == "conn" and r.get("final")]
    assert sorted(r["bytes"] for r in final) == [(1 << 32) - 1, 2 * ((1 << 32) - 1)]
    assert all("tls_version" not in r for r in final)  # 2**64 is beyond any record


def conn_beyond_64_bits() -> bytes:
    """A conn record with counters past 64 bits, as another program may write it (JSON has no limit)."""
    rec = {
        "t": "conn",
        "id": 1,
        "proto": "tcp",
        "src": "10.0.0.1",
        "sport": 1000,
        "dst": "10.0.0.2",
        "dport": 80,
        "state": "ESTABLISHED",
        "packets": 2,
        "bytes": 1 << 70,
        "packets_src": 2,
        "bytes_src": -(1 << 70),
        "packets_dst": 0,
        "bytes_dst": 0,
        "first_seen": 1.0,
        "last_seen": 2.0,
        "final": True,
        "end": "eof",
    }
    hdr = {"t": "hdr", "v": 1, "producer": "rn-track", "stages": ["rn-track"], "start": 1.0}
    return (json.dumps(hdr) + "\n" + json.dumps(rec) + "\n").encode()


def test_rn_enrich_msgpack_saturates_counters() -> None:
    p = run("rn-enrich", "--format", "msgpack", data=conn_beyond_64_bits())
    conn = [r for r in msgpack_records(p.stdout) if isinstance(r, dict) and r.get("t") == "conn"]
    assert [(r["bytes"], r["bytes_src"]) for r in conn] == [(U64, I64_MIN)]


def test_rn_view_json_saturates_counters() -> None:
    p = run("rn-view", "--json", data=conn_beyond_64_bits())
    conn = [json.loads(x) for x in p.stdout.splitlines()]
    assert [(r["bytes"], r["bytes_src"]) for r in conn if r.get("t") == "conn"] == [(U64, I64_MIN)]


def test_rustnet_read_json_counts_out_of_range_summaries(tmp_path: Path) -> None:
    rec = tmp_path / "rec.rn"
    rec.write_bytes(msgpack.packb([header(), *DAMAGED, *GOOD_PACKABLE], use_bin_type=True))
    p = run("rustnet", "--read", str(rec), "--json", data=b"")
    final = [json.loads(x) for x in p.stdout.splitlines()]
    assert sorted(r["bytes"] for r in final if r.get("t") == "conn") == [(1 << 32) - 1, 2 * ((1 << 32) - 1)]


def with_window(rec: list[Any], window: Any) -> list[Any]:
    rec = list(rec)
    rec[12] = window
    return rec


# A TCP window is 16 bits (unscaled): any other value damages its summary, like a wirelen past 32 bits.
# (JSON input reads a null window as absent, 0; MessagePack cannot carry an integer past 64 bits.)
BAD_WINDOWS = {
    "msgpack": [None, "x", 1.5, -1, 1 << 16, 1 << 63],
    "json": ["x", 1.5, -1, 1 << 16, 1 << 63, 1 << 70],
}


@pytest.mark.parametrize("fmt", ["msgpack", "json"])
@pytest.mark.parametrize("given", ["msgpack", "json"])
def test_rn_track_counts_summaries_with_a_window_out_of_range(given: str, fmt: str) -> None:
    # Each bad window sits on a pure ACK of the responder (the window the record shows) after data.
    good = [
        tcp(1.0, A, 1000, B, 80, SYN, 100),
        tcp(1.1, B, 80, A, 1000, SYN | ACK, 500, 101),
        tcp(1.2, A, 1000, B, 80, ACK | PSH, 101, 501, 10),
    ]
    windows = BAD_WINDOWS[given]
    bad = [with_window(tcp(1.3 + i / 100, B, 80, A, 1000, ACK, 501, 111), w) for i, w in enumerate(windows)]
    last = with_window(tcp(1.5, B, 80, A, 1000, ACK, 501, 111), 0xFFFF)  # the largest window: tracked
    recs_in = [header(), *good, *bad, last]
    stream = jsonl(recs_in) if given == "json" else msgpack.packb(recs_in, use_bin_type=True)
    p = run("rn-track", "--format", fmt, data=stream)
    recs = msgpack_records(p.stdout) if fmt == "msgpack" else [json.loads(x) for x in p.stdout.splitlines()]
    warns = [r["msg"] for r in recs if r.get("t") == "warn"]
    assert f"{len(windows)} damaged packet summaries skipped" in warns
    (final,) = [r for r in recs if r.get("t") == "conn" and r.get("final")]
    assert (final["packets"], final["window"]) == (len(good) + 1, 0xFFFF)
