"""Write snmp-netbios.pcap: SNMP and NetBIOS datagrams crafted with dpkt, field by field from
RFC 1157 / 3416 / 3412 (BER) and RFC 1002.

    client port  server port  what
    50161        161          SNMPv1 get-request, community "public", one OID (sysDescr.0)
    161          50162        SNMPv2c get-response, community "private", sysName.0 = "router1"
    50163        162          SNMPv2c snmpV2-trap, community "traps"
    50164        161          SNMPv3 get-request in a plain-text ScopedPDU (engine discovery)
    50165        161          SNMPv3 with an encrypted PDU (authPriv)
    50166        161          not SNMP: a text datagram on SNMP's port
    137          137          NetBIOS-NS broadcast query for WORKGROUP<1d>
    50137        137          NetBIOS-NS registration of MYHOST<20> (with its resource record)
    138          138          NetBIOS-DGM direct group datagram from MYHOST<00> to WORKGROUP<1e>

Run from the repository root:

    python tests/data/made/make_snmp_netbios.py
"""

from __future__ import annotations

import struct
from pathlib import Path

import dpkt

OUT = Path(__file__).with_name("snmp-netbios.pcap")
CLIENT = bytes([10, 9, 2, 1])
SERVER = bytes([10, 9, 2, 2])
BROADCAST = bytes([10, 9, 2, 255])


def tlv(tag: int, value: bytes) -> bytes:
    n = len(value)
    length = bytes([n]) if n < 0x80 else bytes([0x81, n]) if n < 0x100 else b"\x82" + struct.pack("!H", n)
    return bytes([tag]) + length + value


def integer(n: int) -> bytes:
    return tlv(0x02, n.to_bytes(max(1, (n.bit_length() + 8) // 8), "big"))


def octets(raw: bytes) -> bytes:
    return tlv(0x04, raw)


SYS_DESCR = tlv(0x06, bytes([0x2B, 6, 1, 2, 1, 1, 1, 0]))
SYS_NAME = tlv(0x06, bytes([0x2B, 6, 1, 2, 1, 1, 5, 0]))


def pdu(tag: int, request_id: int, bindings: bytes) -> bytes:
    return tlv(tag, integer(request_id) + integer(0) + integer(0) + tlv(0x30, bindings))


def community_message(version: int, community: bytes, body: bytes) -> bytes:
    return tlv(0x30, integer(version) + octets(community) + body)


def v3_message(msg_id: int, flags: int, security: bytes, data: bytes) -> bytes:
    header = tlv(0x30, integer(msg_id) + integer(65507) + octets(bytes([flags])) + integer(3))
    return tlv(0x30, integer(3) + header + octets(security) + data)


def nb_name(name: str, suffix: int) -> bytes:
    raw = name.encode().ljust(15)[:15] + bytes([suffix])
    return (
        b"\x20"
        + bytes(0x41 + (b >> 4) if i % 2 == 0 else 0x41 + (b & 15) for b in raw for i in (0, 1))
        + b"\x00"
    )


def main() -> None:
    null = b"\x05\x00"
    datagrams: list[tuple[bytes, int, bytes, int, bytes]] = [
        (
            CLIENT,
            50161,
            SERVER,
            161,
            community_message(0, b"public", pdu(0xA0, 1, tlv(0x30, SYS_DESCR + null))),
        ),
        (
            SERVER,
            161,
            CLIENT,
            50162,
            community_message(1, b"private", pdu(0xA2, 2, tlv(0x30, SYS_NAME + octets(b"router1")))),
        ),
        (CLIENT, 50163, SERVER, 162, community_message(1, b"traps", pdu(0xA7, 3, b""))),
        (
            CLIENT,
            50164,
            SERVER,
            161,
            v3_message(
                4,
                0x04,
                tlv(0x30, octets(b"") + integer(0) * 2 + octets(b"") * 3),
                tlv(0x30, octets(b"") + octets(b"") + pdu(0xA0, 5, b"")),
            ),
        ),
        (
            CLIENT,
            50165,
            SERVER,
            161,
            v3_message(
                6,
                0x07,
                tlv(
                    0x30,
                    octets(b"\x80\x00\x1f\x88\x80" + bytes(8))
                    + integer(5) * 2
                    + octets(b"admin")
                    + octets(bytes(12))
                    + octets(bytes(8)),
                ),
                octets(bytes(range(48))),
            ),
        ),
        (CLIENT, 50166, SERVER, 161, b"hello, this is not SNMP\n"),
    ]
    query = (
        struct.pack("!HHHHHH", 0x1234, 0x0110, 1, 0, 0, 0) + nb_name("WORKGROUP", 0x1D) + b"\x00\x20\x00\x01"
    )
    registration = (
        struct.pack("!HHHHHH", 0x1235, 0x2910, 1, 0, 0, 1)
        + nb_name("MYHOST", 0x20)
        + b"\x00\x20\x00\x01"
        + b"\xc0\x0c\x00\x20\x00\x01"
        + struct.pack("!IHH", 300000, 6, 0)
        + CLIENT
    )
    smb = b"\xffSMB" + bytes(28)
    dgm_names = nb_name("MYHOST", 0x00) + nb_name("WORKGROUP", 0x1E)
    dgm = (
        struct.pack("!BBH4sHHH", 0x11, 0x02, 0x4242, CLIENT, 138, len(dgm_names) + len(smb), 0)
        + dgm_names
        + smb
    )
    datagrams += [
        (CLIENT, 137, BROADCAST, 137, query),
        (CLIENT, 50137, SERVER, 137, registration),
        (CLIENT, 138, BROADCAST, 138, dgm),
    ]
    t = 1_700_000_000.0
    with OUT.open("wb") as f:
        w = dpkt.pcap.Writer(f, linktype=dpkt.pcap.DLT_EN10MB)
        for src, sport, dst, dport, payload in datagrams:
            udp = dpkt.udp.UDP(sport=sport, dport=dport, data=payload)
            udp.ulen = len(udp)
            ip = dpkt.ip.IP(src=src, dst=dst, p=17, ttl=64, data=udp)
            ip.len = len(ip)
            eth = dpkt.ethernet.Ethernet(src=b"\x02\x00\x00\x00\x02\x01", dst=b"\xff" * 6, data=ip)
            w.writepkt(bytes(eth), t)
            t += 0.01


if __name__ == "__main__":
    main()
