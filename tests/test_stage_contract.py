"""The contract every record-consuming command shares (SPEC.md "The record stream").

Each stage is run as a real command over streams made here: empty, header only,
JSON in, unknown record types, cut in the middle, corrupt, a newer format version,
``| head``, and a terminal on stdout.
"""

from __future__ import annotations

import json
import os
import pty
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import msgpack
import pytest
from rustnet.stream.records import FORMAT_VERSION, make_header

from tests.corpus import PCAPS as CORPUS

BIN = Path(sys.executable).parent
STAGES = ["rn-dissect", "rn-track", "rn-enrich", "rn-export"]
# rn-export needs a collector: a UDP socket that takes its messages (and never answers).
_SINK = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
_SINK.bind(("127.0.0.1", 0))
EXTRA = {"rn-export": ["--ipfix", f"127.0.0.1:{_SINK.getsockname()[1]}"]}


def header() -> dict[str, object]:
    return make_header("rn-capture 0.1.0", 1, "test.pcap", False, 262144, 1700000000.0)


def packets_from(pcap: Path) -> list[list[object]]:
    import pcapy

    reader = pcapy.open_offline(str(pcap))
    out: list[list[object]] = []
    while True:
        hdr, data = reader.next()
        if not hdr:
            return out
        sec, usec = hdr.getts()
        out.append(["pkt", sec + usec / 1e6, hdr.getlen(), data])


def stream(*frames: list[object]) -> bytes:
    return b"".join(msgpack.packb(f, use_bin_type=True) for f in frames)


def run(cmd: str, data: bytes, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(BIN / cmd), *EXTRA.get(cmd, []), *args], input=data, capture_output=True, timeout=timeout
    )


def json_records(out: bytes) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.decode().splitlines() if line.strip()]


pytestmark = pytest.mark.parametrize("cmd", STAGES)


def test_empty_input_is_a_quiet_success(cmd: str) -> None:
    p = run(cmd, b"", "--format", "json")
    assert p.returncode == 0, p.stderr
    assert b"Traceback" not in p.stderr


def test_header_only_passes_the_header_on(cmd: str) -> None:
    p = run(cmd, stream([header()]), "--format", "json")
    assert p.returncode == 0, p.stderr
    recs = json_records(p.stdout)
    assert recs and recs[0]["t"] == "hdr" and recs[0]["v"] == FORMAT_VERSION
    assert cmd in recs[0]["stages"]  # type: ignore[operator]


def test_unknown_record_types_pass_through_in_order(cmd: str) -> None:
    odd = {"t": "from-the-future", "payload": [1, 2, 3]}
    p = run(cmd, stream([header(), odd, ["novel-positional", 7]]), "--format", "json")
    assert p.returncode == 0, p.stderr
    recs = json_records(p.stdout)
    types = [r["t"] for r in recs]
    assert "from-the-future" in types and "novel-positional" in types
    assert types.index("from-the-future") < types.index("novel-positional")


def test_json_input_is_detected(cmd: str) -> None:
    lines = json.dumps(header()) + "\n" + json.dumps({"t": "from-the-future", "x": 1}) + "\n"
    p = run(cmd, lines.encode(), "--format", "json")
    assert p.returncode == 0, p.stderr
    assert [r["t"] for r in json_records(p.stdout)][:2] == ["hdr", "from-the-future"]


def test_a_cut_stream_keeps_what_came_before_and_exits_3(cmd: str) -> None:
    odd = [{"t": "from-the-future", "n": i} for i in range(50)]
    data = stream([header(), *odd])
    p = run(cmd, data[: len(data) - 5], "--format", "json")
    assert p.returncode == 3, p.stderr
    assert len(p.stderr.decode().strip().splitlines()) == 1
    assert b"Traceback" not in p.stderr
    kept = [r for r in json_records(p.stdout) if r["t"] == "from-the-future"]
    assert len(kept) == 49


def test_corrupt_bytes_exit_3_with_one_line(cmd: str) -> None:
    p = run(cmd, stream([header()]) + b"\xc1\xc1\xc1\xc1", "--format", "json")
    assert p.returncode == 3
    assert len(p.stderr.decode().strip().splitlines()) == 1 and b"Traceback" not in p.stderr


def test_a_newer_format_version_is_refused(cmd: str) -> None:
    p = run(cmd, stream([dict(header(), v=FORMAT_VERSION + 5)]), "--format", "json")
    assert p.returncode == 3
    assert b"newer" in p.stderr and b"Traceback" not in p.stderr


def test_concatenated_recordings_are_not_damage(cmd: str) -> None:
    one = stream([header(), {"t": "from-the-future", "n": 1}])
    p = run(cmd, one + one, "--format", "json")
    assert p.returncode == 0, p.stderr
    assert sum(1 for r in json_records(p.stdout) if r["t"] == "hdr") == 2


def test_a_closed_pipe_ends_quietly(cmd: str) -> None:
    pkts = packets_from(CORPUS / "ndpi_chrome.pcap") * 20
    data = stream([header()], *[pkts[i : i + 200] for i in range(0, len(pkts), 200)])
    with tempfile.TemporaryFile() as f:
        f.write(data)
        f.seek(0)
        p = subprocess.run(
            f"{BIN / cmd} {' '.join(EXTRA.get(cmd, []))} --format json | head -n 1",
            shell=True,
            stdin=f,
            capture_output=True,
            timeout=60,
            executable="/bin/bash",
        )
    assert p.returncode == 0
    assert p.stderr == b"", p.stderr


def test_binary_output_to_a_terminal_is_refused(cmd: str) -> None:
    master, slave = pty.openpty()
    try:
        p = subprocess.run(
            [str(BIN / cmd), *EXTRA.get(cmd, [])],
            input=stream([header()]),
            stdout=slave,
            stderr=subprocess.PIPE,
            timeout=30,
        )
    finally:
        os.close(slave)
        os.close(master)
    assert p.returncode == 2
    assert b"--format json" in p.stderr
