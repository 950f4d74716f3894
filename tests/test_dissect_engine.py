"""The Dissector stage: summaries per link type, counters, truncation at every length, hostile records."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rustnet.dissect.dpi import FINISHED, Inspector
from rustnet.dissect.engine import COUNTERS, Dissector
from rustnet.stream.records import SUM_FIELDS

from tests import dissect_frames as F

TS = 1_700_000_000.25


def run(
    frames: list[bytes] | list[list[object]],
    linktype: int | None = 1,
    dpi: bool = False,
    inspector: Inspector | None = None,
) -> tuple[list[Any], dict[str, int], Dissector]:
    """Dissect frames (or ready pkt records) after a header; (summaries, final counters, stage)."""
    d = Dissector(dpi=dpi, inspector=inspector)
    recs: list[Any] = [F.hdr(linktype)]
    recs += [F.pkt(f) if isinstance(f, bytes) else f for f in frames]
    out = d.process(recs) + d.finish()
    sums = [r for r in out if isinstance(r, list) and r[0] == "sum"]
    stats = out[-1]
    assert stats["t"] == "dstats"
    return sums, {k: stats[k] for k in COUNTERS}, d


def fields(rec: list[Any]) -> dict[str, Any]:
    return dict(zip(SUM_FIELDS, rec, strict=True))


def one(frame: bytes, linktype: int = 1, **kw: Any) -> dict[str, Any]:
    sums, _, _ = run([frame], linktype, **kw)
    assert len(sums) == 1
    return fields(sums[0])


# --- each link type, each L4 ----------------------------------------------------
def test_ethernet_ipv4_tcp_summary_fields() -> None:
    frame = F.eth(F.ipv4(F.tcp(b"hello", sport=40000, dport=80, seq=7, ack=9, flags=0x18, window=1234)))
    s = one(frame)
    assert s == {
        "t": "sum",
        "ts": TS,
        "wirelen": len(frame),
        "proto": 6,
        "src": F.V4_A,
        "sport": 40000,
        "dst": F.V4_B,
        "dport": 80,
        "flags": 0x18,
        "seq": 7,
        "ack": 9,
        "paylen": 5,
        "window": 1234,
        "vlan": None,
        "info": None,
    }


def test_wirelen_is_the_wire_length_not_the_captured_one() -> None:
    frame = F.eth(F.ipv4(F.udp(b"x" * 100), proto=17))
    sums, counts, _ = run([F.pkt(frame[:60], wirelen=len(frame))])
    s = fields(sums[0])
    assert (s["wirelen"], s["paylen"], s["info"]) == (len(frame), 100, {"trunc": True})
    assert counts["truncated"] == 1


def test_ethernet_padding_is_not_payload() -> None:
    frame = F.eth(F.ipv4(F.tcp(flags=0x10))) + b"\0" * 6
    assert one(frame)["paylen"] == 0


def test_sll_udp() -> None:
    s = one(F.sll(F.ipv4(F.udp(b"abc", sport=1, dport=2), proto=17)), 113)
    assert (s["proto"], s["sport"], s["dport"], s["paylen"]) == (17, 1, 2, 3)


def test_sll2_icmp_echo() -> None:
    s = one(F.sll2(F.ipv4(F.icmp(8, 0, ident=0x77, seq=3, payload=b"p" * 56), proto=1)), 276)
    assert (s["proto"], s["sport"], s["dport"], s["seq"], s["ack"], s["paylen"]) == (1, 8, 0, 0x77, 3, 56)


@pytest.mark.parametrize("af,big_endian", [(24, False), (30, False), (28, True), (10, False)])
def test_null_ipv6_tcp(af: int, big_endian: bool) -> None:
    s = one(F.null(F.ipv6(F.tcp(b"x" * 3, sport=443, dport=50000, flags=0x11)), af, big_endian), 0)
    assert (s["proto"], s["src"], s["sport"], s["dport"], s["flags"], s["paylen"]) == (
        6,
        F.V6_A,
        443,
        50000,
        0x11,
        3,
    )


def test_loop_ipv4() -> None:
    s = one(struct.pack("!I", 2) + F.ipv4(F.udp(b"q"), proto=17), 108)
    assert (s["proto"], s["paylen"]) == (17, 1)


@pytest.mark.parametrize("linktype", [12, 101])
def test_raw_ip_both_versions(linktype: int) -> None:
    assert one(F.ipv4(F.tcp()), linktype)["src"] == F.V4_A
    assert one(F.ipv6(F.tcp()), linktype)["src"] == F.V6_A


def test_raw_ipv4_and_ipv6_dlts() -> None:
    assert one(F.ipv4(F.tcp()), 228)["proto"] == 6
    assert one(F.ipv6(F.udp(), nxt=17), 229)["proto"] == 17


def test_vlan_stack_reaches_the_summary() -> None:
    s = one(F.eth(F.ipv4(F.tcp()), vlans=(30, 20, 10), tpid=0x88A8))
    assert s["vlan"] == [30, 20, 10]


def test_ipv6_extension_headers_then_udp() -> None:
    s = one(F.eth(F.ipv6(F.ext6(17) + F.udp(b"dns?", dport=53), nxt=0), 0x86DD))
    assert (s["proto"], s["dport"], s["paylen"]) == (17, 53, 4)


def test_icmpv6_echo_reply() -> None:
    s = one(F.eth(F.ipv6(F.icmp(129, 0, 9, 1, b"x" * 56), nxt=58), 0x86DD))
    assert (s["proto"], s["sport"], s["dport"], s["seq"], s["ack"]) == (58, 129, 0, 9, 1)


def test_icmp_error_quoting_udp_stays_icmp() -> None:
    quoted = F.ipv4(F.udp(b"", sport=33434, dport=53), proto=17, src=F.V4_B, dst=F.V4_A)
    s = one(F.eth(F.ipv4(F.icmp(3, 3, payload=quoted), proto=1)))
    assert (s["proto"], s["sport"], s["dport"], s["seq"], s["ack"]) == (1, 3, 3, 0, 0)


def test_other_ip_protocols_keep_addresses_and_length() -> None:
    s = one(F.eth(F.ipv4(b"\0" * 24, proto=47)))  # GRE
    got = (s["proto"], s["src"], s["dst"], s["sport"], s["dport"], s["paylen"])
    assert got == (47, F.V4_A, F.V4_B, 0, 0, 24)


def test_arp_and_rarp() -> None:
    s = one(F.eth(F.arp(1), 0x0806))
    assert (s["proto"], s["src"], s["sport"], s["dst"], s["dport"]) == (2054, F.V4_A, 1, F.V4_B, 0)
    assert s["info"] == {"sha": "02:00:00:00:00:01", "tha": "00:00:00:00:00:00"}
    assert one(F.sll2(F.arp(3), 0x8035), 276)["sport"] == 3


def test_tso_zero_ip_length() -> None:
    frame = F.eth(F.ipv4(F.tcp(b"y" * 3000), total=0))
    assert one(frame)["paylen"] == 3000


# --- counting what is not summarised ----------------------------------------------
def test_non_ip_frames_are_counted() -> None:
    sums, counts, _ = run(
        [
            F.eth(b"\0" * 46, 0x88CC),
            F.eth(b"\x42\x42\x03" + b"\0" * 43, 46),
            F.eth(F.arp(1, ptype=0x86DD), 0x0806),
            F.eth(F.ipv4(F.tcp())),
        ]
    )
    assert len(sums) == 1
    assert counts == {
        "packets": 4,
        "malformed": 0,
        "truncated": 0,
        "non_ip": 3,
        "other": 0,
        "fragments": 0,
        "dpi_errors": 0,
        "dns_unsolicited": 0,
        "dns_evicted": 0,
        "quic_skipped": 0,
        "reassembled": 0,
        "reassembly_dropped": 0,
    }


def test_unknown_link_type_warns_once_and_counts() -> None:
    d = Dissector(dpi=False)
    out = d.process([F.hdr(147), F.pkt(b"\0" * 60), F.pkt(b"\0" * 60)])
    assert [r["t"] for r in out if isinstance(r, dict)] == ["hdr", "warn"]
    assert "147" in out[1]["msg"]
    assert d.other == 2 and d.packets == 2


def test_hostile_link_type_in_warning_is_escaped() -> None:
    d = Dissector(dpi=False)
    out = d.process([F.hdr("\x1b[2J" * 30)])  # type: ignore[arg-type]
    msg = out[1]["msg"]
    assert "\x1b" not in msg and len(msg) < 200


def test_packets_before_any_header_are_other() -> None:
    d = Dissector(dpi=False)
    assert d.process([F.pkt(F.eth(F.ipv4(F.tcp())))]) == []
    assert d.other == 1


def test_header_is_restamped_and_everything_else_passes_in_order() -> None:
    d = Dissector(dpi=False)
    odd = {"t": "future", "x": 1}
    already = ["sum", TS, 60, 6, F.V4_A, 1, F.V4_B, 2, 0, 0, 0, 0, 0, None, None]
    out = d.process(
        [F.hdr(1), odd, F.pkt(F.eth(F.ipv4(F.tcp()))), ["novel", 1], already, {"t": "stats", "packets": 3}]
    )
    assert out[0]["producer"].startswith("rn-dissect ")
    assert out[0]["stages"] == ["rn-capture", "rn-dissect"]
    assert [r["t"] if isinstance(r, dict) else r[0] for r in out] == [
        "hdr",
        "future",
        "sum",
        "novel",
        "sum",
        "stats",
    ]
    assert out[4] is already


def test_a_new_header_switches_link_type() -> None:
    d = Dissector(dpi=False)
    out = d.process([F.hdr(1), F.pkt(F.eth(F.ipv4(F.tcp()))), F.hdr(113), F.pkt(F.sll(F.ipv4(F.tcp())))])
    assert [r[0] if isinstance(r, list) else r["t"] for r in out] == ["hdr", "sum", "hdr", "sum"]


def test_dstats_on_tick_only_when_changed_and_always_at_finish() -> None:
    d = Dissector(dpi=False)
    d.process([F.hdr(1), F.pkt(F.eth(F.ipv4(F.tcp())))])
    first = d.tick(TS)
    assert len(first) == 1 and first[0]["packets"] == 1 and first[0]["ts"] == TS
    assert d.tick(TS + 1) == []
    d.process([F.pkt(b"\0" * 3)])
    assert d.tick(TS + 2)[0]["malformed"] == 1
    assert d.finish()[0]["t"] == "dstats"


def test_no_dstats_before_the_header() -> None:
    """A stream begins with its header: a tick before it (rn-track --dissect ticks while it waits
    for rn-capture) says nothing, and the first one after it reports."""
    d = Dissector(dpi=False)
    assert d.tick(TS) == []
    out = d.process([F.hdr(1)])
    assert [r["t"] for r in out] == ["hdr"]
    assert [r["t"] for r in d.tick(TS + 1)] == ["dstats"]


# --- truncation and damage at every length ----------------------------------------------
CUT_FRAMES = {
    "eth-ipv4-tcp": (1, F.eth(F.ipv4(F.tcp(b"GET / HTTP/1.1\r\n", options=b"\x01" * 12)))),
    "vlan-ipv6-ext-udp": (1, F.eth(F.ipv6(F.ext6(17) + F.udp(b"q" * 20), nxt=0), 0x86DD, vlans=(5, 6))),
    "sll2-arp": (276, F.sll2(F.arp(2), 0x0806)),
    "sll-icmp": (113, F.sll(F.ipv4(F.icmp(8, 0, 1, 2, b"x" * 8), proto=1))),
    "null-ipv6-frag": (0, F.null(F.ipv6(F.frag6(6, 0, True, 9) + F.tcp(b"z" * 8), nxt=44), 24)),
    "pppoe-ipv4-udp": (
        1,
        F.eth(struct.pack("!BBHHH", 0x11, 0, 1, 30, 0x21) + F.ipv4(F.udp(b"d" * 10), proto=17), 0x8864),
    ),
}


@pytest.mark.parametrize("name", sorted(CUT_FRAMES))
@pytest.mark.parametrize("snaplen_cut", [True, False], ids=["snaplen", "damaged"])
def test_cut_at_every_length_is_counted_never_raised(name: str, snaplen_cut: bool) -> None:
    linktype, frame = CUT_FRAMES[name]
    whole, _, _ = run([frame], linktype)
    assert len(whole) == 1 and (whole[0][14] is None or "trunc" not in whole[0][14])
    for cut in range(len(frame)):
        data = frame[:cut]
        wirelen = len(frame) if snaplen_cut else cut
        sums, counts, _ = run([F.pkt(data, wirelen=wirelen)], linktype)
        assert counts["packets"] == 1
        problems = counts["truncated"] if snaplen_cut else counts["malformed"]
        other_kind = counts["malformed"] if snaplen_cut else counts["truncated"]
        if not sums:
            assert problems == 1, (cut, counts)
            continue
        info = sums[0][14]
        # Whatever comes out says it is damaged, and is counted once.
        assert info and ("trunc" in info or "malformed" in info or "anomaly" in info), (cut, info)
        assert problems + other_kind >= 1, (cut, counts)
        assert sums[0][2] == wirelen


def test_snaplen_cut_after_tcp_header_keeps_every_field() -> None:
    frame = F.eth(F.ipv4(F.tcp(b"x" * 1000, sport=1, dport=2, seq=3, ack=4, window=5)))
    sums, counts, _ = run([F.pkt(frame[: 54 + 10], wirelen=len(frame))])
    s = fields(sums[0])
    assert (s["sport"], s["dport"], s["seq"], s["ack"], s["window"], s["paylen"]) == (1, 2, 3, 4, 5, 1000)
    assert s["info"] == {"trunc": True} and counts["truncated"] == 1


def test_snaplen_cut_inside_tcp_header_is_flagged_malformed_and_counted_truncated() -> None:
    frame = F.eth(F.ipv4(F.tcp(b"x" * 100)))
    sums, counts, _ = run([F.pkt(frame[:40], wirelen=len(frame))])
    s = fields(sums[0])
    assert s["info"] == {"malformed": "truncated tcp header"} and (s["sport"], s["dport"]) == (0, 0)
    assert counts["truncated"] == 1 and counts["malformed"] == 0


def test_bad_tcp_header_is_malformed_with_addresses() -> None:
    s = one(F.eth(F.ipv4(F.tcp(doff=2))))
    assert s["info"] == {"malformed": "tcp data offset < 5"} and s["src"] == F.V4_A


def test_ip_length_anomaly_is_flagged_and_counted() -> None:
    sums, counts, _ = run([F.eth(F.ipv4(F.tcp(b"abc"), total=999))])
    assert sums[0][14] == {"anomaly": "ipv4 total length beyond frame"} and counts["malformed"] == 1


# --- hostile pkt records ----------------------------------------------------------------
@pytest.mark.parametrize(
    "rec",
    [
        ["pkt"],
        ["pkt", TS],
        ["pkt", TS, 60],
        ["pkt", TS, 60, b"", "extra"],
        ["pkt", "yesterday", 60, b"\0" * 60],
        ["pkt", TS, 60, "not bytes"],
        ["pkt", TS, 60, None],
        ["pkt", float("nan"), 60, b"\0" * 60],
        ["pkt", float("inf"), 60, b"\0" * 60],
        ["pkt", -1.0, 60, b"\0" * 60],
        ["pkt", None, None, None],
        ["pkt", True, 60, b"\0" * 60],
    ],
)
def test_hostile_pkt_records_are_counted_malformed(rec: list[object]) -> None:
    sums, counts, _ = run([rec])
    assert sums == [] and counts["malformed"] == 1 and counts["packets"] == 1


def test_repairable_pkt_fields() -> None:
    frame = F.eth(F.ipv4(F.tcp()))
    for rec in (
        ["pkt", int(TS), len(frame), frame],
        ["pkt", TS, None, frame],
        ["pkt", TS, -5, frame],
        ["pkt", TS, "60", frame],
    ):
        sums, counts, _ = run([rec])
        assert len(sums) == 1 and sums[0][2] == len(frame) and type(sums[0][1]) is float, rec


@settings(max_examples=300, deadline=None)
@given(
    linktype=st.sampled_from([0, 1, 12, 108, 113, 228, 229, 276]),
    data=st.binary(max_size=200),
    extra=st.integers(min_value=-5, max_value=3000),
)
def test_random_bytes_never_raise(linktype: int, data: bytes, extra: int) -> None:
    d = Dissector(dpi=True)
    out = d.process([F.hdr(linktype), ["pkt", TS, len(data) + extra, data]])
    assert d.packets == 1
    assert len(out) <= 2


@settings(max_examples=300, deadline=None)
@given(
    pos=st.integers(min_value=0, max_value=200),
    byte=st.integers(min_value=0, max_value=255),
    which=st.sampled_from(sorted(CUT_FRAMES)),
)
def test_single_byte_corruption_never_raises(pos: int, byte: int, which: str) -> None:
    linktype, frame = CUT_FRAMES[which]
    data = bytearray(frame)
    data[pos % len(data)] = byte
    d = Dissector(dpi=True)
    d.process([F.hdr(linktype), F.pkt(bytes(data))])
    assert d.packets == 1


# --- IP fragments ------------------------------------------------------------------------
def fragments(payload_len: int = 3000, mtu_payload: int = 1480) -> list[bytes]:
    raw = F.udp(b"x" * payload_len, sport=1111, dport=2222)
    out = []
    for off in range(0, len(raw), mtu_payload):
        more = off + mtu_payload < len(raw)
        out.append(
            F.eth(
                F.ipv4(
                    raw[off : off + mtu_payload], proto=17, ident=77, frag=(0x2000 if more else 0) | off // 8
                )
            )
        )
    return out


def test_fragments_in_order() -> None:
    sums, counts, d = run(fragments())
    got = [(s[5], s[7], s[11], s[14]["frag"]) for s in sums]
    assert got == [(1111, 2222, 1472, "part"), (1111, 2222, 1480, "part"), (1111, 2222, 3000, "last")]
    assert counts["fragments"] == 3 and len(d.frags) == 0


def test_fragments_out_of_order_are_not_attributed() -> None:
    f = fragments()
    sums, _, _ = run([f[2], f[1], f[0]])
    got = [(s[5], s[7], s[14]["frag"]) for s in sums]
    assert got == [(0, 0, "part"), (0, 0, "part"), (1111, 2222, "part")]


def test_ipv6_fragments() -> None:
    raw = F.tcp(b"t" * 2000, sport=5, dport=6, flags=0x18)
    a = F.eth(F.ipv6(F.frag6(6, 0, True, 42) + raw[:1232], nxt=44), 0x86DD)
    b = F.eth(F.ipv6(F.frag6(6, 1232, False, 42) + raw[1232:], nxt=44), 0x86DD)
    sums, _, _ = run([a, b])
    assert [(s[3], s[5], s[7], s[8], s[11], s[14]["frag"]) for s in sums] == [
        (6, 5, 6, 0x18, 1212, "part"),
        (6, 5, 6, 0x18, 2000, "last"),
    ]


def test_tiny_first_fragment_carries_no_ports() -> None:
    # The UDP header lies beyond this fragment's share of the datagram: it is not read.
    frame = F.eth(F.ipv6(F.frag6(17, 0, True, 1) + F.udp(b"x" * 8), nxt=44, plen=8), 0x86DD)
    s = one(frame)
    assert (s["sport"], s["dport"], s["paylen"], s["info"]["frag"]) == (0, 0, 0, "part")


def test_fragment_table_is_bounded() -> None:
    d = Dissector(dpi=False)
    d.frags.max_pending = 100
    d.process([F.hdr(1)])
    for i in range(1000):
        d.process([F.pkt(F.eth(F.ipv4(F.udp(b"x" * 8, ulen=3000), proto=17, ident=i, frag=0x2000)))])
    assert len(d.frags) == 100 and d.frags.evicted == 900


# --- the DPI hook ------------------------------------------------------------------------
class RecordingInspector(Inspector):
    """A real Inspector whose answer is fixed, remembering what it was asked. ``flow`` is what
    its flow table holds for every key: None (no flow yet), an open flow or FINISHED."""

    def __init__(self, answer: dict[str, Any] | None, flow: object = None) -> None:
        super().__init__(enabled=True)
        self.answer = answer
        self.flow = flow
        self.calls: list[tuple[Any, ...]] = []
        self.tcp_args: list[tuple[int | None, int]] = []

    def inspect(
        self,
        proto: int,
        src: bytes,
        sport: int,
        dst: bytes,
        dport: int,
        payload: bytes | memoryview,
        ts: float,
        seq: int | None = None,
        flags: int = 0,
    ) -> dict[str, Any] | None:
        self.calls.append((proto, src, sport, dst, dport, bytes(payload), ts))
        self.tcp_args.append((seq, flags))
        return self.answer

    @property
    def flow_lookup(self) -> Callable[[tuple[Any, ...]], object]:
        return lambda key: self.flow


OPEN_FLOW = object()  # a flow the inspector is still learning about


def test_dpi_gets_payloads_syn_and_fin_but_not_bare_acks() -> None:
    insp = RecordingInspector({"app": "HTTP", "http_host": "example.com"}, flow=OPEN_FLOW)
    frames = [
        F.eth(F.ipv4(F.tcp(flags=0x02))),
        F.eth(F.ipv4(F.tcp(flags=0x10))),
        F.eth(F.ipv4(F.tcp(b"GET / HTTP/1.1\r\n", flags=0x18)) + b"\0" * 4),
        F.eth(F.ipv4(F.udp(b"q" * 12), proto=17)),
        F.eth(F.ipv4(F.udp(b""), proto=17)),
        F.eth(F.ipv4(F.tcp(flags=0x11))),
    ]
    sums, _, _ = run(frames, dpi=True, inspector=insp)
    assert [c[0] for c in insp.calls] == [6, 6, 17, 6]
    assert insp.calls[1] == (6, F.V4_A, 40000, F.V4_B, 80, b"GET / HTTP/1.1\r\n", TS)  # padding not included
    # TCP calls carry the sequence number and flags (reassembly, retransmits, tuple reuse); UDP calls do not.
    assert [f for _, f in insp.tcp_args] == [0x02, 0x18, 0, 0x11]
    assert insp.tcp_args[2] == (None, 0)
    assert [s[14] for s in sums] == [insp.answer, None, insp.answer, insp.answer, None, insp.answer]


def test_dpi_skips_what_its_flow_table_says_teaches_nothing() -> None:
    frames = [
        F.eth(F.ipv4(F.tcp(flags=0x02))),
        F.eth(F.ipv4(F.tcp(flags=0x10))),
        F.eth(F.ipv4(F.tcp(b"GET / HTTP/1.1\r\n", flags=0x18))),
        F.eth(F.ipv4(F.udp(b"q" * 12), proto=17)),
        F.eth(F.ipv4(F.tcp(flags=0x11))),
    ]
    # No flow yet: a SYN or FIN without payload starts nothing, so only payloads are inspected.
    unknown = RecordingInspector({"app": "HTTP"})
    sums, _, _ = run(frames, dpi=True, inspector=unknown)
    assert [(c[0], c[5]) for c in unknown.calls] == [(6, b"GET / HTTP/1.1\r\n"), (17, b"q" * 12)]
    assert [s[14] for s in sums] == [None, None, unknown.answer, unknown.answer, None]
    # A finished flow: its TCP payloads are skipped, its SYN and FIN still go (they end it).
    finished = RecordingInspector({"app": "HTTP"}, flow=FINISHED)
    run(frames, dpi=True, inspector=finished)
    assert [(c[0], f) for c, (_, f) in zip(finished.calls, finished.tcp_args, strict=True)] == [
        (6, 0x02),
        (17, 0),
        (6, 0x11),
    ]


def test_dpi_result_merges_with_trunc() -> None:
    insp = RecordingInspector({"app": "TLS"})
    frame = F.eth(F.ipv4(F.tcp(b"\x16\x03\x01" + b"\0" * 500)))
    sums, _, _ = run([F.pkt(frame[:80], wirelen=len(frame))], dpi=True, inspector=insp)
    assert sums[0][14] == {"app": "TLS", "trunc": True}
    assert insp.answer == {"app": "TLS"}  # the inspector's dict is not modified
    assert len(insp.calls[0][5]) == 80 - 54


def test_no_dpi_never_calls_the_inspector() -> None:
    insp = RecordingInspector({"app": "X"})
    sums, _, _ = run([F.eth(F.ipv4(F.tcp(b"data")))], dpi=False, inspector=insp)
    assert insp.calls == [] and sums[0][14] is None


class BrokenInspector(Inspector):
    """An inspector with a bug: the packet must still be summarised and the failure counted."""

    def inspect(
        self,
        proto: int,
        src: bytes,
        sport: int,
        dst: bytes,
        dport: int,
        payload: bytes | memoryview,
        ts: float,
        seq: int | None = None,
        flags: int = 0,
    ) -> dict[str, Any] | None:
        raise IndexError("bug")


def test_a_failing_inspector_does_not_stop_dissection() -> None:
    sums, counts, _ = run(
        [F.eth(F.ipv4(F.tcp(b"x"))), F.eth(F.ipv4(F.udp(b"y"), proto=17))],
        dpi=True,
        inspector=BrokenInspector(),
    )
    assert [s[3] for s in sums] == [6, 17] and all(s[14] is None for s in sums)
    assert counts["dpi_errors"] == 2


# --- tunnels -----------------------------------------------------------------------------
def gre(payload: bytes, ptype: int = 0x0800, flags: int = 0, extra: bytes = b"") -> bytes:
    return struct.pack("!HH", flags, ptype) + extra + payload


def test_ipip_and_6in4_report_the_inner_flow() -> None:
    inner4 = F.ipv4(F.tcp(b"abc", sport=1, dport=2), src=F.V4_B, dst=F.V4_A)
    frame = F.eth(F.ipv4(inner4, proto=4), vlans=(7,))
    s = one(frame)
    assert (s["proto"], s["src"], s["sport"], s["dport"], s["paylen"]) == (6, F.V4_B, 1, 2, 3)
    assert (s["wirelen"], s["vlan"], s["info"]) == (len(frame), [7], {"tunnel": "ipip"})
    s = one(F.eth(F.ipv4(F.ipv6(F.udp(b"q", dport=53), nxt=17), proto=41)))
    assert (s["proto"], s["src"], s["dport"], s["info"]) == (17, F.V6_A, 53, {"tunnel": "ip6ip"})


def test_gre_with_key_and_sequence() -> None:
    inner = F.ipv4(F.udp(b"x" * 9, sport=10, dport=20), proto=17)
    frame = F.eth(F.ipv4(gre(inner, flags=0x3000, extra=b"\0" * 8), proto=47))
    s = one(frame)
    assert (s["proto"], s["sport"], s["dport"], s["paylen"], s["info"]) == (17, 10, 20, 9, {"tunnel": "gre"})


def test_gre_carrying_ethernet_and_arp() -> None:
    s = one(F.eth(F.ipv4(gre(F.eth(F.arp(1), 0x0806), ptype=0x6558), proto=47)))
    assert (s["proto"], s["info"]["tunnel"], s["info"]["sha"]) == (2054, "gre", "02:00:00:00:00:01")


def test_gre_we_do_not_read_stays_gre() -> None:
    for packet in (gre(b"\0" * 20, ptype=0x880B, flags=0x0001), gre(b"\0" * 20, ptype=0x88BE)):
        s = one(F.eth(F.ipv4(packet, proto=47)))
        assert (s["proto"], s["paylen"], s["info"]) == (47, 24, None)


def test_tunnel_with_cut_or_odd_inside() -> None:
    # Inner header cut by snaplen: counted, and the outer packet is what is reported.
    frame = F.eth(F.ipv4(F.ipv4(F.tcp(b"x" * 50)), proto=4))
    sums, counts, _ = run([F.pkt(frame[:40], wirelen=len(frame))])
    assert sums[0][3] == 4 and counts["packets"] == 1 and counts["truncated"] >= 1
    # Non-IP inside gretap: the GRE packet itself.
    sums, counts, _ = run([F.eth(F.ipv4(gre(F.eth(b"\0" * 30, 0x88CC), ptype=0x6558), proto=47))])
    assert sums[0][3] == 47 and counts["packets"] == 1


def test_nested_tunnels_stop_at_the_depth_limit() -> None:
    packet = F.tcp(sport=9, dport=10)
    packet = F.ipv4(packet)
    for _ in range(6):
        packet = F.ipv4(packet, proto=4)
    sums, counts, d = run([F.eth(packet)])
    assert sums[0][3] == 4 and sums[0][14] == {"tunnel": "ipip"} and counts["packets"] == 1
    assert d._depth == 0


def test_a_packet_of_its_own_link_type_is_decoded_with_it() -> None:
    # A pcapng interface other than the first: raw IP (12) and Linux cooked v2 (276) frames in an
    # Ethernet stream, each record saying its link type; the Ethernet ones around them unchanged.
    ip = F.ipv4(F.tcp(sport=1111, dport=80))
    cooked = F.sll2(F.ipv4(F.tcp(sport=2222, dport=80)))
    eth = F.eth(F.ipv4(F.tcp(sport=3333, dport=80)))
    sums, counts, _ = run(
        [
            ["pkt", TS, len(ip), ip, 12],
            ["pkt", TS, len(cooked), cooked, 276],
            eth,
            ["pkt", TS, len(ip), ip, 147],
        ]
    )
    assert [s[5] for s in sums] == [1111, 2222, 3333]
    assert counts["packets"] == 4 and counts["other"] == 1 and counts["malformed"] == 0
    # Without its link type the raw IP frame is read as Ethernet: no TCP summary.
    sums, _, _ = run([["pkt", TS, len(ip), ip]])
    assert sums == []
