"""QUIC flows from literal packets: headers, coalescing, VN, Retry, CRYPTO reassembly,
CONNECTION_CLOSE, states, unknown versions, and hostile input."""

from __future__ import annotations

import struct

import pytest
from rustnet.dissect import quic_crypto as qc
from rustnet.dissect.dpi import Inspector
from rustnet.dissect.quic import (
    CRYPTO_CAP,
    PT_HANDSHAKE,
    PT_INITIAL,
    QUIC_CLOSED,
    QUIC_CONNECTED,
    QUIC_DRAINING,
    QUIC_HANDSHAKE,
    QUIC_INITIAL,
    QuicError,
    QuicFlows,
    build_long_packet,
    encode_varint,
    looks_like_quic,
    packet_hint,
    parse_client_hello,
    parse_frames,
    read_varint,
)

DCID = bytes.fromhex("0011223344556677")
SCID = bytes.fromhex("a1a2a3a4")
SERVER_CID = bytes.fromhex("b1b2b3b4b5b6b7b8")
V1 = qc.VERSION_1


def client_hello(
    sni: bytes = b"quic.example.org", alpn: tuple[bytes, ...] = (b"h3",), pad_ext: int = 0
) -> bytes:
    """A TLS 1.3 ClientHello handshake message with SNI, ALPN, supported_versions."""
    exts = b""
    name = b"\x00" + struct.pack(">H", len(sni)) + sni
    exts += struct.pack(">HH", 0, len(name) + 2) + struct.pack(">H", len(name)) + name
    protos = b"".join(bytes((len(p),)) + p for p in alpn)
    exts += struct.pack(">HH", 16, len(protos) + 2) + struct.pack(">H", len(protos)) + protos
    exts += struct.pack(">HHB", 43, 3, 2) + b"\x03\x04"
    if pad_ext:
        exts += struct.pack(">HH", 21, pad_ext) + bytes(pad_ext)
    body = b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"
    body += struct.pack(">H", len(exts)) + exts
    return b"\x01" + len(body).to_bytes(3, "big") + body


def crypto_frame(offset: int, data: bytes) -> bytes:
    return b"\x06" + encode_varint(offset) + encode_varint(len(data)) + data


def close_frame(code: int, reason: bytes, app: bool = False) -> bytes:
    if app:
        return b"\x1d" + encode_varint(code) + encode_varint(len(reason)) + reason
    return b"\x1c" + encode_varint(code) + b"\x00" + encode_varint(len(reason)) + reason


def pad(payload: bytes, size: int = 1100) -> bytes:
    return payload + bytes(max(0, size - len(payload)))


def client_initial(
    frames: bytes,
    pn: int = 0,
    version: int = V1,
    dcid: bytes = DCID,
    key_dcid: bytes | None = None,
    profile: qc.Profile | None = None,
    token: bytes = b"",
) -> bytes:
    prof = profile or qc.profile_for(version) or qc.PROFILE_V1
    keys = qc.initial_keys(key_dcid or dcid, prof, server=False)
    return build_long_packet(PT_INITIAL, version, dcid, SCID, pn, frames, keys, token=token)


def server_initial(frames: bytes, pn: int = 0, version: int = V1, key_dcid: bytes = DCID) -> bytes:
    keys = qc.initial_keys(key_dcid, qc.profile_for(version) or qc.PROFILE_V1, server=True)
    return build_long_packet(PT_INITIAL, version, SCID, SERVER_CID, pn, frames, keys)


def handshake_packet(pn: int = 0, client: bool = False) -> bytes:
    # Sealed with throwaway keys: an observer cannot open Handshake packets anyway.
    keys = qc.initial_keys(b"handshake", qc.PROFILE_V1, server=not client)
    src, dst = (SCID, SERVER_CID) if client else (SERVER_CID, SCID)
    return build_long_packet(PT_HANDSHAKE, V1, dst, src, pn, bytes(40), keys)


def short_packet() -> bytes:
    return bytes((0x41,)) + SERVER_CID + bytes(30)


# --- the happy path ----------------------------------------------------------------------


def test_handshake_through_states_with_sni_and_alpn() -> None:
    flows = QuicFlows()
    hello = client_hello(b"quic.example.org", (b"h3", b"h3-29"))
    got = flows.inspect("k", True, client_initial(pad(crypto_frame(0, hello))), 0.0)
    assert got is not None
    assert got["app"] == "QUIC"
    assert got["quic_version"] == "0x00000001"
    assert got["sni"] == "quic.example.org"
    assert got["alpn"] == ["h3", "h3-29"]
    assert got["quic_state"] == QUIC_INITIAL
    assert got["quic_dcid"] == DCID.hex()
    # Server Initial coalesced with a Handshake packet in one datagram.
    dgram = server_initial(b"\x02\x00\x00\x00\x00" + bytes(20)) + handshake_packet()
    got = flows.inspect("k", False, dgram, 0.1)
    assert got == {"app": "QUIC", "quic_state": QUIC_HANDSHAKE}
    # Nothing new: a retransmitted client Initial.
    assert flows.inspect("k", True, client_initial(pad(crypto_frame(0, hello)), pn=1), 0.2) is None
    got = flows.inspect("k", False, short_packet(), 0.3)
    assert got == {"app": "QUIC", "quic_state": QUIC_CONNECTED}
    assert flows.inspect("k", True, short_packet(), 0.4) is None
    assert flows.decrypted == 3 and flows.malformed == 0


