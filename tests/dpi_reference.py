"""Reference implementations for the differential tests of the fast DPI parsers.

These are the straightforward versions the hot-path parsers replaced (a bounds-checked
cursor for TLS, a regex-first escape): slower but easy to check by eye. The tests in
test_dpi_fastparse.py hold the fast parsers to exactly their results, errors included.

Why it is kept (it must change with any change of what these parsers answer): random inputs
against an independent, plainer parser find what hand-built cases miss. A DNS plain-label
fast path that accepted a name over 255 bytes, planted in dissect/dns.py, failed only
test_dpi_fastparse.py, every other DPI and dissect test passing.
"""

from __future__ import annotations

import socket

from rustnet.dissect.dns import (
    _HEADER,
    _QTYPE,
    _RR,
    HEADER_LEN,
    MAX_ANSWERS,
    MAX_NAME_LEN,
    MAX_POINTER_JUMPS,
    MAX_QUESTIONS,
    NAME_TYPES,
    ROOT_NAME,
    TYPE_A,
    TYPE_AAAA,
    Answer,
    DnsMessage,
    Question,
)
from rustnet.dissect.errors import DissectError
from rustnet.dissect.http import (
    MAX_HEADER_BYTES,
    METHODS,
    PATH_LIMIT,
    VALUE_LIMIT,
    HttpRequest,
    request_start,
)
from rustnet.dissect.safe_text import DEFAULT_LIMIT, ELLIPSIS, escape_text
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
        alert = stream[pos] == 21 and not joined  # a warning alert before the hello: skipped
        if stream[pos] != CONTENT_HANDSHAKE and not alert:
            raise DissectError(f"TLS record type {stream[pos]} before the hello was complete")
        if not alert and pos + 1 < end and stream[pos + 1] != 3:
            raise DissectError("not a TLS record version")
        if pos + RECORD_HEADER_LEN > end:
            return None
        rlen = int.from_bytes(stream[pos + 3 : pos + 5], "big")
        if rlen == 0 or rlen > MAX_RECORD_LEN:
            raise DissectError(f"TLS record length {rlen}")
        if alert:
            pos += RECORD_HEADER_LEN + rlen
            continue
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


def _escape_char(ch: str) -> str:
    """One character by the rule of rustnet-records(5): kept when printable, else an escape."""
    code = ord(ch)
    if ch == "\\":
        return "\\\\"
    if ch.isprintable():
        return ch
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def escape_text_reference(raw: bytes | bytearray | memoryview | str, limit: int = DEFAULT_LIMIT) -> str:
    """Display-safe text of ``raw`` (bytes are decoded as UTF-8), at most ``limit`` characters."""
    limit = max(limit, 1)
    if isinstance(raw, str):
        text, cut = raw[: limit + 1], len(raw) > limit
    else:
        # A character is at most four bytes: more than 4 * limit bytes cannot be shown.
        text, cut = bytes(raw[: 4 * limit]).decode("utf-8", "surrogateescape"), len(raw) > 4 * limit
    out = ""
    for ch in text:
        piece = _escape_char(ch)
        if len(out) + len(piece) > limit:
            return out + ELLIPSIS
        out += piece
    return out + (ELLIPSIS if cut else "")


def _head_lines(data: bytes, final: bool) -> list[bytes] | None:
    end = data.find(b"\r\n\r\n", 0, MAX_HEADER_BYTES)
    if end < 0:
        end = data.find(b"\n\n", 0, MAX_HEADER_BYTES)  # bare-LF senders exist
    if end < 0:
        if not final and len(data) < MAX_HEADER_BYTES:
            return None
        end = data.rfind(b"\n", 0, MAX_HEADER_BYTES)
        if end < 0:
            raise DissectError("no complete HTTP start line")
    return data[:end].split(b"\n")


def parse_request_reference(data: bytes, final: bool = False) -> HttpRequest | None:
    """The request line and Host/User-Agent headers of the request at the start of data."""
    if request_start(data) is False:
        raise DissectError("not an HTTP request")
    lines = _head_lines(data, final)
    if lines is None:
        return None
    method, _, rest = lines[0].rstrip(b"\r").partition(b" ")
    path, _, version = rest.strip(b" ").rpartition(b" ")  # lenient: spaces inside the target
    if method not in METHODS or not path or not version.startswith(b"HTTP/"):
        raise DissectError("malformed HTTP request line")
    host: str | None = None
    agent: str | None = None
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            continue
        key = name.strip().lower()
        if key == b"host" and host is None:
            host = escape_text(value.strip(), VALUE_LIMIT)
        elif key == b"user-agent" and agent is None:
            agent = escape_text(value.strip(), VALUE_LIMIT)
    return HttpRequest(
        escape_text(method, 16), escape_text(path, PATH_LIMIT), escape_text(version, 16), host, agent
    )


