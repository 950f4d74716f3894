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


# --- the ids rn-track pairs requests and responses by (their round trips) ---------------------
def _ntp(mode: int, origin: bytes, transmit: bytes) -> bytes:
    # LI 0, version 4; stratum, poll, precision, root delay/dispersion, reference id and time (RFC 5905)
    return bytes([0x20 | mode]) + bytes(23) + origin + bytes(8) + transmit


def test_ntp_request_and_response_are_paired_by_the_echoed_timestamp() -> None:
    sent = bytes.fromhex("e9b8a1c2d3e4f506")
    insp = Inspector()
    asked = insp.inspect(17, A, 123, B, 123, _ntp(3, bytes(8), sent), 1.0)
    assert asked == {"app": "NTP", "ntp_version": 4, "ntp_mode": "client", "req_id": "ntp e9b8a1c2d3e4f506"}
    # The server's transmit time is its own; its originate field echoes the request's.
    told = insp.inspect(17, B, 123, A, 123, _ntp(4, sent, bytes.fromhex("0102030405060708")), 1.02)
    assert told == {"app": "NTP", "resp_id": "ntp e9b8a1c2d3e4f506"}
    # The flow goes on being read: the next poll is paired too.
    again = insp.inspect(17, A, 123, B, 123, _ntp(3, bytes(8), bytes(7) + b"\x01"), 65.0)
    assert again == {"app": "NTP", "req_id": "ntp 0000000000000001"}
    assert udpmisc.ntp_id(_ntp(5, bytes(8), sent)) is None  # broadcast: nothing answers it


def test_stun_requests_and_responses_by_transaction_id() -> None:
    txid = bytes(range(1, 13))
    request = b"\x00\x01\x00\x00" + udpmisc.STUN_MAGIC + txid
    success = b"\x01\x01\x00\x00" + udpmisc.STUN_MAGIC + txid
    error = b"\x01\x11\x00\x00" + udpmisc.STUN_MAGIC + txid
    indication = b"\x00\x11\x00\x00" + udpmisc.STUN_MAGIC + txid
    assert udpmisc.stun_id(request) == {"app": "STUN", "req_id": "stun " + txid.hex()}
    assert udpmisc.stun_id(success) == {"app": "STUN", "resp_id": "stun " + txid.hex()}
    assert udpmisc.stun_id(error) == {"app": "STUN", "resp_id": "stun " + txid.hex()}
    assert udpmisc.stun_id(indication) is None
    insp = Inspector()
    first = insp.inspect(17, A, 50000, B, 3478, request, 1.0)
    assert first == {"app": "STUN", "stun_type": "Binding Request", "req_id": "stun " + txid.hex()}
    rtp = b"\x80\x60" + bytes(170)  # media on the same flow: no id, no fields
    assert insp.inspect(17, A, 50000, B, 3478, rtp, 1.01) is None
    assert insp.inspect(17, B, 3478, A, 50000, success, 1.03) == {
        "app": "STUN",
        "resp_id": "stun " + txid.hex(),
    }


def _nbns(tid: int, flags: int) -> bytes:
    name = b"\x20" + b"EOEFEFEC" + b"CA" * 12 + b"\x00"  # NAS<00>... first-level encoded, 32 letters
    return (
        tid.to_bytes(2, "big")
        + flags.to_bytes(2, "big")
        + b"\x00\x01\x00\x00\x00\x00\x00\x00"
        + name
        + b"\x00\x20\x00\x01"
    )


def test_netbios_name_service_ids_a_wack_is_not_final() -> None:
    insp = Inspector()
    query = insp.inspect(17, A, 137, B, 137, _nbns(0xABCD, 0x0110), 1.0)
    assert query is not None and query["req_id"] == "nbns abcd" and query["app"] == "NetBIOS-NS"
    wack = _nbns(0xABCD, 0x8000 | 7 << 11)
    assert udpmisc.TIMING_IDS["NetBIOS-NS"](wack) is None
    assert insp.inspect(17, B, 137, A, 137, wack, 1.1) is None
    assert insp.inspect(17, B, 137, A, 137, _nbns(0xABCD, 0x8500), 1.5) == {
        "app": "NetBIOS-NS",
        "resp_id": "nbns abcd",
    }
