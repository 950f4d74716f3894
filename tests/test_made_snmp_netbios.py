"""SNMP and NetBIOS datagrams read as tshark reads them (tests/data/made/snmp-netbios.pcap).

SNMP: version, community and PDU type of v1, v2c and v3 (plain and encrypted); a datagram on
SNMP's port that is no SNMP is not labelled. NetBIOS: the name asked, registered or sending a
datagram, decoded from its first-level encoding, and the name service's opcode.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.test_dpi_made_streams import finals

CAPTURE = Path(__file__).parent / "data" / "made" / "snmp-netbios.pcap"
# RFC 3416 §3 PDU tags [0]..[8], named as tshark names them; versions as RFC 3584 §2 names them.
PDUS = "get-request get-next-request get-response set-request trap getBulkRequest informRequest"
PDU_NAMES = PDUS.split() + ["snmpV2-trap", "report"]
VERSIONS = {"0": "v1", "1": "v2c", "3": "v3"}
OPCODES = {"0": "query", "5": "registration", "6": "release", "7": "wait", "8": "refresh"}  # RFC 1002 4.2.1.1
FIELDS = ["udp.srcport", "udp.dstport", "snmp.version", "snmp.msgVersion", "snmp.community", "snmp.data"]
FIELDS += ["snmp.encryptedPDU", "nbns.name", "nbns.flags.opcode", "nbns.flags.response", "nbdgm.source_name"]

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


def tshark_truth() -> dict[int, dict[str, Any]]:
    """tshark's reading of each datagram, by the higher port (one datagram per flow here)."""
    cmd = ["tshark", "-r", str(CAPTURE), "-T", "fields", "-E", "occurrence=f"]
    for field in FIELDS:
        cmd += ["-e", field]
    out: dict[int, dict[str, Any]] = {}
    for line in subprocess.run(cmd, capture_output=True, timeout=60, check=True).stdout.decode().splitlines():
        sport, dport, ver, ver3, community, data, encrypted, name, opcode, response, source = line.split("\t")
        truth: dict[str, Any] = {}
        if ver or ver3:
            truth = {"app": "SNMP", "snmp_version": VERSIONS[ver or ver3]}
            if community:
                truth["snmp_community"] = community
            truth["snmp_pdu"] = "encrypted" if encrypted else PDU_NAMES[int(data)]
        elif name:
            truth = {"app": "NetBIOS-NS", "netbios_name": name.split(",")[0]}
            truth["netbios_opcode"] = OPCODES[opcode]
            truth["netbios_response"] = response == "1"
        elif source:
            truth = {"app": "NetBIOS-DGM", "netbios_name": source}
        out[max(int(sport), int(dport))] = truth
    return out


def test_snmp_and_netbios_fields_are_tsharks() -> None:
    truth = tshark_truth()
    assert len(truth) == 9 and truth[50166] == {}  # tshark: the text datagram is no SNMP
    got = finals(CAPTURE)
    assert set(got) == set(truth)
    for port, expected in truth.items():
        ours = {k: v for k, v in got[port].items() if k == "app" or k.startswith(("snmp_", "netbios_"))}
        assert ours == expected, port
    assert got[50165]["snmp_pdu"] == "encrypted" and got[137]["netbios_name"] == "WORKGROUP<1d>"
