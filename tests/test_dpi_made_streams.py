"""Streams that start where they seem not to, checked against tshark on captures made for them
(tests/data/made/, each with the script that made it):

* keepalive.pcap (crafted): connections picked up mid-stream whose first client segment is a
  keep-alive probe, a retransmission or a stray out-of-window segment; the requests, hellos
  and identifications after it are read as tshark reads each segment on its own.
* ssh-prelines.pcap (real OpenSSH client): servers that send 50, 1000, 1023 lines and one line
  of 8192 bytes before their identification (OpenSSH goes on to KEXINIT), and 1024 lines
  (OpenSSH gives up, and no server identification may be reported).
* starttls.pcap (real ``openssl s_client -starttls``): SMTP, IMAP, POP3 and FTP upgraded to TLS;
  the SNI, ALPN and version are those tshark reads, the upgraded protocol the one tshark
  dissected before the TLS.

rn-capture -r | rn-dissect | rn-track --format json is compared field by field, and every
name we report must be one tshark reads (no false value).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BIN = Path(sys.executable).parent
MADE = Path(__file__).parent / "data" / "made"

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


def finals(path: Path) -> dict[int, dict[str, Any]]:
    """The final connection records of the pipeline, by the client's (the higher) port."""
    cap = subprocess.run(
        [str(BIN / "rn-capture"), "-r", str(path)], capture_output=True, timeout=60, check=True
    )
    dis = subprocess.run(
        [str(BIN / "rn-dissect")], input=cap.stdout, capture_output=True, timeout=60, check=True
    )
    out = subprocess.run(
        [str(BIN / "rn-track"), "--format", "json"],
        input=dis.stdout,
        capture_output=True,
        timeout=60,
        check=True,
    )
    conns: dict[int, dict[str, Any]] = {}
    for line in out.stdout.decode().splitlines():
        rec = json.loads(line)
        if rec.get("t") == "conn" and rec.get("final"):
            conns[max(rec["sport"], rec["dport"])] = rec
    return conns


def tshark_rows(path: Path, fields: list[str], *args: str) -> list[list[str]]:
    cmd = ["tshark", "-r", str(path), *args, "-T", "fields", "-E", "occurrence=f"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, timeout=60, check=True).stdout.decode()
    return [ln.split("\t") for ln in out.splitlines()]


OURS = ("http_method", "http_host", "http_path", "sni", "alpn", "ssh_client", "ssh_server")


def test_probes_retransmissions_and_stray_segments_do_not_anchor_a_stream() -> None:
    path = MADE / "keepalive.pcap"
    # Each segment on its own (every request, hello and identification here fits in one), so
    # no stray segment can hide what follows it from tshark either.
    rows = tshark_rows(
        path,
        ["tcp.srcport", "http.request.method", "http.host", "http.request.uri"]
        + ["tls.handshake.extensions_server_name", "tls.handshake.extensions_alpn_str", "ssh.protocol"],
        "-o",
        "tcp.desegment_tcp_streams:FALSE",
        "-o",
        "tcp.analyze_sequence_numbers:FALSE",
        "-d",
        "tcp.port==8080,http",
    )
    want: dict[int, dict[str, Any]] = {}
    servers = {80, 443, 22, 8080}
    for port, method, host, uri, sni, alpn, ident in rows:
        sport = int(port)
        client = sport not in servers
        w = want.setdefault(sport if client else -1, {})
        if method:
            for k, v in (("http_method", method), ("http_host", host), ("http_path", uri)):
                w.setdefault(k, v)  # the first request of the connection
        if sni:
            w["sni"], w["alpn"] = sni, alpn.split(",")
        if ident:
            w["ssh_client" if client else "ssh_server"] = ident
    # The one server identification belongs to the SSH connection's client (port 40003).
    want[40003]["ssh_server"] = want.pop(-1)["ssh_server"]
    got = finals(path)
    assert sorted(got) == sorted(want) == list(range(40000, 40008))
    for port, w in want.items():
        assert {k: got[port][k] for k in OURS if k in got[port]} == w, port


def test_server_lines_before_the_ssh_identification_as_openssh_reads_them() -> None:
    path = MADE / "ssh-prelines.pcap"
    decode = ["-d", "tcp.port==2200-2204,ssh"]
    # OpenSSH's verdict: its client goes on to send KEXINIT once it read the identification.
    kex = {
        int(p)
        for p, _ in tshark_rows(path, ["tcp.srcport", "tcp.dstport"], "-Y", "ssh.message_code==20", *decode)
    }
    # The server's bytes as tshark reads them, in order: lines, then the identification.
    stream: dict[int, bytes] = {}
    for sport, dport, payload in tshark_rows(
        path, ["tcp.srcport", "tcp.dstport", "tcp.payload"], "-Y", "tcp.len>0"
    ):
        if 2200 <= int(sport) <= 2204 and payload:
            stream[int(dport)] = stream.get(int(dport), b"") + bytes.fromhex(payload.replace(":", ""))
    assert len(stream) == 5
    got = finals(path)
    for client, data in stream.items():
        lines = data.split(b"\r\n")
        first = next(i for i, ln in enumerate(lines) if ln.startswith(b"SSH-"))
        rec = got[client]
        assert rec["ssh_client"].startswith("SSH-2.0-OpenSSH")
        if client in kex:
            assert first <= 1023 and max(map(len, lines[:first]), default=0) <= 8192
            assert rec["ssh_server"] == lines[first].decode(), first
        else:
            assert first == 1024  # OpenSSH: "No SSH version received in first 1024 lines"
            assert "ssh_server" not in rec
    assert len(kex) == 4


def test_starttls_is_followed_to_the_hellos() -> None:
    path = MADE / "starttls.pcap"
    protos = {"smtp": "SMTP", "imap": "IMAP", "pop": "POP3", "ftp": "FTP"}
    plain: dict[str, str] = {}
    for stream, layers in tshark_rows(path, ["tcp.stream", "frame.protocols"]):
        last = layers.split(":")[-1]
        if last in protos:
            plain[stream] = protos[last]
    hellos = {
        s: (port, sni, alpn)
        for s, port, sni, alpn in tshark_rows(
            path,
            [
                "tcp.stream",
                "tcp.srcport",
                "tls.handshake.extensions_server_name",
                "tls.handshake.extensions_alpn_str",
            ],
            "-Y",
            "tls.handshake.type==1",
        )
    }
    versions = {
        s: v
        for s, v in tshark_rows(
            path, ["tcp.stream", "tls.handshake.extensions.supported_version"], "-Y", "tls.handshake.type==2"
        )
    }
    assert len(hellos) == len(plain) == len(versions) == 4
    got = finals(path)
    assert len(got) == 4
    for stream, (port, sni, alpn) in hellos.items():
        rec = got[int(port)]
        # An FTP control connection is FTP from its first line; the others are known by TLS.
        assert rec["app"] == ("FTP" if plain[stream] == "FTP" else "TLS")
        assert rec["starttls"] == plain[stream]
        assert rec["sni"] == sni
        assert rec["alpn"] == alpn.split(",")
        assert versions[stream] == "0x0304" and rec["tls_version"] == "TLS 1.3"
