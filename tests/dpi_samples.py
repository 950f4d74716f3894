"""Wire-format messages for the DPI tests, built field by field from the RFC layouts.

Each builder writes every length and field explicitly, so a test states the bytes it
feeds; the parsers under test share no code with these builders.
"""

from __future__ import annotations

import socket


def u8(n: int) -> bytes:
    return n.to_bytes(1, "big")


def u16(n: int) -> bytes:
    return n.to_bytes(2, "big")


def u24(n: int) -> bytes:
    return n.to_bytes(3, "big")


def ext(etype: int, body: bytes) -> bytes:
    return u16(etype) + u16(len(body)) + body


def sni_ext(name: bytes) -> bytes:
    entry = b"\x00" + u16(len(name)) + name
    return ext(0, u16(len(entry)) + entry)


def alpn_ext(protos: list[bytes]) -> bytes:
    lst = b"".join(u8(len(p)) + p for p in protos)
    return ext(16, u16(len(lst)) + lst)


def versions_ext(versions: list[int]) -> bytes:
    lst = b"".join(u16(v) for v in versions)
    return ext(43, u8(len(lst)) + lst)


def client_hello_body(
    sni: bytes | None = b"www.example.com",
    alpn: list[bytes] | None = None,
    versions: list[int] | None = None,
    ech: bool = False,
    padding: int = 0,
) -> bytes:
    """A TLS ClientHello handshake body (RFC 8446 §4.1.2)."""
    exts = b""
    exts += ext(0x0A0A, b"")  # GREASE extension first, as browsers send it
    if sni is not None:
        exts += sni_ext(sni)
    if alpn:
        exts += alpn_ext(alpn)
    if versions:
        exts += versions_ext(versions)
    if ech:
        exts += ext(0xFE0D, b"\x00\x00\x01\x00\x01\x2a\x00\x20" + bytes(32) + b"\x00\x10" + bytes(16))
    if padding:
        exts += ext(21, bytes(padding))
    suites = b"\x1a\x1a\x13\x01\x13\x02\xc0\x2f"
    return (
        b"\x03\x03"
        + bytes(range(32))
        + u8(32)
        + bytes(32)
        + u16(len(suites))
        + suites
        + b"\x01\x00"
        + u16(len(exts))
        + exts
    )


def handshake(mtype: int, body: bytes) -> bytes:
    return u8(mtype) + u24(len(body)) + body


def records(message: bytes, max_fragment: int = 16384, version: int = 0x0301) -> bytes:
    """TLS handshake records carrying ``message``, split into fragments of max_fragment."""
    out = b""
    for i in range(0, len(message), max_fragment):
        frag = message[i : i + max_fragment]
        out += b"\x16" + u16(version) + u16(len(frag)) + frag
    return out


def client_hello(**kw: object) -> bytes:
    """A whole ClientHello as a client sends it on TCP (one record)."""
    return records(handshake(1, client_hello_body(**kw)))  # type: ignore[arg-type]


def server_hello(cipher: int = 0x1301, selected: int | None = 0x0304) -> bytes:
    exts = ext(43, u16(selected)) if selected is not None else b""
    body = b"\x03\x03" + bytes(32) + u8(0) + u16(cipher) + b"\x00" + u16(len(exts)) + exts
    return records(handshake(2, body), version=0x0303)


def dns_name(name: str) -> bytes:
    out = b""
    for label in name.split("."):
        if label:
            raw = label.encode()
            out += u8(len(raw)) + raw
    return out + b"\x00"


def dns_query(name: str, qtype: int = 1, ident: int = 0x1234, flags: int = 0x0100) -> bytes:
    return u16(ident) + u16(flags) + u16(1) + u16(0) + u16(0) + u16(0) + dns_name(name) + u16(qtype) + u16(1)


def dns_response(
    name: str, answers: list[tuple[int, str]], qtype: int = 1, rcode: int = 0, ident: int = 0x1234
) -> bytes:
    """A response whose answers all hang off the question name (compressed pointer 0xc00c)."""
    body = dns_name(name) + u16(qtype) + u16(1)
    for rtype, value in answers:
        if rtype == 1:
            rdata = socket.inet_pton(socket.AF_INET, value)
        elif rtype == 28:
            rdata = socket.inet_pton(socket.AF_INET6, value)
        else:
            rdata = dns_name(value)
        body += b"\xc0\x0c" + u16(rtype) + u16(1) + (300).to_bytes(4, "big") + u16(len(rdata)) + rdata
    header = u16(ident) + u16(0x8180 | rcode) + u16(1) + u16(len(answers)) + u16(0) + u16(0)
    return header + body


def ssh_packet(msg_type: int, body: bytes = b"", padding: int = 4) -> bytes:
    """An unencrypted SSH binary packet (RFC 4253 §6)."""
    payload = u8(msg_type) + body
    length = 1 + len(payload) + padding
    return length.to_bytes(4, "big") + u8(padding) + payload + bytes(padding)