def test_client_hello_split_across_initials_in_any_order() -> None:
    hello = client_hello(b"split.example", pad_ext=1500)  # bigger than one packet
    for cut in (1, 3, 4, 100, 1000, len(hello) - 1):
        for order in ((0, 1), (1, 0)):
            flows = QuicFlows()
            parts = [crypto_frame(0, hello[:cut]), crypto_frame(cut, hello[cut:])]
            results = [
                flows.inspect("k", True, client_initial(pad(parts[i]), pn=n), float(n))
                for n, i in enumerate(order)
            ]
            assert results[0] is not None and "sni" not in results[0]
            assert results[1] is not None and results[1]["sni"] == "split.example", cut


def test_crypto_frames_out_of_order_inside_one_packet() -> None:
    hello = client_hello(b"chaos.example")
    frames = b"".join(crypto_frame(o, hello[o : o + 37]) for o in range(0, len(hello), 37)[::-1])
    flows = QuicFlows()
    got = flows.inspect("k", True, client_initial(pad(b"\x01" + frames)), 0.0)
    assert got is not None and got["sni"] == "chaos.example"


def test_later_client_initials_use_original_dcid_keys() -> None:
    """After the server's Initial the client sends to the server's CID, still with the
    keys of its original DCID (RFC 9001 §5.2)."""
    hello = client_hello(b"late.example")
    flows = QuicFlows()
    flows.inspect("k", True, client_initial(pad(crypto_frame(0, hello[:50]))), 0.0)
    second = client_initial(pad(crypto_frame(50, hello[50:])), pn=1, dcid=SERVER_CID, key_dcid=DCID)
    got = flows.inspect("k", True, second, 0.1)
    assert got is not None and got["sni"] == "late.example"


# --- versions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "version,name",
    [
        (0x6B3343CF, "v2"),
        (0xFF00001D, "draft-29"),
        (0xFF00001B, "draft-27"),
        (0xFF000022, "draft-34"),
    ],
)
def test_known_versions(version: int, name: str) -> None:
    flows = QuicFlows()
    got = flows.inspect("k", True, client_initial(pad(crypto_frame(0, client_hello())), version=version), 0.0)
    assert got is not None, name
    assert got["quic_version"] == f"0x{version:08x}"
    assert got["sni"] == "quic.example.org"


@pytest.mark.parametrize("profile", [qc.PROFILE_V1, qc.PROFILE_DRAFT_29, qc.PROFILE_DRAFT_23])
def test_reserved_version_found_by_trial(profile: qc.Profile) -> None:
    pkt = client_initial(
        pad(crypto_frame(0, client_hello(b"greased.example")), 1200), version=0x0A1A2A3A, profile=profile
    )
    flows = QuicFlows()
    got = flows.inspect("k", True, pkt, 0.0)
    assert got is not None
    assert got["quic_version"] == "0x0a1a2a3a"
    assert got["sni"] == "greased.example"
    # The server's Initial then opens with the salt that worked.
    keys = qc.initial_keys(DCID, profile, server=True)
    srv = build_long_packet(PT_INITIAL, 0x0A1A2A3A, SCID, SERVER_CID, 0, close_frame(0x0A, b"bye"), keys)
    got = flows.inspect("k", False, srv, 0.1)
    assert got is not None and got["quic_close"] == 0x0A


def test_version_negotiation() -> None:
    vn = b"\x80" + bytes(4) + bytes((len(SCID),)) + SCID + bytes((len(DCID),)) + DCID
    vn += bytes.fromhex("000000016b3343cf")
    assert looks_like_quic(vn)
    flows = QuicFlows()
    flows.inspect("k", True, client_initial(pad(crypto_frame(0, client_hello())), version=0x1A2A3A4A), 0.0)
    got = flows.inspect("k", False, vn, 0.1)
    assert got == {"app": "QUIC", "quic_vn": ["0x00000001", "0x6b3343cf"]}


