"""Turn bytes from the wire into text that is safe to show on a terminal.

Packets are hostile: a Host header, an SNI or a DNS label may carry ESC sequences,
bidi overrides that reorder what a reader sees, zero-width characters that make a
lookalike name, NULs or invalid UTF-8. Everything a dissector puts into a field meant
for display goes through :func:`escape_text`, so every consumer (the TUI, JSON, logs)
gets the same escaped text:

* valid UTF-8 stays as is when the rule of :mod:`rustnet.stream.escape` keeps it (names
  in other scripts are data too);
* every other character becomes its escape there (``\\x1b``, ``\\x9b``, ``\\u200b``,
  ``\\u202e``, ``\\ufeff``);
* bytes that are not valid UTF-8 become ``\\xNN``;
* a backslash becomes ``\\\\`` so an escape in the output is never ambiguous;
* the result is at most ``limit`` characters, plus a trailing ``…`` when it was cut.
"""

from __future__ import annotations

import re
from typing import Final

from rustnet.stream.escape import escape_char

DEFAULT_LIMIT: Final = 256
ELLIPSIS: Final = "\u2026"

# Bytes that need no decoding work: printable ASCII without the backslash.
_PLAIN_ASCII: Final = re.compile(rb"[\x20-\x5b\x5d-\x7e]*")


def _escape(ch: str) -> str:
    if ch == "\\":
        return "\\\\"
    if ch.isprintable():
        return ch
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape's stand-in for an undecodable byte
        return f"\\x{code - 0xDC00:02x}"
    return escape_char(ch)


def escape_text(raw: bytes | bytearray | memoryview | str, limit: int = DEFAULT_LIMIT) -> str:
    """Display-safe text of ``raw`` (bytes are decoded as UTF-8), at most ``limit`` characters."""
    if isinstance(raw, (bytes, bytearray)) and len(raw) <= limit and raw.isascii():
        # The common case, an ordinary name: printable ASCII (isprintable() is exactly
        # 0x20-0x7e there) without a backslash needs no work past the decode.
        text = raw.decode("ascii")
        if text.isprintable() and "\\" not in text:
            return text
    limit = max(limit, 1)
    cut = False
    if isinstance(raw, str):
        text = raw[: limit + 1]
        cut = len(raw) > limit
    elif len(raw) <= limit and _PLAIN_ASCII.fullmatch(raw) is not None:
        return bytes(raw).decode("ascii")  # the common case: an ordinary name
    else:
        # Only decode what can possibly be shown: a character is at most four bytes.
        data = bytes(raw[: 4 * limit])
        text = data.decode("utf-8", "surrogateescape")
        cut = len(raw) > 4 * limit
    if text.isprintable() and "\\" not in text:
        if len(text) > limit:
            return text[:limit] + ELLIPSIS
        return text + ELLIPSIS if cut else text
    # Escape character by character so a cut never splits an escape sequence.
    pieces: list[str] = []
    size = 0
    for ch in text:
        piece = _escape(ch)
        size += len(piece)
        if size > limit:
            return "".join(pieces) + ELLIPSIS
        pieces.append(piece)
    return "".join(pieces) + (ELLIPSIS if cut else "")


def ascii_token(raw: bytes | bytearray | memoryview, limit: int = 64) -> str:
    """A short protocol token (method, version) as text; same escaping as :func:`escape_text`."""
    return escape_text(raw, limit)
