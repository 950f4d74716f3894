"""Turn bytes from the wire into text that is safe to show on a terminal.

Packets are hostile: a Host header, an SNI or a DNS label may carry ESC sequences,
bidi overrides that reorder what a reader sees, NULs or invalid UTF-8. Everything a
dissector puts into a field meant for display goes through :func:`escape_text`:

* valid UTF-8 stays as is (names in other scripts are data too);
* C0 controls, DEL and C1 controls become ``\\xNN`` (``\\x1b``, ``\\x7f``, ``\\x9b``);
* bidi controls, line/paragraph separators and surrogates become ``\\uNNNN``;
* bytes that are not valid UTF-8 become ``\\xNN``;
* a backslash becomes ``\\\\`` so an escape in the output is never ambiguous;
* the result is at most ``limit`` characters, plus a trailing ``…`` when it was cut.
"""

from __future__ import annotations

import re
from typing import Final

DEFAULT_LIMIT: Final = 256
ELLIPSIS: Final = "\u2026"

# Characters that must not reach a terminal raw. U+DC80-U+DCFF are the surrogateescape
# stand-ins for undecodable bytes; the rest of the surrogate range is invalid text anyway.
_UNSAFE: Final = re.compile(
    "[\\\\\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)


# Bytes that need no decoding work: printable ASCII without the backslash.
_PLAIN_ASCII: Final = re.compile(rb"[\x20-\x5b\x5d-\x7e]*")


def _escape_char(match: re.Match[str]) -> str:
    ch = match.group()
    code = ord(ch)
    if ch == "\\":
        return "\\\\"
    if code < 0x100:
        return f"\\x{code:02x}"
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}"


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
    if _UNSAFE.search(text) is None:
        if len(text) > limit:
            return text[:limit] + ELLIPSIS
        return text + ELLIPSIS if cut else text
    # Escape piece by piece so a cut never splits an escape sequence.
    pieces: list[str] = []
    size = 0
    pos = 0
    for match in _UNSAFE.finditer(text):
        for piece in (text[pos : match.start()], _escape_char(match)):
            if size + len(piece) > limit:
                if len(piece) > 1 and piece[0] != "\\":
                    pieces.append(piece[: limit - size])
                return "".join(pieces) + ELLIPSIS
            pieces.append(piece)
            size += len(piece)
        pos = match.end()
    rest = text[pos:]
    if size + len(rest) > limit:
        return "".join(pieces) + rest[: limit - size] + ELLIPSIS
    return "".join(pieces) + rest + (ELLIPSIS if cut else "")


def ascii_token(raw: bytes | bytearray | memoryview, limit: int = 64) -> str:
    """A short protocol token (method, version) as text; same escaping as :func:`escape_text`."""
    return escape_text(raw, limit)
