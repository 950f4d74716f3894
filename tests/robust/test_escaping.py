"""Invisible and control characters from packets or records never reach a reader raw.

Hand-built packets carry names with a zero-width space (TLS SNI), a byte order mark (HTTP
Host) and a DNS label holding a dot; they go through the real commands, and what a user
reads (``jq -r``: the decoded JSON string, the log file, stderr) must show each one as a
visible escape, the way the TUI does.
"""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

import msgpack
import pytest

from tests.dpi_samples import client_hello
from tests.robust.util import cmd, tcp_session, udp, write_pcap

ZWSP = "\u200b"
BOM = "\ufeff"
# Characters no reader may get raw: format characters (Cf), separators, C0/C1 controls.
INVISIBLE = (ZWSP, BOM, "\u200d", "\u2060", "\u00ad", "\u202e", "\u2066", "\u2028", "\x1b", "\x9b")


def _dns_inner_dot_query() -> bytes:
    """A query for the labels ``paypal.com`` (one label, dot included) and ``evil``."""
    name = b"\x0apaypal.com\x04evil\x00"
    return struct.pack("!HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0) + name + struct.pack("!HH", 1, 1)


def _pcap(tmp_path: Path) -> Path:
    sni = f"pay{ZWSP}pal.com".encode()
    host = f"pay{BOM}pal.com".encode()
    frames = [
        *tcp_session("10.0.0.1", 40001, "10.0.0.2", 443, client_hello(sni=sni)),
        *tcp_session(
            "10.0.0.1", 40002, "10.0.0.2", 80, b"GET / HTTP/1.1\r\nHost: " + host + b"\r\nAccept: */*\r\n\r\n"
        ),
        udp("10.0.0.1", 40003, "10.0.0.3", 53, _dns_inner_dot_query()),
    ]
    path = tmp_path / "lookalike.pcap"
    write_pcap(path, frames)
    path.chmod(0o644)
    tmp_path.chmod(0o755)  # rustnet may read it as an unprivileged stage user
    return path


def _finals(stdout: bytes) -> list[dict[str, object]]:
    recs = [json.loads(line) for line in stdout.decode().splitlines() if line.strip()]
    return [r for r in recs if r.get("t", "conn") == "conn" and r.get("final") is True]


def _assert_visible(finals: list[dict[str, object]]) -> None:
    by_app = {r.get("app"): r for r in finals}
    # What `jq -r .sni` prints is the decoded string: it must hold the escape, not the character.
    assert by_app["TLS"]["sni"] == "pay\\u200bpal.com"
    assert by_app["HTTP"]["http_host"] == "pay\\ufeffpal.com"
    assert by_app["DNS"]["dns_query"] == "paypal\\.com.evil"  # one label with a dot, then "evil"
    for rec in finals:
        for value in rec.values():
            if isinstance(value, str):
                assert value.isprintable(), value


def test_pipeline_json_shows_invisible_characters_escaped(tmp_path: Path) -> None:
    pcap = _pcap(tmp_path)
    stages = f"{cmd('rn-capture')} -r '{pcap}' | {cmd('rn-dissect')} | {cmd('rn-track')} --format json"
    sh = f"set -o pipefail; {stages}"
    p = subprocess.run(["bash", "-c", sh], capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    for ch in INVISIBLE:
        assert ch.encode() not in p.stdout
    _assert_visible(_finals(p.stdout))


def test_rustnet_json_shows_invisible_characters_escaped(tmp_path: Path) -> None:
    pcap = _pcap(tmp_path)
    p = subprocess.run(
        [cmd("rustnet"), "--read", str(pcap), "--json"],
        capture_output=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        cwd=tmp_path,
    )
    assert p.returncode == 0, p.stderr
    _assert_visible(_finals(p.stdout))


HOSTILE_TEXT = "a\u200bb\ufeffc\u00add\u2060e\u202ef\x1bg\x9bh\u2028i\u0007"
HOSTILE_SEEN = "a\\u200bb\\ufeffc\\xadd\\u2060e\\u202ef\\x1bg\\x9bh\\u2028i\\x07"


def _hostile_stream(path: Path) -> None:
    """A recorded stream whose text was never escaped (not written by rn-dissect)."""
    recs = [
        {
            "t": "hdr",
            "v": 1,
            "producer": "rn-track 0.1.0",
            "linktype": 1,
            "source": HOSTILE_TEXT,
            "live": False,
        },
        {"t": "warn", "ts": 1.0, "stage": "rn-track", "msg": HOSTILE_TEXT},
        {
            "t": "conn",
            "id": 1,
            "proto": "TCP",
            "src": "10.0.0.1",
            "sport": 1,
            "dst": "10.0.0.2",
            "dport": 443,
            "state": "ESTABLISHED",
            "sni": HOSTILE_TEXT,
            "final": True,
            "end": "eof",
        },
    ]
    path.write_bytes(msgpack.packb(recs, use_bin_type=True))
    path.chmod(0o644)
    path.parent.chmod(0o755)


@pytest.mark.parametrize("argv", [["rn-view", "--json"], ["rustnet", "--json", "--read"]])
def test_json_of_a_hostile_recording_is_escaped(tmp_path: Path, argv: list[str]) -> None:
    rec = tmp_path / "hostile.rn"
    _hostile_stream(rec)
    p = subprocess.run(
        [cmd(argv[0]), *argv[1:], str(rec)], capture_output=True, timeout=60, stdin=subprocess.DEVNULL
    )
    assert p.returncode == 0, p.stderr
    (final,) = _finals(p.stdout)
    assert final["sni"] == HOSTILE_SEEN  # `jq -r .sni` prints the escapes


def test_log_lines_show_invisible_characters_escaped(tmp_path: Path) -> None:
    rec = tmp_path / "hostile.rn"
    _hostile_stream(rec)
    p = subprocess.run(
        [cmd("rustnet"), "--read", str(rec), "--json", "-l", "info"],
        capture_output=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        cwd=tmp_path,
    )
    assert p.returncode == 0, p.stderr
    log = "".join(f.read_text() for f in (tmp_path / "logs").iterdir())
    assert HOSTILE_SEEN in log  # the warn record and the header's source, as logged
    for ch in INVISIBLE:
        assert ch not in log


def test_error_messages_show_invisible_characters_escaped(tmp_path: Path) -> None:
    # A damaged recording whose name holds a zero-width space: the one-line error names it
    # escaped by the same rule as everything else (other scripts stay readable).
    rec = tmp_path / f"café-pay{ZWSP}pal\u202e.rn"
    rec.write_bytes(msgpack.packb([{"t": "conn", "id": 1}], use_bin_type=True)[:-3])
    p = subprocess.run([cmd("rn-view"), "--json", str(rec)], capture_output=True, timeout=60)
    assert p.returncode == 3
    err = p.stderr.decode()
    assert "café-pay\\u200bpal\\u202e.rn" in err and ZWSP not in err and "\u202e" not in err
