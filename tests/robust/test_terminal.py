"""Terminal safety end to end: attacks in packet data never reach an output raw.

A capture (tests/robust/hostile.py) puts an OSC 52 clipboard write, a clear screen,
a C1 CSI (U+009B), a bidi override (U+202E) and invalid UTF-8 into an HTTP Host,
User-Agent and path, a TLS SNI, a DNS name, SSH banners both ways and a QUIC
CONNECTION_CLOSE reason. It goes through the real pipeline into every output:
``rn-track --format json``, ``rn-view --table`` and ``--json``, the TUI on a pty, stderr
and the ``rustnet -l trace`` log. A recording whose strings carry the raw attacks
(records from an untrusted producer) goes to the same outputs. Each output must hold
none of the raw sequences, be valid UTF-8, and show the escaped form visibly.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from rustnet.stream.records import make_header

from tests.robust import hostile
from tests.robust.util import cmd, json_lines, pack

# Raw bytes no output may contain (beyond the packets' own: the recording's).
RAW_ATTACKS = (*hostile.FORBIDDEN, b"\x1b]0;", "\u2066".encode(), "\u0085".encode())
FIELDS = (
    "http_host",
    "http_user_agent",
    "http_path",
    "sni",
    "dns_query",
    "ssh_client",
    "ssh_server",
    "quic_close_reason",
)

RAW = "\x1b]52;c;cHduZWQ=\x07\x1b[2J\x9b31m\u202e\u2066\x1b]0;T\x07\u0085"


def assert_inert(data: bytes, where: str, allow_esc: bool = False) -> None:
    for bad in RAW_ATTACKS:
        assert bad not in data, (where, bad)
    if not allow_esc:
        assert b"\x1b" not in data, where
    data.decode("utf-8")  # raises on invalid UTF-8


@pytest.fixture(scope="module")
def evil_pcap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hostile.write(tmp_path_factory.mktemp("evil") / "evil.pcap")


@pytest.fixture(scope="module")
def evil_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Connection, warn and header records whose strings hold raw attacks (an untrusted producer)."""
    hdr = make_header("rn-track 0.1.0", 1, "src" + RAW, False, 262144, 1_700_000_000.0)
    conn: dict[str, Any] = {
        "t": "conn",
        "id": 1,
        "proto": "tcp" + RAW,
        "src": "10.0.0.1" + RAW,
        "sport": 1,
        "dst": "10.0.0.2",
        "dport": 443,
        "state": "ESTABLISHED" + RAW,
        "packets": 1,
        "bytes": 60,
        "packets_src": 1,
        "bytes_src": 60,
        "packets_dst": 0,
        "bytes_dst": 0,
        "first_seen": 1_700_000_000.0,
        "last_seen": 1_700_000_000.5,
        "rate_src": 0,
        "rate_dst": 0,
        "app": "TLS" + RAW,
        "sni": "s" + RAW,
        "process": "p" + RAW,
        "service": "v" + RAW,
        "dns_answers": ["a" + RAW],
        "http_host": ["h" + RAW],
        "ssh_client": {"k": "c" + RAW},
        "final": True,
        "end": "eof" + RAW,
    }
    warn = {"t": "warn", "ts": 1_700_000_000.0, "stage": "rn-x" + RAW, "msg": "m" + RAW}
    f = tmp_path_factory.mktemp("evilrn") / "evil.rn"
    f.write_bytes(pack(hdr, [conn, warn]))
    return f


def _pipeline_json(pcap: Path) -> subprocess.CompletedProcess[bytes]:
    line = f"{cmd('rn-capture')} -r {pcap} | {cmd('rn-dissect')} | {cmd('rn-track')} --format json"
    return subprocess.run(line, shell=True, capture_output=True, timeout=60, executable="/bin/bash")


def test_track_json_holds_every_field_escaped(evil_pcap: Path) -> None:
    p = _pipeline_json(evil_pcap)
    assert p.returncode == 0, p.stderr
    assert_inert(p.stdout, "rn-track --format json")
    assert_inert(p.stderr, "stderr")
    seen: dict[str, list[str]] = {}
    for r in json_lines(p.stdout):
        for f in FIELDS:
            if isinstance(r.get(f), str):
                seen.setdefault(f, []).append(r[f])
    assert sorted(seen) == sorted(FIELDS), "every hostile field must be dissected (else this proves nothing)"
    assert len(seen["sni"]) == 2  # TLS and QUIC
    for f, values in seen.items():
        for v in values:
            assert hostile.ESCAPED_MARK in v, (f, v)
            assert "\\xff\\xfe" in v, (f, v)  # invalid UTF-8 shown as byte escapes


