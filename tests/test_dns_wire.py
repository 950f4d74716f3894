"""DNS wire format (RFC 1035 §4.1) from hand-built bytes: every header field, name compression
at every offset, the limits at their exact edges, record data of the wrong length, and TCP
framing. Each case states the bytes it feeds; the expected text follows from the RFC."""

from __future__ import annotations

import struct

import pytest
from rustnet.dissect import dns
from rustnet.dissect.errors import DissectError

from tests.dpi_samples import dns_name, u16


def header(
    ident: int = 0x1234,
    flags: int = 0x8180,
    qd: int = 1,
    an: int = 0,
    ns: int = 0,
    ar: int = 0,
) -> bytes:
    return struct.pack("!HHHHHH", ident, flags, qd, an, ns, ar)


def question(name: bytes, qtype: int = 1) -> bytes:
    return name + u16(qtype) + u16(1)


def rr(name: bytes, rtype: int, rdata: bytes) -> bytes:
    return name + u16(rtype) + u16(1) + (60).to_bytes(4, "big") + u16(len(rdata)) + rdata


def labels(*parts: bytes) -> bytes:
    """Labels without the terminating root label (so a pointer or b"\\x00" can follow)."""
    return b"".join(bytes([len(p)]) + p for p in parts)


def ptr(offset: int) -> bytes:
    return bytes([0xC0 | offset >> 8, offset & 0xFF])


Q = header(an=0) + question(dns_name("www.example.com"))  # the question name is at offset 12
# The documented limits, written out: a test that read them from the module would follow a change.
NAME_TEXT_LIMIT = 510  # characters of a name's text (twice the 255 octets)
MAX_POINTER_JUMPS = 32
MAX_QUESTIONS = 16
MAX_ANSWERS = 32


def answers_of(data: bytes) -> list[str]:
    return [dns.answer_text(a) for a in dns.parse_message(data).answers]


# --- the header ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("flags", "response", "opcode", "rcode", "truncated"),
    [
        (0x0100, False, 0, 0, False),  # a standard query, RD
        (0x8180, True, 0, 0, False),  # a response, RD RA
        (0x8183, True, 0, 3, False),  # NXDOMAIN
        (0x8382, True, 0, 2, True),  # TC set, SERVFAIL
        (0x2800 | 0x8000 | 0x000F, True, 5, 15, False),  # UPDATE (opcode 5), rcode 15
        (0x3000, False, 6, 0, False),  # opcode 6 (DSO, RFC 8490): the highest accepted
        (0x0200, False, 0, 0, True),  # TC alone
        (0x0005, False, 0, 5, False),  # an odd rcode in a query: neither QR nor TC
    ],
)
def test_header_fields(flags: int, response: bool, opcode: int, rcode: int, truncated: bool) -> None:
    msg = dns.parse_message(header(ident=0xBEEF, flags=flags, qd=1) + question(dns_name("a.example")))
    assert (msg.id, msg.response, msg.opcode, msg.rcode, msg.truncated) == (
        0xBEEF,
        response,
        opcode,
        rcode,
        truncated,
    )
    assert msg.questions == (dns.Question("a.example", 1),) and msg.complete


def test_header_length_and_opcode_limits() -> None:
    with pytest.raises(DissectError):
        dns.parse_message(header()[:11])
    assert dns.parse_message(header(qd=0)).questions == ()  # exactly a header: a message
    with pytest.raises(DissectError):
        dns.parse_message(header(flags=0x3800, qd=0))  # opcode 7: not DNS


def test_qtype_is_big_endian() -> None:
    msg = dns.parse_message(header(flags=0) + question(dns_name("x.example"), 0x0102))
    assert msg.questions[0].qtype == 0x0102
    assert dns.type_name(0x0102) == "TYPE258" and dns.rcode_name(11) == "RCODE11"


