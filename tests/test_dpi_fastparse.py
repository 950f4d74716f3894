"""The hot-path DPI parsers against their straightforward references (tests/dpi_reference.py).

Same result or the same kind of failure (DissectError) on valid messages, every cut, random
byte and length-field corruptions, and the real hellos of the corpus.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from rustnet.dissect import http, tls
from rustnet.dissect.errors import DissectError
from rustnet.dissect.safe_text import escape_text

from tests import dpi_reference as R
from tests import dpi_samples as S


def outcome(fn: Callable[[Any], Any], arg: Any) -> Any:
    try:
        return ("ok", fn(arg))
    except DissectError:
        return ("error", None)


def mutants(base: bytes, rng: random.Random, n: int) -> list[bytes]:
    """Cuts, byte flips, and small changes to the bytes that are likely length fields."""
    out = [base[:cut] for cut in range(len(base) + 1)]
    for _ in range(n):
        b = bytearray(base)
        for _ in range(rng.randrange(1, 4)):
            pos = rng.randrange(len(b))
            if rng.random() < 0.5:
                b[pos] = rng.randrange(256)
            else:
                b[pos] = (b[pos] + rng.choice((-2, -1, 1, 2, 16))) & 0xFF
        out.append(bytes(b) if rng.random() < 0.8 else bytes(b[: rng.randrange(len(b) + 1)]))
    return out


def client_hello_bodies() -> list[bytes]:
    return [
        S.client_hello_body(),
        S.client_hello_body(sni=None),
        S.client_hello_body(sni=b"a"),
        S.client_hello_body(sni=b"evil\x1b[2J\xe2\x80\xae.com", alpn=[b"h2", b"http/1.1"] * 5),
        S.client_hello_body(alpn=[b"h3"], versions=[0x3A3A, 0x0304, 0x0303, 0x7F1C], ech=True),
        S.client_hello_body(versions=list(range(0x0300, 0x0310)), padding=40),
        S.client_hello_body(sni=b"x" * 300, alpn=[b"\\a\x00b"]),
        # Duplicated extensions: the later ALPN/SNI wins, versions add up.
        S.client_hello_body(alpn=[b"h2"]) + S.ext(16, S.u16(3) + b"\x02h3") + S.versions_ext([0x0304]),
    ] + [session_id_body(n) for n in (0, 31, 32, 33, 255)]


def session_id_body(n: int) -> bytes:
    """A ClientHello body whose session id is n bytes long (more than 32 is refused)."""
    body = S.client_hello_body()
    return body[:34] + S.u8(n) + bytes(n) + body[35 + 32 :]


@pytest.mark.parametrize("seed", range(4))
def test_client_hello_matches_reference(seed: int) -> None:
    rng = random.Random(seed)
    for body in client_hello_bodies():
        for m in mutants(body, rng, 300):
            assert outcome(tls.parse_client_hello, m) == outcome(R.parse_client_hello, m)


def test_server_hello_matches_reference() -> None:
    rng = random.Random(7)
    for cipher, selected in ((0x1301, 0x0304), (0xC02F, None), (0xABCD, 0x7F1C)):
        body = S.server_hello(cipher, selected)[9:]
        for m in mutants(body, rng, 300):
            assert outcome(tls.parse_server_hello, m) == outcome(R.parse_server_hello, m)


def test_first_handshake_message_matches_reference() -> None:
    rng = random.Random(3)
    message = S.handshake(1, S.client_hello_body(padding=100))
    streams = [
        S.records(message),
        S.records(message, max_fragment=50),
        S.records(message, version=0x0303),
        S.records(message) + S.records(S.handshake(2, b"more")),
        S.server_hello(),
        S.records(S.handshake(1, b"")),
    ]
    for stream in streams:
        for m in mutants(stream, rng, 200):
            for arg in (m, bytearray(m)):
                assert outcome(tls.first_handshake_message, arg) == outcome(R.first_handshake_message, arg)


def test_escape_text_matches_reference() -> None:
    rng = random.Random(11)
    alphabet = [
        b"a",
        b"Z",
        b"0",
        b".",
        b"-",
        b" ",
        b"~",
        b"\\",
        b"\x00",
        b"\x1b",
        b"\x7f",
        b"\x80",
        b"\xff",
        b"\xc2\x9b",
        b"\xe2\x80\xae",
        b"\xc3\xbc",
        b"\xed\xa0\x80",
    ]
    cases: list[Any] = [b"", b"plain.example", b"a" * 300, "str \x1b", "bücher"]
    for _ in range(3000):
        raw = b"".join(
            rng.choice(alphabet[:6] if rng.random() < 0.5 else alphabet) for _ in range(rng.randrange(0, 40))
        )
        cases.append(raw)
    for raw in cases:
        for limit in (-1, 0, 1, 5, 16, 39, 40, 256):
            want = R.escape_text_reference(raw, limit)
            for arg in (raw, bytearray(raw), memoryview(raw)) if isinstance(raw, bytes) else (raw,):
                assert escape_text(arg, limit) == want


def http_requests() -> list[bytes]:
    return [
        b"GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\n\r\n",
        b"GET /a b c HTTP/1.0\r\n\r\n",
        b"POST /x HTTP/1.1\nhost:a\nHOST: b\n user-agent \t: ua one \nUser-Agent: two\n\nbody",
        b"GET / HTTP/1.1\r\nX-Host: no\r\nHost-Name: no\r\nHost : yes\r\nhost\r: also\r\nUser-Agent:\r\n\r\n",
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
        b'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\n\r\n',
        b"GET / HTTP/1.1\r\nHost: \x1b[2Jevil\\\r\nUser-Agent: " + b"u" * 400 + b"\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: no-blank-line\r\n",
        b"GET /only-a-line HTTP/1.1",
        b"GET " + b"/p" * 9000 + b" HTTP/1.1\r\nHost: big\r\n\r\n",
        b"GET / FTP/1.1\r\n\r\n",
        b"GETS / HTTP/1.1\r\n\r\n",
        b"GET  HTTP/1.1\r\n\r\n",
        b"GET /\r\nHost: a\r\n\r\n",
    ]


def test_http_request_matches_reference() -> None:
    rng = random.Random(5)
    tokens = [
        b"Host",
        b"host",
        b"HOST",
        b"User-Agent",
        b"user-agent",
        b":",
        b" ",
        b"\t",
        b"\r",
        b"\n",
        b"\r\n",
        b"x",
        b"\\",
        b"\x00",
        b"\xff",
        b"\r\n\r\n",
        b"\n\n",
    ]
    cases = []
    for base in http_requests():
        cases += mutants(base, rng, 150)
        for _ in range(150):
            b = bytearray(base)
            pos = rng.randrange(len(b) + 1)
            b[pos:pos] = b"".join(rng.choice(tokens) for _ in range(rng.randrange(1, 6)))
            cases.append(bytes(b))
    for data in cases:
        for final in (False, True):
            want = outcome(lambda d: R.parse_request_reference(d, final), data)  # noqa: B023
            assert outcome(lambda d: http.parse_request(d, final), data) == want  # noqa: B023


def dns_messages() -> list[bytes]:
    long_name = ".".join(["a" * 63] * 3 + ["b" * 61])  # 253 characters: 255 bytes on the wire
    return [
        S.dns_query("www.example.com"),
        S.dns_query(long_name),
        S.dns_query("x." + long_name[:-2]),
        S.dns_query("sp ace.\\back.example"),
        S.dns_response("example.com", [(1, "93.184.216.34"), (28, "2001:db8::1"), (5, "alias.example.org")]),
        S.dns_response("a.b", [(12, "ptr.example"), (2, "ns.example"), (16, "")], rcode=3),
        S.dns_response("", [(1, "1.2.3.4")]),
        # A question name that ends in a pointer into itself's suffix, and one into the header.
        bytes.fromhex("123401000002000000000000")
        + S.dns_name("a.example")
        + S.u16(1)
        + S.u16(1)
        + b"\x01b\xc0\x0e"
        + S.u16(1)
        + S.u16(1),
        bytes.fromhex("123401000001000000000000") + b"\x01a\xc0\x00" + S.u16(1) + S.u16(1),
        bytes.fromhex("123401000001000000000000") + b"\x01a\x80\x00" + S.u16(1) + S.u16(1),
        bytes.fromhex("123401000001000000000000") + b"\x01a\x40" + b"x" * 64 + b"\x00" + S.u16(1) + S.u16(1),
        S.dns_query(".".join(["a" * 63] * 3 + ["b" * 62])),  # 255 bytes of labels: the most allowed
        S.dns_query(".".join(["a" * 63] * 4)),  # 256: one too many
        # Labels holding dots ("\\." each) and controls: the longest name escapes past the text limit.
        bytes.fromhex("123401000001000000000000")
        + (b"\x3f" + b"\x1b." * 31 + b"\x1b") * 3
        + b"\x3e"
        + b".\x1b" * 31
        + b"\x00"
        + S.u16(1)
        + S.u16(1),
        bytes.fromhex("123401000001000000000000") + b"\x05a.b.c\x03com\x00" + S.u16(1) + S.u16(1),
    ]


def test_dns_parse_matches_reference() -> None:
    from rustnet.dissect import dns

    rng = random.Random(9)
    for base in dns_messages():
        for m in mutants(base, rng, 400):
            assert outcome(dns.parse_message, m) == outcome(R.parse_message_reference, m)
            for pos in (12, rng.randrange(len(m) + 1)):
                got = outcome(lambda d: dns.read_name(d, pos, {}), m)  # noqa: B023
                assert got == outcome(lambda d: R.read_name_reference(d, pos, {}), m)  # noqa: B023


def test_http_response_status_and_known_texts() -> None:
    """response_status is parse_response's status; the fixed texts are escape_text's."""
    rng = random.Random(13)
    bases = [
        b"HTTP/1.1 200 OK\r\nA: b\r\n\r\n",
        b"HTTP/1.0 404 Not \x1b Found\n\n",
        b"HTTP/1.1 2x0 Bad\r\n",
        b"HTTP/1.1 204\r\n",
        b"HTTP/1.",
        b"HTTP/1.1 999 \xff\r\n\r\n",
    ]
    for data in [c for base in bases for c in [base, *mutants(base, rng, 200)]]:
        for final in (False, True):
            full = outcome(lambda d: http.parse_response(d, final), data)  # noqa: B023
            status = outcome(lambda d: http.response_status(d, final), data)  # noqa: B023
            if isinstance(full, tuple) and full and full[0] == "ok":
                assert status == ("ok", None if full[1] is None else full[1][1]), data
            else:
                assert status == full, data
    for raw, text in {**tls._ALPN_TEXT, **http._VERSION_TEXT}.items():
        assert escape_text(raw, 16) == text
