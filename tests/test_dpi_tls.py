"""TLS hellos: parser fields from literal bytes, and reassembly through the Inspector."""

from __future__ import annotations

import pytest
from rustnet.dissect import tls
from rustnet.dissect.dpi import Inspector
from rustnet.dissect.errors import DissectError

from tests import dpi_samples as S

C = bytes([10, 0, 0, 1])
SRV = bytes([10, 0, 0, 2])


def test_client_hello_fields() -> None:
    stream = S.client_hello(
        sni=b"www.example.com", alpn=[b"h2", b"http/1.1"], versions=[0x3A3A, 0x0304, 0x0303]
    )
    hello = tls.client_hello_from_stream(stream)
    assert hello == tls.ClientHello(0x0303, "www.example.com", ("h2", "http/1.1"), (0x0304, 0x0303), False)


def test_literal_minimal_client_hello() -> None:
    # Record header, handshake header, version, random, empty session id, one suite,
    # null compression, one extension: server_name "a.b".
    stream = bytes.fromhex(
        "16030100"
        "3b"  # handshake record, 59 bytes
        "01000037"  # ClientHello, 55 bytes
        "0303"
        + "00"
        * 32  # legacy_version, random
        + "00"
        "0002"
        "1301"
        "0100"  # session id, cipher suites, compression
        "000c"
        "0000"
        "0008"
        "0006"
        "00"
        "0003"
        "612e62"  # extensions: SNI a.b
    )
    hello = tls.client_hello_from_stream(stream)
    assert hello is not None and hello.sni == "a.b" and hello.alpn == () and not hello.ech


def test_ech_reports_outer_name() -> None:
    hello = tls.client_hello_from_stream(S.client_hello(sni=b"public.example", ech=True))
    assert hello is not None and hello.ech and hello.sni == "public.example"


def test_server_hello_tls13_and_tls12() -> None:
    sh = tls.server_hello_from_stream(S.server_hello(0x1302, 0x0304))
    assert sh == tls.ServerHello(0x0303, 0x1302, 0x0304)
    sh = tls.server_hello_from_stream(S.server_hello(0xC02F, None))
    assert sh == tls.ServerHello(0x0303, 0xC02F, None)
    assert tls.cipher_name(0xC02F) == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    assert tls.cipher_name(0xABCD) == "0xabcd"
    assert tls.version_name(0x7F1C) == "TLS 1.3 draft-28"


def test_hostile_sni_is_escaped() -> None:
    hello = tls.client_hello_from_stream(S.client_hello(sni=b"evil\x1b[2J\xe2\x80\xae.com"))
    assert hello is not None and hello.sni == "evil\\x1b[2J\\u202e.com"


def test_need_more_then_whole() -> None:
    stream = S.client_hello(sni=b"x.example")
    for cut in range(len(stream)):
        assert tls.client_hello_from_stream(stream[:cut]) is None
    assert tls.client_hello_from_stream(stream) is not None


def test_hello_split_over_records() -> None:
    body = S.handshake(1, S.client_hello_body(sni=b"records.example", padding=700))
    stream = S.records(body, max_fragment=100)
    hello = tls.client_hello_from_stream(stream)
    assert hello is not None and hello.sni == "records.example"


def _bad_extension_length() -> bytes:
    body = bytearray(S.client_hello_body())
    at = 2 + 32 + 1 + 32 + 2 + 8 + 2  # version, random, session id, suites, compression
    body[at : at + 2] = S.u16(len(body))
    return bytes(body)


@pytest.mark.parametrize(
    "data",
    [
        b"\x17\x03\x03\x00\x10" + bytes(16),  # application data first
        b"\x16\x02\x00\x00\x10" + bytes(16),  # record version 2.x
        b"\x16\x03\x01\x00\x00",  # empty record
        S.records(S.handshake(1, b"\x02\x00" + bytes(40))),  # ClientHello version 0x0200
        S.records(S.handshake(1, _bad_extension_length())),  # extension block runs past the body
    ],
)
def test_malformed_raises_dissect_error(data: bytes) -> None:
    with pytest.raises(DissectError):
        tls.client_hello_from_stream(data)


def _feed(insp: Inspector, segments: list[bytes], seqs: list[int] | None = None) -> dict[str, object]:
    got: dict[str, object] = {}
    for i, seg in enumerate(segments):
        seq = None if seqs is None else seqs[i]
        info = insp.inspect(6, C, 50000, SRV, 8443, seg, float(i), seq=seq)
        if info:
            got.update(info)
    return got


def test_split_at_every_offset_two_segments() -> None:
    stream = S.client_hello(sni=b"split.example.org", alpn=[b"h2"], versions=[0x0304, 0x0303], padding=300)
    for cut in range(1, len(stream)):
        got = _feed(Inspector(), [stream[:cut], stream[cut:]])
        assert got.get("sni") == "split.example.org", cut
        assert got["app"] == "TLS" and got["alpn"] == ["h2"]
        assert got["tls_versions_offered"] == ["TLS 1.3", "TLS 1.2"]


def test_split_with_seq_retransmit_and_reorder() -> None:
    stream = S.client_hello(sni=b"seq.example", padding=500)
    base = 1000
    a, b, c = stream[:200], stream[200:400], stream[400:]
    # a, then c ahead of a gap (held back), a retransmission overlapping the gap, then b.
    segs = [a, c, stream[100:300], b]
    seqs = [base, base + 400, base + 100, base + 200]
    got = _feed(Inspector(), segs, seqs)
    assert got.get("sni") == "seq.example"