# --- names --------------------------------------------------------------------------------------
def test_pointer_to_a_name_past_offset_255() -> None:
    """A pointer's offset has 14 bits (the high byte's low six, then the low byte): answers
    padded so a name lives at offset 0x10C, whose low byte (12) is also the question's offset."""
    for target in (0x10C, 0x123):  # low byte equal to the question's offset (12), and not
        base = header(an=4) + Q[12:]
        pad = target - len(base) - 12 - 12  # the first record's data ends where the CNAME's starts
        data = base + rr(ptr(12), 99, bytes(pad))
        assert len(data) + 12 == target
        data += rr(ptr(12), 5, labels(b"deep", b"example") + b"\x00") + rr(
            ptr(target), 1, bytes([192, 0, 2, 1])
        )
        # A one-octet label whose octet is the target's low byte: the two bytes read like a
        # pointer to the target if taken for one.
        data += rr(labels(bytes([target & 0xFF])) + ptr(12), 1, bytes([192, 0, 2, 2]))
        first = "\\x0c" if target & 0xFF == 12 else chr(target & 0xFF)
        assert answers_of(data) == [
            "www.example.com SPF",
            "www.example.com CNAME deep.example",
            "deep.example A 192.0.2.1",
            f"{first}.www.example.com A 192.0.2.2",
        ]


def test_a_name_read_twice_gives_the_same_text() -> None:
    # The question name first decoded whole, then through a pointer, then a name that ends in
    # a pointer to it, then that name again through a pointer to it.
    data = header(an=3) + Q[12:]
    second = len(data)
    data += rr(labels(b"m") + ptr(12), 1, bytes(4))
    data += rr(ptr(second), 1, bytes([10, 0, 0, 1]))
    data += rr(ptr(12), 1, bytes([10, 0, 0, 2]))
    assert answers_of(data) == [
        "m.www.example.com A 0.0.0.0",
        "m.www.example.com A 10.0.0.1",
        "www.example.com A 10.0.0.2",
    ]


def test_names_with_a_dot_inside_a_label() -> None:
    # RFC 1035 labels are octets: "a.b" as one label is shown "a\.b" (as dig shows it).
    data = header(flags=0) + question(labels(b"a.b", b"example") + b"\x00")
    assert dns.parse_message(data).questions[0].name == "a\\.b.example"
    # A long one is cut at the text limit, marked, and never inside a label's escapes: three
    # labels of 63 octets (a dot and 62 control bytes) read 250 characters each once escaped.
    label = b"." + b"\x01" * 62
    name = (
        dns.parse_message(header(flags=0) + question(labels(label, label, label) + b"\x00")).questions[0].name
    )
    shown = "\\." + "\\x01" * 62
    assert len(shown) == 250 and 2 * 250 + 1 <= NAME_TEXT_LIMIT < 3 * 250 + 2
    assert name == f"{shown}.{shown}\u2026"
    # Within the limit: whole.
    name = dns.parse_message(header(flags=0) + question(labels(label, label) + b"\x00")).questions[0].name
    assert name == f"{shown}.{shown}"


@pytest.mark.parametrize("compressed", [False, True])
def test_names_of_255_wire_bytes_and_no_more(compressed: bool) -> None:
    """RFC 1035 §3.1: label octets and length octets, 255 at most: 63+63+63+62 octets and four
    length octets are 255; 63+63+63+63 are 256. Compressed, the first label is followed by a
    pointer to the other three (in the question)."""
    for sizes, ok in (((63, 63, 63, 62), True), ((63, 63, 63, 63), False)):
        big = [bytes([0x61 + i]) * n for i, n in enumerate(sizes)]
        if compressed:
            data = header(an=1) + question(labels(*big[1:]) + b"\x00")
            data += rr(labels(big[0]) + ptr(12), 1, bytes([192, 0, 2, 7]))
            msg = dns.parse_message(data)
            assert msg.complete is ok and len(msg.answers) == (1 if ok else 0)
            if ok:
                assert msg.answers[0].name == ".".join(b.decode() for b in big)
        elif ok:
            data = header(flags=0) + question(labels(*big) + b"\x00")
            assert dns.parse_message(data).questions[0].name == ".".join(b.decode() for b in big)
        else:
            with pytest.raises(DissectError):
                dns.parse_message(header(flags=0) + question(labels(*big) + b"\x00"))


def test_escaped_names_are_cut_exactly_at_the_text_limit() -> None:
    # Two labels of 250 characters once escaped, and a third of 8 or 9: 510 characters with
    # the dots fit NAME_TEXT_LIMIT exactly; 511 do not.
    label = b"." + b"\x01" * 62
    shown = "\\." + "\\x01" * 62
    for tail, cut in ((b"." + b"a" * 6, False), (b"." + b"a" * 7, True)):
        name = (
            dns.parse_message(header(flags=0) + question(labels(label, label, tail) + b"\x00"))
            .questions[0]
            .name
        )
        full = f"{shown}.{shown}.\\.{tail[1:].decode()}"
        assert len(full) == NAME_TEXT_LIMIT + cut
        assert name == (f"{shown}.{shown}\u2026" if cut else full)


