"""DPI end to end: real clients and servers in two namespaces, captured live.

    rn-capture -i <veth> | rn-dissect | rn-track --format json

One capture watches, in turn: ``openssl s_client -servername`` against ``openssl s_server``,
``dig`` over UDP and TCP against ``dnsmasq``, ``ssh`` against ``sshd`` (host keys made in
a temporary directory; authentication fails, the identification strings and the key
exchange are what count) and ``curl`` against ``python -m http.server`` on an odd port.
Each is then checked on its connection record.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.netns import TwoHosts, can_make_namespaces

BIN = Path(sys.executable).parent
SNI = "tls.rustnet.test"
DNS_NAME = "live.rustnet.test"
DNS_TCP_NAME = "tcp.rustnet.test"
DNS_ADDR = "192.0.2.99"
TLS_PORT = 4443
HTTP_PORT = 8931

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not can_make_namespaces(), reason="needs root and ip netns"),
]


class Pipeline:
    """rn-capture in host a, forwarded by us (to know it has started) into rn-dissect | rn-track."""

    def __init__(self, net: TwoHosts, tmp: Path) -> None:
        self.tmp = tmp
        self.out = b""
        self.started = threading.Event()
        with (
            open(tmp / "capture.err", "wb") as cerr,
            open(tmp / "dissect.err", "wb") as derr,
            open(tmp / "track.err", "wb") as terr,
        ):
            self.cap = net.spawn(
                "a", [str(BIN / "rn-capture"), "-i", net.if_a], stdout=subprocess.PIPE, stderr=cerr
            )
            self.dis = subprocess.Popen(
                [str(BIN / "rn-dissect")],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=derr,
                start_new_session=True,
            )
            self.trk = subprocess.Popen(
                [str(BIN / "rn-track"), "--format", "json"],
                stdin=self.dis.stdout,
                stdout=subprocess.PIPE,
                stderr=terr,
                start_new_session=True,
            )
        assert self.dis.stdout is not None
        self.dis.stdout.close()
        self._threads = [
            threading.Thread(target=self._forward, daemon=True),
            threading.Thread(target=self._collect, daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _forward(self) -> None:
        assert self.cap.stdout is not None and self.dis.stdin is not None
        with self.cap.stdout, self.dis.stdin:
            while chunk := os.read(self.cap.stdout.fileno(), 65536):
                self.started.set()
                try:
                    self.dis.stdin.write(chunk)
                    self.dis.stdin.flush()
                except BrokenPipeError:
                    return

    def _collect(self) -> None:
        assert self.trk.stdout is not None
        with self.trk.stdout:
            self.out = self.trk.stdout.read()

    def finish(self) -> list[dict[str, Any]]:
        """SIGINT to rn-capture; the rest drains; the final connection records."""
        self.cap.send_signal(signal.SIGINT)
        self.cap.wait(timeout=10)
        for p in (self.dis, self.trk):
            p.wait(timeout=20)
        for t in self._threads:
            t.join(timeout=10)
        records = [json.loads(line) for line in self.out.splitlines() if line.strip()]
        final: dict[Any, dict[str, Any]] = {}
        for r in records:
            if r.get("t") == "conn":
                final[r["id"]] = r
        return list(final.values())

    def kill(self) -> None:
        for p in (self.dis, self.trk):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=5)

    def errors(self) -> str:
        return " | ".join((self.tmp / f"{n}.err").read_text()[-500:] for n in ("capture", "dissect", "track"))


def _one(conns: list[dict[str, Any]], proto: str, port: int) -> dict[str, Any]:
    found = [c for c in conns if c.get("proto") == proto and port in (c.get("sport"), c.get("dport"))]
    assert found, f"no {proto} connection on port {port}: {conns}"
    return found[-1]


def _keys(tmp: Path) -> None:
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            f"/CN={SNI}",
            "-days",
            "1",
            "-keyout",
            str(tmp / "key.pem"),
            "-out",
            str(tmp / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp / "hostkey")],
        check=True,
        capture_output=True,
    )


def test_tls_dns_ssh_http_on_connection_records(tmp_path: Path) -> None:
    _keys(tmp_path)
    ssh_version = subprocess.run(["ssh", "-V"], capture_output=True, text=True).stderr.split(",")[0].strip()
    with TwoHosts() as net:
        (tmp_path / "sshd_config").write_text(
            f"Port 22\nListenAddress {net.addr_b}\nHostKey {tmp_path / 'hostkey'}\nPidFile none\n"
            "UsePAM no\nStrictModes no\n"
        )
        (tmp_path / "www").mkdir()
        (tmp_path / "www" / "index.html").write_text("hello\n")
        net.spawn(
            "b",
            [
                "openssl",
                "s_server",
                "-accept",
                str(TLS_PORT),
                "-cert",
                str(tmp_path / "cert.pem"),
                "-key",
                str(tmp_path / "key.pem"),
                "-alpn",
                "h2,http/1.1",
                "-quiet",
            ],
        )
        net.spawn(
            "b",
            [
                "dnsmasq",
                "-k",
                "--conf-file=/dev/null",
                "--no-resolv",
                "--no-hosts",
                "--bind-interfaces",
                f"--listen-address={net.addr_b}",
                "--port=53",
                "--pid-file=",
                "--user=root",
                f"--address=/{DNS_NAME}/{DNS_ADDR}",
                f"--address=/{DNS_TCP_NAME}/{DNS_ADDR}",
            ],
        )
        net.spawn_sshd("b", str(tmp_path / "sshd_config"))
        net.spawn(
            "b",
            [
                sys.executable,
                "-m",
                "http.server",
                "-b",
                net.addr_b,
                "-d",
                str(tmp_path / "www"),
                str(HTTP_PORT),
            ],
        )
        for port, udp in ((TLS_PORT, False), (53, True), (53, False), (22, False), (HTTP_PORT, False)):
            net.wait_port("b", port, udp=udp)
        pipe = Pipeline(net, tmp_path)
        try:
            assert pipe.started.wait(10), pipe.errors()
            tls = net.run(
                "a",
                [
                    "openssl",
                    "s_client",
                    "-connect",
                    f"{net.addr_b}:{TLS_PORT}",
                    "-servername",
                    SNI,
                    "-alpn",
                    "h2",
                    "-brief",
                ],
                stdin=subprocess.DEVNULL,
                check=False,
                timeout=15,
            )
            assert b"CONNECTION ESTABLISHED" in tls.stderr, tls.stderr[-1000:]
            dig = net.run("a", ["dig", f"@{net.addr_b}", DNS_NAME, "A", "+tries=1", "+time=3", "+short"])
            assert dig.stdout.strip() == DNS_ADDR.encode()
            dig = net.run(
                "a", ["dig", f"@{net.addr_b}", DNS_TCP_NAME, "A", "+tcp", "+tries=1", "+time=3", "+short"]
            )
            assert dig.stdout.strip() == DNS_ADDR.encode()
            ssh = net.run(
                "a",
                [
                    "ssh",
                    "-F",
                    "/dev/null",
                    "-o",
                    "BatchMode=yes",
                    "-o",
                    "StrictHostKeyChecking=no",
                    "-o",
                    "UserKnownHostsFile=/dev/null",
                    "-o",
                    "ConnectTimeout=5",
                    f"nobody@{net.addr_b}",
                    "true",
                ],
                check=False,
                timeout=20,
            )
            assert b"Permission denied" in ssh.stderr, ssh.stderr[-1000:]
            curl = net.run(
                "a", ["curl", "-sS", "-A", "rn-live/1.0", f"http://{net.addr_b}:{HTTP_PORT}/index.html"]
            )
            assert curl.stdout == b"hello\n"
            time.sleep(0.5)  # the last segments reach the capture
            conns = pipe.finish()
        finally:
            pipe.kill()
        assert pipe.dis.returncode == 0 and pipe.trk.returncode == 0, pipe.errors()

    tls_rec = _one(conns, "tcp", TLS_PORT)
    assert tls_rec.get("app") == "TLS" and tls_rec.get("sni") == SNI, tls_rec
    assert tls_rec.get("alpn") == ["h2"], tls_rec
    assert tls_rec.get("tls_version") == "TLS 1.3", tls_rec

    dns_udp = _one(conns, "udp", 53)
    assert dns_udp.get("app") == "DNS" and dns_udp.get("dns_query") == DNS_NAME, dns_udp
    assert f"{DNS_NAME} A {DNS_ADDR}" in dns_udp.get("dns_answers", []), dns_udp
    assert dns_udp.get("state") == "DNS_RESPONSE", dns_udp
    dns_tcp = _one(conns, "tcp", 53)
    assert dns_tcp.get("dns_query") == DNS_TCP_NAME, dns_tcp

    ssh_rec = _one(conns, "tcp", 22)
    assert ssh_rec.get("app") == "SSH", ssh_rec
    assert ssh_rec.get("ssh_client") == f"SSH-2.0-{ssh_version}", ssh_rec
    assert str(ssh_rec.get("ssh_server", "")).startswith("SSH-2.0-OpenSSH_"), ssh_rec
    assert ssh_rec.get("ssh_stage") in ("kex", "auth", "established"), ssh_rec

    http_rec = _one(conns, "tcp", HTTP_PORT)
    assert http_rec.get("app") == "HTTP", http_rec
    assert http_rec.get("http_host") == f"{net.addr_b}:{HTTP_PORT}", http_rec
    assert http_rec.get("http_method") == "GET" and http_rec.get("http_path") == "/index.html", http_rec
    assert http_rec.get("http_user_agent") == "rn-live/1.0", http_rec
