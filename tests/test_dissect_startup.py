"""rn-dissect's start-up imports only what the run needs (each module costs milliseconds per start)."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
from rustnet.dissect.engine import Dissector
Dissector(dpi={dpi})
wanted = ("rustnet.dissect.dpi", "rustnet.dissect.quic", "cryptography")
print(" ".join(m for m in wanted if m in sys.modules))
"""


def loaded(dpi: bool) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", CHECK.format(dpi=dpi)], capture_output=True, text=True, check=True
    ).stdout
    return set(out.split())


def test_no_dpi_does_not_import_the_dpi_modules() -> None:
    assert loaded(False) == set()


def test_dpi_imports_quic_and_cryptography_only_once_quic_is_seen() -> None:
    assert loaded(True) == {"rustnet.dissect.dpi"}


def test_the_quic_table_is_made_on_the_first_quic_flow() -> None:
    from rustnet.dissect.dpi import Inspector
    from rustnet.dissect.quic_detect import looks_like_quic

    insp = Inspector()
    insp.inspect(17, b"\x0a\0\0\x01", 5000, b"\x0a\0\0\x02", 6000, b"not quic at all", 0.0)
    assert insp._quic_flows is None
    vn = b"\xc0" + bytes(4) + b"\x04abcd\x04efgh" + b"\x00\x00\x00\x01"
    assert looks_like_quic(vn)
    insp.inspect(17, b"\x0a\0\0\x01", 5001, b"\x0a\0\0\x02", 443, vn, 0.0)
    assert insp._quic_flows is not None
    assert insp._quic_flows.known((17, b"\x0a\0\0\x01", 5001, b"\x0a\0\0\x02", 443))


def test_quic_keys_still_work_after_the_late_import() -> None:
    from rustnet.dissect import quic_crypto as qc

    # RFC 9001 Appendix A.1: the client Initial key for DCID 0x8394c8f03e515708.
    keys = qc.initial_keys(bytes.fromhex("8394c8f03e515708"), qc.PROFILE_V1, server=False)
    assert keys.iv.hex() == "fa044b2f42a3fd3b46fb255c"