@pytest.mark.parametrize("mode", ["--table", "--json"])
def test_viewer_dump_of_the_capture(evil_pcap: Path, mode: str) -> None:
    p = subprocess.run([cmd("rn-view"), "--read", str(evil_pcap), mode], capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert_inert(p.stdout, f"rn-view {mode}")
    assert_inert(p.stderr, "stderr")
    assert "\\x1b]52;c;cHduZWQ=" in p.stdout.decode()


@pytest.mark.parametrize(
    "argv",
    [
        ["rn-view", "--table", "--show-closed"],
        ["rn-view", "--json"],
        ["rustnet", "--json", "--read"],
        ["rn-enrich", "--format", "json"],
    ],
)
def test_outputs_of_a_hostile_recording(evil_recording: Path, argv: list[str]) -> None:
    p = subprocess.run([cmd(argv[0]), *argv[1:], str(evil_recording)], capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert_inert(p.stdout, " ".join(argv))
    assert_inert(p.stderr, "stderr")
    assert "52;c;cHduZWQ=" in p.stdout.decode()  # the field is there, escaped


def test_stderr_and_log_of_rustnet(evil_pcap: Path, evil_recording: Path, tmp_path: Path) -> None:
    # A hostile file name too: it ends up in messages.
    name = tmp_path / ("x" + RAW.replace("/", "") + ".pcap")
    name.write_bytes(evil_pcap.read_bytes()[:-7])  # cut: a damage warning that names the file
    for src in (evil_pcap, evil_recording, name):
        p = subprocess.run(
            [cmd("rustnet"), "--read", str(src), "--json", "-l", "trace"],
            capture_output=True,
            timeout=60,
            cwd=tmp_path,
        )
        assert p.returncode in (0, 3), p.stderr
        assert_inert(p.stdout, "stdout")
        assert_inert(p.stderr, "stderr")
    logs = list((tmp_path / "logs").iterdir())
    # Logs are named to the second; a run in the same second as another waits for a new name.
    assert logs
    for log in logs:
        text = log.read_bytes()
        assert_inert(text, log.name)
    assert any(b"52;c;cHduZWQ=" in log.read_bytes() for log in logs)  # records were logged


@pytest.mark.parametrize("prog", ["rn-dissect", "rn-track", "rn-enrich", "rn-view"])
def test_stage_messages_escape_a_hostile_file_name(tmp_path: Path, prog: str) -> None:
    name = tmp_path / ("x" + RAW.replace("/", "") + ".rn")
    name.write_bytes(b"\xc1\xc1")
    p = subprocess.run(
        [cmd(prog), "--json" if prog == "rn-view" else "--format=json", str(name)],
        capture_output=True,
        timeout=60,
    )
    assert p.returncode == 3
    assert_inert(p.stderr, "stderr")
    assert_inert(p.stdout, "stdout")
    assert b"\\x1b]52;c;cHduZWQ=" in p.stderr
    missing = subprocess.run([cmd(prog), str(name) + "-missing"], capture_output=True, timeout=60)
    assert missing.returncode in (1, 2) and b"Traceback" not in missing.stderr
    assert b"internal error" not in missing.stderr


# --- the TUI on a real pty --------------------------------------------------------------------
@pytest.mark.tui
def test_tui_shows_packet_attacks_escaped(evil_pcap: Path, evil_recording: Path) -> None:
    from tests.tui.harness import PtyView

    for src, rows in ((evil_pcap, 5), (evil_recording, 1)):
        v = PtyView(["--read", str(src)], cols=200, rows=30)
        try:
            v.wait_for("52;c;cHduZWQ=", timeout=20)
            for _ in range(rows):  # the details of every connection
                v.send("enter")
                v.pump(0.3)
                v.send("esc", "j")
            v.send("q", "q")
            assert v.wait_exit() == 0
        finally:
            v.close()
        raw = bytes(v.raw)
        for bad in RAW_ATTACKS:
            assert bad not in raw, (src.name, bad)
        assert v.screen.title == ""
