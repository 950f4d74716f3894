"""Write rtt.pcap: round trips and TCP loss signals, crafted with dpkt as seen from the client
10.9.0.1 (the capture's local side), with delays chosen here.

    port   what
    41001  TCP: handshake (40 ms), one request (1000 bytes) acknowledged 52 ms later
    41002  TCP: handshake, five rounds of one 500-byte segment and its ACK (30, 60, 20, 90, 45 ms),
           then a window update and a keep-alive probe with its answer (neither a duplicate ACK)
    41003  TCP: handshake, an upload of 10 segments whose 3rd is lost: the server acknowledges
           the first two, then sends 7 duplicate ACKs; the client resends the 3rd after the
           third duplicate (a fast retransmit); everything is then acknowledged
    41004  TCP: handshake, a download of 8 segments whose 2nd is lost: the client sends 6
           duplicate ACKs, the server resends after the third
    icmp   echo requests 1-4 (id 0x4242): replies after 15, 17 and 12 ms, the 4th unanswered
    53     DNS: a query (id 0x1a2b) answered after 25 ms; another (0x1a2c) after 31 ms
    123    NTP: a client request answered after 30 ms (originate = the request's transmit time)
    3478   STUN: a Binding request answered after 20 ms (success)
    137    NetBIOS name service: a broadcast query, a WACK after 200 ms, the answer at 700 ms
    5355   LLMNR: a multicast query, unicast answers from two hosts after 8 and 9 ms

Run from the repository root: ``python tests/data/made/make_rtt.py``
"""

from __future__ import annotations

import struct
from pathlib import Path

import dpkt

OUT = Path(__file__).with_name("rtt.pcap")
CLIENT = bytes([10, 9, 0, 1])
SERVER = bytes([10, 9, 0, 2])
OTHER = bytes([10, 9, 0, 3])
BCAST = bytes([10, 9, 0, 255])
LLMNR_GROUP = bytes([224, 0, 0, 252])
MAC = {
    CLIENT: b"\x02\x00\x00\x00\x00\x01",
    SERVER: b"\x02\x00\x00\x00\x00\x02",
    OTHER: b"\x02\x00\x00\x00\x00\x03",
}
T0 = 1_700_000_000.0
ACK = dpkt.tcp.TH_ACK
PSH = dpkt.tcp.TH_PUSH


class Capture:
    def __init__(self) -> None:
        self.frames: list[tuple[float, bytes]] = []

    def ip(self, t: float, src: bytes, dst: bytes, proto: int, l4: dpkt.Packet) -> None:
        ip = dpkt.ip.IP(src=src, dst=dst, p=proto, ttl=64, data=l4)
        ip.len = len(ip)
        dst_mac = MAC.get(dst, b"\xff" * 6 if dst == BCAST else b"\x01\x00\x5e\x00\x00\xfc")
        eth = dpkt.ethernet.Ethernet(src=MAC[src], dst=dst_mac, data=ip)
        self.frames.append((T0 + t, bytes(eth)))

    def udp(self, t: float, src: bytes, sport: int, dst: bytes, dport: int, data: bytes) -> None:
        u = dpkt.udp.UDP(sport=sport, dport=dport, data=data)
        u.ulen = len(u)
        self.ip(t, src, dst, 17, u)

    def write(self) -> None:
        with OUT.open("wb") as f:
            w = dpkt.pcap.Writer(f)
            for t, frame in sorted(self.frames, key=lambda x: x[0]):
                w.writepkt(frame, t)


