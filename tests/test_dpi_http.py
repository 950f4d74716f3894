"""HTTP/1.x request and response heads from literal bytes, on any port."""

from __future__ import annotations

import pytest
from rustnet.dissect import http
from rustnet.dissect.dpi import Inspector
from rustnet.dissect.errors import DissectError

from tests import dpi_samples as S

REQ = (
    b"GET /index.html?q=1 HTTP/1.1\r\nHost: www.example.com:8080\r\n"
    b"User-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n"
)
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


@pytest.mark.parametrize(
    "data", [b"SSH-2.0-x\r\n", b"\x16\x03\x01", b"GETX / HTTP/1.1\r\n\r\n", b"GET /\r\n\r\n", b"FOO"]
)
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
    assert got == {
        "app": "HTTP",
        "http_method": "GET",
        "http_path": "/index.html?q=1",
        "http_host": "www.example.com:8080",
        "http_user_agent": "curl/8.5.0",
    }
    assert insp.inspect(6, B, 31337, A, 40000, RESP, 0.1) == {"app": "HTTP", "http_status": 404}
    assert not insp.wants(6, A, 40000, B, 31337)


def test_non_http_tcp_is_given_up() -> None:
    insp = Inspector()
    # Binary both ways (a text protocol is read on: its lines may lead to STARTTLS). A first
    # segment may be a stray one (a keep-alive probe, a retransmission): a few more are read.
    for i in range(3):
        assert insp.inspect(6, A, 40000, B, 25, b"\x00\x01 binary\r\n", 0.0, 100 + 10 * i) is None
        assert insp.inspect(6, B, 25, A, 40000, b"\x00\x02 binary\r\n", 0.1, 900 + 10 * i) is None
    assert not insp.wants(6, A, 40000, B, 25)


def test_connect_tunnel_then_tls_inside() -> None:
    insp = Inspector()
    got: dict[str, object] = {}

    def feed(client: bool, data: bytes) -> None:
        info = (
            insp.inspect(6, A, 40001, B, 3128, data, 0.0)
            if client
            else insp.inspect(6, B, 3128, A, 40001, data, 0.0)
        )
        if info:
            got.update(info)

    feed(True, b"CONNECT secure.example:443 HTTP/1.1\r\nHost: secure.example:443\r\n\r\n")
    hello = S.client_hello(sni=b"secure.example", alpn=[b"h2"])
    feed(True, hello[:50])  # an eager client: the hello starts before the proxy answered
    feed(False, b"HTTP/1.1 200 Connection established\r\n\r\n")
    feed(True, hello[50:])
    feed(False, S.server_hello())
    assert got["http_method"] == "CONNECT" and got["http_host"] == "secure.example:443"
    assert got["http_status"] == 200
    assert got["sni"] == "secure.example" and got["tls_version"] == "TLS 1.3"
    assert not insp.wants(6, A, 40001, B, 3128)


def test_refused_connect_reads_nothing_more() -> None:
    insp = Inspector()
    insp.inspect(6, A, 40002, B, 3128, b"CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n", 0.0)
    assert insp.inspect(6, B, 3128, A, 40002, b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", 0.0) == {
        "app": "HTTP",
        "http_status": 407,
    }
    assert not insp.wants(6, A, 40002, B, 3128)


def test_first_host_and_user_agent_win_and_names_are_case_insensitive() -> None:
    # RFC 9110 §5.1: field names are case-insensitive. A request with two Host fields is invalid
    # (RFC 9112 §3.2); the first one is shown, as the first User-Agent, whatever comes after.
    head = (
        b"GET /p HTTP/1.1\r\nhOsT: first.example\r\nX-Other: 1\r\nuser-AGENT: ua/1\r\n"
        b"Host: second.example\r\nUser-Agent: ua/2\r\n\r\n"
    )
    req = http.parse_request(head)
    assert req is not None and (req.host, req.user_agent) == ("first.example", "ua/1")
    # The same with the User-Agent first, and with only one of the two present.
    req = http.parse_request(
        b"GET / HTTP/1.0\r\nUser-Agent: a\r\nUser-Agent: b\r\nHost: h\r\nHost: i\r\n\r\n"
    )
    assert req is not None and (req.host, req.user_agent) == ("h", "a")
    req = http.parse_request(b"GET / HTTP/1.1\r\nHost: one\r\nHost: two\r\n\r\n")  # no User-Agent
    assert req is not None and (req.host, req.user_agent) == ("one", None)
    req = http.parse_request(b"GET / HTTP/1.1\r\nUser-Agent: one\r\nUser-Agent: two\r\n\r\n")
    assert req is not None and (req.host, req.user_agent) == (None, "one")
    req = http.parse_request(b"GET / HTTP/1.0\r\nHost:  spaced.example \r\nNo-colon-line\r\n\r\n")
    assert req is not None and (req.host, req.user_agent) == ("spaced.example", None)
