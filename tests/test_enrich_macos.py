"""The psutil-only owners path (kept for macOS; unverified there, exercised here on Linux)."""

from __future__ import annotations

import os
import socket

from rustnet.enrich.macos import PsutilSocketOwners
from rustnet.enrich.stage import Enricher
from rustnet.stream.records import make_header


def test_psutil_path_attributes_client_and_listener() -> None:
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen()
    cli = socket.create_connection(lst.getsockname())
    acc, _ = lst.accept()
    owners = PsutilSocketOwners()
    try:
        port, cport = lst.getsockname()[1], cli.getsockname()[1]
        sock, final = owners.resolve_flow("tcp", "127.0.0.1", cport, "127.0.0.1", port)
        assert final and sock is not None and sock["pid"] == os.getpid() and sock["lport"] == cport
        listener = owners.lookup("tcp", "10.1.1.1", 4444, "127.0.0.1", port)
        assert listener is not None and listener["listening"] and listener["pid"] == os.getpid()
        assert owners.built >= 3
        # Through the stage, as on a Mac.
        st = Enricher(owners=owners)
        out = st.process(
            [
                make_header("rn-track 0.1.0", 1, "lo0", True, 65535, 0.0),
                {
                    "t": "conn",
                    "id": 1,
                    "proto": "tcp",
                    "src": "127.0.0.1",
                    "sport": cport,
                    "dst": "127.0.0.1",
                    "dport": port,
                },
            ]
        )
        assert out[1]["pid"] == os.getpid()  # type: ignore[index]
        st.finish()
    finally:
        owners.close()
        for s in (lst, cli, acc):
            s.close()
