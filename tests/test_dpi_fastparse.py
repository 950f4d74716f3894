"""The hot-path DPI parsers against their straightforward references (tests/dpi_reference.py).

Same result or the same kind of failure (DissectError) on valid messages, every cut, random
byte and length-field corruptions, and the real hellos of the corpus.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from rustnet.dissect import tls
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
    streams = [S.records(message), S.records(message, max_fragment=50), S.records(message, version=0x0303),
               S.records(message) + S.records(S.handshake(2, b"more")), S.server_hello(),
               S.records(S.handshake(1, b""))]
    for stream in streams:
        for m in mutants(stream, rng, 200):
            for arg in (m, bytearray(m)):
                assert outcome(tls.first_handshake_message, arg) == outcome(R.first_handshake_message, arg)


def test_escape_text_matches_reference() -> None:
    rng = random.Random(11)
    alphabet = [b"a", b"Z", b"0", b".", b"-", b" ", b"~", b"\\", b"\x00", b"\x1b", b"\x7f", b"\x80", b"\xff",
                b"\xc2\x9b", b"\xe2\x80\xae", b"\xc3\xbc", b"\xed\xa0\x80"]
    cases: list[Any] = [b"", b"plain.example", b"a" * 300, "str \x1b", "bücher"]
    for _ in range(3000):
        raw = b"".join(rng.choice(alphabet[:6] if rng.random() < 0.5 else alphabet)
                       for _ in range(rng.randrange(0, 40)))
        cases.append(raw)
    for raw in cases:
        for limit in (-1, 0, 1, 5, 16, 39, 40, 256):
            want = R.escape_text_reference(raw, limit)
            for arg in (raw, bytearray(raw), memoryview(raw)) if isinstance(raw, bytes) else (raw,):
                assert escape_text(arg, limit) == want