def test_retry_then_new_dcid() -> None:
    flows = QuicFlows()
    flows.inspect("k", True, client_initial(pad(crypto_frame(0, b"\x01\x00"))), 0.0)
    new_dcid = bytes.fromhex("c0c1c2c3c4c5c6c7")
    retry = (
        bytes((0xF0,))
        + V1.to_bytes(4, "big")
        + bytes((len(SCID),))
        + SCID
        + bytes((len(new_dcid),))
        + new_dcid
        + b"token-bytes"
        + bytes(16)
    )
    got = flows.inspect("k", False, retry, 0.1)
    assert got is not None and got["quic_retry"] is True
    again = client_initial(
        pad(crypto_frame(0, client_hello(b"retry.example"))), pn=1, dcid=new_dcid, token=b"token-bytes"
    )
    got = flows.inspect("k", True, again, 0.2)
    assert got is not None and got["sni"] == "retry.example"
    # The server's Initial is protected with keys from the new DCID.
    got = flows.inspect("k", False, server_initial(bytes(30), key_dcid=new_dcid), 0.3)
    assert got is not None and got["quic_state"] == QUIC_HANDSHAKE


# --- CONNECTION_CLOSE ------------------------------------------------------------------------


def test_connection_close_both_sides() -> None:
    flows = QuicFlows()
    frames = pad(crypto_frame(0, client_hello()) + close_frame(0x0A, b"bad \x1b[31mthing"))
    got = flows.inspect("k", True, client_initial(frames), 0.0)
    assert got is not None
    assert got["quic_close"] == 0x0A
    assert got["quic_close_app"] is False
    assert got["quic_close_reason"] == "bad \\x1b[31mthing"
    assert got["quic_state"] == QUIC_DRAINING
    got = flows.inspect("k", False, server_initial(close_frame(0x101, b"", app=True) + bytes(8)), 0.1)
    assert got is not None
    assert got["quic_close"] == 0x101 and got["quic_close_app"] is True
    assert got["quic_state"] == QUIC_CLOSED


# --- hostile and foreign input -----------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\x00",
        bytes(100),
        b"\x80" * 3,
        bytes.fromhex("12340100000100000000000003777777"),
        bytes.fromhex("8000") + bytes(200),  # RTP-like: fixed bit clear
        b"\xc0\x00\x00\x00\x01\xff" + bytes(20),  # DCID length beyond the datagram
    ],
)
def test_foreign_payloads_are_ignored(payload: bytes) -> None:
    flows = QuicFlows()
    assert flows.inspect("k", True, payload, 0.0) is None
    assert not flows.known("k")


def test_unknown_version_short_datagram_not_quic() -> None:
    pkt = b"\xc0\x12\x34\x56\x78\x04" + bytes(4) + b"\x00" + bytes(50)
    assert not looks_like_quic(pkt)


def test_cut_initial_counts_as_malformed() -> None:
    pkt = client_initial(pad(crypto_frame(0, client_hello())))
    for cut in (7, 20, 40, 600, len(pkt) - 1):
        flows = QuicFlows()
        got = flows.inspect("k", True, pkt[:cut], 0.0)
        assert got is None or "sni" not in got
        assert flows.decrypted == 0


def test_flow_table_is_bounded() -> None:
    flows = QuicFlows(max_flows=8)
    pkt = client_initial(pad(b"\x01"))
    for i in range(50):
        flows.inspect(i, True, pkt, float(i))
    assert len(flows._flows) == 8
    assert flows.known(49) and not flows.known(0)


def test_crypto_beyond_cap_is_dropped() -> None:
    flows = QuicFlows()
    hello = client_hello()
    got = flows.inspect("k", True, client_initial(pad(crypto_frame(CRYPTO_CAP + 10, hello))), 0.0)
    assert got is not None and "sni" not in got
    # A ClientHello claiming more than the cap is given up, not buffered forever.
    huge = b"\x01" + (CRYPTO_CAP).to_bytes(3, "big") + bytes(100)
    flows = QuicFlows()
    flows.inspect("k", True, client_initial(pad(crypto_frame(0, huge))), 0.0)
    assert flows._flows["k"].crypto[0] is None


def test_frames_parser_contract() -> None:
    crypto, close = parse_frames(b"\x00\x00\x01" + crypto_frame(5, b"abc") + b"\x02\x01\x00\x00\x00")
    assert crypto == [(5, b"abc")] and close is None
    with pytest.raises(QuicError):
        parse_frames(b"\x06\x00\x10abc")  # CRYPTO longer than the packet
    with pytest.raises(QuicError):
        parse_frames(b"\x02\x01\x00\x3f")  # ACK cut
    # An unknown frame type ends parsing quietly: its length cannot be known.
    assert parse_frames(b"\x08\x01\x02" + crypto_frame(0, b"x")) == ([], None)


