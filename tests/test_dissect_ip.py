"""IPv4, IPv6, TCP, UDP, ICMP, ICMPv6 and ARP parsers from literal bytes."""

from __future__ import annotations

import socket
import struct

import pytest
from rustnet.dissect import ip, l4
from rustnet.dissect.arp import arp
from rustnet.dissect.info import Malformed

from tests import dissect_frames as F

# 10.1.2.3 -> 192.168.0.9, TCP, total length 40, id 0x1c46, DF, TTL 64.
IPV4_TCP_HEX = "450000281c464000400600000a010203c0a80009"
# 49152 -> 443, seq 1, ack 2, data offset 5, SYN|ACK, window 65535.
TCP_HEX = "c00001bb00000001000000025012ffff00000000"


def test_ipv4_literal() -> None:
    data = bytes.fromhex(IPV4_TCP_HEX + TCP_HEX)
    proto, src, dst, l4off, l4len, frag, ident, anomaly = ip.ipv4(data, 0, len(data))
    assert (proto, l4off, l4len, frag, ident, anomaly) == (6, 20, 20, 0, 0x1C46, None)
    assert socket.inet_ntoa(src) == "10.1.2.3" and socket.inet_ntoa(dst) == "192.168.0.9"


def test_ipv4_options_move_l4() -> None:
    data = F.ipv4(F.tcp(), ihl=7, options=b"\x01" * 8)
    assert ip.ipv4(data, 0, len(data))[3:5] == (28, 20)


def test_ipv4_padding_is_not_payload() -> None:
    # A 40-byte packet in a 60-byte Ethernet minimum frame: 6 bytes of padding after it.
    data = F.ipv4(F.tcp()) + b"\0" * 6
    assert ip.ipv4(data, 0, len(data))[4] == 20


def test_ipv4_length_zero_is_segmentation_offload() -> None:
    data = F.ipv4(F.tcp(b"x" * 100), total=0)
    assert ip.ipv4(data, 0, len(data))[4] == 120


def test_ipv4_length_beyond_frame_is_an_anomaly_and_clamped() -> None:
    data = F.ipv4(F.tcp(b"x" * 10), total=400)
    *_, l4len, _, _, anomaly = ip.ipv4(data, 0, len(data))
    assert l4len == 30 and anomaly == "ipv4 total length beyond frame"


@pytest.mark.parametrize("kw", [{"version": 6}, {"ihl": 4}, {"total": 12}])
def test_ipv4_malformed(kw: dict[str, int]) -> None:
    data = F.ipv4(F.tcp(), **kw)
    with pytest.raises(Malformed):
        ip.ipv4(data, 0, len(data))


def test_ipv4_cut_header_is_a_short_read() -> None:
    with pytest.raises(struct.error):
        ip.ipv4(F.ipv4(b"")[:19], 0, 40)


def test_ipv4_fragment_fields() -> None:
    first = F.ipv4(b"x" * 16, proto=17, ident=77, frag=0x2000)
    assert ip.ipv4(first, 0, len(first))[5:7] == (ip.FRAG_MORE, 77)
    last = F.ipv4(b"x" * 16, proto=17, ident=77, frag=185)  # offset 1480
    frag = ip.ipv4(last, 0, len(last))[5]
    assert frag == 185 and not frag & ip.FRAG_MORE
    df_only = F.ipv4(b"", frag=0x4000)
    assert ip.ipv4(df_only, 0, len(df_only))[5] == 0


def test_ipv6_plain() -> None:
    data = F.ipv6(F.udp(b"abcd"), nxt=17)
    proto, src, dst, l4off, l4len, frag, _, anomaly = ip.ipv6(data, 0, len(data))
    assert (proto, l4off, l4len, frag, anomaly) == (17, 40, 12, 0, None)
    assert socket.inet_ntop(socket.AF_INET6, src) == "fd00::1"
    assert socket.inet_ntop(socket.AF_INET6, dst) == "fd00::2"


def test_ipv6_extension_headers_are_skipped() -> None:
    chain = F.ext6(43) + F.ext6(60, body_len=14) + F.ext6(6) + F.tcp(b"hi")  # hop-by-hop, routing, dstopts
    data = F.ipv6(chain, nxt=0)
    proto, _, _, l4off, l4len, frag, _, _ = ip.ipv6(data, 0, len(data))
    assert (proto, l4off, l4len, frag) == (6, 40 + 8 + 16 + 8, 22, 0)


def test_ipv6_authentication_header() -> None:
    ah = struct.pack("!BBH", 6, 4, 0) + b"\0" * 20  # (4 + 2) * 4 = 24 bytes
    data = F.ipv6(ah + F.tcp(), nxt=51)
    assert ip.ipv6(data, 0, len(data))[0::3][:2] == (6, 64)


def test_ipv6_esp_and_no_next_header_end_the_walk() -> None:
    data = F.ipv6(b"\0" * 16, nxt=50)
    assert ip.ipv6(data, 0, len(data))[0] == 50
    data = F.ipv6(b"", nxt=59)
    assert ip.ipv6(data, 0, len(data))[0] == 59


