"""Fuzz the QUIC dissector's contract.

* ``QuicFlows.inspect`` never raises: it returns None or a dict whose ``app`` is QUIC.
* The parsers return a result or raise ``DissectError`` (QuicError is one), nothing else.

Input: a valid client Initial (decryptable, with a ClientHello) cut at any offset, with
random bytes appended or flipped, and wholly random datagrams.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rustnet.dissect import quic_crypto as qc
from rustnet.dissect.errors import DissectError
from rustnet.dissect.quic import (
    PT_INITIAL,
    STATES,
    QuicError,
    QuicFlows,
    build_long_packet,
    encode_varint,
    parse_client_hello,
    parse_frames,
    parse_long_header,
)

DCID = bytes.fromhex("0102030405060708")
SNI = b"fuzz.example"


def _hello() -> bytes:
    name = b"\x00" + len(SNI).to_bytes(2, "big") + SNI
    sni_ext = b"\x00\x00" + (len(name) + 2).to_bytes(2, "big") + len(name).to_bytes(2, "big") + name
    alpn_ext = b"\x00\x10\x00\x05\x00\x03\x02h3"
    exts = sni_ext + alpn_ext
    body = b"\x03\x03" + bytes(32) + b"\x00\x00\x02\x13\x01\x01\x00"
    body += len(exts).to_bytes(2, "big") + exts
    return b"\x01" + len(body).to_bytes(3, "big") + body


HELLO = _hello()
FRAMES = (b"\x06\x00" + encode_varint(len(HELLO)) + HELLO + b"\x1c\x0a\x00\x03bye").ljust(1100, b"\x00")
INITIAL = build_long_packet(
    PT_INITIAL, qc.VERSION_1, DCID, b"\xaa\xbb", 0, FRAMES, qc.initial_keys(DCID, qc.PROFILE_V1, server=False)
)

CLIENT_KEYS = qc.initial_keys(DCID, qc.PROFILE_V1, server=False)
SERVER_KEYS = qc.initial_keys(DCID, qc.PROFILE_V1, server=True)
# RFC 9001 A.3's server Initial payload: ACK + CRYPTO(ServerHello).
SERVER_FRAMES = bytes.fromhex(
    "02000000000600405a020000560303eefce7f7b37ba1d1632e96677825ddf739"
    "88cfc79825df566dc5430b9a045a1200130100002e00330024001d00209d3c94"
    "0d89690b84d08a60993c144eca684d1081287c834d5311bcf32bb9da1a002b00"
    "020304"
)

FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check_inspect(flows: QuicFlows, payload: bytes, from_client: bool) -> None:
    got = flows.inspect("k", from_client, payload, 0.0)
    assert got is None or got["app"] == "QUIC"
    if got is not None and "quic_state" in got:
        assert got["quic_state"] in STATES
    assert flows.bugs == 0
    held = sum(len(c.buf) for f in flows._flows.values() for c in f.crypto if c is not None)
    assert held == flows.buffered <= flows.max_buffered


def test_intact_initial_gives_the_sni() -> None:
    got = QuicFlows().inspect("k", True, INITIAL, 0.0)
    assert got is not None and got["sni"] == "fuzz.example" and got["quic_close"] == 0x0A


@FUZZ
@given(cut=st.integers(0, len(INITIAL)), tail=st.binary(max_size=64), from_client=st.booleans())
def test_cut_initial_plus_random_tail(cut: int, tail: bytes, from_client: bool) -> None:
    flows = QuicFlows()
    _check_inspect(flows, INITIAL[:cut] + tail, from_client)
    _check_inspect(flows, INITIAL, from_client)  # state from the junk must not break the flow


@FUZZ
@given(pos=st.integers(0, len(INITIAL) - 1), value=st.integers(0, 255))
def test_one_byte_changed(pos: int, value: int) -> None:
    data = bytearray(INITIAL)
    data[pos] = value
    _check_inspect(QuicFlows(), bytes(data), True)


@FUZZ
@given(data=st.binary(max_size=1500), from_client=st.booleans())
def test_random_datagrams(data: bytes, from_client: bool) -> None:
    flows = QuicFlows()
    _check_inspect(flows, b"\xc0\x00\x00\x00\x01" + data, from_client)
    _check_inspect(flows, data, from_client)


@FUZZ
@given(cut=st.integers(0, len(FRAMES)), tail=st.binary(max_size=64))
def test_frame_parser_outcomes(cut: int, tail: bytes) -> None:
    try:
        crypto, close = parse_frames(FRAMES[:cut] + tail)
    except QuicError:
        return
    assert isinstance(crypto, list)
    assert close is None or isinstance(close[0], int)


@FUZZ
@given(cut=st.integers(0, len(HELLO)), tail=st.binary(max_size=64))
def test_client_hello_parser_outcomes(cut: int, tail: bytes) -> None:
    msg = HELLO[:cut] + tail
    try:
        got = parse_client_hello(msg)
    except DissectError:
        return
    assert isinstance(got, dict)
    if cut == len(HELLO) and not tail:
        assert got["sni"] == "fuzz.example"


@FUZZ
@given(data=st.binary(max_size=200))
def test_long_header_parser_outcomes(data: bytes) -> None:
    try:
        h = parse_long_header(b"\xc0" + data, 0)
    except QuicError:
        return
    assert 0 <= h.end <= len(data) + 1


@FUZZ
@given(cut=st.integers(0, len(FRAMES)), tail=st.binary(max_size=200), pn=st.integers(0, 5))
def test_sealed_client_plaintext(cut: int, tail: bytes, pn: int) -> None:
    """Damage behind a valid AEAD tag: the frame and ClientHello parsers see it all."""
    payload = (FRAMES[:cut] + tail).ljust(20, b"\x00")
    pkt = build_long_packet(PT_INITIAL, qc.VERSION_1, DCID, b"\xaa\xbb", pn, payload, CLIENT_KEYS)
    flows = QuicFlows()
    _check_inspect(flows, pkt, True)
    assert flows.decrypted == 1


@FUZZ
@given(cut=st.integers(0, len(SERVER_FRAMES)), tail=st.binary(max_size=200))
def test_sealed_server_plaintext(cut: int, tail: bytes) -> None:
    flows = QuicFlows()
    _check_inspect(flows, INITIAL, True)
    payload = (SERVER_FRAMES[:cut] + tail).ljust(20, b"\x00")
    pkt = build_long_packet(PT_INITIAL, qc.VERSION_1, b"\xaa\xbb", b"\xcc", 0, payload, SERVER_KEYS)
    _check_inspect(flows, pkt, False)
    assert flows.decrypted == 2
