"""A capture whose every displayable field carries terminal attacks.

HTTP Host and User-Agent, a TLS SNI, a DNS query name, SSH banners both ways and a
QUIC CONNECTION_CLOSE reason phrase each hold an OSC 52 clipboard write, a clear
screen, a raw C1 CSI (U+009B), a bidi override (U+202E) and bytes that are not UTF-8.
"""

from __future__ import annotations

import struct
from pathlib import Path

from tests.robust.util import tcp_session, udp, write_pcap
from tests.test_quic import client_hello, client_initial, close_frame, crypto_frame, pad

# Each attack is followed by a distinct marker so the escaped form can be found in the output.
OSC52 = b"\x1b]52;c;cHduZWQ=\x07"
CLEAR = b"\x1b[2J"
C1_CSI = "\x9b".encode()  # U+009B as UTF-8: a terminal may take it as CSI
BIDI = "\u202e".encode()
INVALID = b"\xff\xfe\xc3("
EVIL = OSC52 + b"A" + CLEAR + b"B" + C1_CSI + b"31mC" + BIDI + b"D" + INVALID + b"E"

# Raw byte sequences that must never appear in anything we print.
FORBIDDEN = (b"\x1b]52", b"\x1b[2J", C1_CSI, BIDI, b"\xff\xfe")
# Each field's escaped form starts with this (how safe_text shows ESC ] 5 2).
ESCAPED_MARK = "\\x1b]52;c;cHduZWQ=\\x07A\\x1b[2JB"

CLIENT, SERVER = "10.9.0.1", "10.9.0.2"


def dns_query(name_labels: list[bytes], qid: int = 0x1234) -> bytes:
    q = b"".join(bytes((len(lbl),)) + lbl for lbl in name_labels) + b"\x00"
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q + struct.pack("!HH", 1, 1)


def tls_client_hello(sni: bytes) -> bytes:
    hs = client_hello(sni=sni)
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def frames() -> list[bytes]:
    out: list[bytes] = []
    out += tcp_session(
        CLIENT,
        40001,
        SERVER,
        80,
        b"GET /" + EVIL + b" HTTP/1.1\r\nHost: h" + EVIL + b"\r\nUser-Agent: u" + EVIL + b"\r\n\r\n",
    )
    out += tcp_session(CLIENT, 40002, SERVER, 443, tls_client_hello(b"s" + EVIL))
    out.append(udp(CLIENT, 40003, SERVER, 53, dns_query([b"d" + EVIL, b"example"])))
    out += tcp_session(
        CLIENT, 40004, SERVER, 22, b"SSH-2.0-c" + EVIL + b"\r\n", b"SSH-2.0-s" + EVIL + b"\r\n"
    )
    initial = client_initial(
        pad(crypto_frame(0, client_hello(sni=b"qs" + EVIL)) + close_frame(0x0A, b"q" + EVIL))
    )
    out.append(udp(CLIENT, 40005, SERVER, 443, initial))
    return out


def write(path: Path) -> Path:
    write_pcap(path, frames())
    return path
