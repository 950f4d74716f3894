"""MAC vendors from the IEEE registry's CSV, and default gateways from /proc route tables.

The registry lines and route tables are hand-written in the formats the ieee-data package and
the Linux kernel use; the well-known prefixes are checked against the installed registry.
"""

from __future__ import annotations

import os
import socket
import struct
from pathlib import Path

import pytest
from rustnet.enrich.gateway import default_gateways
from rustnet.enrich.neighbours import parse_neigh_dump, read_arp_table
from rustnet.enrich.oui import LOCALLY_ADMINISTERED, OUI_PATHS, Vendors, parse_oui_csv

CSV = (
    "Registry,Assignment,Organization Name,Organization Address\n"
    'MA-L,00000C,"Cisco Systems, Inc",170 WEST TASMAN DRIVE SAN JOSE CA US 95134-1706 \n'
    "MA-L,3c5ab4,Google\x1b[31m LLC,1600 Amphitheatre Parkway Mountain View CA US 94043 \n"
    "MA-L,ZZZZZZ,Not hex,nowhere\n"
    "MA-L,12345,Too short,nowhere\n"
    "broken line\n"
)


def test_parse_oui_csv_hand_written() -> None:
    table = parse_oui_csv(CSV)
    assert table == {"00000C": "Cisco Systems, Inc", "3C5AB4": "Google[31m LLC"}


def test_vendor_lookup_from_file_and_locally_administered(tmp_path: Path) -> None:
    path = tmp_path / "oui.csv"
    path.write_text(CSV)
    vendors = Vendors((str(path),))
    assert vendors.lookup("00:00:0c:12:34:56") == "Cisco Systems, Inc"
    assert vendors.lookup("3C:5A:B4:00:00:01") == "Google[31m LLC"
    assert vendors.lookup("02:00:0c:12:34:56") == LOCALLY_ADMINISTERED
    assert vendors.lookup("00:00:0d:12:34:56") is None
    assert vendors.lookup("garbage") is None and vendors.lookup(None) is None


def test_no_registry_file_means_no_vendor(tmp_path: Path) -> None:
    assert Vendors((str(tmp_path / "absent.csv"),)).lookup("00:00:0c:12:34:56") is None


@pytest.mark.skipif(not os.path.exists(OUI_PATHS[0]), reason="ieee-data is not installed")
def test_installed_registry_knows_well_known_prefixes() -> None:
    vendors = Vendors()
    cisco = vendors.lookup("00:00:0c:00:00:01")
    assert cisco is not None and cisco.startswith("Cisco")
    xerox = vendors.lookup("00:00:00:00:00:01")
    assert xerox is not None and xerox.upper().startswith("XEROX")


def test_default_gateways_from_route_tables(tmp_path: Path) -> None:
    route = tmp_path / "route"
    route.write_text(
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        "eth0\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
        "eth0\t0002A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n"
        "eth1\t0000000A\t0100000A\t0003\t0\t0\t0\t000000FF\t0\t0\t0\n"
    )
    route6 = tmp_path / "ipv6_route"
    route6.write_text(
        "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
        "fe800000000000000000000000000001 00000400 00000001 00000000 00000003 eth0\n"
        "20010db8000000000000000000000000 20 00000000000000000000000000000000 00 "
        "fe800000000000000000000000000002 00000400 00000001 00000000 00000003 eth0\n"
        "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
        "00000000000000000000000000000000 ffffffff 00000001 00000000 00200200 lo\n"
    )
    assert default_gateways(str(route), str(route6)) == {"192.168.2.1", "fe80::1"}
    assert default_gateways(str(tmp_path / "no"), str(tmp_path / "no6")) == frozenset()


def test_neighbours_from_arp_table(tmp_path: Path) -> None:
    arp = tmp_path / "arp"
    arp.write_text(
        "IP address       HW type     Flags       HW address            Mask     Device\n"
        "192.168.2.1      0x1         0x2         00:00:0C:12:34:56     *        eth0\n"
        "192.168.2.9      0x1         0x0         00:00:00:00:00:00     *        eth0\n"
    )
    assert read_arp_table(str(arp)) == {"192.168.2.1": "00:00:0c:12:34:56"}


def _neigh(family: int, state: int, dst: bytes, mac: bytes) -> bytes:
    """One RTM_NEWNEIGH message as rtnetlink(7) lays it out: nlmsghdr, ndmsg, NDA_DST, NDA_LLADDR."""

    def attr(kind: int, value: bytes) -> bytes:
        raw = struct.pack("=HH", 4 + len(value), kind) + value
        return raw + b"\0" * (-len(raw) % 4)

    body = struct.pack("=BBHiHBB", family, 0, 0, 2, state, 0, 1) + attr(1, dst) + attr(2, mac)
    return struct.pack("=IHHII", 16 + len(body), 28, 2, 1, 0) + body


def test_neighbour_dump_hand_built() -> None:
    done = struct.pack("=IHHII", 20, 3, 2, 1, 0) + b"\0" * 4  # NLMSG_DONE
    chunk = (
        _neigh(socket.AF_INET, 0x02, bytes([10, 0, 0, 1]), bytes.fromhex("00000c123456"))  # reachable
        + _neigh(
            socket.AF_INET6, 0x04, socket.inet_pton(socket.AF_INET6, "fe80::1"), bytes.fromhex("3c5ab4000001")
        )
        + _neigh(socket.AF_INET, 0x01, bytes([10, 0, 0, 9]), bytes(6))  # incomplete: no MAC yet
        + _neigh(socket.AF_INET, 0x20, bytes([10, 0, 0, 8]), bytes.fromhex("00000c000008"))  # failed
    )
    out: dict[str, str] = {}
    assert parse_neigh_dump(chunk, out) is False
    assert parse_neigh_dump(done, out) is True
    assert out == {"10.0.0.1": "00:00:0c:12:34:56", "fe80::1": "3c:5a:b4:00:00:01"}
