"""Escaping of wire text for display."""

from __future__ import annotations

import pytest
from rustnet.dissect.safe_text import ELLIPSIS, ascii_token, escape_text


@pytest.mark.parametrize(
    "raw,want",
    [
        (b"plain.example", "plain.example"),
        (b"\x1b[31mred", "\\x1b[31mred"),  # C0: ESC
        (b"del\x7f", "del\\x7f"),  # DEL
        ("c1\x9b", "c1\\x9b"),  # C1 as a character
        (b"c1\xc2\x9b", "c1\\x9b"),  # C1 as UTF-8
        (b"bad\xff\xfe", "bad\\xff\\xfe"),  # invalid UTF-8
        ("rtl\u202egnp.exe", "rtl\\u202egnp.exe"),  # bidi override
        ("iso\u2066x\u2069", "iso\\u2066x\\u2069"),  # bidi isolates
        (b"a\\b", "a\\\\b"),  # backslash doubled: escapes are unambiguous
        ("bücher.de", "bücher.de"),  # other scripts stay readable
        (b"nul\x00", "nul\\x00"),
        ("pay\u200bpal.com".encode(), "pay\\u200bpal.com"),  # zero-width space: a lookalike
        ("bom\ufeff".encode(), "bom\\ufeff"),  # format characters (Cf) are invisible
        ("soft\u00adhy".encode(), "soft\\xadhy"),
        ("zw\u200dj\u2060".encode(), "zw\\u200dj\\u2060"),
        ("tag\U000e0041".encode(), "tag\\U000e0041"),  # tag characters hide ASCII
        ("nb\u00a0sp", "nb\\xa0sp"),  # a space other than U+0020
    ],
)
def test_escapes(raw: bytes | str, want: str) -> None:
    assert escape_text(raw) == want


def test_bounded_and_marked() -> None:
    assert escape_text(b"a" * 1000, 10) == "a" * 10 + ELLIPSIS
    out = escape_text(b"\x1b" * 1000, 10)
    assert out.endswith(ELLIPSIS) and len(out) <= 11 and "\\x1b" in out
    # a cut never leaves half an escape sequence behind
    for n in range(1, 12):
        body = escape_text(b"ab\x1bcd\x1b", n).rstrip(ELLIPSIS)
        assert not body.endswith("\\") and "\\x" not in body.replace("\\x1b", "")


def test_no_control_characters_survive_any_byte() -> None:
    for b in range(256):
        out = escape_text(bytes([b, b, 0x41]))
        assert all(ord(c) >= 0x20 and not 0x7F <= ord(c) <= 0x9F for c in out), (b, out)


@pytest.mark.parametrize("limit", [1, 3, 10])
def test_the_limit_is_exact_for_every_kind_of_input(limit: int) -> None:
    """Exactly ``limit`` characters pass whole; one more is cut and marked, whatever the input:
    ASCII bytes, a str, four-byte UTF-8 (only 4 * limit bytes are ever decoded), escapes."""
    emoji = "\U0001f600"
    for unit, shown in ((b"a", "a"), ("a", "a"), (emoji.encode(), emoji), (emoji, emoji), (b"\x1b", None)):
        if shown is None:  # an escape counts its four characters, and is never split
            assert escape_text(unit * limit, 4 * limit) == "\\x1b" * limit
            assert escape_text(unit * (limit + 1), 4 * limit + 3) == "\\x1b" * limit + ELLIPSIS
            continue
        assert escape_text(unit * limit, limit) == shown * limit
        assert escape_text(unit * (limit + 1), limit) == shown * limit + ELLIPSIS
    # One byte past the 4 * limit decoded ones still marks the cut.
    assert escape_text(emoji.encode() * limit + b"x", limit) == emoji * limit + ELLIPSIS


def test_default_limits() -> None:
    assert escape_text(b"a" * 256) == "a" * 256
    assert escape_text(b"a" * 257) == "a" * 256 + ELLIPSIS
    assert ascii_token(b"GET" * 21 + b"X") == "GET" * 21 + "X"  # 64 characters
    assert ascii_token(b"A" * 65) == "A" * 64 + ELLIPSIS


def test_only_surrogateescape_stand_ins_read_as_bytes() -> None:
    # U+DC80..U+DCFF stand for undecodable bytes 0x80..0xff; other lone surrogates are
    # characters of their own.
    assert escape_text(b"\x80\xff") == "\\x80\\xff"
    assert escape_text("\udc80\udcff") == "\\x80\\xff"
    assert escape_text("\udc7f\udd00") == "\\udc7f\\udd00"


def test_a_limit_below_one_still_shows_one_character() -> None:
    assert escape_text(b"abc", 0) == "a" + ELLIPSIS
    assert escape_text("abc", -5) == "a" + ELLIPSIS
    assert escape_text(b"\x1bc", 0) == ELLIPSIS  # an escape is never split
