"""QUIC end to end: a real aioquic client and server in two namespaces, captured live.

    rn-capture -i <veth> | rn-dissect | rn-track --format json

The connection record must say app QUIC, carry the SNI and ALPN the client offered and
the QUIC version on the wire. Run for v1 and for v2 with a server-forced Retry (the client
then starts over with a new DCID, so new Initial keys).
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
SNI = "quic.rustnet.test"
ALPN = "rn-test"
PORT = 4433

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not can_make_namespaces(), reason="needs root and ip netns"),
]

SERVER = """
import asyncio, sys
from aioquic.asyncio import serve
from aioquic.quic.configuration import QuicConfiguration

async def main(host, port, cert, key, version, retry):
    cfg = QuicConfiguration(is_client=False, alpn_protocols=["ALPN"])
    cfg.load_cert_chain(cert, key)
    cfg.supported_versions = [int(version, 16)]
    await serve(host, int(port), configuration=cfg, retry=retry == "1")
    await asyncio.Future()

asyncio.run(main(*sys.argv[1:]))
""".replace("ALPN", ALPN)

CLIENT = """
import asyncio, ssl, sys
from aioquic.asyncio import connect
from aioquic.quic.configuration import QuicConfiguration

async def main(host, port, sni, version, alpn):
    cfg = QuicConfiguration(is_client=True, alpn_protocols=[alpn], server_name=sni,
                            verify_mode=ssl.CERT_NONE)
    cfg.supported_versions = [int(version, 16)]
    cfg.original_version = int(version, 16)
    try:
        async with connect(host, int(port), configuration=cfg) as conn:
            await conn.ping()
    except ConnectionError:
        print("refused", flush=True)  # the server closed the connection during the handshake
        return
    print("ok", flush=True)

asyncio.run(asyncio.wait_for(main(*sys.argv[1:]), 10))
""".replace("ALPN", ALPN)


class Pipeline:
    """rn-capture in host a, piped through us (to see it start) into rn-dissect | rn-track."""

    def __init__(self, net: TwoHosts, tmp: Path) -> None:
        self.tmp = tmp
        self.out: list[bytes] = []
        self.started = threading.Event()
        with (
            open(tmp / "capture.err", "wb") as cerr,
            open(tmp / "dissect.err", "wb") as derr,
            open(tmp / "track.err", "wb") as terr,
        ):
            self.cap = net.spawn(
                "a",
                [str(BIN / "rn-capture"), "-i", net.if_a, "udp", "port", str(PORT)],
                stdout=subprocess.PIPE,
                stderr=cerr,
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
        self.dis.stdout.close()  # rn-track holds the read end now
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
                self.started.set()  # the stream header comes once the capture handle is open
                try:
                    self.dis.stdin.write(chunk)
                    self.dis.stdin.flush()
                except BrokenPipeError:
                    return

    def _collect(self) -> None:
        assert self.trk.stdout is not None
        with self.trk.stdout:
            self.out.append(self.trk.stdout.read())

    def finish(self) -> None:
        """SIGINT to rn-capture; the rest of the pipeline drains and ends by itself."""
        self.cap.send_signal(signal.SIGINT)
        self.cap.wait(timeout=10)
        for p in (self.dis, self.trk):
            p.wait(timeout=20)
        for t in self._threads:
            t.join(timeout=10)

    def kill(self) -> None:
        for p in (self.dis, self.trk):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=5)

    def errors(self) -> dict[str, str]:
        return {n: (self.tmp / f"{n}.err").read_text() for n in ("capture", "dissect", "track")}


@pytest.mark.parametrize(
    "version,retry,alpn",
    [("00000001", False, ALPN), ("6b3343cf", True, ALPN), ("00000001", False, "no-such-alpn")],
    ids=["v1", "v2-retry", "v1-refused"],
)
def test_aioquic_connection_record(tmp_path: Path, version: str, retry: bool, alpn: str) -> None:
    """A connection, and one the server refuses (unknown ALPN): its CONNECTION_CLOSE
    travels in the server's Initial, which only the client's original DCID opens."""
    (tmp_path / "server.py").write_text(SERVER)
    (tmp_path / "client.py").write_text(CLIENT)
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
            str(tmp_path / "key.pem"),
            "-out",
            str(tmp_path / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )
    with TwoHosts() as net:
        net.spawn(
            "b",
            [
                sys.executable,
                str(tmp_path / "server.py"),
                net.addr_b,
                str(PORT),
                str(tmp_path / "cert.pem"),
                str(tmp_path / "key.pem"),
                version,
                "1" if retry else "0",
            ],
        )
        net.wait_port("b", PORT, udp=True)
        pipe = Pipeline(net, tmp_path)
        try:
            assert pipe.started.wait(10), pipe.errors()
            res = net.run(
                "a",
                [sys.executable, str(tmp_path / "client.py"), net.addr_b, str(PORT), SNI, version, alpn],
                check=False,
            )
            refused = alpn != ALPN
            assert res.stdout == (b"refused\n" if refused else b"ok\n"), res.stderr.decode(errors="replace")[
                -2000:
            ]
            time.sleep(0.3)  # the last acknowledgements
            pipe.finish()
        finally:
            pipe.kill()
        assert pipe.dis.returncode == 0 and pipe.trk.returncode == 0, pipe.errors()
    records = [json.loads(line) for line in pipe.out[0].splitlines() if line.strip()]
    conns: list[dict[str, Any]] = [
        r
        for r in records
        if r.get("t") == "conn" and r.get("proto") == "udp" and PORT in (r.get("sport"), r.get("dport"))
    ]
    assert conns, records[-5:]
    rec = conns[-1]
    assert rec.get("app") == "QUIC", rec
    assert rec.get("sni") == SNI, rec
    assert rec.get("alpn") == [alpn], rec
    assert rec.get("tls_versions_offered") == ["TLS 1.3"], rec
    assert rec.get("quic_version") == f"0x{version}", rec
    assert rec.get("quic_retry") is (True if retry else None), rec
    if refused:
        # CRYPTO_ERROR carrying TLS alert 120 (no_application_protocol), RFC 9001 §4.8.
        assert rec.get("quic_close") == 0x100 + 120, rec
        assert rec.get("state") in ("QUIC_DRAINING", "QUIC_CLOSED"), rec
    else:
        assert rec.get("quic_close") is None, rec
        assert rec.get("state") == "QUIC_CONNECTED", rec
        # The ServerHello came in the server's Initial.
        assert rec.get("tls_version") == "TLS 1.3", rec
        assert rec.get("tls_cipher", "").startswith("TLS_"), rec
