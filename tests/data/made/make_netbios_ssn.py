"""Write netbios-ssn.pcap: NetBIOS session service openings crafted with dpkt from RFC 1002.

    client port  server port  what
    40139        139          SESSION REQUEST to FILESERVER<20> from CLIENT<00>, POSITIVE
                              SESSION RESPONSE, then a session message
    40140        139          SESSION REQUEST to PRINTER<20> from CLIENT<00>, NEGATIVE
                              SESSION RESPONSE 0x82 (called name not present)

Run from the repository root:

    python tests/data/made/make_netbios_ssn.py
"""

from __future__ import annotations

import struct
from pathlib import Path

import dpkt
from make_ftp import Writer

OUT = Path(__file__).with_name("netbios-ssn.pcap")


def encoded(name: str, suffix: int) -> bytes:
    """RFC 1001 §14.1 first-level encoding: length 32, two letters a byte, no scope, 0."""
    raw = name.encode().ljust(15, b" ") + bytes([suffix])
    return (
        b"\x20" + bytes(0x41 + (b >> 4 if i % 2 == 0 else b & 0xF) for b in raw for i in range(2)) + b"\x00"
    )


def packet(kind: int, body: bytes) -> bytes:
    """RFC 1002 §4.3.1 header: type, flags (length extension bit), 16-bit length."""
    return struct.pack("!BBH", kind, len(body) >> 16, len(body) & 0xFFFF) + body


def request(called: str, calling: str) -> bytes:
    return packet(0x81, encoded(called, 0x20) + encoded(calling, 0x00))


def main() -> None:
    with OUT.open("wb") as f:
        w = Writer(dpkt.pcap.Writer(f, linktype=dpkt.pcap.DLT_EN10MB))
        w.conversation(
            40139,
            139,
            [
                (True, request("FILESERVER", "CLIENT")),
                (False, packet(0x82, b"")),
                (True, packet(0x00, b"\xffSMB" + bytes(28))),
            ],
        )
        w.conversation(40140, 139, [(True, request("PRINTER", "CLIENT")), (False, packet(0x83, b"\x82"))])


if __name__ == "__main__":
    main()