def read_name_reference(data: bytes, pos: int, seen: dict[int, str] | None = None) -> tuple[str, int]:
    """The name at pos and the offset just after it (after the first pointer, if any).

    ``seen`` caches names by offset within one message: answers point back at the
    question name, which is then decoded once.
    """
    if seen is not None and pos + 1 < len(data) and data[pos] >= 0xC0:
        cached = seen.get(((data[pos] & 0x3F) << 8) | data[pos + 1])
        if cached is not None:
            return cached, pos + 2
    start = pos
    labels: list[bytes] = []
    after = -1
    jumps = 0
    wire_len = 0
    end = len(data)
    while True:
        if pos >= end:
            raise DissectError("DNS name runs past the message")
        n = data[pos]
        if n == 0:
            pos += 1
            break
        if n & 0xC0 == 0xC0:
            if pos + 1 >= end:
                raise DissectError("DNS compression pointer cut")
            target = ((n & 0x3F) << 8) | data[pos + 1]
            if after < 0:
                after = pos + 2
            jumps += 1
            if jumps > MAX_POINTER_JUMPS or target >= end:
                raise DissectError("DNS compression pointer loop or out of range")
            pos = target
            continue
        if n & 0xC0:
            raise DissectError("DNS extended label type")
        label = data[pos + 1 : pos + 1 + n]
        if len(label) < n:
            raise DissectError("DNS label runs past the message")
        wire_len += n + 1
        if wire_len > MAX_NAME_LEN:
            raise DissectError("DNS name longer than 255")
        labels.append(label)
        pos += 1 + n
    if not labels:
        text = ROOT_NAME
    elif any(b"." in label for label in labels):
        # A dot inside a label reads "\\." (as dig shows it): labels are escaped one by one,
        # and a name too long to show keeps its whole labels up to the limit.
        parts = [escape_text(label, 4 * 63).replace(".", "\\.") for label in labels]
        kept: list[str] = []
        for part in parts:
            if len(".".join([*kept, part])) > MAX_NAME_LEN * 2:
                break
            kept.append(part)
        text = ".".join(kept) + (ELLIPSIS if len(kept) < len(parts) else "")
    else:
        text = escape_text(b".".join(labels), MAX_NAME_LEN * 2)
    if " " in text:
        text = text.replace(" ", "\\x20")  # keeps "name TYPE value" answer strings unambiguous
    if seen is not None and after < 0:
        seen[start] = text
    return text, (after if after >= 0 else pos)


def _rdata_value_reference(data: bytes, rtype: int, start: int, rdlen: int, seen: dict[int, str]) -> str:
    if rtype == TYPE_A and rdlen == 4:
        return socket.inet_ntop(socket.AF_INET, data[start : start + 4])
    if rtype == TYPE_AAAA and rdlen == 16:
        return socket.inet_ntop(socket.AF_INET6, data[start : start + 16])
    if rtype in NAME_TYPES:
        return read_name_reference(data[: start + rdlen], start, seen)[0]
    return ""


def parse_message_reference(data: bytes) -> DnsMessage:
    """A whole DNS message (one UDP datagram, or one TCP message without its prefix)."""
    if len(data) < HEADER_LEN:
        raise DissectError("DNS message shorter than its header")
    ident, flags, qdcount, ancount = _HEADER.unpack_from(data)
    opcode = (flags >> 11) & 0xF
    if opcode > 6:
        raise DissectError(f"DNS opcode {opcode}")
    pos = HEADER_LEN
    questions: list[Question] = []
    seen: dict[int, str] = {}
    for _ in range(min(qdcount, MAX_QUESTIONS)):
        name, pos = read_name_reference(data, pos, seen)
        if pos + 4 > len(data):
            raise DissectError("DNS question cut")
        questions.append(Question(name, _QTYPE.unpack_from(data, pos)[0]))
        pos += 4
    answers: list[Answer] = []
    # Past MAX_QUESTIONS the answers are not looked for: walking thousands of hostile
    # questions would cost more than the message is worth.
    complete = qdcount <= MAX_QUESTIONS
    try:
        for _ in range(min(ancount, MAX_ANSWERS) if complete else 0):
            name, pos = read_name_reference(data, pos, seen)
            if pos + 10 > len(data):
                raise DissectError("DNS resource record cut")
            rtype, _, _, rdlen = _RR.unpack_from(data, pos)
            pos += 10
            if pos + rdlen > len(data):
                raise DissectError("DNS record data cut")
            answers.append(Answer(name, rtype, _rdata_value_reference(data, rtype, pos, rdlen, seen)))
            pos += rdlen
    except DissectError:
        # The questions are sound; a cut or odd answer section still leaves them useful.
        if not questions and not answers:
            raise
        complete = False
    return DnsMessage(
        ident,
        bool(flags & 0x8000),
        opcode,
        flags & 0xF,
        bool(flags & 0x0200),
        tuple(questions),
        tuple(answers),
        complete,
    )
