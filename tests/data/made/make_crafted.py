"""Build the captures no kernel here can make, from the real packets of vxlan.pcap and dns-frag.pcap.

    python tests/data/made/make_crafted.py

* ``geneve.pcap``: the inner Ethernet frames of vxlan.pcap, each wrapped in Geneve (VNI 7,
  UDP 6081, one 8-byte option on every other packet) between 10.9.0.1 and 10.9.0.2: this
  kernel has no Geneve device.
* ``teredo.pcap``: the inner IPv6 packets of vxlan.pcap wrapped in Teredo (UDP, client port
  40000, server port 3544) between 198.51.100.7 and 203.0.113.9; every fourth one behind
  an origin indication header.
* ``mdns6-frag.pcap``: an mDNS query and its answer (a PTR and a 1400-byte TXT record)
  over IPv6 from fe80::1 to ff02::fb, the answer in three fragments; then the same answer
  again with the second fragment overlapping the first by 8 bytes (RFC 5722: the datagram
  is dropped, tshark reassembles it anyway).
* ``nflog.pcap``: the IPv4 and IPv6 frames of dns-frag.pcap (DNS, fragments, ARP left out)
  as Linux NFLOG records (link type 239): family, version 0, group 5, then the TLVs a
  kernel writes (hardware protocol, hook, prefix "rn", uid, the payload), in little-endian.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import dpkt

HERE = Path(__file__).resolve().parent


def frames(name: str) -> Iterator[tuple[float, bytes]]:
    with open(HERE / name, "rb") as fh:
        yield from dpkt.pcap.Reader(fh)


def write(name: str, linktype: int, packets: list[tuple[float, bytes]]) -> None:
    with open(HERE / name, "wb") as fh:
        w = dpkt.pcap.Writer(fh, linktype=linktype, snaplen=65535)
        for ts, data in packets:
            w.writepkt(data, ts)


def vxlan_inner() -> Iterator[tuple[float, bytes]]:
    for ts, data in frames("vxlan.pcap"):
        eth = dpkt.ethernet.Ethernet(data)
        if isinstance(eth.data, dpkt.ip.IP) and isinstance(eth.data.data, dpkt.udp.UDP):
            if eth.data.data.dport == 4789:
                yield ts, bytes(eth.data.data.data)[8:]


def outer(src: str, dst: str, sport: int, dport: int, payload: bytes) -> bytes:
    import socket

    udp = dpkt.udp.UDP(sport=sport, dport=dport, data=payload)
    udp.ulen = 8 + len(payload)
    ip = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=17, ttl=64, data=udp)
    ip.len = 20 + udp.ulen
    eth = dpkt.ethernet.Ethernet(
        src=b"\x02\x00\x00\x00\x00\x01", dst=b"\x02\x00\x00\x00\x00\x02", type=0x0800, data=ip
    )
    return bytes(eth)


def geneve() -> None:
    out = []
    for i, (ts, inner) in enumerate(vxlan_inner()):
        opt = b""
        if i % 2:
            opt = struct.pack("!HBB", 0x0102, 0x80, 1) + b"\xaa\xbb\xcc\xdd"
        hdr = struct.pack("!BBHI", len(opt) // 4, 0, 0x6558, 7 << 8) + opt
        out.append((ts, outer("10.9.0.1", "10.9.0.2", 50000 + i % 3, 6081, hdr + inner)))
    write("geneve.pcap", dpkt.pcap.DLT_EN10MB, out)


def teredo() -> None:
    out = []
    for i, (ts, inner) in enumerate(vxlan_inner()):
        eth = dpkt.ethernet.Ethernet(inner)
        if eth.type != 0x86DD:
            continue
        ip6 = bytes(eth.data)
        if i % 4 == 0:
            ip6 = struct.pack("!HH4s", 0x0000, 40000 ^ 0xFFFF, b"\x3c\x33\x64\xf8") + ip6  # origin
        client_to_server = dpkt.ip6.IP6(ip6[8:] if i % 4 == 0 else ip6).src.endswith(b"\x01")
        if client_to_server:
            pkt = outer("198.51.100.7", "203.0.113.9", 40000, 3544, ip6)
        else:
            pkt = outer("203.0.113.9", "198.51.100.7", 3544, 40000, ip6)
        out.append((ts, pkt))
    write("teredo.pcap", dpkt.pcap.DLT_EN10MB, out)


def mdns6_frag() -> None:
    src = bytes.fromhex("fe800000000000000000000000000001")
    dst = bytes.fromhex("ff0200000000000000000000000000fb")
    name = b"\x05_demo\x04_tcp\x05local\x00"
    inst = b"\x07printer" + b"\xc0\x0c"
    query = struct.pack("!6H", 0, 0, 1, 0, 0, 0) + name + struct.pack("!HH", 12, 1)
    txt = b"".join(bytes([200]) + bytes([97 + i]) * 200 for i in range(7))
    answer = (
        struct.pack("!6H", 0, 0x8400, 0, 2, 0, 0)
        + name
        + struct.pack("!HHIH", 12, 1, 120, len(inst))
        + inst
        + b"\xc0\x28"  # the instance name: the PTR record data, at 12 + 18 + 10
        + struct.pack("!HHIH", 16, 0x8001, 120, len(txt))
        + txt
    )

    def ip6(nxt: int, payload: bytes) -> bytes:
        return struct.pack("!IHBB16s16s", 6 << 28, len(payload), nxt, 255, src, dst) + payload

    def eth(payload: bytes) -> bytes:
        return b"\x33\x33\x00\x00\x00\xfb\x02\x00\x00\x00\x00\x01\x86\xdd" + payload

    def udp(payload: bytes) -> bytes:
        return struct.pack("!HHHH", 5353, 5353, 8 + len(payload), 0) + payload

    def fragments(datagram: bytes, cuts: list[tuple[int, int]], ident: int) -> list[bytes]:
        out = []
        for start, end in cuts:
            more = 1 if end < len(datagram) else 0
            hdr = struct.pack("!BBHI", 17, 0, start | more, ident)
            out.append(eth(ip6(44, hdr + datagram[start:end])))
        return out

    dgram = udp(answer)
    t = 1_700_000_000.0
    packets = [(t, eth(ip6(17, udp(query))))]
    for k, f in enumerate(fragments(dgram, [(0, 600), (600, 1200), (1200, len(dgram))], 0x1111)):
        packets.append((t + 0.01 + k * 0.001, f))
    overlap = fragments(dgram, [(0, 600), (592, 1200), (1200, len(dgram))], 0x2222)
    for k, f in enumerate(overlap):
        packets.append((t + 1.0 + k * 0.001, f))
    write("mdns6-frag.pcap", dpkt.pcap.DLT_EN10MB, packets)


def nflog() -> None:
    def tlv(typ: int, value: bytes) -> bytes:
        raw = struct.pack("<HH", 4 + len(value), typ) + value
        return raw + b"\0" * (-len(raw) % 4)

    out = []
    for ts, data in frames("dns-frag.pcap"):
        eth = dpkt.ethernet.Ethernet(data)
        if eth.type not in (0x0800, 0x86DD):
            continue
        family = 2 if eth.type == 0x0800 else 10
        body = (
            tlv(1, struct.pack("!HBx", eth.type, 3))  # packet header: hw protocol, hook
            + tlv(10, b"rn\0")  # prefix
            + tlv(11, struct.pack("!I", 0))  # uid
            + tlv(9, bytes(eth.data))  # payload
        )
        out.append((ts, struct.pack("!BBH", family, 0, 5) + body))
    write("nflog.pcap", 239, out)


if __name__ == "__main__":
    geneve()
    teredo()
    mdns6_frag()
    nflog()
