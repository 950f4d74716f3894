"""Build a large capture of mixed traffic for the benchmarks.

Many short TCP flows (handshake, request, response, FIN close) carrying HTTP
requests or TLS ClientHellos with SNI, and DNS query/response pairs over UDP,
interleaved as on a busy host. Deterministic for a given --seed. The servers are in
198.18.0.0/24, inside RFC 2544's range for benchmarks, so that no machine running the benchmarks
owns one: a flow to an address of another network namespace of the host is one rn-enrich looks
up in that namespace's socket table (on one machine here, eth0 held 192.0.2.2, an address the
servers once had, and those lookups cost rn-enrich a fifth of its CPU in bench_live.py).
With ``--bulk N``: N long TCP transfers instead (full-sized segments one way, an ACK
every second segment back), the opposite case: few connections, many packets each.

    python bench/make_mixed_pcap.py -n 200000 -o /tmp/mixed.pcap
    python bench/make_mixed_pcap.py -n 200000 --bulk 8 -o /tmp/bulk.pcap
"""

from __future__ import annotations

import argparse
import random
import struct
from collections.abc import Iterator

import dpkt

CLIENT_MAC = b"\x02\x00\x00\x00\x00\x01"
SERVER_MAC = b"\x02\x00\x00\x00\x00\x02"


def client_hello(sni: str) -> bytes:
    """A TLS 1.2-framed ClientHello offering TLS 1.3 with an SNI and ALPN."""
    name = sni.encode()
    sni_ext = struct.pack("!HHHBH", 0, len(name) + 5, len(name) + 3, 0, len(name)) + name
    alpn_list = b"\x02h2\x08http/1.1"
    alpn_ext = struct.pack("!HHH", 16, len(alpn_list) + 2, len(alpn_list)) + alpn_list
    versions = struct.pack("!HHB", 43, 5, 4) + b"\x03\x04\x03\x03"
    exts = sni_ext + alpn_ext + versions
    suites = b"\x13\x01\x13\x02\xc0\x2f"
    body = (
        b"\x03\x03"
        + bytes(32)
        + b"\x20"
        + bytes(32)
        + struct.pack("!H", len(suites))
        + suites
        + b"\x01\x00"
        + struct.pack("!H", len(exts))
        + exts
    )
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def dns_query(qid: int, name: str) -> bytes:
    q = dpkt.dns.DNS(id=qid, op=dpkt.dns.DNS_RD)
    q.qd = [dpkt.dns.DNS.Q(name=name, type=dpkt.dns.DNS_A)]
    return bytes(q)


def dns_response(qid: int, name: str, ip: bytes) -> bytes:
    r = dpkt.dns.DNS(id=qid, op=dpkt.dns.DNS_QR | dpkt.dns.DNS_RD | dpkt.dns.DNS_RA)
    r.qd = [dpkt.dns.DNS.Q(name=name, type=dpkt.dns.DNS_A)]
    r.an = [dpkt.dns.DNS.RR(name=name, type=dpkt.dns.DNS_A, ttl=60, ip=ip)]
    return bytes(r)


def frame(src: bytes, dst: bytes, l4: dpkt.Packet, proto: int, to_server: bool) -> bytes:
    ip = dpkt.ip.IP(src=src, dst=dst, p=proto, ttl=64, data=l4)
    ip.len = 20 + len(bytes(l4))
    eth = dpkt.ethernet.Ethernet(
        src=CLIENT_MAC if to_server else SERVER_MAC,
        dst=SERVER_MAC if to_server else CLIENT_MAC,
        type=dpkt.ethernet.ETH_TYPE_IP,
        data=ip,
    )
    return bytes(eth)