def test_the_root_name_and_a_lone_label() -> None:
    data = (
        header(an=1) + question(b"\x00", 2) + rr(b"\x00", 2, labels(b"a", b"root-servers", b"net") + b"\x00")
    )
    assert answers_of(data) == ["<Root> NS a.root-servers.net"]
    assert dns.parse_message(header(flags=0) + question(labels(b"localhost") + b"\x00")).questions[
        0
    ].name == ("localhost")


@pytest.mark.parametrize(
    "name",
    [
        labels(b"abc") + b"\xc0",  # a pointer cut after its first byte, at the very end
        labels(b"abc"),  # no root label: the name runs past the message
        labels(b"abc") + b"\x05ab",  # a label longer than what is left
        labels(b"abc") + ptr(0x3FFF),  # a pointer past the end
        labels(b"abc") + ptr(12 + 6),  # a pointer to the end itself
        labels(b"abc") + b"\x41x\x00",  # 0x40: an extended label type (RFC 6891 §5)
        labels(b"abc") + b"\x81x\x00",  # 0x80: reserved
        # ... even with as many bytes after it as its low bits would count, and the question's
        # type and class after the name (so nothing else is cut).
        labels(b"abc") + b"\x40" + b"x" * 64 + b"\x00" + u16(1) + u16(1),
        labels(b"abc") + b"\x41" + b"x" * 65 + b"\x00" + u16(1) + u16(1),
        labels(b"abc") + b"\x80" + b"x" * 128 + b"\x00" + u16(1) + u16(1),
        b"\x41" + b"x" * 65 + b"\x00" + u16(1) + u16(1),
        b"\xc0",  # only half a pointer
        b"",  # nothing at all
    ],
)
def test_bad_names_are_dissect_errors(name: bytes) -> None:
    with pytest.raises(DissectError):
        dns.parse_message(header(flags=0) + name)


@pytest.mark.parametrize("jumps", [1, 31, 32, 33])
def test_pointer_chains_up_to_32_jumps(jumps: int) -> None:
    """A chain of pointers, each to the previous one, ending at the question name: up to
    MAX_POINTER_JUMPS (32) are followed, one more is a loop for all we know."""
    # The chain sits in the data of a first record (type 99, shown without a value).
    data = header(an=2) + Q[12:]
    chain_at = len(data) + 12
    pointers = b""
    previous = 12
    for _ in range(jumps - 1):
        pointers += ptr(previous)
        previous = chain_at + len(pointers) - 2
    data += rr(ptr(12), 99, pointers) + rr(ptr(previous), 1, bytes([192, 0, 2, 5]))
    msg = dns.parse_message(data)
    if jumps <= MAX_POINTER_JUMPS:
        assert [dns.answer_text(a) for a in msg.answers] == [
            "www.example.com SPF",
            "www.example.com A 192.0.2.5",
        ]
        assert msg.complete
    else:
        assert [dns.answer_text(a) for a in msg.answers] == ["www.example.com SPF"] and not msg.complete


# --- counts and sections ------------------------------------------------------------------------
@pytest.mark.parametrize("count", [15, 16, 17])
def test_up_to_16_questions_then_answers_are_not_read(count: int) -> None:
    qs = b"".join(question(labels(b"q%d" % i) + b"\x00") for i in range(count))
    data = header(qd=count, an=1) + qs + rr(b"\x00", 1, bytes([192, 0, 2, 9]))
    msg = dns.parse_message(data)
    assert [q.name for q in msg.questions] == [f"q{i}" for i in range(min(count, MAX_QUESTIONS))]
    assert msg.complete is (count <= MAX_QUESTIONS)
    assert len(msg.answers) == (1 if count <= MAX_QUESTIONS else 0)


@pytest.mark.parametrize("count", [31, 32, 33])
def test_up_to_32_answers(count: int) -> None:
    rrs = b"".join(rr(ptr(12), 1, bytes([10, 0, 0, i])) for i in range(count))
    msg = dns.parse_message(header(an=count) + Q[12:] + rrs)
    assert [a.value for a in msg.answers] == [f"10.0.0.{i}" for i in range(min(count, MAX_ANSWERS))]
    assert msg.complete


