"""Write igmp-ndp.pcap: IGMP and NDP messages crafted with dpkt from RFC 2236, 3376 and 4861.

    IGMPv2 general query (no group), v2 report and leave for 239.1.2.3, v1 report for
    224.0.1.60, a v3 report with three group records (one with sources and aux data);
    a neighbour solicitation (hop limit 255, source link-layer option) for fe80::2, the
    advertisement answering it (target link-layer option), and the same advertisement with
    hop limit 64 (forwarded: not to be believed) for 2001:db8::66.

Run from the repository root:

    python tests/data/made/make_igmp_ndp.py
"""

from __future__ import annotations

import socket
import struct
from pathlib import Path

import dpkt

OUT = Path(__file__).with_name("igmp-ndp.pcap")
MAC_A = bytes.fromhex("020000000301")
MAC_B = bytes.fromhex("020000000302")
HOST = bytes([10, 9, 3, 1])


def v4(text: str) -> bytes:
    return socket.inet_pton(socket.AF_INET, text)


def v6(text: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6, text)


def igmp(typ: int, group: str, max_resp: int = 0) -> bytes:
    raw = struct.pack("!BBH4s", typ, max_resp, 0, v4(group))
    return raw[:2] + struct.pack("!H", dpkt.in_cksum(raw)) + raw[4:]


def igmp_v3_report() -> bytes:
    records = struct.pack("!BBH4s", 4, 0, 0, v4("239.10.0.1"))  # CHANGE_TO_EXCLUDE, no sources
    records += struct.pack("!BBH4s", 1, 1, 2, v4("232.1.1.1")) + v4("10.9.3.7") + v4("10.9.3.8") + bytes(4)
    records += struct.pack("!BBH4s", 3, 0, 0, v4("239.255.255.250"))
    raw = struct.pack("!BBHHH", 0x22, 0, 0, 0, 3) + records
    return raw[:2] + struct.pack("!H", dpkt.in_cksum(raw)) + raw[4:]


def icmp6(src: bytes, dst: bytes, body: bytes) -> bytes:
    pseudo = src + dst + struct.pack("!I3xB", len(body), 58)
    csum = dpkt.in_cksum(pseudo + body)
    return body[:2] + struct.pack("!H", csum) + body[4:]


def main() -> None:
    t = 1_700_000_000.0
    with OUT.open("wb") as f:
        w = dpkt.pcap.Writer(f, linktype=dpkt.pcap.DLT_EN10MB)

        def ipv4(dst: str, payload: bytes) -> None:
            nonlocal t
            ip = dpkt.ip.IP(src=HOST, dst=v4(dst), p=2, ttl=1, data=payload)
            ip.len = len(ip)
            w.writepkt(bytes(dpkt.ethernet.Ethernet(src=MAC_A, dst=MAC_B, data=ip)), t)
            t += 0.01

        def ipv6(src: str, dst: str, hlim: int, body: bytes, mac: bytes) -> None:
            nonlocal t
            s, d = v6(src), v6(dst)
            payload = icmp6(s, d, body)
            header = struct.pack("!IHBB16s16s", 0x60000000, len(payload), 58, hlim, s, d)
            eth = struct.pack("!6s6sH", MAC_B, mac, 0x86DD) + header + payload
            w.writepkt(eth, t)
            t += 0.01

        ipv4("224.0.0.1", igmp(0x11, "0.0.0.0", 100))
        ipv4("239.1.2.3", igmp(0x16, "239.1.2.3"))
        ipv4("224.0.0.2", igmp(0x17, "239.1.2.3"))
        ipv4("224.0.1.60", igmp(0x12, "224.0.1.60"))
        ipv4("224.0.0.22", igmp_v3_report())
        ns = struct.pack("!BBHI16s", 135, 0, 0, 0, v6("fe80::2")) + b"\x01\x01" + MAC_A
        ipv6("fe80::1", "ff02::1:ff00:2", 255, ns, MAC_A)
        na = struct.pack("!BBHI16s", 136, 0, 0, 0x60000000, v6("fe80::2")) + b"\x02\x01" + MAC_B
        ipv6("fe80::2", "fe80::1", 255, na, MAC_B)
        forged = struct.pack("!BBHI16s", 136, 0, 0, 0x20000000, v6("2001:db8::66")) + b"\x02\x01" + bytes(6)
        ipv6("2001:db8::99", "2001:db8::1", 64, forged, MAC_B)


if __name__ == "__main__":
    main()
