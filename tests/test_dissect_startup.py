"""rn-dissect's start-up imports only what the run needs (each module costs milliseconds per start)."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
from rustnet.dissect.engine import Dissector
Dissector(dpi={dpi})
print(" ".join(m for m in ("rustnet.dissect.dpi", "cryptography") if m in sys.modules))
"""


def loaded(dpi: bool) -> set[str]:
    out = subprocess.run([sys.executable, "-c", CHECK.format(dpi=dpi)], capture_output=True, text=True,
                         check=True).stdout
    return set(out.split())


def test_no_dpi_does_not_import_the_dpi_modules() -> None:
    assert loaded(False) == set()


def test_dpi_imports_cryptography_only_for_quic_keys() -> None:
    assert loaded(True) == {"rustnet.dissect.dpi"}


def test_quic_keys_still_work_after_the_late_import() -> None:
    from rustnet.dissect import quic_crypto as qc

    # RFC 9001 Appendix A.1: the client Initial key for DCID 0x8394c8f03e515708.
    keys = qc.initial_keys(bytes.fromhex("8394c8f03e515708"), qc.PROFILE_V1, server=False)
    assert keys.iv.hex() == "fa044b2f42a3fd3b46fb255c"
