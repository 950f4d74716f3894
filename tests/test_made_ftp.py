"""FTP control connections read as tshark reads them (tests/data/made/ftp.pcap, crafted).

Every FTP field we report must be tshark's reading of the same stream (no false value): the
user of USER, the latest command and reply, the 215 system type and the 220 greeting's first
word. Port 21 is FTP's; on port 2121 a command only FTP uses tells it; POP3's USER and RETR
on port 110 are no FTP.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.test_dpi_made_streams import finals, tshark_rows

CAPTURE = Path(__file__).parent / "data" / "made" / "ftp.pcap"

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


def tshark_ftp() -> dict[int, dict[str, str]]:
    """What tshark reads of each FTP stream, by the client's port: our fields' truth."""
    out: dict[int, dict[str, str]] = {}
    rows = tshark_rows(
        CAPTURE,
        ["tcp.srcport", "tcp.dstport", "ftp.request.command", "ftp.request.arg", "ftp.response.code"]
        + ["ftp.response.arg"],
        "-d",
        "tcp.port==2121,ftp",
        "-Y",
        "ftp",
    )
    for sport, dport, command, arg, code, text in rows:
        truth = out.setdefault(max(int(sport), int(dport)), {})
        if command:
            shown = arg if command not in ("PASS", "ACCT") else ""
            truth["ftp_command"] = f"{command} {shown}".rstrip()
            if command == "USER":
                truth.setdefault("ftp_user", arg)
        else:
            truth["ftp_reply"] = f"{code} {text}"
            if code == "220":
                truth.setdefault("ftp_server", text.split()[0].strip("()"))
            elif code == "215":
                truth.setdefault("ftp_system", text)
    return out


def test_ftp_fields_are_tsharks() -> None:
    truth = tshark_ftp()
    assert set(truth) == {40021, 40022}
    assert [p for p, _ in tshark_rows(CAPTURE, ["tcp.srcport", "pop.request.command"], "-Y", "pop.request")]
    got = finals(CAPTURE)
    on_21 = got[40021]
    assert on_21["app"] == "FTP"
    fields = {k: v for k, v in on_21.items() if k.startswith("ftp_")}
    assert fields == truth[40021]  # on its own port: all five fields, as tshark reads them
    assert fields["ftp_user"] == "alice" and fields["ftp_command"] == "QUIT"
    other = got[40022]
    assert other["app"] == "FTP"
    # Known from its first FTP-only command on: what it reports is tshark's, none missing from then.
    for key in ("ftp_command", "ftp_reply", "ftp_system"):
        assert other[key] == truth[40022][key]
    assert "ftp_user" not in other  # USER came before anything said this was FTP
    pop3 = got[40023]
    assert pop3.get("app") != "FTP" and not [k for k in pop3 if k.startswith("ftp_")]
