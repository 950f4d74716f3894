"""HTTP/1.x request and response heads from literal bytes, on any port."""

from __future__ import annotations

import pytest
from rustnet.dissect import http
from rustnet.dissect.dpi import Inspector
from rustnet.dissect.errors import DissectError

REQ = (b"GET /index.html?q=1 HTTP/1.1\r\nHost: www.example.com:8080\r\n"
       b"User-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n")
RESP = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
A = bytes([192, 168, 1, 10])
B = bytes([192, 168, 1, 20])


def test_request_fields() -> None:
    req = http.parse_request(REQ)
    assert req == http.HttpRequest("GET", "/index.html?q=1", "HTTP/1.1", "www.example.com:8080", "curl/8.5.0")


def test_response_status() -> None:
    assert http.parse_response(RESP) == http.HttpResponse("HTTP/1.1", 404, "Not Found")


def test_need_more_until_blank_line() -> None:
    for cut in range(len(REQ) - 3):
        assert http.parse_request(REQ[:cut]) is None
    assert http.parse_request(REQ) is not None


def test_final_uses_complete_lines() -> None:
    head = REQ[: REQ.index(b"Accept")]
    assert http.parse_request(head) is None
    req = http.parse_request(head, final=True)
    assert req is not None and req.host == "www.example.com:8080"


@pytest.mark.parametrize("data", [b"SSH-2.0-x\r\n", b"\x16\x03\x01", b"GETX / HTTP/1.1\r\n\r\n",
                                  b"GET /\r\n\r\n", b"FOO"])
def test_not_a_request(data: bytes) -> None:
    with pytest.raises(DissectError):
        http.parse_request(data)


def test_bad_status_code() -> None:
    with pytest.raises(DissectError):
        http.parse_response(b"HTTP/1.1 2x0 OK\r\n")


def test_header_injection_is_escaped() -> None:
    req = http.parse_request(b"GET / HTTP/1.1\r\nHost: a\x1b]0;pwned\x07.com\r\n\r\n")
    assert req is not None and req.host == "a\\x1b]0;pwned\\x07.com"


def test_inspector_any_port_split_request_and_response() -> None:
    insp = Inspector()
    got: dict[str, object] = {}
    for i in range(0, len(REQ), 7):
        info = insp.inspect(6, A, 40000, B, 31337, REQ[i : i + 7], 0.0)
        if info:
            got.update(info)
    assert got == {"app": "HTTP", "http_method": "GET", "http_path": "/index.html?q=1",
                   "http_host": "www.example.com:8080", "http_user_agent": "curl/8.5.0"}
    assert insp.inspect(6, B, 31337, A, 40000, RESP, 0.1) == {"app": "HTTP", "http_status": 404}
    assert not insp.wants(6, A, 40000, B, 31337)


def test_non_http_tcp_is_given_up() -> None:
    insp = Inspector()
    assert insp.inspect(6, A, 40000, B, 25, b"220 mail.example ESMTP\r\n", 0.0) is None
    assert insp.inspect(6, B, 25, A, 40000, b"EHLO me\r\n", 0.1) is None
    assert not insp.wants(6, A, 40000, B, 25)