class Tcp:
    """One connection: the client's port, each side's next sequence number."""

    def __init__(self, cap: Capture, cport: int, t: float) -> None:
        self.cap, self.cport = cap, cport
        self.c, self.s = 1000, 50000  # ISNs
        self.seg(t, True, dpkt.tcp.TH_SYN, b"", seq=self.c, ack=0)
        self.seg(t + 0.040, False, dpkt.tcp.TH_SYN | ACK, b"", seq=self.s, ack=self.c + 1)
        self.seg(t + 0.0401, True, ACK, b"", seq=self.c + 1, ack=self.s + 1)
        self.c += 1
        self.s += 1

    def seg(
        self, t: float, from_client: bool, flags: int, data: bytes, seq: int, ack: int, win: int = 8192
    ) -> None:
        tcp = dpkt.tcp.TCP(
            sport=self.cport if from_client else 5001,
            dport=5001 if from_client else self.cport,
            seq=seq & 0xFFFFFFFF,
            ack=ack & 0xFFFFFFFF,
            flags=flags,
            win=win,
            data=data,
        )
        src, dst = (CLIENT, SERVER) if from_client else (SERVER, CLIENT)
        self.cap.ip(t, src, dst, 6, tcp)

    def send(self, t: float, from_client: bool, n: int) -> int:
        """New data from one side; returns its first sequence number."""
        if from_client:
            first, self.c = self.c, self.c + n
            self.seg(t, True, ACK | PSH, bytes(n), first, self.s)
        else:
            first, self.s = self.s, self.s + n
            self.seg(t, False, ACK | PSH, bytes(n), first, self.c)
        return first

    def ack(self, t: float, from_client: bool, upto: int, win: int = 8192) -> None:
        if from_client:
            self.seg(t, True, ACK, b"", self.c, upto, win)
        else:
            self.seg(t, False, ACK, b"", self.s, upto, win)


def tcp_flows(cap: Capture) -> None:
    one = Tcp(cap, 41001, 0.0)
    one.send(0.1, True, 1000)
    one.ack(0.152, False, one.c)

    rounds = Tcp(cap, 41002, 1.0)
    t = 1.1
    for delay in (0.030, 0.060, 0.020, 0.090, 0.045):
        rounds.send(t, True, 500)
        rounds.ack(t + delay, False, rounds.c)
        t += 0.2
    rounds.ack(t, False, rounds.c, win=16384)  # a window update
    rounds.seg(t + 10.0, True, ACK, b"", rounds.c - 1, rounds.s)  # a keep-alive probe
    rounds.ack(t + 10.03, False, rounds.c, win=16384)  # its answer

    up = Tcp(cap, 41003, 20.0)
    starts = [up.send(20.1 + i * 0.001, True, 1000) for i in range(10)]
    up.ack(20.14, False, starts[1])
    up.ack(20.141, False, starts[2])
    for i in range(7):  # segments 4..10 arrive past the hole
        up.ack(20.142 + i * 0.001, False, starts[2])
        if i == 2:
            up.seg(20.1445, True, ACK | PSH, bytes(1000), starts[2], up.s)  # the fast retransmit
    up.ack(20.19, False, up.c)

    down = Tcp(cap, 41004, 30.0)
    starts = [down.send(30.1 + i * 0.001, False, 1000) for i in range(8)]
    down.ack(30.11, True, starts[1])
    for i in range(6):
        down.ack(30.111 + i * 0.001, True, starts[1])
    down.seg(30.1165, False, ACK | PSH, bytes(1000), starts[1], down.c)  # right after the 6th
    down.ack(30.17, True, down.s)


def icmp_echoes(cap: Capture) -> None:
    t = 40.0
    for seq, delay in ((1, 0.015), (2, 0.017), (3, 0.012), (4, None)):
        for reply, src, dst, when in ((False, CLIENT, SERVER, t), (True, SERVER, CLIENT, t + (delay or 0))):
            if reply and delay is None:
                continue
            echo = dpkt.icmp.ICMP.Echo(id=0x4242, seq=seq, data=bytes(range(48)))
            msg = dpkt.icmp.ICMP(type=0 if reply else 8, code=0, data=echo)
            cap.ip(when, src, dst, 1, msg)
        t += 1.0


def dns_message(ident: int, name: str, response: bool) -> bytes:
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"
    question = qname + struct.pack("!HH", 1, 1)
    if not response:
        return struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + question
    answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + bytes([192, 0, 2, 7])
    return struct.pack("!HHHHHH", ident, 0x8180, 1, 1, 0, 0) + question + answer


