"""QUIC Initial floods built from a real client Initial (test input and bench/bench_quic_flood.py).

The first client Initial of a corpus capture is opened with the keys anyone can derive
(RFC 9001 §5.2) and its plaintext (the ClientHello in CRYPTO frames, padding) is sealed
again under fresh random Destination Connection IDs: each flood packet is a valid Initial
of the real size that costs a receiver a key derivation, exactly what a client's first
Initial costs. ``junk=True`` keeps the header but fills the protected part with random
bytes (no key opens it: the derivation and a failed AEAD).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import dpkt
from rustnet.dissect import quic_crypto as qc
from rustnet.dissect.quic import PT_INITIAL, build_long_packet, parse_long_header

from tests.corpus import CORPUS

SOURCE = "zeek_quic_curl-8.1.2-http3-www-google-de.pcap"
SOURCE_SNI = "www.google.de"


def _udp_payloads(pcap: Path) -> Iterator[tuple[float, bytes, int]]:
    with pcap.open("rb") as f:
        for ts, frame in dpkt.pcap.Reader(f):
            eth = dpkt.ethernet.Ethernet(frame)
            ip = eth.data
            if isinstance(ip, (dpkt.ip.IP, dpkt.ip6.IP6)) and isinstance(ip.data, dpkt.udp.UDP):
                yield ts, bytes(ip.data.data), ip.data.dport


def real_initial(pcap: Path = CORPUS / "pcaps" / SOURCE) -> tuple[int, bytes]:
    """(version, plaintext) of the capture's first client Initial to port 443."""
    for _, data, dport in _udp_payloads(pcap):
        if dport != 443 or not data or not data[0] & 0x80:
            continue
        h = parse_long_header(data, 0)
        prof = qc.profile_for(h.version)
        if h.ptype != PT_INITIAL or prof is None:
            continue
        keys = qc.initial_keys(h.dcid, prof, server=False)
        opened = qc.open_packet(data, h.start, h.pn_offset, h.end, keys, -1, True)
        if opened is not None:
            return h.version, opened[2]
    raise LookupError(f"no client Initial in {pcap}")


def flood_initials(n: int, seed: int = 1, junk: bool = False) -> Iterator[bytes]:
    """``n`` client Initials, each under its own random DCID (see the module doc)."""
    rng = random.Random(seed)
    version, plain = real_initial()
    prof = qc.profile_for(version)
    assert prof is not None
    for _ in range(n):
        dcid = rng.randbytes(8)
        keys = qc.initial_keys(dcid, prof, server=False)
        pkt = build_long_packet(PT_INITIAL, version, dcid, rng.randbytes(8), 0, plain, keys)
        if junk:
            head = parse_long_header(pkt, 0).pn_offset
            pkt = pkt[:head] + rng.randbytes(len(pkt) - head)
        yield pkt


def flood_frames(n: int, seed: int = 1, junk: bool = False, not_quic: bool = False) -> Iterator[bytes]:
    """Ethernet frames of the flood: random sources (addresses and ports) to 192.0.2.1:443.

    ``not_quic``: the same datagrams with a zero first byte (no QUIC header): as many new
    UDP flows of the same sizes, the ordinary traffic to compare with.
    """
    rng = random.Random(seed + 1)
    for pkt in flood_initials(n, seed, junk):
        if not_quic:
            pkt = b"\x00" + pkt[1:]
        dg = dpkt.udp.UDP(sport=rng.randrange(1024, 65536), dport=443, data=pkt)
        dg.ulen = 8 + len(pkt)
        src = bytes((198, 18, rng.randrange(256), rng.randrange(1, 255)))
        ip = dpkt.ip.IP(src=src, dst=bytes((192, 0, 2, 1)), p=dpkt.ip.IP_PROTO_UDP, ttl=64, data=dg)
        ip.len = 20 + len(bytes(dg))
        yield bytes(
            dpkt.ethernet.Ethernet(
                src=bytes.fromhex("020000000001"),
                dst=bytes.fromhex("020000000002"),
                type=dpkt.ethernet.ETH_TYPE_IP,
                data=ip,
            )
        )