def test_ipv6_first_and_later_fragments() -> None:
    first = F.ipv6(F.frag6(17, 0, True, 0xABCDEF) + F.udp(b"x" * 8, ulen=3000), nxt=44)
    proto, _, _, l4off, _, frag, ident, _ = ip.ipv6(first, 0, len(first))
    assert (proto, l4off, frag, ident) == (17, 48, ip.FRAG_MORE, 0xABCDEF)
    later = F.ipv6(F.frag6(17, 1232, False, 0xABCDEF) + b"\x00" * 8, nxt=44)
    proto, _, _, l4off, l4len, frag, _, _ = ip.ipv6(later, 0, len(later))
    assert (proto, l4off, l4len, frag) == (17, 48, 8, 1232 // 8)


def test_ipv6_atomic_fragment_is_a_whole_datagram() -> None:
    data = F.ipv6(F.frag6(6, 0, False, 5) + F.tcp(), nxt=44)
    assert ip.ipv6(data, 0, len(data))[5] == 0


def test_ipv6_extension_chain_beyond_payload_is_malformed() -> None:
    data = F.ipv6(F.ext6(6), nxt=0, plen=4)
    with pytest.raises(Malformed):
        ip.ipv6(data, 0, len(data))


def test_ipv6_endless_extension_chain_is_malformed() -> None:
    data = F.ipv6(F.ext6(60) * 40, nxt=60)
    with pytest.raises(Malformed):
        ip.ipv6(data, 0, len(data))


def test_ipv6_wrong_version() -> None:
    data = bytearray(F.ipv6(F.tcp()))
    data[0] = 0x45
    with pytest.raises(Malformed):
        ip.ipv6(bytes(data), 0, len(data))


def test_ipv6_payload_length_beyond_frame() -> None:
    data = F.ipv6(F.tcp(), plen=500)
    *_, l4len, _, _, anomaly = ip.ipv6(data, 0, len(data))
    assert l4len == 20 and anomaly == "ipv6 payload length beyond frame"


def test_tcp_literal() -> None:
    data = bytes.fromhex(TCP_HEX)
    assert l4.tcp(data, 0, 20) == (49152, 443, 1, 2, l4.TCP_SYN | l4.TCP_ACK, 65535, 20)


def test_tcp_options_and_all_flags() -> None:
    data = F.tcp(b"payload", flags=0xFF, options=b"\x01\x01\x08\x0a" + b"\0" * 8)
    sport, dport, seq, ack, flags, window, hlen = l4.tcp(data, 0, len(data))
    assert (flags, hlen, len(data) - hlen) == (0xFF, 32, 7)


def test_tcp_ns_bit_is_not_a_flag() -> None:
    data = bytearray(F.tcp(flags=0x10))
    data[12] |= 0x01  # NS/AE lives in the data-offset byte
    assert l4.tcp(bytes(data), 0, 20)[4] == 0x10


@pytest.mark.parametrize("doff,l4len", [(4, 20), (0, 20), (15, 40)])
def test_tcp_bad_data_offset(doff: int, l4len: int) -> None:
    with pytest.raises(Malformed):
        l4.tcp(F.tcp(doff=doff) + b"\0" * 40, 0, l4len)


def test_tcp_cut_inside_fixed_header() -> None:
    with pytest.raises(struct.error):
        l4.tcp(F.tcp()[:19], 0, 20)


def test_udp_literal() -> None:
    data = bytes.fromhex("14e90035000c0000") + b"abcd"
    assert l4.udp(data, 0, 12) == (5353, 53, 4, None)


def test_udp_length_disagreements() -> None:
    assert l4.udp(F.udp(b"x" * 10, ulen=100), 0, 18) == (5353, 53, 10, "udp length beyond ip payload")
    assert l4.udp(F.udp(b"x" * 10, ulen=4), 0, 18) == (5353, 53, 10, "udp length < 8")
    assert l4.udp(F.udp(b"x" * 10, ulen=0), 0, 18) == (5353, 53, 10, None)
    # Shorter UDP length than IP payload: trailing bytes are not UDP payload.
    assert l4.udp(F.udp(b"x" * 10, ulen=12), 0, 18) == (5353, 53, 4, None)
    with pytest.raises(Malformed):
        l4.udp(F.udp(), 0, 7)


def test_icmp_echo_and_error() -> None:
    echo = bytes.fromhex("0800f7fd00010002") + b"abcdefgh"
    assert l4.icmp(echo, 0, len(echo), False) == (8, 0, 1, 2, 8)
    unreachable = F.icmp(3, 3, ident=0x1234, seq=0x5678, payload=F.ipv4(F.udp()))
    assert l4.icmp(unreachable, 0, len(unreachable), False) == (3, 3, 0, 0, 28)


def test_icmpv6_echo_and_neighbour_solicitation() -> None:
    echo = F.icmp(129, 0, 9, 1, b"z" * 4)
    assert l4.icmp(echo, 0, len(echo), True) == (129, 0, 9, 1, 4)
    ns = F.icmp(135, 0, 0xAAAA, 0xBBBB, b"\0" * 16)
    assert l4.icmp(ns, 0, len(ns), True) == (135, 0, 0, 0, 16)
    # Type 8 means nothing special in ICMPv6.
    assert l4.icmp(F.icmp(8, 0, 5, 6), 0, 8, True)[2:4] == (0, 0)


def test_icmp_shorter_than_header() -> None:
    with pytest.raises(Malformed):
        l4.icmp(F.icmp(8), 0, 7, False)


def test_arp_literal() -> None:
    data = bytes.fromhex("0001080006040002001906eab8c1c0a87b01ffffffffffffc0a87b02")
    op, spa, tpa, sha, tha = arp(data, 0)  # type: ignore[misc]
    assert (op, socket.inet_ntoa(spa), socket.inet_ntoa(tpa)) == (2, "192.168.123.1", "192.168.123.2")
    assert (sha, tha) == ("00:19:06:ea:b8:c1", "ff:ff:ff:ff:ff:ff")


def test_arp_for_another_protocol_is_not_ours() -> None:
    assert arp(F.arp(1, ptype=0x86DD), 0) is None


def test_arp_cut() -> None:
    with pytest.raises(struct.error):
        arp(F.arp(1)[:27], 0)
