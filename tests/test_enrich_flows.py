"""The cheap 5-tuple parse of captured frames (rn-enrich right after rn-capture)."""

from __future__ import annotations

import socket
import struct

import pytest
from rustnet.enrich.flows import decode_key, flow_key, flow_of

A4, B4 = socket.inet_aton("10.0.0.1"), socket.inet_aton("10.0.0.2")
A6, B6 = socket.inet_pton(socket.AF_INET6, "fd00::1"), socket.inet_pton(socket.AF_INET6, "fd00::2")


def ip4(proto: int = 6, frag_offset: int = 0) -> bytes:
    """A literal IPv4 header (no options) and the first bytes of a TCP or UDP header."""
    l4 = struct.pack("!HH", 40000, 443) + b"\x00" * 16 if proto == 6 else struct.pack("!HHHH", 5353, 53, 8, 0)
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, frag_offset, 64, proto, 0, A4, B4) + l4


def ip6(hop_by_hop: bool = False) -> bytes:
    """A literal IPv6 header, optionally one 8-byte hop-by-hop header, then TCP."""
    l4 = struct.pack("!HH", 40000, 443) + b"\x00" * 16
    ext = bytes((6, 0)) + b"\x01\x04\x00\x00\x00\x00" if hop_by_hop else b""
    body = ext + l4
    return struct.pack("!IHBB", 6 << 28, len(body), 0 if hop_by_hop else 6, 64) + A6 + B6 + body


def test_ethernet_vlan_sll_sll2_null_loop_raw() -> None:
    want = ("tcp", "10.0.0.1", 40000, "10.0.0.2", 443)
    ip = ip4()
    eth = b"\x11" * 12 + b"\x08\x00" + ip
    qinq = b"\x11" * 12 + b"\x88\xa8\x00\x05\x81\x00\x00\x07\x08\x00" + ip
    sll = b"\x00" * 14 + b"\x08\x00" + ip
    sll2 = b"\x08\x00" + b"\x00" * 18 + ip
    null = struct.pack("<I", 2) + ip
    loop = struct.pack(">I", 2) + ip
    for lt, frame in (
        (1, eth),
        (1, qinq),
        (113, sll),
        (276, sll2),
        (0, null),
        (108, loop),
        (12, ip),
        (101, ip),
        (228, ip),
    ):
        assert flow_of(lt, frame) == want, lt


def test_ipv6_with_and_without_extension_headers() -> None:
    assert flow_of(12, ip6()) == ("tcp", "fd00::1", 40000, "fd00::2", 443)
    assert flow_of(229, ip6(hop_by_hop=True)) == ("tcp", "fd00::1", 40000, "fd00::2", 443)
    eth6 = b"\x11" * 12 + b"\x86\xdd" + ip6()
    assert flow_of(1, eth6) == ("tcp", "fd00::1", 40000, "fd00::2", 443)


def test_udp_and_not_tcp_udp() -> None:
    assert flow_of(12, ip4(17)) == ("udp", "10.0.0.1", 5353, "10.0.0.2", 53)
    icmp = bytearray(ip4())
    icmp[9] = 1
    assert flow_of(12, bytes(icmp)) is None
    assert flow_of(12, ip4(frag_offset=5)) is None  # a later fragment has no ports
    assert flow_of(1, b"\x11" * 12 + b"\x08\x06" + b"\x00" * 28) is None  # ARP
    assert flow_of(999, ip4()) is None


def test_key_is_stable_and_decodes() -> None:
    k = flow_key(12, ip4())
    assert k is not None and k == flow_key(1, b"\x11" * 12 + b"\x08\x00" + ip4())
    assert decode_key(k) == ("tcp", "10.0.0.1", 40000, "10.0.0.2", 443)


@pytest.mark.parametrize("lt", [0, 1, 12, 108, 113, 229, 276])
def test_every_cut_of_a_frame_is_handled(lt: int) -> None:
    frames = {
        1: b"\x11" * 12 + b"\x81\x00\x00\x01\x86\xdd" + ip6(),
        113: b"\x00" * 14 + b"\x08\x00" + ip4(),
        276: b"\x86\xdd" + b"\x00" * 18 + ip6(),
        0: struct.pack("<I", 30) + ip6(),
        108: struct.pack(">I", 2) + ip4(17),
        12: ip4(),
        229: ip6(),
    }
    frame = frames[lt]
    assert flow_of(lt, frame) is not None
    for cut in range(len(frame)):
        r = flow_of(lt, frame[:cut])
        assert r is None or r == flow_of(lt, frame)
