"""rn-track as a command: formats, options, damaged input, SIGINT drain."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import msgpack
import pytest
from rustnet.stream.records import to_json_obj

from tests.track_util import ACK, FIN, A, B, C, handshake, header, tcp, udp

RN_TRACK = shutil.which("rn-track", path=str(Path(sys.executable).parent)) or "rn-track"


def jsonl(recs: list[Any]) -> bytes:
    return b"".join(json.dumps(to_json_obj(r)).encode() + b"\n" for r in recs)


def msgpack_frames(recs: list[Any]) -> bytes:
    return msgpack.packb(recs, use_bin_type=True)


def track(data: bytes, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([RN_TRACK, "--format", "json", *args], input=data, capture_output=True, timeout=60)


def parse(out: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


STREAM = [
    header(),
    *handshake(10.0),
    tcp(10.1, A, 40000, B, 80, ACK, 1001, 5001, 500),
    tcp(11.0, A, 40000, B, 80, FIN | ACK, 1501, 5001),
    tcp(11.01, B, 80, A, 40000, FIN | ACK, 5001, 1502),
    tcp(11.02, A, 40000, B, 80, ACK, 1502, 5002),
    udp(12.0, C, 5000, A, 53),
]


@pytest.mark.parametrize("encode", [jsonl, msgpack_frames])
def test_json_and_msgpack_input(encode: Any) -> None:
    p = track(encode(STREAM))
    assert p.returncode == 0, p.stderr
    recs = parse(p.stdout)
    assert recs[0]["t"] == "hdr" and recs[0]["stages"][-1] == "rn-track"
    conns = [r for r in recs if r["t"] == "conn"]
    final = {r["id"]: r for r in conns if r.get("final")}
    assert sorted((r["proto"], r["state"], r["packets"]) for r in final.values()) == [
        ("tcp", "TIME_WAIT", 7),
        ("udp", "DNS_QUERY", 1),
    ]


def test_timeout_options(tmp_path: Path) -> None:
    cfg = tmp_path / "t.toml"
    cfg.write_text('"tcp.closed" = 0.5\n')
    p = track(jsonl(STREAM), "--timeouts", str(cfg))
    ended = [r for r in parse(p.stdout) if r.get("final")]
    assert [r["end"] for r in ended if r["proto"] == "tcp"] == ["timeout"]  # expired at 12.0, before the end
    p = track(jsonl(STREAM), "--timeout", "tcp.closed=100")
    assert [r["end"] for r in parse(p.stdout) if r.get("final") and r["proto"] == "tcp"] == ["eof"]


@pytest.mark.parametrize(
    "args",
    [
        ["--timeout", "bogus=1"],
        ["--timeout", "tcp.closed=x"],
        ["--timeouts", "/nonexistent/t.toml"],
        ["--max-connections", "0"],
    ],
)
def test_usage_errors(args: list[str]) -> None:
    p = track(b"", *args)
    assert p.returncode == 2
    assert b"Traceback" not in p.stderr and p.stderr.strip()


def test_damaged_stream_keeps_what_came_before() -> None:
    data = msgpack_frames(STREAM[:4]) + msgpack_frames(STREAM[4:])[:-7]
    p = track(data)
    assert p.returncode == 3, p.stderr
    assert b"rn-track:" in p.stderr and b"Traceback" not in p.stderr
    final = [r for r in parse(p.stdout) if r.get("final")]
    # Every complete record before the cut counts (frames are decoded element by element): the TCP
    # connection is whole, the UDP summary was cut.
    assert [(r["proto"], r["packets"]) for r in final] == [("tcp", 7)]


def test_max_connections_and_warning() -> None:
    recs = [header()] + [udp(1.0 + i * 0.01, A, 1000 + i, B, 9) for i in range(100)]
    p = track(jsonl(recs), "--max-connections", "20")
    out = parse(p.stdout)
    final = [r for r in out if r.get("final")]
    assert len(final) == 100 and sum(r["end"] == "evicted" for r in final) >= 80
    assert any(r["t"] == "warn" and "evicted" in r["msg"] for r in out)


def test_sigint_drains_input_then_writes_final_records() -> None:
    p = subprocess.Popen(
        [RN_TRACK, "--format", "json"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert p.stdin is not None
    try:
        p.stdin.write(jsonl(STREAM[:4]))
        p.stdin.flush()
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)
        time.sleep(0.2)
        out, err = p.communicate(jsonl(STREAM[4:]), timeout=30)  # still read: draining
    finally:
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
    final = {r["id"]: r for r in parse(out) if r.get("final")}
    assert sorted(r["packets"] for r in final.values()) == [1, 7], err


def test_sigusr1_writes_a_snapshot() -> None:
    p = subprocess.Popen(
        [RN_TRACK, "--format", "json"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert p.stdin is not None and p.stdout is not None
    try:
        p.stdin.write(jsonl([header(), *handshake(10.0)]))
        p.stdin.flush()
        time.sleep(0.5)
        p.send_signal(signal.SIGUSR1)
        time.sleep(1.5)  # the read loop ticks about once a second while input is quiet
        p.stdin.write(jsonl([udp(10.5, C, 1, A, 2)]))
        out, err = p.communicate(b"", timeout=30)
    finally:
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
    snaps = [r for r in parse(out) if r.get("snapshot")]
    assert [(r["proto"], r["packets"], r["state"]) for r in snaps] == [("tcp", 3, "ESTABLISHED")], err


def test_snapshot_every_option() -> None:
    recs = [header()] + [udp(1.0 + i, A, 1, B, 2) for i in range(25)]
    out = parse(track(jsonl(recs), "--snapshot-every", "10", "-r", "100000").stdout)
    assert len([r for r in out if r.get("snapshot")]) == 2  # at 11 s and 21 s of packet time
