"""DNS messages (RFC 1035 §4), also as carried by mDNS (RFC 6762) and LLMNR (RFC 4795).

One parser for the wire format; the transport decides the name shown (DNS, MDNS, LLMNR).
Over TCP each message has a two-byte length prefix (RFC 1035 §4.2.2).

    msg = parse_message(datagram)            # DnsMessage or DissectError
    got = parse_tcp_stream(stream)           # (DnsMessage, consumed), None (need more) or DissectError

Hostile input is expected: compression pointers are followed at most MAX_POINTER_JUMPS
times, names are capped at 255 bytes on the wire and escaped for display (spaces too,
so an answer string splits unambiguously; a dot inside a label as ``\\.``), and at most
MAX_QUESTIONS / MAX_ANSWERS entries are kept. A datagram whose answer section is cut
(snaplen) still yields its questions, with ``complete=False``.
"""

from __future__ import annotations

import socket
import struct
from typing import Final, NamedTuple

from rustnet.dissect.errors import DissectError
from rustnet.dissect.safe_text import ELLIPSIS, escape_text

HEADER_LEN: Final = 12
_HEADER: Final = struct.Struct("!HHHH")  # id, flags, qdcount, ancount (nscount/arcount unused)
_QTYPE: Final = struct.Struct("!H")  # (tests/dpi_reference.py reads questions with it)
_RR: Final = struct.Struct("!HHIH")  # type, class, ttl, rdlength
MAX_NAME_LEN: Final = 255
NAME_TEXT_LIMIT: Final = 2 * MAX_NAME_LEN  # characters of a name's escaped text
MAX_POINTER_JUMPS: Final = 32
MAX_QUESTIONS: Final = 16
MAX_ANSWERS: Final = 32
ROOT_NAME: Final = "<Root>"

TYPE_A: Final = 1
TYPE_NS: Final = 2
TYPE_CNAME: Final = 5
TYPE_PTR: Final = 12
TYPE_AAAA: Final = 28

TYPE_NAMES: Final = {
    1: "A",
    2: "NS",
    5: "CNAME",
    6: "SOA",
    12: "PTR",
    13: "HINFO",
    15: "MX",
    16: "TXT",
    28: "AAAA",
    33: "SRV",
    35: "NAPTR",
    41: "OPT",
    43: "DS",
    46: "RRSIG",
    47: "NSEC",
    48: "DNSKEY",
    50: "NSEC3",
    64: "SVCB",
    65: "HTTPS",
    99: "SPF",
    251: "IXFR",
    252: "AXFR",
    255: "ANY",
    257: "CAA",
}
RCODE_NAMES: Final = {
    0: "NOERROR",
    1: "FORMERR",
    2: "SERVFAIL",
    3: "NXDOMAIN",
    4: "NOTIMP",
    5: "REFUSED",
    6: "YXDOMAIN",
    7: "YXRRSET",
    8: "NXRRSET",
    9: "NOTAUTH",
    10: "NOTZONE",
}
# Record types whose data is a (possibly compressed) domain name.
NAME_TYPES: Final = frozenset({TYPE_NS, TYPE_CNAME, TYPE_PTR})

# NamedTuple's own __new__ is a Python function; building the tuple directly costs a third
# of it, on every hello, request and DNS message. Fields are passed in declaration order.
_make: Final = tuple.__new__


class Question(NamedTuple):
    name: str  # escaped, without the trailing dot; "<Root>" for the root (as Wireshark shows it)
    qtype: int


class Answer(NamedTuple):
    name: str
    rtype: int
    value: str  # address text (A/AAAA), escaped target name (CNAME/PTR/NS), else ""


class DnsMessage(NamedTuple):
    id: int
    response: bool
    opcode: int
    rcode: int
    truncated: bool  # the TC flag
    questions: tuple[Question, ...]
    answers: tuple[Answer, ...]
    complete: bool  # False when the answer section was cut short


def type_name(rtype: int) -> str:
    name = TYPE_NAMES.get(rtype)  # the text for an unknown type is only made when needed
    return name if name is not None else f"TYPE{rtype}"


def rcode_name(rcode: int) -> str:
    name = RCODE_NAMES.get(rcode)
    return name if name is not None else f"RCODE{rcode}"


def answer_text(ans: Answer) -> str:
    """``name TYPE value``: the form used in the ``dns_answers`` field."""
    tname = type_name(ans.rtype)
    return f"{ans.name} {tname} {ans.value}" if ans.value else f"{ans.name} {tname}"


