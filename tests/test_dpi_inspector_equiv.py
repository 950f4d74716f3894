"""The Inspector's in-place fast path against its own general path.

``Inspector._whole`` reads a direction's first segment in place when it holds a whole TLS
hello or HTTP head, and promises the answer and the state that buffering the segment and
reading the buffer (``_tcp``, ``_stream``) would give. Here the same calls go to an
Inspector and to one whose ``_whole`` always declines (so every segment takes the general
path): every call must return the same thing from both, and both must end in the same
state, with the default bounds and with small ones (eviction, buffer caps, starvation).
The general path's answers themselves are held to tshark by the corpus tests.

Random traffic: TCP flows carrying TLS, HTTP (plain and through CONNECT), SSH, DNS and
BitTorrent streams or junk, cut into segments that arrive in order, retransmitted,
reordered or with sequence numbers left out, opened by SYNs (sometimes twice) and closed
by FIN or RST; UDP datagrams of DNS, mDNS, NTP, SSDP, QUIC-looking bytes and junk.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from rustnet.dissect import udpmisc
from rustnet.dissect.dpi import _DONE, _SLOW, Inspector

from tests import dpi_samples as S

Call = tuple[Any, ...]


def tls_streams(rng: random.Random) -> tuple[bytes, bytes]:
    client = S.client_hello(
        sni=rng.choice([b"a.example", b"www.example.com", b"e\x1bvil", b""]),
        alpn=rng.choice([None, [b"h2"], [b"h2", b"http/1.1"]]),
        versions=rng.choice([None, [0x0304, 0x0303], [0x3A3A, 0x0304]]),
        ech=rng.random() < 0.2,
        padding=rng.choice([0, 100, 600]),
    )
    if rng.random() < 0.3:  # split over several records
        body = client[5:]
        client = S.records(body, max_fragment=rng.choice([40, 200]))
    server = rng.choice(
        [
            S.server_hello(),
            S.server_hello(0xC02F, None),
            b"\x16\x03\x03\x00\x40" + bytes(64),
            b"\x15\x03\x03\x00\x02\x02\x28",
        ]
    )
    return client, server + bytes(rng.randrange(0, 50))


def http_streams(rng: random.Random) -> tuple[bytes, bytes]:
    req = rng.choice(
        [
            b"GET /x HTTP/1.1\r\nHost: h.example\r\nUser-Agent: t/1\r\n\r\n",
            b"POST /form HTTP/1.0\nhost: p.example\n\nbody=1",
            b"GET /no-end HTTP/1.1\r\nHost: slow.example\r\n",
            b"HEAD / HTTP/1.1\r\n" + b"X-Pad: " + b"p" * 3000 + b"\r\n\r\n",
        ]
    )
    resp = rng.choice(
        [
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            b"HTTP/1.0 404 Not Found\r\n\r\n",
            b"HTTP/1.1 2x0 Bad\r\n\r\n",
            b"junk from the server",
        ]
    )
    return req, resp


def connect_streams(rng: random.Random) -> tuple[bytes, bytes]:
    client_tls, server_tls = tls_streams(rng)
    req = b"CONNECT t.example:443 HTTP/1.1\r\nHost: t.example:443\r\n\r\n"
    ok = rng.choice([b"HTTP/1.1 200 Connection established\r\n\r\n", b"HTTP/1.1 403 Forbidden\r\n\r\n"])
    return req + client_tls, ok + server_tls


def ssh_streams(rng: random.Random) -> tuple[bytes, bytes]:
    kex = S.ssh_packet(20, bytes(rng.randrange(0, 40)))
    newkeys = S.ssh_packet(21)
    enc = b"".join(S.ssh_packet(rng.randrange(50, 100), bytes(rng.randrange(0, 30))) for _ in range(6))
    client = b"SSH-2.0-OpenSSH_9.6\r\n" + kex + newkeys + enc
    server = rng.choice([b"", b"Welcome\r\n"]) + b"SSH-2.0-srv_1.0\r\n" + kex + newkeys + enc
    return client, server


def dns_tcp_streams(rng: random.Random) -> tuple[bytes, bytes]:
    q = S.dns_query("tcp.example")
    r = S.dns_response("tcp.example", [(1, "192.0.2.7"), (28, "2001:db8::7")])
    return (len(q).to_bytes(2, "big") + q) * rng.randrange(1, 3), (len(r).to_bytes(2, "big") + r)


def bt_streams(rng: random.Random) -> tuple[bytes, bytes]:
    hs = udpmisc.BT_HANDSHAKE + bytes(8) + bytes(range(20)) + bytes(range(20, 40))
    return hs, hs


def junk_streams(rng: random.Random) -> tuple[bytes, bytes]:
    return rng.randbytes(rng.randrange(1, 300)), rng.randbytes(rng.randrange(0, 300))


STREAMS = [
    (tls_streams, 443),
    (http_streams, 80),
    (connect_streams, 3128),
    (ssh_streams, 22),
    (dns_tcp_streams, 53),
    (bt_streams, 6881),
    (junk_streams, 9999),
    (tls_streams, 8443),
    (http_streams, 8080),
]


def segments(stream: bytes, isn: int, rng: random.Random) -> list[tuple[bytes, int]]:
    out = []
    pos = 0
    while pos < len(stream):
        n = rng.choice([1, 5, 40, 300, 1460, 5000])
        out.append((stream[pos : pos + n], (isn + pos) & 0xFFFFFFFF))
        pos += n
    if out and rng.random() < 0.3:  # a retransmission, possibly overlapping
        i = rng.randrange(len(out))
        data, seq = out[i]
        out.insert(i + 1, (data[: rng.randrange(len(data) + 1)], seq))
    if len(out) > 2 and rng.random() < 0.3:  # two segments swapped
        i = rng.randrange(len(out) - 1)
        out[i], out[i + 1] = out[i + 1], out[i]
    return out


def tcp_flow(rng: random.Random, cli: bytes, srv: bytes, cport: int) -> list[Call]:
    make, port = rng.choice(STREAMS)
    client, server = make(rng)
    cisn, sisn = rng.getrandbits(32), rng.getrandbits(32)
    with_seq = rng.random() < 0.9
    up = [
        (6, cli, cport, srv, port, d, 0.0, s if with_seq else None, 0x18)
        for d, s in segments(client, cisn + 1, rng)
    ]
    down = [
        (6, srv, port, cli, cport, d, 0.0, s if with_seq else None, 0x18)
        for d, s in segments(server, sisn + 1, rng)
    ]
    calls: list[Call] = [(6, cli, cport, srv, port, b"", 0.0, cisn, 0x02)]
    if rng.random() < 0.1:
        calls.append(calls[0])  # a retransmitted SYN
    calls.append((6, srv, port, cli, cport, b"", 0.0, sisn, 0x12))
    while up or down:
        side = up if (up and (not down or rng.random() < 0.5)) else down
        calls.append(side.pop(0))
    end = rng.random()
    if end < 0.5:
        calls += [
            (6, cli, cport, srv, port, b"", 0.0, None, 0x11),
            (6, srv, port, cli, cport, b"", 0.0, None, 0x11),
        ]
    elif end < 0.6:
        calls.append((6, srv, port, cli, cport, b"", 0.0, None, 0x04))
    elif end < 0.7:  # the port reused by a new connection
        calls.append((6, cli, cport, srv, port, b"", 0.0, rng.getrandbits(32), 0x02))
    elif end < 0.8:  # any flags byte without payload, finished flow or not (SYN+FIN, SYN-ACK, ...)
        calls += [
            (6, cli, cport, srv, port, b"", 0.0, None, rng.randrange(256)) for _ in range(rng.randrange(1, 3))
        ]
    return calls


def multi_question(rng: random.Random) -> bytes:
    """A query or response with several questions (repeats too), odd types and rcodes."""
    names = [rng.choice(["a.example", "b.example", "a.example", "x"]) for _ in range(rng.randrange(2, 5))]
    qtype = rng.choice([1, 28, 65534, 255])
    msg = bytearray(
        S.dns_response(names[0], [(1, "192.0.2.9")], qtype=qtype, rcode=rng.choice([0, 3, 11]))
        if rng.random() < 0.5
        else S.dns_query(names[0], qtype=qtype)
    )
    # Append the other questions after the header's, then fix the counts (answers dropped).
    extra = b"".join(S.dns_name(n) + bytes([0, 1, 0, 1]) for n in names[1:])
    head_end = 12 + len(S.dns_name(names[0])) + 4
    msg = msg[:head_end] + extra
    msg[4:6] = len(names).to_bytes(2, "big")
    msg[6:8] = bytes(2)
    return bytes(msg)


def udp_calls(rng: random.Random, cli: bytes, srv: bytes, cport: int) -> list[Call]:
    kind = rng.randrange(6)
    if kind <= 1:
        port = rng.choice([53, 5353, 5355])
        name = rng.choice(["u.example", "sp ace.example", "x"])
        q = S.dns_query(name)
        r = S.dns_response(name, [(1, f"198.51.100.{rng.randrange(256)}"), (5, "c.example")])
        msgs = [(cli, cport, srv, port, q), (srv, port, cli, cport, r)]
        if rng.random() < 0.3:
            msgs.append((srv, port, cli, cport, r[: rng.randrange(len(r))]))
        if rng.random() < 0.3:
            msgs.append((cli, cport, srv, port, multi_question(rng)))
        return [(17, a, ap, b, bp, m, 0.0) for a, ap, b, bp, m in msgs]
    if kind == 2:
        vn = b"\xc0" + bytes(4) + b"\x04abcd\x04efgh" + b"\x00\x00\x00\x01"
        long_hdr = (
            b"\xc3\x00\x00\x00\x01\x08" + rng.randbytes(8) + b"\x00" + rng.randbytes(rng.randrange(30, 1250))
        )
        return [
            (17, cli, cport, srv, 443, rng.choice([vn, long_hdr]), 0.0),
            (17, srv, 443, cli, cport, rng.randbytes(40), 0.0),
        ]
    if kind == 3:
        return [(17, cli, 123, srv, 123, b"\x23" + bytes(47), 0.0)]
    if kind == 4:
        return [(17, cli, cport, srv, 1900, b"M-SEARCH * HTTP/1.1\r\nST: ssdp:all\r\n\r\n", 0.0)]
    return [
        (17, cli, cport, srv, rng.randrange(1, 65536), rng.randbytes(rng.randrange(1, 100)), 0.0)
        for _ in range(rng.randrange(1, 9))
    ]


def traffic(seed: int, flows: int) -> list[Call]:
    rng = random.Random(seed)
    pending: list[list[Call]] = []
    out: list[Call] = []
    for i in range(flows):
        cli = bytes([10, 0, i >> 8 & 0xFF, i & 0xFF])
        srv = bytes([192, 0, 2, rng.randrange(1, 5)])
        cport = rng.randrange(1024, 65536)
        tcp = rng.random() < 0.7
        pending.append(tcp_flow(rng, cli, srv, cport) if tcp else udp_calls(rng, cli, srv, cport))
        while pending and (len(pending) > 8 or i == flows - 1):  # a few flows interleaved
            k = rng.randrange(len(pending))
            out.append(pending[k].pop(0))
            if not pending[k]:
                pending.pop(k)
    return out


def state(insp: Any, done: Any) -> dict[str, Any]:
    return {
        "flows": [(k, v is done) for k, v in insp._flows.items()],
        "counts": (insp.malformed, insp.bugs, insp.buffered, insp.starved),
    }


BOUNDS = [
    {},
    {"max_flows": 5, "buf_cap": 256, "max_buffered": 2000},
    {"max_flows": 40, "max_buffered": 20_000},
]


class GeneralPath(Inspector):
    """An Inspector whose fast path always declines: every segment is buffered and read."""

    def _whole(self, *args: Any) -> dict[str, Any]:
        return _SLOW


@pytest.mark.parametrize("bounds", BOUNDS, ids=["default", "tiny", "small"])
@pytest.mark.parametrize("seed", range(3))
def test_fast_path_gives_the_general_paths_answers_and_state(seed: int, bounds: dict[str, int]) -> None:
    fast, general = Inspector(**bounds), GeneralPath(**bounds)
    for call in traffic(seed, 400):
        assert fast.inspect(*call) == general.inspect(*call), call
        assert fast.wants(*call[:5]) == general.wants(*call[:5])
    assert state(fast, _DONE) == state(general, _DONE)
    assert fast.bugs == 0
