"""NetBIOS session service openings read as tshark reads them (tests/data/made/netbios-ssn.pcap).

The called and calling names of the SESSION REQUEST, decoded from their first-level encoding,
and the server's answer: positive, or the negative response's error code named as RFC 1002
§4.3.4 names it.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.test_dpi_made_streams import finals, tshark_rows

CAPTURE = Path(__file__).parent / "data" / "made" / "netbios-ssn.pcap"
FIELDS = [
    "tcp.srcport",
    "tcp.dstport",
    "nbss.type",
    "nbss.called_name",
    "nbss.calling_name",
    "nbss.error_code",
]
# RFC 1002 §4.3.4 NEGATIVE SESSION RESPONSE error codes.
ERRORS = {
    "0x80": "not listening on called name",
    "0x81": "not listening for calling name",
    "0x82": "called name not present",
    "0x83": "insufficient resources",
    "0x8f": "unspecified error",
}

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


def tshark_truth() -> dict[int, dict[str, Any]]:
    """tshark's session request names and answer, by the client's (the higher) port."""
    out: dict[int, dict[str, Any]] = {}
    for sport, dport, kind, called, calling, error in tshark_rows(CAPTURE, FIELDS, "-Y", "nbss"):
        truth = out.setdefault(max(int(sport), int(dport)), {"app": "NetBIOS-SSN"})
        if kind == "0x81":
            truth["netbios_name"] = called
            truth["netbios_calling"] = calling
        elif kind == "0x82":
            truth["netbios_session"] = "positive"
        elif kind == "0x83":
            truth["netbios_session"] = ERRORS[error.lower()]
    return out


def test_netbios_session_fields_are_tsharks() -> None:
    truth = tshark_truth()
    assert truth[40139]["netbios_name"] == "FILESERVER<20>" and len(truth) == 2
    got = finals(CAPTURE)
    for port, expected in truth.items():
        ours = {k: v for k, v in got[port].items() if k == "app" or k.startswith("netbios_")}
        assert ours == expected, port
    assert got[40140]["netbios_session"] == "called name not present"
