"""Hand-built frames for the dissector tests: every header packed with struct, field by field.

Checksums are left 0: the dissector never verifies them (capture offload makes them wrong
on real captures anyway).
"""

from __future__ import annotations

import socket
import struct

MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")
V4_A = socket.inet_aton("10.0.0.1")
V4_B = socket.inet_aton("10.0.0.2")
V6_A = socket.inet_pton(socket.AF_INET6, "fd00::1")
V6_B = socket.inet_pton(socket.AF_INET6, "fd00::2")


def eth(payload: bytes, etype: int = 0x0800, vlans: tuple[int, ...] = (), tpid: int = 0x8100) -> bytes:
    """Ethernet II; ``vlans`` outer first, each tagged with ``tpid`` (inner tags 0x8100)."""
    out = MAC_B + MAC_A
    for i, vid in enumerate(vlans):
        out += struct.pack("!HH", tpid if i == 0 else 0x8100, vid)
    return out + struct.pack("!H", etype) + payload


def sll(payload: bytes, proto: int = 0x0800) -> bytes:
    """Linux cooked v1: packet type, ARPHRD, address length, 8 address bytes, protocol."""
    return struct.pack("!HHH8sH", 0, 1, 6, MAC_A + b"\0\0", proto) + payload


def sll2(payload: bytes, proto: int = 0x0800) -> bytes:
    """Linux cooked v2: protocol, reserved, ifindex, ARPHRD, packet type, address length, address."""
    return struct.pack("!HHIHBB8s", proto, 0, 3, 1, 4, 6, MAC_A + b"\0\0") + payload


def null(payload: bytes, af: int, big_endian: bool = False) -> bytes:
    return struct.pack(">I" if big_endian else "<I", af) + payload


def ipv4(
    payload: bytes,
    proto: int = 6,
    src: bytes = V4_A,
    dst: bytes = V4_B,
    ident: int = 1,
    frag: int = 0x4000,
    total: int | None = None,
    ihl: int = 5,
    options: bytes = b"",
    version: int = 4,
) -> bytes:
    """IPv4; ``frag`` is the flags+offset word (0x4000 = DF), ``total`` overrides the length."""
    hdr_len = 20 + len(options)
    tot = hdr_len + len(payload) if total is None else total
    return (
        struct.pack("!BBHHHBBH4s4s", (version << 4) | ihl, 0, tot, ident, frag, 64, proto, 0, src, dst)
        + options
        + payload
    )


def ipv6(
    payload: bytes, nxt: int = 6, src: bytes = V6_A, dst: bytes = V6_B, plen: int | None = None
) -> bytes:
    n = len(payload) if plen is None else plen
    return struct.pack("!IHBB16s16s", 6 << 28, n, nxt, 64, src, dst) + payload


def ext6(nxt: int, body_len: int = 6) -> bytes:
    """A generic IPv6 extension header (hop-by-hop, routing, destination options)."""
    size = 2 + body_len
    assert size % 8 == 0
    return struct.pack("!BB", nxt, size // 8 - 1) + b"\x01" + b"\0" * (body_len - 1)


def frag6(nxt: int, offset: int, more: bool, ident: int) -> bytes:
    return struct.pack("!BBHI", nxt, 0, (offset // 8) << 3 | int(more), ident)


def tcp(
    payload: bytes = b"",
    sport: int = 40000,
    dport: int = 80,
    seq: int = 1000,
    ack: int = 2000,
    flags: int = 0x18,
    window: int = 512,
    options: bytes = b"",
    doff: int | None = None,
) -> bytes:
    hl = 20 + len(options)
    off = (hl // 4 if doff is None else doff) << 4
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off, flags, window, 0, 0) + options + payload


def udp(payload: bytes = b"", sport: int = 5353, dport: int = 53, ulen: int | None = None) -> bytes:
    n = 8 + len(payload) if ulen is None else ulen
    return struct.pack("!HHHH", sport, dport, n, 0) + payload


def icmp(typ: int, code: int = 0, ident: int = 0, seq: int = 0, payload: bytes = b"") -> bytes:
    return struct.pack("!BBHHH", typ, code, 0, ident, seq) + payload


def arp(
    op: int,
    sha: bytes = MAC_A,
    spa: bytes = V4_A,
    tha: bytes = b"\0" * 6,
    tpa: bytes = V4_B,
    ptype: int = 0x0800,
) -> bytes:
    return struct.pack("!HHBBH", 1, ptype, len(sha), len(spa), op) + sha + spa + tha + tpa


def pkt(frame: bytes, ts: float = 1_700_000_000.25, wirelen: int | None = None) -> list[object]:
    return ["pkt", ts, len(frame) if wirelen is None else wirelen, frame]


def hdr(linktype: int | None = 1) -> dict[str, object]:
    return {
        "t": "hdr",
        "v": 1,
        "producer": "rn-capture 0.1.0",
        "linktype": linktype,
        "source": "test",
        "live": False,
        "snaplen": 262144,
        "start": 1_700_000_000.0,
        "stages": ["rn-capture"],
    }
