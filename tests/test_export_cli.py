"""rn-export as a command: records keep flowing whatever the collector does; TCP sessions; usage."""

from __future__ import annotations

import json
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import msgpack
import pytest
from rustnet.stream.records import make_header

from tests.test_export_ipfix import conn, read_messages

BIN = Path(sys.executable).parent
EXPORT = str(BIN / "rn-export")


def stream(recs: list[Any]) -> bytes:
    return b"".join(msgpack.packb(r, use_bin_type=True) for r in recs)


def header() -> dict[str, Any]:
    return make_header("rn-track 0.1.0", 1, "test.pcap", False, 262144, 1700000000.0)


RECS = [conn(id=i, sport=1000 + i) for i in range(50)]


def json_records(out: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.decode().splitlines() if line.strip()]


def closed_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_a_collector_that_is_down_costs_only_counted_errors(transport: str) -> None:
    port = closed_port(socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM)
    args = ["--tcp"] if transport == "tcp" else []
    proc = subprocess.Popen(
        [EXPORT, "--ipfix", f"127.0.0.1:{port}", *args, "--format", "json"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None
    proc.stdin.write(stream([header(), *RECS[:25]]))
    proc.stdin.flush()
    time.sleep(2.5)  # the flows leave at a tick; the refusal is heard at a later one
    stdout, stderr = proc.communicate(stream(RECS[25:]), timeout=60)
    assert proc.returncode == 0, stderr
    out = json_records(stdout)
    assert [r for r in out if r["t"] == "conn"] == RECS  # every record still flows
    # the viewer is told too (its status bar shows warn records)
    assert [r["msg"][:13] for r in out if r["t"] == "warn"] == ["export error:"]
    err = stderr.decode()
    assert "export error" in err and "errors" in err and "Connection refused" in err
    assert all(line.startswith("rn-export: ") for line in err.splitlines())
    if transport == "tcp":  # nothing could be sent: every flow is counted as dropped
        assert "0 flows sent, 50 dropped" in err, err
    else:  # datagrams leave (whether anyone hears them UDP cannot tell); refusals are counted
        assert "50 flows sent, 0 dropped" in err, err
    assert "Traceback" not in err


class TcpCollector:
    """Accepts connections and keeps each one's bytes; closes the first one after ``cut`` bytes."""

    def __init__(self, cut: int = 0) -> None:
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(4)
        self.port = int(self.server.getsockname()[1])
        self.cut = cut
        self.sessions: list[bytearray] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.server.settimeout(30)
        try:
            while True:
                c, _ = self.server.accept()
                data = bytearray()
                self.sessions.append(data)
                with c:
                    c.settimeout(30)
                    while True:
                        chunk = c.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                        if self.cut and len(self.sessions) == 1 and len(data) >= self.cut:
                            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                            break  # a reset: the exporter's next send fails
        except OSError:
            pass

    def close(self) -> None:
        self.server.close()
        self.thread.join(5)


def split(data: bytes) -> list[bytes]:
    """A TCP session's messages, by the length in each header (RFC 7011 §10.4.1)."""
    out, pos = [], 0
    while pos < len(data):
        length = struct.unpack("!H", data[pos + 2 : pos + 4])[0]
        out.append(bytes(data[pos : pos + length]))
        pos += length
    return out


def test_tcp_session_starts_with_templates_and_numbers_from_zero() -> None:
    col = TcpCollector()
    try:
        p = subprocess.run(
            [EXPORT, "--ipfix", f"127.0.0.1:{col.port}", "--tcp", "--format", "json"],
            input=stream([header(), *RECS]),
            capture_output=True,
            timeout=60,
        )
        assert p.returncode == 0, p.stderr
        assert p.stderr == b""
        deadline = time.monotonic() + 10
        while not col.sessions and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        col.close()
    assert len(col.sessions) == 1
    messages = split(col.sessions[0])
    assert struct.unpack("!H", messages[0][16:18])[0] == 2  # the template set comes first
    flows, seqs = read_messages(messages)
    assert sorted(int.from_bytes(f[(0, 7)], "big") for f in flows) == [r["sport"] for r in RECS]
    assert seqs[0][0] == 0


def test_tcp_reconnects_after_the_collector_drops_it() -> None:
    col = TcpCollector(cut=16)
    proc = subprocess.Popen(
        [EXPORT, "--ipfix", f"127.0.0.1:{col.port}", "--tcp", "--format", "json"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None
    try:
        proc.stdin.write(stream([header(), conn(id=1, sport=1)]))
        proc.stdin.flush()
        deadline = time.monotonic() + 20
        n = 2
        # keep records coming (a second apart) until a second session carries flows
        while time.monotonic() < deadline:
            time.sleep(0.5)
            proc.stdin.write(stream([conn(id=n, sport=n)]))
            proc.stdin.flush()
            n += 1
            if len(col.sessions) >= 2 and len(col.sessions[1]) > 200:
                break
        out, err = proc.communicate(b"", timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        col.close()
    assert proc.returncode == 0, err
    assert len([r for r in json_records(out) if r["t"] == "conn"]) == n - 1  # nothing held back
    assert len(col.sessions) >= 2
    second = split(col.sessions[1])
    # a new transport session: templates first again, sequence numbers from 0
    assert struct.unpack("!H", second[0][16:18])[0] == 2
    flows, seqs = read_messages(second)
    assert flows and seqs[0][0] == 0
    assert b"export error" in err


def test_sigterm_ends_at_once_sigint_drains() -> None:
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.settimeout(5)
    try:
        for sig in (signal.SIGTERM, signal.SIGINT):
            proc = subprocess.Popen(
                [EXPORT, "--ipfix", f"127.0.0.1:{sink.getsockname()[1]}", "--format", "json"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            assert proc.stdin is not None
            proc.stdin.write(stream([header(), *RECS[:10]]))
            proc.stdin.flush()
            time.sleep(1.0)
            proc.send_signal(sig)
            time.sleep(0.2)
            later = stream(RECS[10:]) if sig == signal.SIGINT else b""
            try:
                out, err = proc.communicate(later, timeout=30)
            except BrokenPipeError:
                out, err = proc.communicate(timeout=30)
            assert b"Traceback" not in err
            if sig == signal.SIGTERM:
                assert proc.returncode == 143, err
                continue
            # the first SIGINT: input is read to its end, every record passes and is exported
            assert proc.returncode == 0, err
            assert [r for r in json_records(out) if r["t"] == "conn"] == RECS
            messages: list[bytes] = []
            ports: list[int] = []
            while len([p for p in ports if p >= 1010]) < len(RECS) - 10:
                messages.append(sink.recv(65535))
                flows, _ = read_messages(messages)
                ports = [int.from_bytes(f[(0, 7)], "big") for f in flows]
            assert sorted(p for p in ports if p >= 1010) == [r["sport"] for r in RECS[10:]]
    finally:
        sink.close()


@pytest.mark.parametrize(
    "args, status, message",
    [
        ([], 2, "Missing option '--ipfix'"),
        (["--ipfix", "collector"], 2, "is not HOST:PORT"),
        (["--ipfix", "::1:4739"], 2, "brackets"),
        (["--ipfix", "127.0.0.1:70000"], 2, "is not HOST:PORT"),
        (["--ipfix", "no-such-host.invalid:4739"], 1, "rn-export: --ipfix no-such-host.invalid:4739: "),
        (["--ipfix", "127.0.0.1:4739", "/nonexistent/x.rn"], 1, "rn-export: /nonexistent/x.rn: No such file"),
    ],
)
def test_usage_and_runtime_errors_are_one_line(args: list[str], status: int, message: str) -> None:
    p = subprocess.run(
        [EXPORT, *args, "--format", "json"], stdin=subprocess.DEVNULL, capture_output=True, timeout=60
    )
    assert p.returncode == status, p.stderr
    assert message in p.stderr.decode()
    assert b"Traceback" not in p.stderr
