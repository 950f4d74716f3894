"""Reference implementations for the differential tests of the fast DPI parsers.

These are the straightforward versions the hot-path parsers replaced (a bounds-checked
cursor for TLS, a regex-first escape): slower but easy to check by eye. The tests in
test_dpi_fastparse.py hold the fast parsers to exactly their results, errors included.
"""

from __future__ import annotations

import re

from rustnet.dissect.errors import DissectError
from rustnet.dissect.safe_text import _PLAIN_ASCII, _UNSAFE, DEFAULT_LIMIT, ELLIPSIS, escape_text
from rustnet.dissect.tls import (
    CONTENT_HANDSHAKE,
    EXT_ALPN,
    EXT_ECH,
    EXT_ESNI,
    EXT_SERVER_NAME,
    EXT_SUPPORTED_VERSIONS,
    MAX_ALPN,
    MAX_RECORD_LEN,
    MAX_VERSIONS,
    RECORD_HEADER_LEN,
    SNI_HOST_NAME,
    ClientHello,
    ServerHello,
    is_grease,
)


def first_handshake_message(stream: bytes) -> tuple[int, bytes] | None:
    """(type, body) of the first handshake message in a record stream; None when incomplete."""
    joined = bytearray()
    pos = 0
    end = len(stream)
    while True:
        if len(joined) >= 4:
            length = int.from_bytes(joined[1:4], "big")
            if len(joined) >= 4 + length:
                return joined[0], bytes(joined[4 : 4 + length])
        if pos >= end:
            return None
        if stream[pos] != CONTENT_HANDSHAKE:
            raise DissectError(f"TLS record type {stream[pos]} before the hello was complete")
        if pos + 1 < end and stream[pos + 1] != 3:
            raise DissectError("not a TLS record version")
        if pos + RECORD_HEADER_LEN > end:
            return None
        rlen = int.from_bytes(stream[pos + 3 : pos + 5], "big")
        if rlen == 0 or rlen > MAX_RECORD_LEN:
            raise DissectError(f"TLS record length {rlen}")
        # A record still arriving contributes what is there: the message may already be whole.
        joined += stream[pos + RECORD_HEADER_LEN : pos + RECORD_HEADER_LEN + rlen]
        pos += RECORD_HEADER_LEN + rlen


class _Cursor:
    """Bounds-checked big-endian reads over one handshake body."""

    __slots__ = ("data", "pos", "end")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def take(self, n: int) -> bytes:
        if self.pos + n > self.end:
            raise DissectError("TLS field runs past its end")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def vector(self, len_bytes: int) -> _Cursor:
        """A sub-cursor over a length-prefixed vector, advancing past it."""
        n = self.u8() if len_bytes == 1 else self.u16()
        if self.pos + n > self.end:
            raise DissectError("TLS vector runs past its end")
        sub = _Cursor(self.data, self.pos, self.pos + n)
        self.pos += n
        return sub

    def left(self) -> int:
        return self.end - self.pos


def _extensions(cur: _Cursor) -> list[tuple[int, _Cursor]]:
    if cur.left() == 0:
        return []  # extensions are optional before TLS 1.3
    block = cur.vector(2)
    out: list[tuple[int, _Cursor]] = []
    while block.left():
        etype = block.u16()
        out.append((etype, block.vector(2)))
    return out


def _server_name(ext: _Cursor) -> str | None:
    names = ext.vector(2)
    while names.left():
        kind = names.u8()
        name = names.vector(2)
        if kind == SNI_HOST_NAME:
            raw = name.take(name.left())
            if not raw:
                raise DissectError("empty server name")
            return escape_text(raw, 255)
    return None


def _alpn(ext: _Cursor) -> tuple[str, ...]:
    protos = ext.vector(2)
    out: list[str] = []
    while protos.left():
        proto = protos.vector(1)
        if len(out) < MAX_ALPN:
            out.append(escape_text(proto.take(proto.left()), 64))
    return tuple(out)


def parse_client_hello(body: bytes) -> ClientHello:
    """A ClientHello handshake body (after the 4-byte handshake header)."""
    cur = _Cursor(body)
    legacy_version = cur.u16()
    if legacy_version >> 8 not in (3, 0xFE):
        raise DissectError(f"ClientHello version 0x{legacy_version:04x}")
    cur.take(32)
    session_id = cur.vector(1)
    if session_id.left() > 32:
        raise DissectError("ClientHello session id longer than 32")
    suites = cur.vector(2)
    if suites.left() % 2 or suites.left() == 0:
        raise DissectError("ClientHello cipher suite list")
    cur.vector(1)  # compression methods
    sni: str | None = None
    alpn: tuple[str, ...] = ()
    versions: list[int] = []
    ech = False
    for etype, ext in _extensions(cur):
        if etype == EXT_SERVER_NAME and ext.left():
            sni = _server_name(ext)
        elif etype == EXT_ALPN:
            alpn = _alpn(ext)
        elif etype == EXT_SUPPORTED_VERSIONS:
            offered = ext.vector(1)
            while offered.left() >= 2:
                v = offered.u16()
                if not is_grease(v) and len(versions) < MAX_VERSIONS:
                    versions.append(v)
        elif etype in (EXT_ECH, EXT_ESNI):
            ech = True
    return ClientHello(legacy_version, sni, alpn, tuple(versions), ech)


def parse_server_hello(body: bytes) -> ServerHello:
    """A ServerHello (or HelloRetryRequest) handshake body."""
    cur = _Cursor(body)
    legacy_version = cur.u16()
    if legacy_version >> 8 not in (3, 0xFE):
        raise DissectError(f"ServerHello version 0x{legacy_version:04x}")
    cur.take(32)
    session_id = cur.vector(1)
    if session_id.left() > 32:
        raise DissectError("ServerHello session id longer than 32")
    cipher = cur.u16()
    cur.u8()  # compression method
    selected: int | None = None
    for etype, ext in _extensions(cur):
        if etype == EXT_SUPPORTED_VERSIONS and ext.left() >= 2:
            selected = ext.u16()
    return ServerHello(legacy_version, cipher, selected)


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


def escape_text_reference(raw: bytes | bytearray | memoryview | str, limit: int = DEFAULT_LIMIT) -> str:
    """Display-safe text of ``raw`` (bytes are decoded as UTF-8), at most ``limit`` characters."""
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
