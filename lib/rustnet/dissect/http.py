"""HTTP/1.x: the request line and the headers a monitor shows, and the response status.

Recognised by content on any port: a request starts with a known method followed by a
space, a response with ``HTTP/1.`` (RFC 9112 §3, §4). Only the start of a message is
read; bodies, chunking and later requests on a kept-alive connection are not followed.

    req = parse_request(stream)    # HttpRequest, None (need more) or DissectError
    resp = parse_response(stream)  # HttpResponse, None (need more) or DissectError

``final=True`` says no more bytes will come (buffer cap reached, or the capture cut the
headers): the complete lines so far are used instead of waiting for the blank line.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from rustnet.dissect.errors import DissectError
from rustnet.dissect.safe_text import escape_text

METHODS: Final = frozenset(
    {
        b"GET",
        b"POST",
        b"HEAD",
        b"PUT",
        b"DELETE",
        b"OPTIONS",
        b"PATCH",
        b"CONNECT",
        b"TRACE",
        # WebDAV and friends, still seen on the wire.
        b"PROPFIND",
        b"PROPPATCH",
        b"MKCOL",
        b"COPY",
        b"MOVE",
        b"LOCK",
        b"UNLOCK",
        b"REPORT",
        b"SEARCH",
        b"SUBSCRIBE",
        b"NOTIFY",
        b"M-SEARCH",
    }
)
MAX_METHOD_LEN: Final = 10  # longest in METHODS plus the space
RESPONSE_PREFIX: Final = b"HTTP/1."
MAX_HEADER_BYTES: Final = 16384
PATH_LIMIT: Final = 512
VALUE_LIMIT: Final = 256

# NamedTuple's own __new__ is a Python function; building the tuple directly costs a third
# of it, on every hello, request and DNS message. Fields are passed in declaration order.
_make: Final = tuple.__new__


class HttpRequest(NamedTuple):
    method: str
    path: str
    version: str
    host: str | None
    user_agent: str | None


class HttpResponse(NamedTuple):
    version: str
    status: int
    reason: str


def request_start(data: bytes) -> bool | None:
    """Whether data starts an HTTP request: True, False, or None when too short to say."""
    space = data.find(b" ", 0, MAX_METHOD_LEN + 1)
    if space < 0:
        if len(data) > MAX_METHOD_LEN:
            return False
        # A prefix of some method is still possible.
        return None if any(m.startswith(data) for m in METHODS) else False
    return data[:space] in METHODS


def response_start(data: bytes) -> bool | None:
    """Whether data starts an HTTP/1.x response: True, False, or None when too short to say."""
    if len(data) < len(RESPONSE_PREFIX):
        return None if RESPONSE_PREFIX.startswith(data) else False
    return data.startswith(RESPONSE_PREFIX)


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


# A method's text: every method is printable ASCII, so escaping would change nothing.
_METHOD_TEXT: Final = {m: m.decode("ascii") for m in METHODS}


# The versions every request carries: printable ASCII, their escaped text is themselves.
_VERSION_TEXT: Final = {v: v.decode("ascii") for v in (b"HTTP/1.1", b"HTTP/1.0", b"HTTP/0.9", b"HTTP/2.0")}


def parse_request(data: bytes, final: bool = False) -> HttpRequest | None:
    """The request line and Host/User-Agent headers of the request at the start of data."""
    if request_start(data) is False:
        raise DissectError("not an HTTP request")
    lines = _head_lines(data, final)
    if lines is None:
        return None
    method, _, rest = lines[0].rstrip(b"\r").partition(b" ")
    path, _, version = rest.strip(b" ").rpartition(b" ")  # lenient: spaces inside the target
    path = path.rstrip(b" ")  # (but not the extra ones before the version)
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
        else:
            continue  # a field not shown
        if host is not None and agent is not None:
            break  # later lines cannot change either (the first of each counts)
    vtext = _VERSION_TEXT.get(version)
    return _make(
        HttpRequest,
        (
            _METHOD_TEXT[method],
            escape_text(path, PATH_LIMIT),
            vtext if vtext is not None else escape_text(version, 16),
            host,
            agent,
        ),
    )


def _status_line(data: bytes, final: bool) -> tuple[bytes, bytes, bytes] | None:
    """(version, code, reason) of the status line at the start of data; None: need more."""
    if response_start(data) is False:
        raise DissectError("not an HTTP response")
    eol = data.find(b"\n", 0, MAX_HEADER_BYTES)
    if eol < 0:
        if not final and len(data) < MAX_HEADER_BYTES:
            return None
        raise DissectError("no complete HTTP status line")
    version, _, rest = data[:eol].rstrip(b"\r").partition(b" ")
    code, _, reason = rest.partition(b" ")
    if len(code) != 3 or not code.isdigit():
        raise DissectError("malformed HTTP status code")
    return version, code, reason


def parse_response(data: bytes, final: bool = False) -> HttpResponse | None:
    """The status line of the response at the start of data (headers are not needed)."""
    line = _status_line(data, final)
    if line is None:
        return None
    version, code, reason = line
    return _make(HttpResponse, (escape_text(version, 16), int(code), escape_text(reason, 64)))


def response_status(data: bytes, final: bool = False) -> int | None:
    """parse_response's status alone (same None and errors), without escaping the texts."""
    line = _status_line(data, final)
    return None if line is None else int(line[1])
