"""DNS, mDNS and LLMNR messages from literal bytes; TCP framing; names only from answers to queries seen."""

from __future__ import annotations

import pytest
from rustnet.dissect import dns
from rustnet.dissect.dpi import DNS_ANSWER_WINDOW, MAX_DNS_PENDING, Inspector
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


def test_pointer_chain_resumes_after_the_first_pointer() -> None:
    """RFC 1035 §4.1.4: a name may end in a pointer to a name that itself ends in a pointer.
    Byte by byte: question www.example.com (offset 12); a CNAME answer for it (pointer to 12)
    whose target is "cdn" + pointer to "example.com" (offset 16); an A answer whose name is a
    pointer to that target (offset 45), i.e. two jumps. Reading continues after the first
    pointer of each name, not after the last one."""
    header = bytes.fromhex("1234818000010002 00000000".replace(" ", ""))
    question = b"\x03www\x07example\x03com\x00" + b"\x00\x01\x00\x01"  # offsets 12..32
    cname = b"\xc0\x0c" + b"\x00\x05\x00\x01" + b"\x00\x00\x00\x3c" + b"\x00\x06" + b"\x03cdn\xc0\x10"
    a_rr = b"\xc0\x2d" + b"\x00\x01\x00\x01" + b"\x00\x00\x00\x3c" + b"\x00\x04" + bytes([192, 0, 2, 9])
    data = header + question + cname + a_rr
    assert data[45:49] == b"\x03cdn"  # where the A record's name points
    msg = dns.parse_message(data)
    assert msg.complete
    assert [dns.answer_text(a) for a in msg.answers] == [
        "www.example.com CNAME cdn.example.com",
        "cdn.example.com A 192.0.2.9",
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


def test_inspector_udp_query_response_and_resolved_names() -> None:
    insp = Inspector()
    q = insp.inspect(17, CL, 33000, NS, 53, S.dns_query("www.example.org", 28), 0.0)
    assert q == {
        "app": "DNS",
        "dns_query": "www.example.org",
        "dns_qtype": "AAAA",
        "dns_queries": ["www.example.org"],
        "req_id": "dns 1234",  # its id, which rn-track pairs the response by
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
    assert r["dns_resolved"] == ["2001:db8::7 www.example.org"]  # the answer to the query seen
    assert r["resp_id"] == "dns 1234" and "req_id" not in r
    nx = insp.inspect(17, NS, 53, CL, 33000, S.dns_response("nope.example", [], rcode=3), 0.2)
    assert nx is not None and nx["dns_rcode"] == "NXDOMAIN"


def test_inspector_mdns_llmnr_names() -> None:
    insp = Inspector()
    mdns = insp.inspect(17, CL, 5353, bytes([224, 0, 0, 251]), 5353, S.dns_query("printer.local", 12), 0.0)
    assert mdns is not None and mdns["app"] == "MDNS"
    assert "req_id" not in mdns  # mDNS is not timed: its answers are announcements
    llmnr = insp.inspect(17, CL, 60000, bytes([224, 0, 0, 252]), 5355, S.dns_query("wpad", 1), 0.0)
    assert llmnr is not None and llmnr["app"] == "LLMNR" and llmnr["dns_query"] == "wpad"
    assert llmnr["req_id"] == "llmnr 1234"


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


def _ask(insp: Inspector, ident: int, ts: float, sport: int = 33000, name: str = "a.example") -> None:
    insp.inspect(17, CL, sport, NS, 53, S.dns_query(name, ident=ident), ts)


def _answer(
    insp: Inspector, ident: int, ts: float, dport: int = 33000, name: str = "a.example", src: bytes = NS
) -> dict[str, object] | None:
    return insp.inspect(17, src, 53, CL, dport, S.dns_response(name, [(1, "198.51.100.7")], ident=ident), ts)


def test_answer_to_no_query_names_nothing() -> None:
    """One spoofed datagram must not name an address: its answers are shown, never resolved."""
    insp = Inspector()
    r = _answer(insp, 0x1234, 1.0, name="update.microsoft.com")
    assert r is not None and r["dns_answers"] == ["update.microsoft.com A 198.51.100.7"]
    assert "dns_resolved" not in r and insp.dns_unsolicited == 1


@pytest.mark.parametrize(
    ("what", "ident", "dport", "src", "name", "ts"),
    [
        ("wrong id", 0x4321, 33000, NS, "a.example", 1.1),
        ("wrong port", 0x1234, 33001, NS, "a.example", 1.1),
        ("wrong server", 0x1234, 33000, bytes([192, 0, 2, 54]), "a.example", 1.1),
        ("other question", 0x1234, 33000, NS, "b.example", 1.1),
        ("too late", 0x1234, 33000, NS, "a.example", 1.0 + DNS_ANSWER_WINDOW + 0.5),
    ],
)
def test_answer_that_does_not_match_its_query_names_nothing(
    what: str, ident: int, dport: int, src: bytes, name: str, ts: float
) -> None:
    insp = Inspector()
    _ask(insp, 0x1234, 1.0)
    r = _answer(insp, ident, ts, dport=dport, name=name, src=src)
    assert r is not None and r["dns_answers"] and "dns_resolved" not in r, what
    assert insp.dns_unsolicited == 1


def test_each_query_is_answered_once_and_the_question_may_differ_in_case() -> None:
    insp = Inspector()
    _ask(insp, 7, 1.0, name="WwW.Example.ORG")
    first = _answer(insp, 7, 1.2, name="www.example.org")
    again = _answer(insp, 7, 1.3, name="www.example.org")  # a second (spoofed) answer to the same query
    assert first is not None and first["dns_resolved"] == ["198.51.100.7 www.example.org"]
    assert again is not None and "dns_resolved" not in again
    assert len(insp.dns_pending) == 0


def test_a_wrong_question_does_not_use_up_the_query() -> None:
    insp = Inspector()
    _ask(insp, 9, 1.0)
    assert "dns_resolved" not in (_answer(insp, 9, 1.1, name="evil.example") or {})
    assert (_answer(insp, 9, 1.2) or {})["dns_resolved"] == ["198.51.100.7 a.example"]


def test_dns_over_tcp_answers_match_their_queries() -> None:
    insp = Inspector()
    q = S.dns_query("tcp.example", ident=5)
    r = S.dns_response("tcp.example", [(1, "192.0.2.7")], ident=5)
    insp.inspect(6, CL, 41000, NS, 53, S.u16(len(q)) + q, 1.0, seq=1)
    got = insp.inspect(6, NS, 53, CL, 41000, S.u16(len(r)) + r, 1.1, seq=1)
    assert got is not None and got["dns_resolved"] == ["192.0.2.7 tcp.example"]


def test_multicast_answers_name_nothing() -> None:
    """mDNS: the query goes to 224.0.0.251 and answers come from the responder (or are
    announcements), never with the query's addresses swapped: so no names from them."""
    insp = Inspector()
    group = bytes([224, 0, 0, 251])
    insp.inspect(17, CL, 5353, group, 5353, S.dns_query("printer.local", ident=0), 1.0)
    printer = bytes([192, 0, 2, 77])
    r = insp.inspect(
        17, printer, 5353, group, 5353, S.dns_response("printer.local", [(1, "192.0.2.77")], ident=0), 1.1
    )
    assert r is not None and r["app"] == "MDNS" and "dns_resolved" not in r


def test_pending_queries_are_bounded_and_evictions_counted() -> None:
    insp = Inspector()
    for i in range(MAX_DNS_PENDING + 100):
        _ask(insp, i & 0xFFFF, 1.0 + i * 1e-6, sport=1024 + i // 0x10000)
    assert len(insp.dns_pending) == MAX_DNS_PENDING
    assert insp.dns_evicted == 100  # each pushed out within its answer window
    assert "dns_resolved" not in (_answer(insp, 0, 1.5, dport=1024) or {})  # the first was evicted
    last = MAX_DNS_PENDING + 99
    assert (_answer(insp, last & 0xFFFF, 1.5, dport=1024 + last // 0x10000) or {})["dns_resolved"]
    # Queries whose window passed are dropped without being counted.
    late = Inspector()
    for i in range(MAX_DNS_PENDING + 10):
        _ask(late, i & 0xFFFF, 1.0 if i < 10 else 100.0, sport=1024 + i // 0x10000)
    assert late.dns_evicted == 0


def test_thousands_of_questions_are_not_walked() -> None:
    first = S.dns_name("q.example") + b"\x00\x01\x00\x01"
    header = bytes.fromhex("00000100ffff000100000000")  # 65535 questions, 1 answer
    data = header + first + b"\xc0\x0c\x00\x01\x00\x01" * 10000
    msg = dns.parse_message(data)
    assert len(msg.questions) == dns.MAX_QUESTIONS and not msg.complete and msg.answers == ()
