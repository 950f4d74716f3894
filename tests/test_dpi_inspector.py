"""The Inspector's flow handling: bounds, giving up, restarts, QUIC hand-off, never raising."""

from __future__ import annotations

import random

from rustnet.dissect import quic
from rustnet.dissect import quic_crypto as qc
from rustnet.dissect.dpi import Inspector

from tests import dpi_samples as S

A = bytes([172, 16, 0, 1])
B = bytes([172, 16, 0, 2])
A6 = bytes(15) + b"\x01"
B6 = bytes(15) + b"\x02"


def test_disabled_inspector_learns_nothing() -> None:
    insp = Inspector(enabled=False)
    assert insp.inspect(6, A, 1, B, 443, S.client_hello(), 0.0) is None
    assert not insp.wants(6, A, 1, B, 443)


def test_flow_table_is_bounded_oldest_first() -> None:
    insp = Inspector(max_flows=100)
    for port in range(1000, 1300):
        insp.inspect(6, A, port, B, 443, b"\x16\x03", 0.0)  # undecided: keeps a flow entry
    assert len(insp._flows) == 100
    assert insp.wants(6, A, 1299, B, 443)
    # an evicted undecided flow starts again as new: its hello is still found from the start
    got = insp.inspect(6, A, 1000, B, 443, S.client_hello(sni=b"again.example"), 1.0)
    assert got is not None and got["sni"] == "again.example"


def test_direction_free_key_ipv6() -> None:
    insp = Inspector()
    assert insp.inspect(6, B6, 443, A6, 5000, S.server_hello(), 0.0) is not None
    got = insp.inspect(6, A6, 5000, B6, 443, S.client_hello(sni=b"v6.example"), 0.0)
    assert got is not None and got["sni"] == "v6.example"
    assert not insp.wants(6, B6, 443, A6, 5000)


def test_bare_syn_restarts_a_finished_flow() -> None:
    insp = Inspector()
    insp.inspect(6, A, 5000, B, 443, S.client_hello(sni=b"first.example"), 0.0)
    insp.inspect(6, B, 443, A, 5000, S.server_hello(), 0.0)
    assert not insp.wants(6, A, 5000, B, 443)
    insp.inspect(6, A, 5000, B, 443, b"", 5.0, seq=7, flags=0x02)
    got = insp.inspect(6, A, 5000, B, 443, S.client_hello(sni=b"second.example"), 5.1, seq=8)
    assert got is not None and got["sni"] == "second.example"


def test_fin_drops_finished_entry() -> None:
    insp = Inspector()
    insp.inspect(6, A, 5000, B, 80, b"GET / HTTP/1.0\r\nHost: h\r\n\r\n", 0.0)
    insp.inspect(6, B, 80, A, 5000, b"HTTP/1.0 200 OK\r\n\r\n", 0.0)
    assert len(insp._flows) == 1
    insp.inspect(6, A, 5000, B, 80, b"", 1.0, flags=0x11)
    assert len(insp._flows) == 0


def test_quic_initial_is_handed_to_the_quic_dissector() -> None:
    dcid = bytes.fromhex("8394c8f03e515708")
    hello = S.handshake(1, S.client_hello_body(sni=b"quic.example", alpn=[b"h3"], versions=[0x0304]))
    frames = b"\x06\x00" + quic.encode_varint(len(hello)) + hello
    frames += bytes(1100 - len(frames))
    keys = qc.initial_keys(dcid, qc.PROFILE_V1, server=False)
    pkt = quic.build_long_packet(quic.PT_INITIAL, qc.VERSION_1, dcid, b"\x01\x02", 0, frames, keys)
    insp = Inspector()
    got = insp.inspect(17, A, 55000, B, 443, pkt, 0.0)
    assert got is not None and got["app"] == "QUIC" and got["sni"] == "quic.example"
    assert got["alpn"] == ["h3"]
    # short-header packets of a known QUIC flow keep going to the QUIC dissector
    assert insp._flows[(17, A, 55000, B, 443)].kind == 6


def test_random_payloads_never_raise_and_never_invent_fields() -> None:
    rng = random.Random(1234)
    insp = Inspector()
    for i in range(3000):
        proto = rng.choice((6, 17))
        port = rng.choice((53, 80, 443, 22, 5353, 123, 1900, 67, rng.randrange(1, 65535)))
        n = rng.choice((1, 5, 40, 300, 1300))
        payload = bytes(rng.getrandbits(8) for _ in range(n))
        if rng.random() < 0.3:
            payload = rng.choice((b"\x16\x03\x01", b"GET ", b"SSH-2.0-", b"HTTP/1.1 ")) + payload
        info = insp.inspect(proto, A, 40000 + i % 7, B, port, payload, float(i), seq=rng.choice((None, i)))
        if info is not None:
            assert isinstance(info.get("app"), str)
            assert "sni" not in info
    assert insp.bugs == 0


def test_buffered_bytes_are_bounded_and_accounted() -> None:
    hello = S.client_hello(sni=b"held.example", padding=3000)
    insp = Inspector(buf_cap=4096, max_buffered=20_000)
    for port in range(2000, 2100):  # 100 flows each stuck halfway through a hello
        insp.inspect(6, A, port, B, 443, hello[:1000], 0.0)
    assert insp.buffered <= 20_000 + 1000 and insp.starved > 0
    assert insp.buffered == sum(f.size for f in insp._flows.values())
    for port in range(2000, 2100):
        insp.inspect(6, A, port, B, 443, hello[1000:], 1.0)
        insp.inspect(6, B, 443, A, port, S.server_hello(), 1.0)
    assert insp.buffered == 0
    # held out-of-order segments count too, and a finished flow gives them back
    insp.inspect(6, A, 3000, B, 443, hello[:100], 2.0, seq=1)
    insp.inspect(6, A, 3000, B, 443, hello[200:300], 2.0, seq=201)
    assert insp.buffered == 200
    got = insp.inspect(6, A, 3000, B, 443, hello[100:200], 2.0, seq=101)
    assert got is None and insp.buffered == 300
