"""The tracker's in-memory state of one connection (not the record it writes).

A ``__slots__`` class: no per-instance dict, ~50 pointer-sized fields, and the
defaults are shared objects (small ints, one -1.0 float), so an idle TCP
connection costs a few hundred bytes with its key and table entry (measured by
``tests/test_track_memory.py`` and ``bench/bench_track_flood.py``).
Direction words follow the record: ``_s``/``_o`` = the originator's side,
``_d``/``_r`` = the responder's.
"""

from __future__ import annotations

from typing import Any

# Application kinds the tracker acts on (states and timeouts); everything else is KIND_NONE.
KIND_NONE = 0
KIND_DNS = 1
KIND_QUIC = 2
KIND_SSH = 3

_NEG = -1.0


class Conn:
    __slots__ = (
        "id",  # int, the record's id
        "key",  # FlowKey, the table key (lower endpoint first)
        "flip",  # bool: the originator is the key's second endpoint
        "proto",  # int, IP protocol number (2054 ARP)
        "kind",  # KIND_*: application the tracker acts on
        "first",  # float, first packet's timestamp
        "last",  # float, latest packet timestamp
        "ps",
        "bs",
        "pd",
        "bd",  # packets/bytes sent by the originator (s) and the responder (d)
        "so",
        "sr",  # TCP: originator's and responder's endpoint state; others: the state in so
        "watch",  # TCP: run the state machine on plain ACKs too (an endpoint is ACK-sensitive)
        "fin_o",
        "fin_r",  # TCP: sequence number just past each side's FIN (-1: no FIN yet)
        "nxt_o",
        "nxt_r",  # TCP: next expected sequence number per direction (-1: unknown)
        "adv_o",
        "adv_r",  # TCP: time each direction's sequence last advanced
        "retrans",
        "ooo",  # TCP: retransmitted and out-of-order segments
        "syn_ts",  # TCP: time of the originator's SYN (QUIC: of its first packet); -1 unknown
        "rtt",  # seconds, handshake round trip (TCP, QUIC), the latest echo's (ICMP); -1 unknown
        "srtt",  # seconds, TCP: smoothed live round trip (RFC 6298); -1 unknown
        "probe",  # TCP: end sequence of the local side's segment being timed; -1 none
        "probe_ts",  # TCP: when that segment was sent
        "ack_o",
        "ack_r",  # TCP: each side's latest ACK number (-1: none yet)
        "win_o",
        "win_r",  # TCP: the window each side advertised last (raw 16 bits; -1: none yet)
        "run_o",
        "run_r",  # TCP: each side's current run of duplicate ACKs
        "dups",
        "fast",  # TCP: duplicate ACKs, runs that reached 3 (fast retransmits)
        "flags_o",
        "flags_r",  # TCP: every flag each direction's segments carried, OR'd together
        "dpi",  # dict | None: DPI fields (first non-empty value wins), downstream annotations
        "vlan",  # list[int] | None, of the first packet
        "local",  # 0 unknown, 1 the originator is this host, 2 the responder is, 3 neither is
        "dirty",  # bool: changed since its last record
        "due",  # int: the expiry-wheel bucket it waits in (-1: left the table)
        "rate_t",
        "rate_bs",
        "rate_bd",  # last rate sample: time, byte counters then
        "rate_src",
        "rate_dst",  # bytes/s, smoothed
        "shown",  # int: the state its latest record showed (-1: no record yet)
        "hinted",  # bool, QUIC: rn-dissect sends quic_state hints (no guessing from packet counts)
        "tmpl",  # dict | None: a copy of its latest record while its rate is not 0 or it is over
        "tmpl_call",  # int: Tracker.reuse_records, the call whose output held tmpl itself
    )

    def __init__(self, cid: int, key: Any, flip: bool, proto: int, ts: float) -> None:
        self.id = cid
        self.key = key
        self.flip = flip
        self.proto = proto
        self.kind = KIND_NONE
        self.first = ts
        self.last = ts
        self.ps = self.bs = self.pd = self.bd = 0
        self.so = self.sr = 0  # State.NONE
        self.watch = True
        self.fin_o = self.fin_r = -1
        self.nxt_o = self.nxt_r = -1
        self.adv_o = self.adv_r = _NEG
        self.retrans = self.ooo = 0
        self.syn_ts = _NEG
        self.rtt = self.srtt = self.probe_ts = _NEG
        self.probe = self.ack_o = self.ack_r = self.win_o = self.win_r = -1
        self.run_o = self.run_r = self.dups = self.fast = 0
        self.flags_o = self.flags_r = 0
        self.dpi: dict[str, Any] | None = None
        self.vlan: Any = None
        self.local = 0
        self.dirty = False
        self.due = 0
        self.rate_t = 0.0
        self.rate_bs = self.rate_bd = 0
        self.rate_src = self.rate_dst = 0.0
        self.shown = -1
        self.hinted = False
        self.tmpl: dict[str, Any] | None = None
        self.tmpl_call = 0

    def endpoints(self) -> tuple[Any, int, Any, int]:
        """(src, sport, dst, dport): originator first."""
        _, a, ap, b, bp = self.key
        return (b, bp, a, ap) if self.flip else (a, ap, b, bp)
