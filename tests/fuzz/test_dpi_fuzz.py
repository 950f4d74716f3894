"""Fuzz each DPI parser against its contract (STYLE.md).

A parser returns its result, or None for "need more data", or raises DissectError; the
Inspector and the cheap matchers never raise at all. Input: a valid message cut at any
offset, with random bytes appended and optionally one byte changed, and random bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from rustnet.dissect import dns, http, ssh, tls, udpmisc
from rustnet.dissect.dpi import Inspector
from rustnet.dissect.errors import DissectError
from rustnet.dissect.safe_text import escape_text

from tests import dpi_samples as S

labels = st.binary(min_size=1, max_size=20)
hostnames = st.lists(labels, min_size=1, max_size=4).map(b".".join)


@st.composite
def mangled(draw: st.DrawFn, valid: st.SearchStrategy[bytes]) -> bytes:
    """A valid message cut at any offset, plus random tail, maybe with one byte changed."""
    data = draw(valid)
    cut = draw(st.integers(0, len(data)))
    out = bytearray(data[:cut] + draw(st.binary(max_size=64)))
    if out and draw(st.booleans()):
        out[draw(st.integers(0, len(out) - 1))] = draw(st.integers(0, 255))
    return bytes(out)


def either(valid: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    return st.one_of(mangled(valid), st.binary(max_size=512))


client_hellos = st.builds(
    lambda sni, alpn, versions, ech, pad, frag: S.records(
        S.handshake(1, S.client_hello_body(sni=sni, alpn=alpn, versions=versions, ech=ech, padding=pad)),
        max_fragment=frag,
    ),
    hostnames,
    st.lists(st.binary(min_size=1, max_size=10), max_size=3),
    st.lists(st.integers(0, 0xFFFF), max_size=4),
    st.booleans(),
    st.integers(0, 300),
    st.integers(1, 600),
)
server_hellos = st.builds(
    S.server_hello, st.integers(0, 0xFFFF), st.one_of(st.none(), st.integers(0, 0xFFFF))
)
requests = st.builds(
    lambda m, path, host: m + b" /" + path + b" HTTP/1.1\r\nHost: " + host + b"\r\nUser-Agent: x\r\n\r\n",
    st.sampled_from(sorted(http.METHODS)),
    st.binary(max_size=40),
    st.binary(max_size=40),
)
responses = st.builds(lambda code: b"HTTP/1.1 " + str(code).encode() + b" OK\r\n\r\n", st.integers(100, 599))
dns_names = st.lists(st.text("abcdefghij-", min_size=1, max_size=12), min_size=1, max_size=4).map(".".join)
dns_messages = st.one_of(
    st.builds(S.dns_query, dns_names, st.integers(0, 0xFFFF)),
    st.builds(
        S.dns_response,
        dns_names,
        st.lists(st.sampled_from([(1, "10.1.2.3"), (28, "2001:db8::1"), (5, "alias.example")]), max_size=4),
        st.integers(0, 0xFFFF),
    ),
)
banners = st.builds(
    lambda soft, rest: b"SSH-2.0-" + soft + b"\r\n" + rest,
    st.binary(min_size=1, max_size=40).filter(lambda b: b"\n" not in b),
    st.binary(max_size=40),
)


def check(fn: Callable[[bytes], Any], data: bytes, result_type: type | tuple[type, ...]) -> None:
    try:
        got = fn(data)
    except DissectError:
        return
    assert got is None or isinstance(got, result_type), got


@given(either(client_hellos))
def test_client_hello_stream(data: bytes) -> None:
    check(tls.client_hello_from_stream, data, tls.ClientHello)


@given(either(client_hellos.map(lambda r: r[9:])))
def test_client_hello_body(data: bytes) -> None:
    check(tls.parse_client_hello, data, tls.ClientHello)


@given(either(server_hellos))
def test_server_hello_stream(data: bytes) -> None:
    check(tls.server_hello_from_stream, data, tls.ServerHello)


@given(either(requests), st.booleans())
def test_http_request(data: bytes, final: bool) -> None:
    check(lambda d: http.parse_request(d, final), data, http.HttpRequest)


@given(either(responses), st.booleans())
def test_http_response(data: bytes, final: bool) -> None:
    check(lambda d: http.parse_response(d, final), data, http.HttpResponse)


@given(either(dns_messages))
def test_dns_message(data: bytes) -> None:
    check(dns.parse_message, data, dns.DnsMessage)


@given(either(dns_messages.map(lambda m: S.u16(len(m)) + m)))
def test_dns_tcp_stream(data: bytes) -> None:
    check(dns.parse_tcp_stream, data, tuple)


@given(either(banners), st.booleans())
def test_ssh_banner(data: bytes, server: bool) -> None:
    check(lambda d: ssh.parse_banner(d, server), data, tuple)


@given(st.lists(either(st.builds(S.ssh_packet, st.integers(0, 255), st.binary(max_size=60))), max_size=6))
def test_ssh_packet_walker(chunks: list[bytes]) -> None:
    walker = ssh.PacketWalker()
    for chunk in chunks:
        try:
            walker.feed(chunk)
        except DissectError:
            return
        assert len(walker.head) < 6 and walker.skip >= 0


@given(st.binary(max_size=600), st.sampled_from([123, 67, 68, 1900, 3478, 6881]), st.integers(0, 65535))
def test_udp_matchers_never_raise(data: bytes, port: int, other: int) -> None:
    got = udpmisc.match_udp(data, other, port)
    assert got is None or isinstance(got["app"], str)
    assert udpmisc.match_bittorrent_tcp(data) is None or len(data) >= 48


@given(st.one_of(st.binary(max_size=400), st.text(max_size=400)), st.integers(1, 300))
def test_escape_text(raw: bytes | str, limit: int) -> None:
    out = escape_text(raw, limit)
    assert len(out) <= limit + 1
    assert not any(
        ord(c) < 0x20
        or 0x7F <= ord(c) <= 0x9F
        or 0xD800 <= ord(c) <= 0xDFFF
        or c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
        for c in out
    )


segments = st.one_of(
    mangled(client_hellos),
    mangled(server_hellos),
    mangled(requests),
    mangled(responses),
    mangled(banners),
    mangled(dns_messages),
    st.binary(min_size=1, max_size=300),
)


ports = st.sampled_from([22, 53, 80, 443, 5353, 123])
seqs = st.one_of(st.none(), st.integers(0, 2**32 - 1))


packets = st.tuples(st.sampled_from([6, 17]), st.booleans(), ports, segments, seqs, st.integers(0, 255))


@given(st.lists(packets, max_size=12))
def test_inspector_never_raises(packets: list[tuple[int, bool, int, bytes, int | None, int]]) -> None:
    insp = Inspector(max_flows=4, buf_cap=512, max_buffered=1024)
    a, b = b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02"
    for proto, forward, port, payload, seq, flags in packets:
        if forward:
            info = insp.inspect(proto, a, 40000, b, port, payload, 0.0, seq=seq, flags=flags)
        else:
            info = insp.inspect(proto, b, port, a, 40000, payload, 0.0, seq=seq, flags=flags)
        assert info is None or isinstance(info.get("app"), str)
        assert insp.buffered == sum(f.size for f in insp._flows.values()) >= 0
        assert len(insp._flows) <= 4
    assert insp.bugs == 0