def read_name(data: bytes, pos: int, seen: dict[int, str] | None = None) -> tuple[str, int]:
    """The name at pos and the offset just after it (after the first pointer, if any).

    ``seen`` caches names by offset within one message: answers point back at the
    question name, which is then decoded once.
    """
    if seen is not None and pos + 1 < len(data) and data[pos] >= 0xC0:
        cached = seen.get(((data[pos] & 0x3F) << 8) | data[pos + 1])
        if cached is not None:
            return cached, pos + 2
    start = pos
    end = len(data)
    # The common case first: plain labels up to the root label, no pointer.
    labels: list[bytes] = []
    while pos < end:
        n = data[pos]
        if n == 0 or n >= 0x40:
            break  # the root label, a pointer or an odd label type
        labels.append(data[pos + 1 : pos + 1 + n])
        pos += 1 + n
    if pos < end and data[pos] == 0 and pos - start <= MAX_NAME_LEN:
        return _name_text(labels, start, pos + 1, -1, seen)
    # Anything else (a pointer, a cut or odd label, a long name): label by label, from the start.
    pos = start
    labels = []
    after = -1
    jumps = 0
    wire_len = 0
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
    return _name_text(labels, start, pos, after, seen)


def _name_text(
    labels: list[bytes], start: int, pos: int, after: int, seen: dict[int, str] | None
) -> tuple[str, int]:
    """read_name's result from the labels read; remembered in ``seen`` when no pointer was followed."""
    if not labels:
        text = ROOT_NAME
    else:
        name = b".".join(labels)
        if name.count(b".") >= len(labels):  # more dots than between labels: one is inside a label
            text = _dotted_labels_text(labels)
        else:
            text = escape_text(name, NAME_TEXT_LIMIT)
    if " " in text:
        text = text.replace(" ", "\\x20")  # keeps "name TYPE value" answer strings unambiguous
    if seen is not None and after < 0:
        seen[start] = text
    return text, (after if after >= 0 else pos)


def _dotted_labels_text(labels: list[bytes]) -> str:
    """A name with a label that holds a dot: that dot is shown ``\\.`` (as dig does), so
    ``a.b`` as one label never reads like the two labels ``a`` and ``b``."""
    parts: list[str] = []
    size = -1
    for label in labels:
        # A label is at most 63 bytes, 4 characters each once escaped: never cut here.
        part = escape_text(label, 4 * 63).replace(".", "\\.")
        size += 1 + len(part)
        if size > NAME_TEXT_LIMIT:
            return ".".join(parts) + ELLIPSIS
        parts.append(part)
    return ".".join(parts)


# Bound once: two module attribute lookups fewer per address answer.
_ntop: Final = socket.inet_ntop
_AF_INET: Final = socket.AF_INET
_AF_INET6: Final = socket.AF_INET6


def _rdata_value(data: bytes, rtype: int, start: int, rdlen: int, seen: dict[int, str]) -> str:
    if rtype == TYPE_A and rdlen == 4:
        return _ntop(_AF_INET, data[start : start + 4])
    if rtype == TYPE_AAAA and rdlen == 16:
        return _ntop(_AF_INET6, data[start : start + 16])
    if rtype in NAME_TYPES:
        return read_name(data[: start + rdlen], start, seen)[0]
    return ""


def parse_message(data: bytes) -> DnsMessage:
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
    end = len(data)
    for _ in range(qdcount if qdcount <= MAX_QUESTIONS else MAX_QUESTIONS):
        name, pos = read_name(data, pos, seen)
        if pos + 4 > end:
            raise DissectError("DNS question cut")
        questions.append(_make(Question, (name, (data[pos] << 8) | data[pos + 1])))  # qtype
        pos += 4
    answers: list[Answer] = []
    # Past MAX_QUESTIONS the answers are not looked for: walking thousands of hostile
    # questions would cost more than the message is worth.
    complete = qdcount <= MAX_QUESTIONS
    try:
        for _ in range((ancount if ancount <= MAX_ANSWERS else MAX_ANSWERS) if complete else 0):
            name, pos = read_name(data, pos, seen)
            if pos + 10 > end:
                raise DissectError("DNS resource record cut")
            rtype, _, _, rdlen = _RR.unpack_from(data, pos)
            pos += 10
            if pos + rdlen > end:
                raise DissectError("DNS record data cut")
            answers.append(_make(Answer, (name, rtype, _rdata_value(data, rtype, pos, rdlen, seen))))
            pos += rdlen
    except DissectError:
        # The questions are sound; a cut or odd answer section still leaves them useful.
        if not questions and not answers:
            raise
        complete = False
    return _make(
        DnsMessage,
        (
            ident,
            bool(flags & 0x8000),
            opcode,
            flags & 0xF,
            bool(flags & 0x0200),
            tuple(questions),
            tuple(answers),
            complete,
        ),
    )


def parse_tcp_stream(data: bytes) -> tuple[DnsMessage, int] | None:
    """The first length-prefixed message of a DNS-over-TCP stream and the bytes it used."""
    if len(data) < 2:
        return None
    length = int.from_bytes(data[0:2], "big")
    if length < HEADER_LEN:
        raise DissectError(f"DNS over TCP length {length}")
    if len(data) < 2 + length:
        return None
    return parse_message(data[2 : 2 + length]), 2 + length
