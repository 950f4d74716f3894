"""NTP, DHCP, SSDP, STUN and BitTorrent recognition from literal bytes."""

from __future__ import annotations

from rustnet.dissect import udpmisc
from rustnet.dissect.dpi import Inspector

A = bytes([10, 9, 0, 1])
B = bytes([10, 9, 0, 2])


def test_ntp_client() -> None:
    pkt = bytes([0x23]) + bytes(47)  # LI 0, version 4, mode 3
    assert udpmisc.match_udp(pkt, 40000, 123) == {"app": "NTP", "ntp_version": 4, "ntp_mode": "client"}
    assert udpmisc.match_ntp(bytes([0x23]) + bytes(10)) is None


def test_dhcp_discover_with_hostname() -> None:
    pkt = bytearray(240)
    pkt[0] = 1
    pkt[236:240] = udpmisc.DHCP_MAGIC
    pkt += bytes([53, 1, 1, 12, 4]) + b"box\x1b" + bytes([255])
    assert udpmisc.match_udp(bytes(pkt), 68, 67) == {
        "app": "DHCP",
        "dhcp_type": "DISCOVER",
        "dhcp_hostname": "box\\x1b",
    }


def test_ssdp_msearch() -> None:
    pkt = b'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\nST: ssdp:all\r\n\r\n'
    assert udpmisc.match_udp(pkt, 50000, 1900) == {
        "app": "SSDP",
        "ssdp_method": "M-SEARCH",
        "ssdp_target": "ssdp:all",
    }


def test_stun_binding_request_any_port() -> None:
    pkt = b"\x00\x01\x00\x00" + udpmisc.STUN_MAGIC + bytes(12)
    assert udpmisc.match_udp(pkt, 50000, 50001) == {"app": "STUN", "stun_type": "Binding Request"}
    pkt = b"\x01\x01\x00\x00" + udpmisc.STUN_MAGIC + bytes(12)
    assert udpmisc.match_stun(pkt) == {"app": "STUN", "stun_type": "Binding Success Response"}
    assert udpmisc.match_stun(pkt + b"xx") is None  # length field disagrees


def test_bittorrent_tcp_handshake_and_dht() -> None:
    infohash = bytes(range(20))
    hs = udpmisc.BT_HANDSHAKE + bytes(8) + infohash + b"-XX0001-" + bytes(12)
    insp = Inspector()
    assert insp.inspect(6, A, 6881, B, 51413, hs[:10], 0.0) is None
    assert insp.inspect(6, A, 6881, B, 51413, hs[10:], 0.0) == {
        "app": "BitTorrent",
        "bt_infohash": infohash.hex(),
    }
    dht = b"d1:ad2:id20:" + bytes(20) + b"e1:q4:ping1:t2:aa1:y1:qe"
    assert udpmisc.match_udp(dht, 6881, 6881) == {"app": "BitTorrent-DHT"}


def test_unknown_udp_is_given_up() -> None:
    insp = Inspector()
    for i in range(10):
        assert insp.inspect(17, A, 40000, B, 9999, b"\x01random" * 4, float(i)) is None
    assert not insp.wants(17, A, 40000, B, 9999)
