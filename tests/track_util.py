"""Building packet summaries for the tracker tests (positional ``sum`` records)."""

from __future__ import annotations

import socket
from typing import Any

from rustnet.stream.records import make_header

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
A = socket.inet_aton("10.0.0.1")
B = socket.inet_aton("10.0.0.2")
C = socket.inet_aton("10.0.0.3")
A6 = socket.inet_pton(socket.AF_INET6, "fd00::1")
B6 = socket.inet_pton(socket.AF_INET6, "fd00::2")


def tcp(
    ts: float,
    src: bytes,
    sport: int,
    dst: bytes,
    dport: int,
    flags: int,
    seq: int = 0,
    ack: int = 0,
    paylen: int = 0,
    wirelen: int | None = None,
    info: dict[str, Any] | None = None,
    vlan: list[int] | None = None,
) -> list[Any]:
    return [
        "sum",
        ts,
        wirelen if wirelen is not None else 54 + paylen,
        6,
        src,
        sport,
        dst,
        dport,
        flags,
        seq,
        ack,
        paylen,
        1000,
        vlan,
        info,
    ]


def udp(
    ts: float,
    src: bytes,
    sport: int,
    dst: bytes,
    dport: int,
    paylen: int = 20,
    wirelen: int | None = None,
    info: dict[str, Any] | None = None,
) -> list[Any]:
    return [
        "sum",
        ts,
        wirelen if wirelen is not None else 42 + paylen,
        17,
        src,
        sport,
        dst,
        dport,
        0,
        0,
        0,
        paylen,
        0,
        None,
        info,
    ]


def icmp(ts: float, src: bytes, dst: bytes, mtype: int, code: int = 0, proto: int = 1) -> list[Any]:
    return ["sum", ts, 98, proto, src, mtype, dst, code, 0, 7, 1, 64, 0, None, None]


def arp(ts: float, sender: bytes, target: bytes, op: int) -> list[Any]:
    return ["sum", ts, 42, 2054, sender, op, target, 0, 0, 0, 0, 0, 0, None, None]


def header(live: bool = False) -> dict[str, Any]:
    return make_header("rn-dissect 0.1.0", 1, "test.pcap", live, 65535, 1000.0, ["rn-capture"])


def handshake(
    t: float, c: bytes = A, cp: int = 40000, s: bytes = B, sp: int = 80, isn: int = 1000, risn: int = 5000
) -> list[list[Any]]:
    return [
        tcp(t, c, cp, s, sp, SYN, isn),
        tcp(t + 0.01, s, sp, c, cp, SYN | ACK, risn, isn + 1),
        tcp(t + 0.02, c, cp, s, sp, ACK, isn + 1, risn + 1),
    ]


def conns(recs: list[Any]) -> list[dict[str, Any]]:
    return [r for r in recs if isinstance(r, dict) and r.get("t") == "conn"]


def finals(recs: list[Any]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for r in conns(recs):
        if r.get("final"):
            assert r["id"] not in out, f"two final records for id {r['id']}"
            out[r["id"]] = r
    return out
