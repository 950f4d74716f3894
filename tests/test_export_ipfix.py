"""rn-export's IPFIX messages, received on a real loopback UDP socket and read by RFC 7011's layout.

The expected bytes are written out by hand from RFC 7011 (message header §3.1, set header §3.3.2,
template record and field specifiers §3.4.1 and §3.2, variable-length encoding §7), RFC 5103
(reverse elements: enterprise number 29305) and the IANA registry's element ids; the reader
below walks messages the way a collector does, independently of the encoder.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator
from typing import Any

import pytest
from rustnet.export.ipfix.messages import MessageBuilder
from rustnet.export.ipfix.stage import Exporter
from rustnet.export.ipfix.transport import UdpSender

HDR = {"t": "hdr", "v": 1, "producer": "rn-track 0.1.0", "linktype": 1}


def conn(**kw: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "t": "conn",
        "id": 7,
        "proto": "tcp",
        "src": "192.0.2.1",
        "sport": 40000,
        "dst": "198.51.100.2",
        "dport": 443,
        "state": "ESTABLISHED",
        "packets_src": 3,
        "bytes_src": 3 * 14 + 180,  # Ethernet frames: 180 bytes of IP packets
        "packets_dst": 2,
        "bytes_dst": 2 * 14 + 1500,
        "first_seen": 1700000000.123,
        "last_seen": 1700000001.456,
        "final": True,
        "end": "eof",
        "app": "TLS",
        "sni": "example.com",
        "tcp_flags_src": 0x1B,  # FIN SYN PSH ACK
        "tcp_flags_dst": 0x16,  # SYN RST ACK
    }
    rec.update(kw)
    return rec


@pytest.fixture
def collector() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2.0)
    try:
        yield sock
    finally:
        sock.close()


def export(
    sock: socket.socket, recs: list[dict[str, Any]], max_size: int = 1400, **kw: Any
) -> tuple[Exporter, list[bytes]]:
    exporter = Exporter(
        UdpSender("127.0.0.1", sock.getsockname()[1]), MessageBuilder(5, 32473, max_size), **kw
    )
    out = exporter.process([HDR, *recs])
    assert out == [HDR, *recs]  # every record passes through, unchanged
    exporter.finish()
    exporter.close(0)
    messages = []
    sock.settimeout(0.5)
    while True:
        try:
            messages.append(sock.recv(65535))
        except TimeoutError:
            return exporter, messages


def test_one_message_byte_for_byte(collector: socket.socket) -> None:
    before = int(time.time())
    _, messages = export(collector, [conn()])
    assert len(messages) == 1
    msg = messages[0]
    common = (
        "0007 0002 000b 0002 0004 0001"  # source/destination port, protocolIdentifier
        "8006 0002 00007279 0006 0002"  # reverse tcpControlBits (unsigned16, RFC 7125), forward
        "0098 0008 0099 0008"  # flowStartMilliseconds 152, flowEndMilliseconds 153
        "0002 0008 0001 0008"  # packetDeltaCount, octetDeltaCount
        "8002 0008 00007279 8001 0008 00007279"  # the same, enterprise bit + 29305: reverse
        "0088 0001"  # flowEndReason 136
        "8001 ffff 00007ed9 8002 ffff 00007ed9"  # enterprise 32473 elements 1, 2: variable length
    )
    template_v4 = "0100 0010" + "0008 0004 000c 0004" + common  # 256: 16 fields, IPv4 8 and 12
    template_v6 = "0101 0010" + "001b 0010 001c 0010" + common  # 257: IPv6 27 and 28
    data = (
        "c0000201 c6336402"  # 192.0.2.1, 198.51.100.2
        "9c40 01bb 06"  # 40000, 443, TCP
        "0016 001b"  # the flags the responder sent, the originator's
        "0000018bcfe5687b 0000018bcfe56db0"  # 1700000000123 ms, 1700000001456 ms
        "0000000000000003 00000000000000b4"  # 3 packets, 180 octets (IP layer)
        "0000000000000002 00000000000005dc"  # reverse: 2 packets, 1500 octets
        "04"  # flowEndReason: forced end (end of input)
        "03 544c53 0b 6578616d706c652e636f6d"  # "TLS", "example.com"
    )
    template_set = "0002 00b4" + template_v4 + template_v6  # 4 + 2 * 88 bytes
    data_set = "0100 0056" + data  # 4 + 82 bytes
    # version 10, length 282, export time (checked below), sequence 0, observation domain 5
    assert msg[:4] == bytes.fromhex("000a 011a")
    assert before <= struct.unpack("!I", msg[4:8])[0] <= time.time() + 1
    assert msg[8:] == bytes.fromhex("00000000 00000005" + template_set + data_set)


def read_messages(messages: list[bytes]) -> tuple[list[dict[str, Any]], list[tuple[int, int]]]:
    """A collector's walk (RFC 7011): header, sets, templates, then data records by template."""
    templates: dict[int, list[tuple[int, int, int]]] = {}
    flows: list[dict[str, Any]] = []
    seqs: list[tuple[int, int]] = []
    for msg in messages:
        version, length, _t, seq, _dom = struct.unpack("!HHIII", msg[:16])
        assert version == 10 and length == len(msg)
        pos, records = 16, 0
        while pos < length:
            set_id, set_len = struct.unpack("!HH", msg[pos : pos + 4])
            assert set_len >= 4 and pos + set_len <= length
            body, pos = msg[pos + 4 : pos + set_len], pos + set_len
            if set_id == 2:
                i = 0
                while i < len(body):
                    tid, count = struct.unpack("!HH", body[i : i + 4])
                    i += 4
                    fields = []
                    for _ in range(count):
                        ie, flen = struct.unpack("!HH", body[i : i + 4])
                        i += 4
                        pen = 0
                        if ie & 0x8000:
                            pen = struct.unpack("!I", body[i : i + 4])[0]
                            i += 4
                        fields.append((ie & 0x7FFF, flen, pen))
                    templates[tid] = fields
                continue
            i = 0
            while i < len(body):
                flow: dict[str, Any] = {}
                for ie, flen, pen in templates[set_id]:
                    if flen == 0xFFFF:
                        flen = body[i]
                        i += 1
                        if flen == 255:
                            flen = struct.unpack("!H", body[i : i + 2])[0]
                            i += 2
                    flow[(pen, ie)] = body[i : i + flen]
                    i += flen
                flows.append(flow)
                records += 1
        seqs.append((seq, records))
    return flows, seqs