def nb_name(name: str, suffix: int) -> bytes:
    raw = name.upper().ljust(15).encode() + bytes([suffix])
    return b"\x20" + bytes(0x41 + (b >> (4 * k) & 0xF) for b in raw for k in (1, 0)) + b"\x00"


def datagrams(cap: Capture) -> None:
    cap.udp(50.0, CLIENT, 33001, SERVER, 53, dns_message(0x1A2B, "one.example", False))
    cap.udp(50.025, SERVER, 53, CLIENT, 33001, dns_message(0x1A2B, "one.example", True))
    cap.udp(51.0, CLIENT, 33001, SERVER, 53, dns_message(0x1A2C, "two.example", False))
    cap.udp(51.031, SERVER, 53, CLIENT, 33001, dns_message(0x1A2C, "two.example", True))

    sent = bytes.fromhex("e9b8a1c2d3e4f506")
    request = bytes([0x23]) + bytes(39) + sent  # LI 0, version 4, mode 3 (client); transmit time
    response = bytes([0x24, 2, 6, 0xE9]) + bytes(20) + sent + bytes.fromhex("e9b8a1c2d8000000") * 2
    cap.udp(52.0, CLIENT, 123, SERVER, 123, request)
    cap.udp(52.030, SERVER, 123, CLIENT, 123, response)

    txid = bytes.fromhex("0102030405060708090a0b0c")
    mapped = struct.pack("!HHBBH", 0x0020, 8, 0, 1, 50000 ^ 0x2112) + bytes(
        a ^ b for a, b in zip(CLIENT, b"\x21\x12\xa4\x42", strict=True)
    )
    cap.udp(53.0, CLIENT, 50000, SERVER, 3478, b"\x00\x01\x00\x00\x21\x12\xa4\x42" + txid)
    cap.udp(
        53.020,
        SERVER,
        3478,
        CLIENT,
        50000,
        b"\x01\x01" + struct.pack("!H", len(mapped)) + b"\x21\x12\xa4\x42" + txid + mapped,
    )

    question = nb_name("FILESERVER", 0x20) + b"\x00\x20\x00\x01"
    cap.udp(54.0, CLIENT, 137, BCAST, 137, struct.pack("!HHHHHH", 0x7A01, 0x0110, 1, 0, 0, 0) + question)
    wack = (
        struct.pack("!HHHHHH", 0x7A01, 0xBC00, 0, 1, 0, 0)
        + question[:-4]
        + b"\x00\x20\x00\x01"
        + struct.pack("!IHH", 0, 2, 0x0110)
    )
    cap.udp(54.2, OTHER, 137, CLIENT, 137, wack)
    positive = struct.pack("!HHHHHH", 0x7A01, 0x8500, 0, 1, 0, 0) + question[:-4] + b"\x00\x20\x00\x01"
    positive += struct.pack("!IHH", 300000, 6, 0) + OTHER
    cap.udp(54.7, OTHER, 137, CLIENT, 137, positive)

    query = struct.pack("!HHHHHH", 0x00AA, 0x0000, 1, 0, 0, 0) + b"\x04wpad\x00" + struct.pack("!HH", 1, 1)
    cap.udp(55.0, CLIENT, 60000, LLMNR_GROUP, 5355, query)
    for host, delay in ((OTHER, 0.008), (SERVER, 0.009)):
        answer = (
            struct.pack("!HHHHHH", 0x00AA, 0x8000, 1, 1, 0, 0) + b"\x04wpad\x00" + struct.pack("!HH", 1, 1)
        )
        answer += b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 30, 4) + host
        cap.udp(55.0 + delay, host, 5355, CLIENT, 60000, answer)


def main() -> None:
    cap = Capture()
    tcp_flows(cap)
    icmp_echoes(cap)
    datagrams(cap)
    cap.write()
    print(f"{OUT}: {len(cap.frames)} frames")


if __name__ == "__main__":
    main()
