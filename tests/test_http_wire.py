"""HTTP/1.x heads (RFC 9112 §2-§4) from hand-built bytes, at the edges of every limit: method
recognition from its first bytes, the header block's size, bare-LF line ends, the start line's
parts, status codes, and the texts' lengths."""

from __future__ import annotations

import pytest
from rustnet.dissect import http
from rustnet.dissect.errors import DissectError

# The documented limits, written out: a test that read them from the module would follow a change.
MAX_HEADER_BYTES = 16384
PATH_LIMIT = 512
VALUE_LIMIT = 256


@pytest.mark.parametrize(
    ("data", "want"),
    [
        (b"", None),
        (b"G", None),
        (b"GE", None),
        (b"GET", None),  # the space may still come
        (b"GET ", True),
        (b"M-SEARCH ", True),  # the longest method: 8 letters
        (b"PROPPATCH ", True),  # 9 letters and the space: MAX_METHOD_LEN
        (b"PROPPATCHX", False),  # no method starts so
        (b"PROPPATCHX ", False),
        (b"GETX", False),
        (b"get ", False),  # methods are case-sensitive (RFC 9110 §9.1)
        (b"XYZ", False),
        (b"\x16\x03\x01", False),  # TLS
        (b"HELLO WORLD", False),
    ],
)
def test_request_start(data: bytes, want: bool | None) -> None:
    assert http.request_start(data) is want


def test_request_start_limit_is_the_longest_method_and_its_space() -> None:
    longest = max(len(m) for m in http.METHODS)
    assert longest + 1 == 10  # "PROPPATCH "
    for method in http.METHODS:
        assert http.request_start(method + b" /") is True
        for cut in range(1, len(method) + 1):
            assert http.request_start(method[:cut]) is None, method[:cut]
    assert http.request_start(b"X" * 11) is False


@pytest.mark.parametrize(
    ("data", "want"),
    [(b"", None), (b"H", None), (b"HTTP/1", None), (b"HTTP/1.", True), (b"HTTP/2 ", False), (b"HTTX", False)],
)
def test_response_start(data: bytes, want: bool | None) -> None:
    assert http.response_start(data) is want