def test_varint() -> None:
    for v in (0, 63, 64, 16383, 16384, 2**30 - 1, 2**30, 2**62 - 1):
        assert read_varint(encode_varint(v), 0) == (v, len(encode_varint(v)))
    with pytest.raises(QuicError):
        read_varint(b"\x80\x00", 0)


def test_client_hello_names_are_escaped() -> None:
    got = parse_client_hello(client_hello(b"evil\x1b]0;pwned\x07.example", (b"h3\x00x",)))
    assert got["sni"] == "evil\\x1b]0;pwned\\x07.example"
    assert got["alpn"] == ["h3\\x00x"]
    with pytest.raises(QuicError):
        parse_client_hello(b"\x02\x00\x00\x04abcd")
    with pytest.raises(QuicError):
        parse_client_hello(client_hello()[:50])


def test_version_change_after_negotiation_is_reported() -> None:
    flows = QuicFlows()
    hello = pad(crypto_frame(0, client_hello()), 1200)
    got = flows.inspect("k", True, client_initial(hello, version=0x1A2A3A4A), 0.0)
    assert got is not None and got["quic_version"] == "0x1a2a3a4a"
    got = flows.inspect("k", True, client_initial(hello, pn=1), 0.1)
    assert got is not None and got["quic_version"] == "0x00000001"


def test_new_connection_on_same_tuple_is_learned_afresh() -> None:
    flows = QuicFlows()
    flows.inspect("k", True, client_initial(pad(crypto_frame(0, client_hello(b"one.example")))), 0.0)
    other = bytes.fromhex("9999999999999999")
    got = flows.inspect(
        "k", True, client_initial(pad(crypto_frame(0, client_hello(b"two.example"))), dcid=other), 5.0
    )
    assert got is not None and got["sni"] == "two.example"


def test_junk_initials_stop_costing_key_derivations() -> None:
    flows = QuicFlows()
    junk = bytearray(client_initial(pad(b"\x01")))
    junk[-1] ^= 1  # the tag no longer verifies
    for i in range(40):
        flows.inspect("k", True, bytes(junk), float(i))
    assert flows.undecryptable == 40 and flows.decrypted == 0
    assert flows._flows["k"].failed == 40
    # Past the cap a real Initial of a new DCID is not tried either (bounded work).
    assert flows.inspect("k", True, client_initial(pad(crypto_frame(0, client_hello()))), 50.0) is None


def test_crypto_memory_is_bounded_across_flows() -> None:
    flows = QuicFlows(max_flows=64, max_buffered=200_000)
    far = client_initial(pad(crypto_frame(60_000, b"x" * 100)))
    for i in range(64):
        flows.inspect(i, True, far, float(i))
    held = sum(len(c.buf) for f in flows._flows.values() for c in f.crypto if c is not None)
    assert held == flows.buffered <= 200_000
    assert flows.buffered >= 3 * 60_000  # three flows fit, the rest were refused
    for i in range(64):
        flows.forget(i)
    assert flows.buffered == 0
    # The budget is back: a ClientHello completes again.
    got = flows.inspect("k", True, client_initial(pad(crypto_frame(0, client_hello()))), 99.0)
    assert got is not None and got["sni"] == "quic.example.org"
    assert flows.buffered == 0  # released once read


def test_packet_hint_initial_and_handshake_only() -> None:
    """rn-track times the handshake from the local side's Initial or Handshake packet (RFC 9000
    §17.2 types; v2 numbers them otherwise, RFC 9369 §3.2); 0-RTT, Retry and 1-RTT are not timed."""
    insp = Inspector()
    a, b = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
    got = insp.inspect(17, a, 5000, b, 443, client_initial(pad(crypto_frame(0, client_hello()))), 1.0)
    assert got is not None and got["quic_packet"] == "initial" and got["sni"] == "quic.example.org"
    got = insp.inspect(17, b, 443, a, 5000, handshake_packet(), 1.05)
    assert got is not None and got["quic_packet"] == "handshake"
    assert insp.inspect(17, b, 443, a, 5000, short_packet(), 1.1) is not None  # connected
    assert insp.inspect(17, b, 443, a, 5000, short_packet(), 1.2) is None  # no hint on 1-RTT
    v1, v2 = V1.to_bytes(4, "big"), (0x6B3343CF).to_bytes(4, "big")
    assert [packet_hint(bytes([b0]) + v1 + bytes(20)) for b0 in (0xC0, 0xD0, 0xE0, 0xF0)] == [
        "initial",
        None,
        "handshake",
        None,
    ]
    assert [packet_hint(bytes([b0]) + v2 + bytes(20)) for b0 in (0xC0, 0xD0, 0xE0, 0xF0)] == [
        None,
        "initial",
        None,
        "handshake",
    ]
    assert packet_hint(bytes([0x80]) + bytes(24)) is None  # Version Negotiation
