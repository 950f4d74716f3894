"""DNS, mDNS and LLMNR messages from literal bytes; TCP framing; learned names."""

from __future__ import annotations

import pytest
from rustnet.dissect import dns
from rustnet.dissect.dpi import Inspector
from rustnet.dissect.errors import DissectError

from tests import dpi_samples as S

CL = bytes([192, 0, 2, 1])
NS = bytes([192, 0, 2, 53])

# A query for example.com/A, byte by byte: id 0xabcd, RD, one question.
QUERY = bytes.fromhex("abcd01000001000000000000076578616d706c6503636f6d0000010001")


def test_literal_query() -> None:
    msg = dns.parse_message(QUERY)
    assert msg == dns.DnsMessage(0xABCD, False, 0, 0, False, (dns.Question("example.com", 1),), (), True)


def test_response_with_cname_a_aaaa() -> None:
    data = S.dns_response(
        "www.example.org", [(5, "example.org"), (1, "93.184.216.34"), (28, "2606:2800:220:1::1")]
    )
    msg = dns.parse_message(data)
    assert msg.response and msg.rcode == 0
    assert [dns.answer_text(a) for a in msg.answers] == [
        "www.example.org CNAME example.org",
        "www.example.org A 93.184.216.34",
        "www.example.org AAAA 2606:2800:220:1::1",
    ]


def test_pointer_loop_and_bad_input() -> None:
    loop = bytes.fromhex("000001000001000000000000") + b"\xc0\x0c" + b"\x00\x01\x00\x01"
    with pytest.raises(DissectError):
        dns.parse_message(loop)
    with pytest.raises(DissectError):
        dns.parse_message(b"\x00" * 5)
    with pytest.raises(DissectError):
        dns.parse_message(QUERY[:-3])


def test_cut_answers_keep_questions() -> None:
    data = S.dns_response("cut.example", [(1, "10.0.0.1"), (1, "10.0.0.2")])
    msg = dns.parse_message(data[:-3])
    assert msg.questions[0].name == "cut.example" and len(msg.answers) == 1 and not msg.complete


def test_root_and_hostile_label() -> None:
    root = bytes.fromhex("0000010000010000000000000000020001")
    assert dns.parse_message(root).questions[0].name == "<Root>"
    evil = bytes.fromhex("000001000001000000000000") + b"\x05a\x1b[2J\x00\x00\x01\x00\x01"
    assert dns.parse_message(evil).questions[0].name == "a\\x1b[2J"
    spaced = bytes.fromhex("000001000001000000000000") + b"\x03a b\x00\x00\x01\x00\x01"
    assert dns.parse_message(spaced).questions[0].name == "a\\x20b"


def test_tcp_stream_framing() -> None:
    stream = S.u16(len(QUERY)) + QUERY
    assert dns.parse_tcp_stream(stream[:1]) is None
    assert dns.parse_tcp_stream(stream[:10]) is None
    got = dns.parse_tcp_stream(stream + b"\x00")
    assert got is not None and got[1] == len(stream)
    with pytest.raises(DissectError):
        dns.parse_tcp_stream(b"\x00\x03abc")


def test_inspector_udp_query_response_and_learned_names() -> None:
    insp = Inspector()
    q = insp.inspect(17, CL, 33000, NS, 53, S.dns_query("www.example.org", 28), 0.0)
    assert q == {
        "app": "DNS",
        "dns_query": "www.example.org",
        "dns_qtype": "AAAA",
        "dns_queries": ["www.example.org"],
    }
    r = insp.inspect(
        17,
        NS,
        53,
        CL,
        33000,
        S.dns_response("www.example.org", [(5, "e.example.net"), (28, "2001:db8::7")], 28),
        0.1,
    )
    assert r is not None and r["dns_response"] is True and r["dns_rcode"] == "NOERROR"
    assert r["dns_answers"] == ["www.example.org CNAME e.example.net", "www.example.org AAAA 2001:db8::7"]
    assert insp.learned_names["2001:db8::7"] == "www.example.org"
    nx = insp.inspect(17, NS, 53, CL, 33000, S.dns_response("nope.example", [], rcode=3), 0.2)
    assert nx is not None and nx["dns_rcode"] == "NXDOMAIN"


def test_inspector_mdns_llmnr_names() -> None:
    insp = Inspector()
    mdns = insp.inspect(17, CL, 5353, bytes([224, 0, 0, 251]), 5353, S.dns_query("printer.local", 12), 0.0)
    assert mdns is not None and mdns["app"] == "MDNS"
    llmnr = insp.inspect(17, CL, 60000, bytes([224, 0, 0, 252]), 5355, S.dns_query("wpad", 1), 0.0)
    assert llmnr is not None and llmnr["app"] == "LLMNR" and llmnr["dns_query"] == "wpad"


def test_inspector_dns_over_tcp_split_and_two_messages() -> None:
    insp = Inspector()
    m1 = S.dns_query("one.example")
    m2 = S.dns_query("two.example", ident=2)
    stream = S.u16(len(m1)) + m1 + S.u16(len(m2)) + m2
    got: list[str] = []
    for i in range(0, len(stream), 5):
        info = insp.inspect(6, CL, 41000, NS, 53, stream[i : i + 5], 0.0)
        if info:
            got += info["dns_queries"]
    assert got == ["one.example", "two.example"]


def test_learned_names_bounded() -> None:
    insp = Inspector()
    for i in range(5000):
        ip = f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"
        insp.inspect(17, NS, 53, CL, 1000 + i % 50000, S.dns_response(f"h{i}.example", [(1, ip)]), 0.0)
    assert len(insp.learned_names) == 4096
    assert insp.learned_names["10.0.19.135"] == "h4999.example"


def test_thousands_of_questions_are_not_walked() -> None:
    first = S.dns_name("q.example") + b"\x00\x01\x00\x01"
    header = bytes.fromhex("00000100ffff000100000000")  # 65535 questions, 1 answer
    data = header + first + b"\xc0\x0c\x00\x01\x00\x01" * 10000
    msg = dns.parse_message(data)
    assert len(msg.questions) == dns.MAX_QUESTIONS and not msg.complete and msg.answers == ()