def test_record_fixed_part_and_data_cut_at_every_byte() -> None:
    """An answer with empty data ends exactly at the message end: kept. Cut anywhere before
    that, or its data cut: the questions stay, the message is marked incomplete."""
    whole = header(an=1) + Q[12:] + rr(ptr(12), 99, b"")
    msg = dns.parse_message(whole)
    assert msg.complete and [dns.answer_text(a) for a in msg.answers] == ["www.example.com SPF"]
    for cut in range(len(Q), len(whole)):
        msg = dns.parse_message(whole[:cut])
        assert msg.questions and msg.answers == () and not msg.complete, cut
    with_data = header(an=1) + Q[12:] + rr(ptr(12), 1, bytes([192, 0, 2, 1]))
    assert not dns.parse_message(with_data[:-1]).complete


def test_answers_without_questions_are_all_or_nothing() -> None:
    # mDNS answers come without a question section: a damaged one is an error, not a message.
    good = header(qd=0, an=1) + rr(labels(b"h", b"local") + b"\x00", 1, bytes([192, 0, 2, 3]))
    assert answers_of(good) == ["h.local A 192.0.2.3"]
    with pytest.raises(DissectError):
        dns.parse_message(good[:-1])
    # Two answers, the second damaged: the first one is kept.
    two = header(qd=0, an=2) + good[12:] + rr(ptr(12), 1, bytes([192, 0, 2, 4]))
    msg = dns.parse_message(two[:-2])
    assert [dns.answer_text(a) for a in msg.answers] == ["h.local A 192.0.2.3"] and not msg.complete


@pytest.mark.parametrize(
    ("rtype", "rdata", "value"),
    [
        (1, bytes([192, 0, 2, 1]), "192.0.2.1"),
        (1, bytes([192, 0, 2, 1, 0]), ""),  # an A record whose data is not 4 bytes: no address
        (1, bytes(16), ""),
        (28, bytes(15) + b"\x01", "::1"),
        (28, bytes([192, 0, 2, 1]), ""),  # AAAA with 4 bytes: no address
        (5, labels(b"c", b"example") + b"\x00", "c.example"),
        (2, labels(b"ns1", b"example") + b"\x00", "ns1.example"),
        (12, labels(b"host", b"example") + b"\x00", "host.example"),
        (16, b"\x05hello", ""),  # TXT: not shown
    ],
)
def test_record_values(rtype: int, rdata: bytes, value: str) -> None:
    (a,) = dns.parse_message(header(an=1) + Q[12:] + rr(ptr(12), rtype, rdata)).answers
    assert (a.name, a.rtype, a.value) == ("www.example.com", rtype, value)


def test_a_name_in_record_data_stays_inside_the_data() -> None:
    # A CNAME whose name runs past its rdlength, into the next record: an error, not a name.
    data = (
        header(an=1) + Q[12:] + ptr(12) + u16(5) + u16(1) + (60).to_bytes(4, "big") + u16(3) + b"\x03abc\x00"
    )
    msg = dns.parse_message(data)
    assert msg.answers == () and not msg.complete


# --- TCP framing (RFC 1035 §4.2.2) -------------------------------------------------------------
def test_tcp_framing_edges() -> None:
    msg = header(qd=0)
    assert dns.parse_tcp_stream(b"") is None
    assert dns.parse_tcp_stream(b"\x00") is None
    assert dns.parse_tcp_stream(u16(12)) is None  # the length alone: wait for the message
    assert dns.parse_tcp_stream(u16(12) + msg[:11]) is None
    got = dns.parse_tcp_stream(u16(12) + msg + b"\xff\xff")
    assert got is not None and got[1] == 14 and got[0].id == 0x1234
    big = header(qd=0, flags=0) + bytes(0x100)  # a length whose high byte counts
    got = dns.parse_tcp_stream(u16(len(big)) + big)
    assert got is not None and got[1] == 2 + len(big)
    # The length says where the message ends: a record cut there stays cut, whatever follows.
    whole = header(an=1) + Q[12:] + rr(ptr(12), 1, bytes([192, 0, 2, 1]))
    got = dns.parse_tcp_stream(u16(len(whole) - 1) + whole)
    assert got is not None and got[1] == len(whole) + 1 and not got[0].complete
    for short in (0, 11):
        with pytest.raises(DissectError):
            dns.parse_tcp_stream(u16(short) + msg)
        with pytest.raises(DissectError):
            dns.parse_tcp_stream(u16(short))  # refused as soon as the length is there
