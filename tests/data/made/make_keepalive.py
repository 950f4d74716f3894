"""Write keepalive.pcap: connections picked up mid-stream (no handshake in the file) whose
first segment in one direction is not where the stream goes on from. Crafted with dpkt.

    stream  port  the client's first segment, then
    0       80    a keep-alive probe (1 byte 0x00, seq = next - 1)     GET /ka, a 200
    1       80    a probe whose byte is the LF its last request ended   GET /lf, then GET /2
    2       443   a keep-alive probe (0x00)                            a ClientHello (SNI)
    3       22    a keep-alive probe (0x00)                            SSH identifications
    4       80    a retransmission of an old binary segment, 300 bytes  GET /rt (after a gap)
                  before the next one due
    5       80    the retransmitted tail of its last request (text)     GET /tail
    6       80    a stray segment 2^30 past the stream (out of window)  GET /oow
    7       8080  a probe (0x00)                                       GET /p on another port

Each is answered as a server would (a duplicate ACK for a probe). The ClientHello is built
here field by field (RFC 8446 §4.1.2). Run from the repository root:

    python tests/data/made/make_keepalive.py
"""

from __future__ import annotations

import struct
from pathlib import Path

import dpkt

OUT = Path(__file__).with_name("keepalive.pcap")
CLIENT = bytes([10, 9, 0, 1])
SERVER = bytes([10, 9, 0, 2])


def client_hello(sni: bytes) -> bytes:
    name = struct.pack("!BH", 0, len(sni)) + sni
    ext_sni = struct.pack("!HHH", 0, len(name) + 2, len(name)) + name
    alpn_list = b"\x08http/1.1"
    ext_alpn = struct.pack("!HHH", 16, len(alpn_list) + 2, len(alpn_list)) + alpn_list
    exts = ext_sni + ext_alpn
    body = (
        b"\x03\x03"
        + bytes(range(32))  # random
        + b"\x00"  # session id
        + b"\x00\x02\x13\x01"  # one cipher suite
        + b"\x01\x00"  # null compression
        + struct.pack("!H", len(exts))
        + exts
    )
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


class Writer:
    def __init__(self, w: dpkt.pcap.Writer) -> None:
        self.w = w
        self.t = 1_700_000_000.0

    def seg(self, src_c: bool, cport: int, sport: int, seq: int, ack: int, data: bytes) -> None:
        tcp = dpkt.tcp.TCP(
            sport=cport if src_c else sport,
            dport=sport if src_c else cport,
            seq=seq & 0xFFFFFFFF,
            ack=ack & 0xFFFFFFFF,
            flags=dpkt.tcp.TH_ACK | (dpkt.tcp.TH_PUSH if data else 0),
            win=502,
            data=data,
        )
        ip = dpkt.ip.IP(
            src=CLIENT if src_c else SERVER, dst=SERVER if src_c else CLIENT, p=6, ttl=64, data=tcp
        )
        ip.len = len(ip)
        eth = dpkt.ethernet.Ethernet(
            src=b"\x02\x00\x00\x00\x00\x01" if src_c else b"\x02\x00\x00\x00\x00\x02",
            dst=b"\x02\x00\x00\x00\x00\x02" if src_c else b"\x02\x00\x00\x00\x00\x01",
            data=ip,
        )
        self.w.writepkt(bytes(eth), self.t)
        self.t += 0.01


def request(path: str, host: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: ka-test/1\r\n\r\n".encode()


RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def main() -> None:
    with OUT.open("wb") as f:
        w = Writer(dpkt.pcap.Writer(f, linktype=dpkt.pcap.DLT_EN10MB))
        c, s = 1_000_000, 5_000_000
        # 0: a probe, its duplicate ACK, then a request and its answer.
        w.seg(True, 40000, 80, c - 1, s, b"\x00")
        w.seg(False, 40000, 80, s, c, b"")
        req = request("/ka", "ka.example")
        w.seg(True, 40000, 80, c, s, req)
        w.seg(False, 40000, 80, s, c + len(req), RESPONSE)
        # 1: the probe's byte is the LF the last request ended with.
        w.seg(True, 40001, 80, c - 1, s, b"\n")
        w.seg(False, 40001, 80, s, c, b"")
        r1 = request("/lf", "lf.example")
        w.seg(True, 40001, 80, c, s, r1)
        w.seg(False, 40001, 80, s, c + len(r1), RESPONSE)
        w.seg(True, 40001, 80, c + len(r1), s + len(RESPONSE), request("/2", "lf.example"))
        # 2: TLS after a probe.
        w.seg(True, 40002, 443, c - 1, s, b"\x00")
        w.seg(False, 40002, 443, s, c, b"")
        w.seg(True, 40002, 443, c, s, client_hello(b"ka-tls.example"))
        # 3: SSH after a probe.
        w.seg(True, 40003, 22, c - 1, s, b"\x00")
        w.seg(False, 40003, 22, s, c, b"")
        w.seg(True, 40003, 22, c, s, b"SSH-2.0-KaClient_1.0\r\n")
        w.seg(False, 40003, 22, s, c + 22, b"SSH-2.0-KaServer_2.0\r\n")
        # 4: an old segment retransmitted, 300 bytes before the next one due.
        w.seg(True, 40004, 80, c - 500, s, bytes(range(200)))
        w.seg(False, 40004, 80, s, c, b"")
        r4 = request("/rt", "rt.example")
        w.seg(True, 40004, 80, c, s, r4)
        w.seg(False, 40004, 80, s, c + len(r4), RESPONSE)
        # 5: the tail of the last request retransmitted right before the next one.
        w.seg(True, 40005, 80, c - 24, s, b"User-Agent: ka-test/1\r\n\r\n"[-24:])
        r5 = request("/tail", "tail.example")
        w.seg(True, 40005, 80, c, s, r5)
        w.seg(False, 40005, 80, s, c + len(r5), RESPONSE)
        # 6: a stray segment far out of the window comes first.
        w.seg(True, 40006, 80, c + (1 << 30), s, b"\x17\x03\x03 stray bytes out of window")
        r6 = request("/oow", "oow.example")
        w.seg(True, 40006, 80, c, s, r6)
        w.seg(False, 40006, 80, s, c + len(r6), RESPONSE)
        # 7: a probe, on a port that is not HTTP's.
        w.seg(True, 40007, 8080, c - 1, s, b"\x00")
        r7 = request("/p", "p.example")
        w.seg(True, 40007, 8080, c, s, r7)
        w.seg(False, 40007, 8080, s, c + len(r7), RESPONSE)


if __name__ == "__main__":
    main()