def tcp_flow(rng: random.Random, i: int) -> list[bytes]:
    cli = bytes([10, 1, (i >> 8) & 0xFF, i & 0xFF])
    srv = bytes([198, 18, 0, 1 + i % 200])
    sport = 20000 + i % 40000
    tls = i % 2 == 0
    dport = 443 if tls else 80
    host = f"host{i % 5000}.example.com"
    req = (
        client_hello(host)
        if tls
        else (
            f"GET /item/{i} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\n\r\n"
        ).encode()
    )
    resp = (
        b"\x16\x03\x03\x00\x40" + bytes(64) if tls else (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
    )
    cs, ss = rng.getrandbits(32), rng.getrandbits(32)
    F = dpkt.tcp
    pkts = []

    def seg(to_server: bool, flags: int, seq: int, ack: int, data: bytes = b"") -> None:
        t = F.TCP(
            sport=sport if to_server else dport,
            dport=dport if to_server else sport,
            seq=seq & 0xFFFFFFFF,
            ack=ack & 0xFFFFFFFF,
            flags=flags,
            win=64240,
            data=data,
        )
        t.off = 5
        pkts.append(frame(cli if to_server else srv, srv if to_server else cli, t, 6, to_server))

    seg(True, F.TH_SYN, cs, 0)
    seg(False, F.TH_SYN | F.TH_ACK, ss, cs + 1)
    seg(True, F.TH_ACK, cs + 1, ss + 1)
    seg(True, F.TH_ACK | F.TH_PUSH, cs + 1, ss + 1, req)
    seg(False, F.TH_ACK | F.TH_PUSH, ss + 1, cs + 1 + len(req), resp)
    seg(True, F.TH_ACK, cs + 1 + len(req), ss + 1 + len(resp))
    seg(True, F.TH_FIN | F.TH_ACK, cs + 1 + len(req), ss + 1 + len(resp))
    seg(False, F.TH_FIN | F.TH_ACK, ss + 1 + len(resp), cs + 2 + len(req))
    seg(True, F.TH_ACK, cs + 2 + len(req), ss + 2 + len(resp))
    return pkts


MSS = 1448


def bulk_segments(i: int, rng: random.Random) -> Iterator[bytes]:
    """Transfer ``i``: a handshake, then MSS-sized segments to the client with an ACK back
    every second one, for as long as the caller takes packets."""
    cli = bytes([10, 3, 0, i & 0xFF])
    srv = bytes([198, 18, 0, 100 + i % 100])
    sport, dport = 40000 + i, 443
    cs, ss = rng.getrandbits(32), rng.getrandbits(32)
    F = dpkt.tcp
    payload = bytes(MSS)

    def seg(to_server: bool, flags: int, seq: int, ack: int, data: bytes = b"") -> bytes:
        t = F.TCP(
            sport=sport if to_server else dport,
            dport=dport if to_server else sport,
            seq=seq & 0xFFFFFFFF,
            ack=ack & 0xFFFFFFFF,
            flags=flags,
            win=64240,
            data=data,
        )
        t.off = 5
        return frame(cli if to_server else srv, srv if to_server else cli, t, 6, to_server)

    yield seg(True, F.TH_SYN, cs, 0)
    yield seg(False, F.TH_SYN | F.TH_ACK, ss, cs + 1)
    yield seg(True, F.TH_ACK, cs + 1, ss + 1)
    sent = 0
    while True:
        yield seg(False, F.TH_ACK, ss + 1 + sent, cs + 1, payload)
        sent += MSS
        if sent % (2 * MSS) == 0:
            yield seg(True, F.TH_ACK, cs + 1, ss + 1 + sent)


def write_bulk(path: str, packets: int, flows: int, seed: int) -> None:
    """``flows`` transfers interleaved round-robin, ``packets`` in all (cut mid-transfer: the
    flows are still open at the end, as in a capture of long downloads)."""
    rng = random.Random(seed)
    gens = [bulk_segments(i, rng) for i in range(max(flows, 1))]
    ts = 1_700_000_000.0
    with open(path, "wb") as f:
        w = dpkt.pcap.Writer(f, snaplen=262144)
        for n in range(packets):
            ts += 0.00001
            w.writepkt(next(gens[n % len(gens)]), ts)


def dns_pair(i: int) -> list[bytes]:
    cli = bytes([10, 2, (i >> 8) & 0xFF, i & 0xFF])
    srv = bytes([198, 18, 0, 53])
    name = f"name{i % 3000}.example.net"
    sport = 30000 + i % 30000
    q = dpkt.udp.UDP(sport=sport, dport=53, data=dns_query(i & 0xFFFF, name))
    q.ulen = 8 + len(q.data)
    answer = bytes([198, 51, 100, i % 250])
    r = dpkt.udp.UDP(sport=53, dport=sport, data=dns_response(i & 0xFFFF, name, answer))
    r.ulen = 8 + len(r.data)
    return [frame(cli, srv, q, 17, True), frame(srv, cli, r, 17, False)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--packets", type=int, default=200_000)
    ap.add_argument("-o", "--output", default="/tmp/rustnet-mixed.pcap")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--concurrency", type=int, default=64, help="flows in flight at once")
    ap.add_argument("--bulk", type=int, metavar="N", help="N long TCP transfers instead of the mix")
    a = ap.parse_args()
    if a.bulk:
        write_bulk(a.output, a.packets, a.bulk, a.seed)
        print(f"{a.output}: {a.packets} packets, {a.bulk} flows")
        return
    rng = random.Random(a.seed)
    ts = 1_700_000_000.0
    written = 0
    flows = 0
    active: list[list[bytes]] = []
    with open(a.output, "wb") as f:
        w = dpkt.pcap.Writer(f, snaplen=262144)
        while written < a.packets:
            while len(active) < a.concurrency:
                active.append(dns_pair(flows) if flows % 5 == 4 else tcp_flow(rng, flows))
                flows += 1
            k = rng.randrange(len(active))
            pkt = active[k].pop(0)
            if not active[k]:
                active.pop(k)
            ts += 0.00002
            w.writepkt(pkt, ts)
            written += 1
    print(f"{a.output}: {written} packets, {flows} flows")


if __name__ == "__main__":
    main()