def number(raw: bytes) -> int:
    return int.from_bytes(raw, "big")


def test_messages_stay_within_the_size_and_number_data_records(collector: socket.socket) -> None:
    recs = [conn(id=i, sport=1024 + i, sni="s" * (i % 40)) for i in range(300)]
    recs += [conn(id=1000 + i, src="2001:db8::1", dst="2001:db8::2", sport=2000 + i) for i in range(100)]
    exporter, messages = export(collector, recs, max_size=700)
    assert len(messages) > 40
    assert max(len(m) for m in messages) <= 700
    flows, seqs = read_messages(messages)
    assert len(flows) == 400 == exporter.flows
    # RFC 7011 §3.1: a message's sequence number counts the data records sent before it
    sent = 0
    for seq, n in seqs:
        assert seq == sent
        sent += n
    assert sorted(number(f[(0, 7)]) for f in flows) == sorted(r["sport"] for r in recs)
    v6 = [f for f in flows if (0, 27) in f]
    assert len(v6) == 100 and {bytes(f[(0, 27)]) for f in v6} == {
        socket.inet_pton(socket.AF_INET6, "2001:db8::1")
    }


def test_long_names_take_the_three_byte_length(collector: socket.socket) -> None:
    _, messages = export(collector, [conn(sni="a" * 300, app="x" * 254)])
    flows, _ = read_messages(messages)
    # RFC 7011 §7: 255 then a two-byte length for 255 and more; names are cut at 255 bytes
    assert flows[0][(32473, 2)] == b"a" * 255 and flows[0][(32473, 1)] == b"x" * 254
    assert bytes.fromhex("ff00ff") + b"a" * 255 in messages[0]


def test_end_reasons(collector: socket.socket) -> None:
    recs = [
        conn(id=1, end="timeout", state="UDP_IDLE", proto="udp"),
        conn(id=2, end="timeout", state="CLOSED"),
        conn(id=3, end="evicted"),
        conn(id=4, end="reused", state="TIME_WAIT"),
        conn(id=5, end="eof"),
    ]
    _, messages = export(collector, recs)
    flows, _ = read_messages(messages)
    # flowEndReason: 1 idle timeout, 3 end of flow detected, 5 lack of resources, 4 forced end
    assert [number(f[(0, 136)]) for f in flows] == [1, 3, 5, 3, 4]