def test_retransmit_without_seq_would_corrupt_but_never_invents_sni() -> None:
    stream = S.client_hello(sni=b"dup.example", padding=500)
    got = _feed(Inspector(), [stream[:300], stream[:300], stream[300:]])
    assert got.get("sni") in (None, "dup.example")


def test_both_directions_then_flow_done() -> None:
    insp = Inspector()
    ch = insp.inspect(6, C, 50000, SRV, 443, S.client_hello(sni=b"a.example"), 0.0)
    sh = insp.inspect(6, SRV, 443, C, 50000, S.server_hello(0x1301, 0x0304), 0.1)
    assert ch is not None and ch["sni"] == "a.example"
    assert sh == {"app": "TLS", "tls_version": "TLS 1.3", "tls_cipher": "TLS_AES_128_GCM_SHA256"}
    assert not insp.wants(6, C, 50000, SRV, 443)
    assert insp.inspect(6, C, 50000, SRV, 443, b"\x17\x03\x03\x00\x05hello", 0.2) is None


def test_tls_on_any_port_and_oversized_hello_gives_no_partial_sni() -> None:
    insp = Inspector(buf_cap=1024)
    big = S.client_hello(sni=b"big.example", padding=4000)
    got = _feed(insp, [big[i : i + 500] for i in range(0, len(big), 500)])
    assert "sni" not in got
    got = _feed(Inspector(), [S.client_hello(sni=b"port.example")])
    assert got["sni"] == "port.example"


# RFC 8446 §6 / RFC 5246 §7.2: an alert record is type 21, version, length 2, then level and
# description; RFC 6066 §3: a server that does not know the requested name may send the
# warning unrecognized_name (112) before its ServerHello.
UNRECOGNIZED_NAME_ALERT = b"\x15\x03\x03\x00\x02\x01\x70"


def test_server_hello_after_a_warning_alert() -> None:
    stream = UNRECOGNIZED_NAME_ALERT + S.server_hello(0xC02F, None)
    assert tls.server_hello_from_stream(stream) == tls.ServerHello(0x0303, 0xC02F, None)
    for cut in range(len(stream)):  # arriving piece by piece: never an error, never a wrong hello
        assert tls.server_hello_from_stream(stream[:cut]) is None
    insp = Inspector()
    insp.inspect(6, C, 50001, SRV, 443, S.client_hello(sni=b"unknown.example"), 0.0)
    sh = insp.inspect(6, SRV, 443, C, 50001, stream, 0.1)
    assert sh == {
        "app": "TLS",
        "tls_version": "TLS 1.2",
        "tls_cipher": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    }
    assert insp.malformed == 0


def test_alert_inside_a_split_hello_is_still_malformed() -> None:
    # Only before the hello: RFC 8446 §5.1 forbids other records between a message's fragments.
    body = S.handshake(2, S.server_hello(0xC02F, None)[9:])
    pieces = S.records(body, max_fragment=20)
    with pytest.raises(DissectError):
        tls.server_hello_from_stream(pieces[:25] + UNRECOGNIZED_NAME_ALERT + pieces[25:])


def _hello_with(extension_body: bytes, etype: int = 0) -> bytes:
    """A ClientHello body whose only extension is ``etype`` with this body (RFC 8446 §4.1.2)."""
    exts = S.ext(etype, extension_body)
    return b"\x03\x03" + bytes(32) + b"\x00" + S.u16(2) + b"\x13\x01" + b"\x01\x00" + S.u16(len(exts)) + exts


def _entry(name_type: int, name: bytes) -> bytes:
    return S.u8(name_type) + S.u16(len(name)) + name  # RFC 6066 §3: ServerName


@pytest.mark.parametrize(
    "server_name_body,want",
    [
        (S.u16(16) + _entry(0, b"a.example.com"), "a.example.com"),  # the name ends the list exactly
        (S.u16(4) + _entry(0, b"x"), "x"),
        # Another name type first (only host_name, 0, is defined): skipped, the host_name used.
        (S.u16(6 + 4) + _entry(7, b"abc") + _entry(0, b"x"), "x"),
        (S.u16(6) + _entry(7, b"abc"), None),  # no host_name at all
        (S.u16(0), None),  # an empty list
        (S.u16(17) + _entry(0, b"a.example.com"), DissectError),  # list one byte past the extension
        (S.u16(15) + _entry(0, b"a.example.com")[:-1], DissectError),  # name one byte past the list
        (S.u16(15) + _entry(0, b"a.example.com")[:-1] + b"\x00", DissectError),  # ... and past it, a byte
        (S.u16(2) + b"\x00\x00", DissectError),  # an entry header cut
        (S.u16(3) + _entry(0, b""), DissectError),  # an empty name
        (b"\x00", DissectError),  # no room for the list length
    ],
)
def test_server_name_bounds(server_name_body: bytes, want: object) -> None:
    body = _hello_with(server_name_body)
    if want is DissectError:
        with pytest.raises(DissectError):
            tls.parse_client_hello(body)
    else:
        assert tls.parse_client_hello(body).sni == want


def test_long_server_name_is_cut_at_255_characters() -> None:
    name = b"n" * 300  # longer than DNS allows: shown cut and marked, never whole
    sni = tls.parse_client_hello(_hello_with(S.u16(303) + _entry(0, name))).sni
    assert sni == "n" * 255 + "\u2026"
    assert tls.parse_client_hello(_hello_with(S.u16(258) + _entry(0, name[:255]))).sni == "n" * 255