def test_head_ends_at_a_blank_line_crlf_or_bare_lf() -> None:
    for head in (b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n", b"GET /a HTTP/1.1\nHost: h\n\n"):
        req = http.parse_request(head + b"body: x\r\n")
        assert req is not None and (req.method, req.path, req.version, req.host) == (
            "GET",
            "/a",
            "HTTP/1.1",
            "h",
        )
        for cut in range(1, len(head)):
            assert http.parse_request(head[:cut]) is None, cut  # need more until the blank line


def test_header_block_limit() -> None:
    """Heads are looked at up to MAX_HEADER_BYTES: a longer one is read from its complete
    lines (as if final), so Host in the first 16 KiB is found and one past it is not."""
    filler = b"X-Pad: " + b"p" * 100 + b"\r\n"
    start = b"GET / HTTP/1.1\r\n"
    pads = (MAX_HEADER_BYTES - len(start)) // len(filler)
    near = start + filler * (pads - 1) + b"Host: near\r\n"
    assert len(near) < MAX_HEADER_BYTES
    req = http.parse_request(near + filler * 5)
    assert req is not None and req.host == "near"
    far = start + filler * (pads + 1) + b"Host: far\r\n\r\n"
    req = http.parse_request(far)
    assert req is not None and req.host is None
    # Below the limit and not final: wait for more.
    assert http.parse_request(start + filler) is None
    assert http.parse_request(start + filler, final=True) is not None


def test_final_without_any_line_end_is_an_error() -> None:
    with pytest.raises(DissectError):
        http.parse_request(b"GET /no-line-end", final=True)
    with pytest.raises(DissectError):
        http.parse_request(b"GET / HTTP/1.1X", final=True)  # never a request line without its end
    with pytest.raises(DissectError):
        http.parse_request(b"GET /" + b"a" * MAX_HEADER_BYTES)


@pytest.mark.parametrize(
    ("line", "want"),
    [
        (b"GET / HTTP/1.1", ("GET", "/", "HTTP/1.1")),
        (b"GET /a b HTTP/1.0", ("GET", "/a b", "HTTP/1.0")),  # lenient: a space in the target
        (b"OPTIONS * HTTP/1.1", ("OPTIONS", "*", "HTTP/1.1")),
        (b"GET  /x  HTTP/1.1", ("GET", "/x", "HTTP/1.1")),  # extra spaces around the target
        (b"GET /x HTTP/9.9", ("GET", "/x", "HTTP/9.9")),  # an unknown version, escaped
        (b"GET /x HTTP/1.1\r", ("GET", "/x", "HTTP/1.1")),
    ],
)
def test_request_line_parts(line: bytes, want: tuple[str, str, str]) -> None:
    req = http.parse_request(line + b"\r\n\r\n")
    assert req is not None and (req.method, req.path, req.version) == want


@pytest.mark.parametrize("line", [b"GET /x", b"GET /x FTP/1.0", b"GET  HTTP/1.1", b"FOO /x HTTP/1.1"])
def test_malformed_request_lines(line: bytes) -> None:
    with pytest.raises(DissectError):
        http.parse_request(line + b"\r\n\r\n")


def test_texts_are_cut_at_their_limits() -> None:
    path = b"/" + b"p" * (PATH_LIMIT - 1)
    host = b"h" * VALUE_LIMIT
    req = http.parse_request(
        b"GET " + path + b" HTTP/1.1\r\nHost: " + host + b"\r\nUser-Agent: " + host + b"\r\n\r\n"
    )
    assert req is not None and (req.path, req.host, req.user_agent) == (
        path.decode(),
        host.decode(),
        host.decode(),
    )
    req = http.parse_request(
        b"GET " + path + b"p HTTP/1.1\r\nHost: " + host + b"h\r\nUser-Agent: " + host + b"u\r\n\r\n"
    )
    assert req is not None
    assert req.path == path.decode() + "\u2026"
    assert req.host == host.decode() + "\u2026" and req.user_agent == host.decode() + "\u2026"
    long_version = b"HTTP/" + b"1" * 20
    req = http.parse_request(b"GET / " + long_version + b"\r\n\r\n")
    assert req is not None and req.version == long_version[:16].decode() + "\u2026"


@pytest.mark.parametrize(
    ("head", "status", "reason"),
    [
        (b"HTTP/1.1 200 OK\r\n", 200, "OK"),
        (b"HTTP/1.0 404 Not Found\r\n", 404, "Not Found"),
        (b"HTTP/1.1 101\r\n", 101, ""),  # the reason phrase may be empty (RFC 9112 §4)
        (b"HTTP/1.1 599 Odd\n", 599, "Odd"),
        (b"HTTP/1.1 100 " + b"r" * 70 + b"\r\n", 100, "r" * 64 + "\u2026"),
    ],
)
def test_status_lines(head: bytes, status: int, reason: str) -> None:
    resp = http.parse_response(head + b"\r\n")
    assert resp is not None and (resp.status, resp.reason) == (status, reason)
    assert http.response_status(head) == status


@pytest.mark.parametrize(
    "head", [b"HTTP/1.1 20 OK\r\n", b"HTTP/1.1 2000 OK\r\n", b"HTTP/1.1 2x0 OK\r\n", b"HTTP/1.1 \r\n"]
)
def test_bad_status_codes(head: bytes) -> None:
    with pytest.raises(DissectError):
        http.parse_response(head)


def test_status_line_waits_for_its_end_up_to_the_limit() -> None:
    assert http.parse_response(b"HTTP/1.1 200 O") is None
    with pytest.raises(DissectError):
        http.parse_response(b"HTTP/1.1 200 O", final=True)
    with pytest.raises(DissectError):
        http.parse_response(b"HTTP/1.1 200 " + b"O" * MAX_HEADER_BYTES)
    exactly = b"HTTP/1.1 200 " + b"O" * (MAX_HEADER_BYTES - 13)
    assert len(exactly) == MAX_HEADER_BYTES
    with pytest.raises(DissectError):
        http.parse_response(exactly)  # at the limit without its end: it will not end in time
    assert http.parse_response(exactly[:-1]) is None
    with pytest.raises(DissectError):
        http.parse_response(b"NOT HTTP")


def test_lines_without_a_colon_are_not_fields() -> None:
    req = http.parse_request(b"GET / HTTP/1.1\r\nHost\r\nUser-Agent\r\nHost: real\r\nUser-Agent: ua\r\n\r\n")
    assert req is not None and (req.host, req.user_agent) == ("real", "ua")


def test_a_head_of_exactly_the_limit_without_its_blank_line_is_read() -> None:
    start = b"GET / HTTP/1.1\r\nHost: h\r\n"
    head = start + b"X: " + b"x" * (MAX_HEADER_BYTES - len(start) - 5) + b"\r\n"
    assert len(head) == MAX_HEADER_BYTES
    req = http.parse_request(head)  # not final, but it can grow no further
    assert req is not None and req.host == "h"
    assert http.parse_request(head[:-1]) is None  # one byte less: it may still end


def test_response_texts_and_defaults() -> None:
    resp = http.parse_response(b"HTTP/1.1234567890123456 200 OK\r\n")
    assert resp is not None and resp.version == "HTTP/1.123456789\u2026"
    assert http.response_status(b"HTTP/1.1 200 O") is None  # not final by default
    with pytest.raises(DissectError):
        http.response_status(b"HTTP/1.1 200 O", final=True)