def test_active_timeout_sends_deltas_that_add_up(collector: socket.socket) -> None:
    t0 = 1700000000.0
    updates = [
        conn(final=None, end=None, first_seen=t0, last_seen=t0 + s, packets_src=p, bytes_src=p * 114)
        for s, p in ((10, 10), (70, 70), (100, 100), (130, 130), (190, 190))
    ]
    last = conn(first_seen=t0, last_seen=t0 + 200, packets_src=200, bytes_src=200 * 114)
    _, messages = export(collector, [*updates, last], active_timeout=60)
    flows, _ = read_messages(messages)
    # periods of at least 60 s: t0..70, 70..130, 130..190, then the final 190..200
    assert [number(f[(0, 136)]) for f in flows] == [2, 2, 2, 4]
    assert [number(f[(0, 2)]) for f in flows] == [70, 60, 60, 10]
    assert sum(number(f[(0, 1)]) for f in flows) == 200 * 100
    starts = [number(f[(0, 152)]) for f in flows]
    assert starts == [int(t0 * 1000), int((t0 + 70) * 1000), int((t0 + 130) * 1000), int((t0 + 190) * 1000)]


def test_damaged_and_non_ip_records_are_counted_not_fatal(collector: socket.socket) -> None:
    recs = [
        conn(id=1, proto="arp", src="192.0.2.1", dst="192.0.2.9"),
        conn(id=2, src="not an address"),
        conn(id=3, src="192.0.2.1", dst="2001:db8::1"),
        conn(id=4, first_seen=float("nan")),
        conn(id=5, packets_src="many", bytes_src=-5, sport=70000),
        conn(id=6, packets_dst=2**70, bytes_dst=2**80, src="10.0.0.1\x00"),
        conn(id=7, packets_dst=2**70, bytes_dst=2**80),
    ]
    exporter, messages = export(collector, recs)
    flows, _ = read_messages(messages)
    assert exporter.not_ip == 5
    assert len(flows) == 2
    assert number(flows[0][(0, 2)]) == 0 and number(flows[0][(0, 1)]) == 0 and number(flows[0][(0, 7)]) == 0
    # counters beyond unsigned64 are held at its largest value
    assert number(flows[1][(29305, 2)]) == number(flows[1][(29305, 1)]) == 2**64 - 1


def test_udp_templates_are_sent_again(collector: socket.socket) -> None:
    exporter = Exporter(
        UdpSender("127.0.0.1", collector.getsockname()[1]),
        MessageBuilder(0, 32473, 1400),
        template_refresh=0.05,
    )
    exporter.process([HDR, conn(id=1)])
    exporter.tick(time.time())
    exporter.process([conn(id=2)])
    exporter.tick(time.time())  # no refresh due yet: data only
    time.sleep(0.06)
    exporter.process([conn(id=3)])
    exporter.tick(time.time())
    exporter.close(0)
    messages = [collector.recv(65535) for _ in range(3)]
    has_templates = [struct.unpack("!H", m[16:18])[0] == 2 for m in messages]
    assert has_templates == [True, False, True]


def test_flows_waiting_for_a_tcp_collector_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from rustnet.export.ipfix import stage
    from rustnet.export.ipfix.transport import TcpSender

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nobody listens once it is closed
    monkeypatch.setattr(stage, "MAX_PENDING", 10)
    exporter = Exporter(TcpSender("127.0.0.1", port), MessageBuilder(0, 32473, 1400))
    exporter.process([HDR, *[conn(id=i) for i in range(100)]])
    exporter.tick(time.time())
    assert len(exporter.pending) == 10 and exporter.dropped_flows == 90
    exporter.close(0.2)
    assert exporter.dropped_flows == 100 and exporter.flows == 0 and exporter.sender.errors >= 1


def test_connections_followed_for_active_timeouts_are_bounded(
    collector: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rustnet.export.ipfix import stage

    monkeypatch.setattr(stage, "MAX_LIVE", 5)
    updates = [conn(id=i, final=None, end=None) for i in range(20)]
    exporter, _ = export(collector, updates, active_timeout=1)
    assert len(exporter.live) == 5
