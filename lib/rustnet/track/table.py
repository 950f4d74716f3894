"""The Tracker stage: folds packet summaries into connections and writes connection records.

Time is packet time: the latest summary timestamp drives expiry, refreshes and
snapshots, so replaying a capture gives the same records every time. When the
stream header says the capture is live, ``tick(now)`` also moves time forward
while no packets arrive (by the wall-clock time elapsed since the last packet, so
a remote capture with a skewed clock does not expire everything at once), and
updates are paced by the wall clock.

Hot path (:meth:`Tracker.process`): per summary, one tuple key, one dict lookup,
a few integer stores, then the named piece for its protocol: :meth:`Tracker._tcp_state`
(both endpoints' state machines, one lookup in :data:`rustnet.track.tcp_state.STEP`) only
for SYN/FIN/RST segments or while an endpoint waits for an ACK,
:meth:`Tracker._sequence` (retransmissions, out of order) only for segments with data,
:meth:`Tracker._merge_dpi` only when ``info`` is present. States are plain ints.
Expiry uses a wheel of one-second buckets checked once per second of packet time; a
connection is examined again only when its bucket comes due. Records: a connection whose
rate is not 0 keeps a copy of its latest record, and its next one refreshes only the fields
that change (``record.update``); so does one that is over (TCP TIME_WAIT/CLOSED, DNS
answered), whose final record follows within seconds.
"""

from __future__ import annotations

import heapq
import time
from collections import OrderedDict, deque
from collections.abc import Iterable
from math import exp
from typing import Any, Final

from rustnet.stream import bounds, fields
from rustnet.stream.records import (
    CLOCK,
    HEADER,
    PROTO_ARP,
    PROTO_ICMP,
    PROTO_ICMPV6,
    PROTO_TCP,
    PROTO_UDP,
    SEGMENT,
    SOCK,
    WARNING,
    Record,
    restamp_header,
)
from rustnet.track import dpi as dpi_fields
from rustnet.track import lifecycle, record
from rustnet.track.conn import KIND_DNS, KIND_NONE, KIND_QUIC, KIND_SSH, Conn
from rustnet.track.lifecycle import CLASS_OF_STATE as _CLASS_OF_STATE
from rustnet.track.lifecycle import Timeouts
from rustnet.track.rates import MIN_SPAN as _RATE_MIN_SPAN
from rustnet.track.rates import TAU as _RATE_TAU
from rustnet.track.rates import WINDOW as _RATE_WINDOW
from rustnet.track.states import ENDED_NAMES, NAMES, State
from rustnet.track.tcp_state import ACK, FIN, REUSABLE, RST, STEP, STEP_FLAGS, SYN, step_entry
from rustnet.track.tcp_state import N_STATES as _NTCP

DEFAULT_MAX_CONNECTIONS: Final = bounds.DEFAULT_MAX_CONNECTIONS
DEFAULT_HISTORY: Final = 1000
SWEEP_EVERY: Final = 1.0  # seconds of packet time between expiry checks
EVICT_BATCH: Final = 16  # connections evicted at once when the table is full
MAX_TS: Final = 1e11  # timestamps beyond year 5138 are damage, not time
MAX_VLAN: Final = bounds.MAX_VLAN
assert bounds.MAX_WIRELEN == (1 << 32) - 1  # process() tests wirelen with a shift by 32
assert bounds.MAX_WINDOW == (1 << 16) - 1  # and the window with a shift by 16
# process() checks each summary field's type by hand (one comparison each): these declared ones.
assert [f.type for f in fields.SUM[1:13]] == ["float", *["int"] * 2, "bytes", "int", "bytes", *["int"] * 6]

_M32: Final = 0xFFFFFFFF
_NEG: Final = -1.0
_HALF: Final = 0x80000000  # sequence numbers: a - b in 32-bit arithmetic below this means a >= b
_FIN_SYN_RST: Final = FIN | SYN | RST  # the segments that always go through the state machine
_FIN_SYN: Final = FIN | SYN  # the segments that take a sequence number of their own
_SYN_ACK: Final = SYN | ACK
# ARP opcodes (RFC 826, RFC 903): replies answer, everything else asks.
ARP_OP_REPLY: Final = 2
RARP_OP_REPLY: Final = 4
# A segment below the highest sequence that arrives within max(this, 1 RTT) of it is out of order,
# later it is a retransmission (no sender retransmits sooner than a round trip).
OOO_WINDOW: Final = 0.003
# Round trips (rtt_ms and the response times): how long a timed segment or request waits for its
# answer, how long a SYN or QUIC handshake packet waits for its reply, and how many requests wait
# at most (the oldest is forgotten first: hostile input cannot grow the table).
PROBE_LIFE: Final = 10.0
HANDSHAKE_LIFE: Final = 30.0
MAX_PENDING: Final = 4096
_ACK_SYN_RST: Final = ACK | SYN | RST

# States as plain ints: the hot path compares and stores them (IntEnum members compare slower).
_SYN_SENT: Final = int(State.SYN_SENT)
_SYN_RECV: Final = int(State.SYN_RECV)
_ESTABLISHED: Final = int(State.ESTABLISHED)
_QUIC_INITIAL: Final = int(State.QUIC_INITIAL)
_QUIC_HANDSHAKE: Final = int(State.QUIC_HANDSHAKE)
_QUIC_CONNECTED: Final = int(State.QUIC_CONNECTED)
_QUIC_DRAINING: Final = int(State.QUIC_DRAINING)
_QUIC_CLOSED: Final = int(State.QUIC_CLOSED)
_DNS_QUERY: Final = int(State.DNS_QUERY)
_DNS_RESPONSE: Final = int(State.DNS_RESPONSE)
_UDP_ACTIVE: Final = int(State.UDP_ACTIVE)
_UDP_IDLE: Final = int(State.UDP_IDLE)
_UDP_STALE: Final = int(State.UDP_STALE)
_ICMP_OTHER: Final = int(State.ICMP_OTHER)
_ECHO_REQUEST: Final = int(State.ECHO_REQUEST)
_ECHO_REPLY: Final = int(State.ECHO_REPLY)
_ARP_REQUEST: Final = int(State.ARP_REQUEST)
_ARP_REPLY: Final = int(State.ARP_REPLY)
_ACTIVE: Final = int(State.ACTIVE)
_IDLE: Final = int(State.IDLE)
_STALE: Final = int(State.STALE)

DNS_PORTS: Final = frozenset({53, 5353, 5355})
_APP_KIND: Final = {"DNS": KIND_DNS, "MDNS": KIND_DNS, "LLMNR": KIND_DNS, "QUIC": KIND_QUIC, "SSH": KIND_SSH}
_QUIC_HINTS: Final[dict[str, int]] = {
    "initial": _QUIC_INITIAL,
    "handshake": _QUIC_HANDSHAKE,
    "0rtt": _QUIC_HANDSHAKE,
    "connected": _QUIC_CONNECTED,
    "1rtt": _QUIC_CONNECTED,
    "short": _QUIC_CONNECTED,
    "draining": _QUIC_DRAINING,
    "closing": _QUIC_DRAINING,
    "closed": _QUIC_CLOSED,
}
_QUIC_ORDER: Final[dict[int, int]] = {
    _QUIC_INITIAL: 0,
    _QUIC_HANDSHAKE: 1,
    _QUIC_CONNECTED: 2,
    _QUIC_DRAINING: 3,
    _QUIC_CLOSED: 4,
}
# rn-dissect's req_id/resp_id protocols -> the record field their response times go in; those whose
# responses may come from any address (a multicast or broadcast query) are paired without the peer.
_TIMED_FIELD: Final = {
    "dns": "dns_response_ms",
    "llmnr": "llmnr_response_ms",
    "nbns": "netbios_response_ms",
    "stun": "stun_rtt_ms",
    "ntp": "ntp_rtt_ms",
}
_ANY_PEER: Final = frozenset({"llmnr", "nbns"})
# Without rn-dissect's quic_state hints: the handshake is taken as done once each side sent this many.
QUIC_GUESS_CONNECTED: Final = 3

# (protocol, message type) -> state; the types of RFC 792 and RFC 4443.
_ICMP_STATE: Final[dict[tuple[int, int], int]] = {
    k: int(v)
    for k, v in {
        (PROTO_ICMP, 8): State.ECHO_REQUEST,
        (PROTO_ICMP, 0): State.ECHO_REPLY,
        (PROTO_ICMP, 3): State.ICMP_UNREACHABLE,
        (PROTO_ICMP, 11): State.ICMP_TIME_EXCEEDED,
        (PROTO_ICMPV6, 128): State.ECHO_REQUEST,
        (PROTO_ICMPV6, 129): State.ECHO_REPLY,
        (PROTO_ICMPV6, 1): State.ICMP_UNREACHABLE,
        (PROTO_ICMPV6, 3): State.ICMP_TIME_EXCEEDED,
    }.items()
}

# Timeout class of a TCP connection by both endpoints' states (index so * N_STATES + sr): a closed
# end makes it closed, otherwise the originator's state decides, or the responder's when that is
# the local end. SSH is checked apart.
_TCP_CLASS: Final = tuple(
    lifecycle.C_TCP_CLOSED if so in REUSABLE or sr in REUSABLE else _CLASS_OF_STATE[so]
    for so in range(_NTCP)
    for sr in range(_NTCP)
)
_TCP_CLASS_LOCAL_RESP: Final = tuple(
    lifecycle.C_TCP_CLOSED if so in REUSABLE or sr in REUSABLE else _CLASS_OF_STATE[sr]
    for so in range(_NTCP)
    for sr in range(_NTCP)
)
_C_TCP_ESTABLISHED: Final = lifecycle.C_TCP_ESTABLISHED
_C_TCP_HANDSHAKE: Final = lifecycle.C_TCP_HANDSHAKE
# A plain SYN's connection (_new): the handshake's timeout class, whichever end is local.
assert (
    _TCP_CLASS[_SYN_SENT * _NTCP + _SYN_RECV]
    == _TCP_CLASS_LOCAL_RESP[_SYN_SENT * _NTCP + _SYN_RECV]
    == _C_TCP_HANDSHAKE
)
_C_SSH: Final = lifecycle.C_SSH
_C_QUIC_CLOSED: Final = lifecycle.C_QUIC_CLOSED
# Shown states of a connection that is over (TCP closed, DNS answered): no "rate fell to 0" update
# for it (_emit_dirty). By name, as the viewer can only go by the record (NONE reads CLOSED too).
_ENDED_SHOWN: Final = frozenset(s for s, name in NAMES.items() if name in ENDED_NAMES)


class Tracker:
    """The connection table as a :class:`rustnet.stream.stage.Stage`."""

    def __init__(
        self,
        producer: str = "rn-track",
        refresh: float = 1.0,
        timeouts: Timeouts | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        snapshot_every: float = 0.0,
        history: int = DEFAULT_HISTORY,
        local_addrs: Iterable[bytes] | None = None,
        joiner: Any = None,
        final_only: bool = False,
    ) -> None:
        self.producer = producer
        # Write final records only (and snapshots when asked): for a consumer that keeps nothing but
        # each connection's end (rustnet --read F --json). Updates are still sampled at every
        # refresh, unwritten, so each final record is the one the full stream ends with.
        self.final_only = final_only
        self.refresh = max(float(refresh), 0.0)
        self.timeouts = timeouts or Timeouts()
        self.max_connections = max(int(max_connections), 1)
        self.snapshot_every = max(float(snapshot_every), 0.0)
        self.history: deque[dict[str, Any]] = deque(maxlen=max(int(history), 0))
        self.joiner = joiner  # rustnet.track.join.SocketJoiner, when sock records may arrive
        self.live = False
        self._local: frozenset[bytes] | None = frozenset(local_addrs) if local_addrs is not None else None
        self._local_given = local_addrs is not None
        self.table: dict[tuple[Any, ...], Conn] = {}
        self.clock = 0.0  # "now": packet time, advanced by tick() when live
        self.next_event = 0.0  # the earliest of the three below: one comparison per packet
        self._next_sweep = 0.0
        self._next_emit = 0.0
        self._next_snapshot = 0.0
        self._wall_emit = 0.0  # live: wall-clock time of the next refresh
        self._wall_at_packet = 0.0  # live: wall clock when the clock last moved by a packet
        self._clock_at_packet = 0.0
        self._dirty: list[Conn] = []
        self._rating: dict[int, Conn] = {}  # conns whose last record showed a non-zero rate
        self._wheel: dict[int, list[Conn]] = {}
        self._wheel_heap: list[int] = []
        self._next_id = 1
        # Requests awaiting their response (ICMP echo, DNS, LLMNR, NetBIOS, STUN, NTP): pairing key ->
        # (time sent, the requester's connection). Bounded by MAX_PENDING, oldest out first.
        self._pending: OrderedDict[tuple[Any, ...], tuple[float, Conn]] = OrderedDict()
        # The timeout table pre-multiplied (Timeouts.by_activity), taken once: the hot path indexes it.
        self._t_single, self._t_base, self._t_busy = self.timeouts.by_activity()
        v = self.timeouts.values
        self._busy_packets = v["adjust.busy_packets"]
        self._long_lived = v["adjust.long_lived"]
        self._idle_after = v["udp.idle_after"]
        self._stale_fraction = v["udp.stale_fraction"]
        self.snapshot_requested = False
        # Set by a caller that only encodes the records it gets and drops them, and calls released()
        # once it has (rn-track: its writer's flush): a record's dict then serves as its
        # connection's copy for the next record (_record), instead of a copy made for it (8% of
        # rn-track's CPU on short flows). Not with a joiner (it changes the records it is given).
        self.reuse_records = False
        self._calls = 0  # process, tick and finish calls so far
        self._released = 0  # the output of calls up to this one is no longer referenced elsewhere
        self._recording: tuple[Any, Any] | None = None  # (source, start) of the current stream header
        self._marks = False  # write clock records (a shard's stream: _other)
        # Counters (also reported at the end in a warn record when something was lost).
        self.connections = 0
        self.expired = 0
        self.evicted = 0
        self.bad_records = 0
        self.unattributed = 0  # malformed summaries and non-final IP fragments

    # --- Stage protocol -------------------------------------------------------
    def released(self) -> None:
        """Every record returned so far is encoded and dropped by the caller (reuse_records)."""
        self._released = self._calls

    def process(self, recs: list[Record]) -> list[Record]:
        self._calls += 1
        out: list[Record] = []
        # Methods are called through self, not bound to locals: compiled, that is a direct C call
        # (a bound method boxes every argument and goes through Python's calling convention).
        table = self.table
        dirty = self._dirty
        clock = self.clock
        edge = self.next_event
        for rec in recs:
            if type(rec) is not list or not rec or rec[0] != "sum":
                if type(rec) is not tuple or rec[0] is not SEGMENT:
                    self.clock = clock
                    self._other(rec, out)
                    clock, edge = self.clock, self.next_event
                    continue
                # A segment of an established TCP flow from the dissect engine in this process
                # (rustnet.stream.records.SEGMENT): what the summary would do, for a known
                # connection; types checked there, no SYN, FIN or RST, no info.
                _t, key, low, ts, wl, flags, seq, ack, plen, _w = rec
                if ts > clock:
                    clock = ts
                    if clock >= edge:
                        self.clock = clock
                        self._timers(out)
                        edge = self.next_event
                c = table.get(key)
                if c is not None:
                    if low is not c.flip:
                        c.ps += 1
                        c.bs += wl
                        c.flags_o |= flags
                        fwd = True
                    else:
                        c.pd += 1
                        c.bd += wl
                        c.flags_r |= flags
                        fwd = False
                    if ts > c.last:
                        c.last = ts
                    if c.watch:
                        self._tcp_state(c, fwd, ts, flags, seq, ack, plen)
                    if plen:
                        self._sequence(c, fwd, ts, seq, plen)
                    if flags & ACK:
                        self._acked(c, fwd, ts, flags, ack, plen, _w)
                    if not c.dirty:
                        c.dirty = True
                        dirty.append(c)
                    continue
                # A new connection: the summary itself, through the general path.
                _, a, ap, b, bp = key
                if low:
                    rec = ["sum", ts, wl, PROTO_TCP, a, ap, b, bp, flags, seq, ack, plen, _w, None, None]
                else:
                    rec = ["sum", ts, wl, PROTO_TCP, b, bp, a, ap, flags, seq, ack, plen, _w, None, None]
            try:
                try:
                    _t, ts, wl, proto, src, sp, dst, dp, flags, seq, ack, plen, _w, vlan, info = rec
                except ValueError:
                    _t, ts, wl, proto, src, sp, dst, dp, flags, seq, ack, plen, _w, vlan, info = (
                        rec + [0] * 15
                    )[:15]
                # Every field's type exactly as declared (rustnet.stream.fields.SUM), before anything
                # changes: a wrong-typed field is a damaged summary, counted, whichever build runs
                # (compiled, the annotations would reject or coerce it elsewhere, after changes).
                # wl >> 32 is 0 exactly for 0 <= wl <= MAX_WIRELEN (pcap's 32-bit length field): one
                # operation rejects a negative length and one past 32 bits (counters stay in 64 bits).
                # Likewise the window (TCP's 16 bits): records carry it, and _acked compares it.
                if (
                    type(ts) is not float
                    or not 0.0 < ts < MAX_TS
                    or type(wl) is not int
                    or wl >> 32
                    or type(proto) is not int
                    or type(src) is not bytes
                    or type(dst) is not bytes
                    or type(sp) is not int
                    or type(dp) is not int
                    or type(flags) is not int
                    or type(seq) is not int
                    or type(ack) is not int
                    or type(plen) is not int
                    or type(_w) is not int
                    or _w >> 16
                ):
                    self.bad_records += 1
                    continue
                if ts > clock:
                    clock = ts
                    if clock >= edge:
                        self.clock = clock
                        self._timers(out)
                        edge = self.next_event
                if (
                    info is not None
                    and type(info) is dict
                    and ("malformed" in info or ("frag" in info and info["frag"] == "part"))
                ):
                    # Not dissected to L4, or a fragment before the one completing its datagram:
                    # like tshark's conversation tables, no connection counts it.
                    self.unattributed += 1
                    continue
                if proto != PROTO_TCP and proto != PROTO_UDP:
                    mtype = sp
                    sp = dp = 0
                if src < dst or (src == dst and sp <= dp):
                    key = (proto, src, sp, dst, dp)
                    low = True
                else:
                    key = (proto, dst, dp, src, sp)
                    low = False
                c = table.get(key)
                opened = False  # the new connection's first segment was fully taken in by _new
                if c is None:
                    self.clock = clock
                    c, opened = self._new(key, low, ts, proto, flags, seq, vlan, src, dst, out)
                elif (
                    proto == PROTO_TCP and flags & _SYN_ACK == SYN and (c.so in REUSABLE or c.sr in REUSABLE)
                ):
                    # A SYN on a closed tuple: port reuse, a new generation.
                    self.clock = clock
                    self._end(c, "reused", out)
                    c, opened = self._new(key, low, ts, proto, flags, seq, vlan, src, dst, out)
                fwd = low is not c.flip
                if fwd:
                    c.ps += 1
                    c.bs += wl
                else:
                    c.pd += 1
                    c.bd += wl
                if ts > c.last:
                    c.last = ts
                if proto == PROTO_TCP:
                    if fwd:
                        c.flags_o |= flags & 0xFF
                    else:
                        c.flags_r |= flags & 0xFF
                    if (flags & _FIN_SYN_RST or c.watch) and not opened:
                        self._tcp_state(c, fwd, ts, flags, seq, ack, plen)
                    if plen and not flags & SYN:
                        self._sequence(c, fwd, ts, seq, plen)
                    if flags & _ACK_SYN_RST == ACK:
                        self._acked(c, fwd, ts, flags, ack, plen, _w)
                elif proto == PROTO_UDP:
                    if c.kind:
                        self._udp_app(c, fwd, sp, dp, info)
                elif proto == PROTO_ICMP or proto == PROTO_ICMPV6:
                    st = c.so = _ICMP_STATE.get((proto, mtype), _ICMP_OTHER)
                    if st == _ECHO_REQUEST or st == _ECHO_REPLY:
                        self._echo(c, fwd, ts, st == _ECHO_REPLY, src, dst, seq, ack)
                elif proto == PROTO_ARP:
                    c.so = _ARP_REPLY if mtype == ARP_OP_REPLY or mtype == RARP_OP_REPLY else _ARP_REQUEST
                if info is not None and type(info) is dict:
                    self._merge_dpi(c, fwd, info)
                    if "req_id" in info or "resp_id" in info:
                        self._timed(c, fwd, ts, src, sp, dst, dp, info)
                if not c.dirty:
                    c.dirty = True
                    dirty.append(c)
            except (TypeError, ValueError, AttributeError, IndexError, KeyError, OverflowError):
                # Hostile or damaged summary (wrong types, unhashable addresses): counted, skipped.
                self.bad_records += 1
        self.clock = clock
        if self.live:
            now = time.time()
            self._clock_at_packet, self._wall_at_packet = clock, now
            if now >= self._wall_emit and (self._dirty or self._rating):
                self._wall_emit = now + self.refresh
                self._emit_dirty(out)
        if self.snapshot_requested:
            self.snapshot_requested = False
            self._snapshot(out)
        return out

    def tick(self, now: float) -> list[Record]:
        """Live only: advance time while quiet, expire, refresh. Replays ignore the wall clock."""
        self._calls += 1
        out: list[Record] = []
        if self.live and self._wall_at_packet > 0:
            advanced = self._clock_at_packet + max(0.0, now - self._wall_at_packet)
            if advanced > self.clock:
                self.clock = advanced
                if advanced >= self.next_event:
                    self._timers(out)
            if now >= self._wall_emit and (self._dirty or self._rating):
                self._wall_emit = now + self.refresh
                self._emit_dirty(out)
        if self.snapshot_requested:
            self.snapshot_requested = False
            self._snapshot(out)
        return out

    def finish(self) -> list[Record]:
        """End of input: the final record of every connection still in the table."""
        self._calls += 1
        out: list[Record] = []
        self._end_all(out)
        lost = []
        if self.evicted:
            lost.append(f"{self.evicted} connections evicted at the cap of {self.max_connections}")
        if self.bad_records:
            lost.append(f"{self.bad_records} damaged packet summaries skipped")
        if lost:
            out.append(
                {"t": WARNING, "ts": self.clock, "stage": self.producer.split()[0], "msg": "; ".join(lost)}
            )
        return out

    def _end_all(self, out: list[Record]) -> None:
        conns = list(self.table.values())
        self.table.clear()  # at once, not one key at a time (_end)
        for c in conns:
            self._left(c, "eof", out)
        self._dirty.clear()
        self._rating.clear()
        self._pending.clear()
        self._wheel.clear()
        self._wheel_heap.clear()
        self.clock = self.next_event = 0.0
        self._next_sweep = self._next_emit = self._next_snapshot = 0.0
        self._wall_at_packet = self._clock_at_packet = 0.0

    # --- records other than summaries -------------------------------------------
    def _other(self, rec: Record, out: list[Record]) -> None:
        if type(rec) is list and rec and rec[0] == CLOCK:
            self._follow(rec, out)  # another shard's packet times: consumed here, not passed on
            return
        if isinstance(rec, dict):
            tag = rec.get("t")
            if tag == HEADER:
                ident = (rec.get("source"), rec.get("start"))
                if self._recording is not None and ident != self._recording:
                    # Another recording follows (cat a.rn b.rn): the previous one's connections
                    # end with it, and its clock is not this one's.
                    self._end_all(out)
                self._recording = ident
                self.live = bool(rec.get("live"))
                # A shard of a file (rn-capture --shard): mark each expiry and refresh round with
                # its packet time, so rn-merge can put the shards' records in one time order.
                self._marks = "shard" in rec and not self.live
                if self.live and not self._local_given:
                    # The capturing host's addresses when its header says them (it may be another
                    # host: rustnet --remote), else this host's.
                    self._local = header_addresses(rec.get("addrs")) or self._local or local_addresses()
                out.append(restamp_header(rec, self.producer))
                return
            if tag == SOCK:
                try:
                    if self.joiner is None:
                        # Only a stream from an upstream rn-enrich carries sockets: join from then on.
                        from rustnet.track.join import SocketJoiner

                        self.joiner = SocketJoiner()
                    self.joiner.add(rec)
                except Exception:  # a joiner problem must not stop tracking
                    self.bad_records += 1
        out.append(rec)

    def _follow(self, rec: Record, out: list[Record]) -> None:
        """A ``clock`` record (rn-capture --shard): time moves through the timestamps of packets
        another shard tracks, exactly as their summaries would move it here (expiry and refreshes
        then come at the same packet times as in one unsharded tracker)."""
        assert isinstance(rec, list)
        clock = self.clock
        edge = self.next_event
        for ts in rec[1:]:
            if type(ts) is float and clock < ts < MAX_TS:
                clock = ts
                if clock >= edge:
                    self.clock = clock
                    self._timers(out)
                    edge = self.next_event
        self.clock = clock

    # --- connections --------------------------------------------------------------
    def _new(
        self,
        key: tuple[Any, ...],
        low: bool,
        ts: float,
        proto: int,
        flags: int,
        seq: int,
        vlan: Any,
        src: Any,
        dst: Any,
        out: list[Record],
    ) -> tuple[Conn, bool]:
        """A new connection for this packet; True when its TCP state is already set from it."""
        if (key[2] | key[4]) >> 16:
            # A port (or ICMP/ARP's 0) outside 0..65535, or not an integer (TypeError): damaged,
            # counted by process(); checked once per connection, not per packet.
            raise ValueError("port out of range")
        table = self.table
        if len(table) >= self.max_connections:
            self._evict(out)
        # Originator: the sender, except for a lone SYN-ACK, which the responder sends.
        sender_is_orig = not (proto == PROTO_TCP and flags & _SYN_ACK == _SYN_ACK)
        flip = (not low) if sender_is_orig else low
        c = Conn(self._next_id, key, flip, proto, ts)
        self._next_id += 1
        self.connections += 1
        if (
            vlan
            and isinstance(vlan, list)
            and len(vlan) <= 8
            and all(type(v) is int and 0 <= v <= MAX_VLAN for v in vlan)
        ):
            c.vlan = vlan
        opened = False
        if proto == PROTO_TCP:
            if flags & STEP_FLAGS == SYN:
                # A plain SYN, the usual first segment (and a SYN flood's only one): what the state
                # machine would do, without it.
                c.so, c.sr = _SYN_SENT, _SYN_RECV  # watch stays set: SYN_RECV waits for an ACK
                c.nxt_o = (seq + 1) & _M32
                c.adv_o = c.syn_ts = ts
                opened = True
            # Otherwise the first segment goes through the machine (watch is set).
        else:
            c.watch = False
            if proto == PROTO_UDP:
                _, _, ap, _, bp = key
                if ap in DNS_PORTS or bp in DNS_PORTS:
                    c.kind = KIND_DNS
                    c.so = _DNS_QUERY
                else:
                    c.so = _UDP_ACTIVE
            elif proto == PROTO_ICMP or proto == PROTO_ICMPV6:
                c.so = _ICMP_OTHER
            elif proto == PROTO_ARP:
                c.so = _ARP_REQUEST
            else:
                c.so = _ACTIVE
        local = self._local
        if self.live and local:
            orig, resp = (dst, src) if sender_is_orig is False else (src, dst)
            c.local = 1 if orig in local else 2 if resp in local else 3
        table[key] = c
        # _timeout(c) without the call: no packet counted yet (the single-packet timeout), and no
        # state here is SSH's or QUIC's (its class by state alone; a SYN's is the handshake's).
        if opened:
            self._schedule(c, ts + self._t_single[_C_TCP_HANDSHAKE])
        elif proto != PROTO_TCP:
            self._schedule(c, ts + self._t_single[_CLASS_OF_STATE[c.so]])
        # Other TCP: the first segment always changes the state, and process() schedules then.
        return c, opened

    def _end(self, c: Conn, why: str, out: list[Record]) -> None:
        """``c`` leaves the live table: its final record goes out and into the history."""
        table = self.table
        if table.get(c.key) is c:
            del table[c.key]
        self._left(c, why, out)

    def _left(self, c: Conn, why: str, out: list[Record]) -> None:
        """``c``, no longer in the table: its final record goes out and into the history."""
        c.due = -1
        c.dirty = True  # not queued again for updates
        if why == "timeout" and c.so == _QUIC_DRAINING:
            c.so = _QUIC_CLOSED
        rec = self._record(c, self.clock, final=True)
        if why == "eof" and c.proto == 6 and c.shown in _ENDED_SHOWN:
            # Over, and so is the input: no time is left for its rate to fall to 0 in (the rule
            # of rustnet.track.rates), and a rate would say traffic goes on. The end's rate is 0.
            rec["rate_src"] = rec["rate_dst"] = 0
        rec["final"] = True
        rec["end"] = why
        out.append(rec)
        if self.history.maxlen:
            self.history.append(rec)

    def _evict(self, out: list[Record]) -> None:
        """At the cap: the connections nearest their expiry go first (counted), a few at a time.

        That is the expiry wheel run early: the earliest bucket holds the connections idle
        longest for their state's timeout; one active since it was scheduled moves to its
        real bucket instead, so a busy connection is never taken for an idle one.
        """
        heap, wheel = self._wheel_heap, self._wheel
        dirty = self._dirty
        if len(dirty) > 2 * self.max_connections:
            # A flood within one refresh period: the update queue still holds every evicted
            # connection (memory grew with connections seen, not the cap). In place: process()
            # holds this list in a local.
            dirty[:] = [c for c in dirty if c.due >= 0]
        want = EVICT_BATCH
        while want and heap:
            b = heap[0]
            lst = wheel.get(b)
            if not lst:
                heapq.heappop(heap)
                wheel.pop(b, None)
                continue
            c = lst.pop()
            if c.due != b:
                continue
            deadline = c.last + self._timeout(c)
            if int(deadline) + 1 > b:
                self._schedule(c, deadline)
                continue
            self._end(c, "evicted", out)
            self.evicted += 1
            want -= 1
        if len(self.table) >= self.max_connections:
            # Only possible when the wheel lost track (never expected): fall back to a scan.
            for c in heapq.nsmallest(EVICT_BATCH, self.table.values(), key=_last_seen):
                self._end(c, "evicted", out)
                self.evicted += 1

    # --- TCP: both endpoints' states, and sequence analysis ----------------------------
    def _tcp_state(self, c: Conn, fwd: bool, ts: float, flags: int, seq: int, ack: int, plen: int) -> None:
        """A segment through both endpoints' state machines (rustnet.track.tcp_state: one table
        lookup), for SYN/FIN/RST segments and while an endpoint waits for an ACK. Also marks where
        each side's SYN and FIN end (what the sequence analysis and a later ACK are measured
        against), takes the handshake's round trip, and brings the expiry forward when the new
        state's timeout is shorter."""
        so = c.so
        sr = c.sr
        acks_fin = False  # does this segment's ACK cover a FIN the receiver sent?
        if flags & ACK:
            fin = c.fin_r if fwd else c.fin_o
            acks_fin = fin >= 0 and (ack - fin) & _M32 < _HALF
        # The STEP key: both endpoints' states, the flags a step depends on, the direction, and
        # whether the ACK covers the receiver's FIN (the layout tcp_state.step_entry decodes).
        i = ((((so * _NTCP + sr) << 5) | (flags & STEP_FLAGS)) << 2) | (fwd << 1) | acks_fin
        e = STEP.get(i)
        if e is None:
            e = step_entry(i)
        nso, nsr, watch = e
        if flags & _FIN_SYN:
            if flags & FIN:
                # A FIN takes one sequence number after the data (and the SYN's, on a SYN+FIN).
                end = (seq + plen + 1 + (1 if flags & SYN else 0)) & _M32
                if fwd:
                    c.fin_o = end
                else:
                    c.fin_r = end
            if flags & SYN:
                end = (seq + 1) & _M32
                if fwd:
                    c.nxt_o = end
                    c.adv_o = ts
                    if not flags & ACK and c.rtt < 0:
                        c.syn_ts = ts  # a resent SYN: the SYN-ACK answers the latest (tshark's reading)
                else:
                    c.nxt_r = end
                    c.adv_r = ts
                    if flags & ACK and c.syn_ts >= 0 and c.rtt < 0 and ts - c.syn_ts <= HANDSHAKE_LIFE:
                        c.rtt = ts - c.syn_ts  # until the handshake's ACK refines it
                        c.tmpl = None
        if fwd and sr == _SYN_RECV and nsr == _ESTABLISHED and 0 <= ts - c.syn_ts <= HANDSHAKE_LIFE:
            c.rtt = ts - c.syn_ts  # SYN -> SYN-ACK -> ACK: a full round trip wherever we sit
            c.tmpl = None
        c.watch = watch
        if nso != so or nsr != sr:
            c.so = nso
            c.sr = nsr
            due = c.due
            if due >= 0:
                # Bring the expiry forward if the new state's timeout is shorter (a later one is
                # found when the current bucket comes due): _timeout and _reschedule inline.
                if c.local == 2:
                    cls = _TCP_CLASS_LOCAL_RESP[nso * _NTCP + nsr]
                else:
                    cls = _TCP_CLASS[nso * _NTCP + nsr]
                if cls <= _C_TCP_ESTABLISHED and c.kind == KIND_SSH:
                    cls = _C_SSH
                n = c.ps + c.pd
                if n <= 1:
                    deadline = c.last + self._t_single[cls]
                elif n >= self._busy_packets and c.last - c.first >= self._long_lived:
                    deadline = c.last + self._t_busy[cls]
                else:
                    deadline = c.last + self._t_base[cls]
                # int(deadline) + 1 < due, without the call (deadline >= 0, due an int)
                if due == 0 or deadline < due - 1:
                    self._schedule(c, deadline)

    @staticmethod
    def _sequence(c: Conn, fwd: bool, ts: float, seq: int, plen: int) -> None:
        """Sequence analysis of a segment carrying data (not a SYN's: TCP Fast Open data starts
        after the ISN the SYN already accounted for): the next expected sequence number of its
        side moves on, or the segment is counted as a retransmission or as out of order (soon
        after its side's highest: unless the receiver has sent 2 duplicate ACKs or more, which
        makes it a fast retransmission, as tshark reads it)."""
        end = (seq + plen) & _M32
        if fwd:
            nxt = c.nxt_o
            if nxt < 0 or (seq - nxt) & _M32 < _HALF:
                c.nxt_o = end
                c.adv_o = ts
                if c.local < 2 and (c.probe < 0 or ts - c.probe_ts > PROBE_LIFE):
                    c.probe = end  # the local side's new data: timed until an ACK covers it
                    c.probe_ts = ts
            elif not (plen == 1 and (nxt - seq) & _M32 == 1):  # not a keep-alive probe
                if c.run_r < 2 and ts - c.adv_o < (c.rtt if c.rtt > OOO_WINDOW else OOO_WINDOW):
                    c.ooo += 1
                else:
                    c.retrans += 1
                if (end - nxt) & _M32 < _HALF and end != nxt:
                    c.nxt_o = end
                if c.local < 2:
                    c.probe = -1  # Karn: an ACK after a resend cannot tell which copy it answers
        else:
            nxt = c.nxt_r
            if nxt < 0 or (seq - nxt) & _M32 < _HALF:
                c.nxt_r = end
                c.adv_r = ts
                if c.local == 2 and (c.probe < 0 or ts - c.probe_ts > PROBE_LIFE):
                    c.probe = end
                    c.probe_ts = ts
            elif not (plen == 1 and (nxt - seq) & _M32 == 1):
                if c.run_o < 2 and ts - c.adv_r < (c.rtt if c.rtt > OOO_WINDOW else OOO_WINDOW):
                    c.ooo += 1
                else:
                    c.retrans += 1
                if (end - nxt) & _M32 < _HALF and end != nxt:
                    c.nxt_r = end
                if c.local == 2:
                    c.probe = -1

    @staticmethod
    def _acked(c: Conn, fwd: bool, ts: float, flags: int, ack: int, plen: int, win: int) -> None:
        """A segment's acknowledgement (no SYN or RST): duplicate ACKs (RFC 5681: no data, no
        FIN, the sender's previous ACK number and window again, the window not 0, data of the
        other side outstanding), their runs (the third is a fast retransmit), and the live round
        trip when it covers the local side's timed segment."""
        # Sequence arithmetic without masking (ints past 2**30 cost an allocation each): b is after
        # a when b > a and b - a < 2**31, or b < a and a - b > 2**31 (it wrapped).
        if fwd:
            last = c.ack_o
            if ack != last:
                if (ack - last < _HALF or last < 0) if ack > last else last - ack > _HALF:
                    if last < 0:
                        c.tmpl = None  # its first: the record gains a window field
                    c.ack_o = ack  # forward (an older ACK arriving late changes nothing)
                    c.win_o = win
                    if c.run_o:
                        c.run_o = 0
            elif win != c.win_o:
                c.win_o = win  # a window update: not a duplicate; the run goes on
            elif not plen and win and not flags & FIN:
                nxt = c.nxt_r  # the acknowledged side's highest sequence: data outstanding?
                if nxt - ack < _HALF if nxt > ack else ack - nxt > _HALF and nxt >= 0:
                    c.dups += 1
                    c.run_o += 1
                    if c.run_o == 3:
                        c.fast += 1
        else:
            last = c.ack_r
            if ack != last:
                if (ack - last < _HALF or last < 0) if ack > last else last - ack > _HALF:
                    if last < 0:
                        c.tmpl = None
                    c.ack_r = ack
                    c.win_r = win
                    if c.run_r:
                        c.run_r = 0
            elif win != c.win_r:
                c.win_r = win
            elif not plen and win and not flags & FIN:
                nxt = c.nxt_o
                if nxt - ack < _HALF if nxt > ack else ack - nxt > _HALF and nxt >= 0:
                    c.dups += 1
                    c.run_r += 1
                    if c.run_r == 3:
                        c.fast += 1
        probe = c.probe
        if (
            probe >= 0
            and fwd is (c.local == 2)
            and (ack - probe < _HALF if ack >= probe else probe - ack > _HALF)
        ):
            # The peer acknowledged the local side's timed segment: a live round trip.
            sample = ts - c.probe_ts
            c.probe = -1
            if 0.0 <= sample <= PROBE_LIFE:
                srtt = c.srtt
                if srtt < 0:
                    c.srtt = sample
                    c.tmpl = None  # the record's round trip changes kind
                else:
                    c.srtt = srtt + (sample - srtt) * 0.125

    # --- request / response round trips ------------------------------------------------
    def _echo(
        self, c: Conn, fwd: bool, ts: float, reply: bool, src: Any, dst: Any, ident: int, seq: int
    ) -> None:
        """An ICMP echo request of the local side waits for the reply with its identifier and
        sequence; the reply's round trip is the connection's latest. Either shows its identifier
        and sequence (the latest)."""
        d = c.dpi
        if d is None:
            d = c.dpi = {}
        if d.get("echo_seq") != seq or d.get("echo_id") != ident:
            d["echo_id"] = ident
            d["echo_seq"] = seq
            c.tmpl = None
        if reply:
            got = self._answered(("echo", dst, src, ident, seq), ts)
            if got is not None and got[1] is c:
                c.rtt = got[0]
                c.tmpl = None
        elif _sends(c, fwd):
            self._asked(("echo", src, dst, ident, seq), ts, c)

    def _asked(self, key: tuple[Any, ...], ts: float, c: Conn) -> None:
        pending = self._pending
        if key in pending:
            del pending[key]  # asked again (a retry): timed from now
        elif len(pending) >= MAX_PENDING:
            pending.popitem(last=False)
        pending[key] = (ts, c)

    def _answered(self, key: tuple[Any, ...], ts: float) -> tuple[float, Conn] | None:
        """(round trip, the request's connection) of the request ``key`` answers, once; None when
        nothing asked it within PROBE_LIFE."""
        got = self._pending.pop(key, None)
        if got is None:
            return None
        asked, c = got
        took = ts - asked
        return (took, c) if 0.0 <= took <= PROBE_LIFE else None

    def _timed(
        self, c: Conn, fwd: bool, ts: float, src: Any, sp: int, dst: Any, dp: int, info: dict[str, Any]
    ) -> None:
        """A request of the local side waits for its response (rn-dissect's req_id, resp_id); the
        response's time goes on the request's connection, and on the response's when that is
        another one (LLMNR and NetBIOS answer a multicast or broadcast query by unicast)."""
        tok = info.get("req_id")
        if type(tok) is str and _sends(c, fwd):
            kind = tok.partition(" ")[0]
            if kind in _TIMED_FIELD:
                self._asked((tok, src, sp) if kind in _ANY_PEER else (tok, src, sp, dst, dp), ts, c)
        tok = info.get("resp_id")
        if type(tok) is str:
            kind = tok.partition(" ")[0]
            name = _TIMED_FIELD.get(kind)
            if name is not None:
                got = self._answered((tok, dst, dp) if kind in _ANY_PEER else (tok, dst, dp, src, sp), ts)
                if got is not None:
                    took, asker = got
                    ms = round(took * 1000.0, 3)
                    for conn in (asker, c) if asker is not c else (c,):
                        if conn.due >= 0 or conn is c:
                            d = conn.dpi
                            if d is None:
                                d = conn.dpi = {}
                            d[name] = ms
                            conn.tmpl = None
                            if not conn.dirty and conn.due >= 0:
                                conn.dirty = True
                                self._dirty.append(conn)

    # --- UDP applications ------------------------------------------------------------
    def _udp_app(self, c: Conn, fwd: bool, sp: int, dp: int, info: Any) -> None:
        kind = c.kind
        if kind == KIND_DNS:
            if c.so != _DNS_RESPONSE:
                response = False
                if info is not None and type(info) is dict and "dns_rcode" in info:
                    response = True
                elif sp in DNS_PORTS and dp not in DNS_PORTS:
                    response = True
                elif sp in DNS_PORTS and dp in DNS_PORTS:
                    response = not fwd
                if response:
                    c.so = _DNS_RESPONSE
                    self._reschedule(c)
        elif kind == KIND_QUIC:
            if c.rtt < 0 and c.syn_ts >= 0 and not _sends(c, fwd):
                # The peer's reply to the local side's latest handshake packet.
                took = c.last - c.syn_ts
                c.syn_ts = _NEG
                if took <= HANDSHAKE_LIFE:
                    c.rtt = took
                    c.tmpl = None
            if not c.hinted:
                # No hints from rn-dissect: the first answer means handshake, a few each way connected.
                st = c.so
                if st == _QUIC_INITIAL and not fwd:
                    self._quic_to(c, _QUIC_HANDSHAKE)
                elif st == _QUIC_HANDSHAKE and min(c.ps, c.pd) >= QUIC_GUESS_CONNECTED:
                    self._quic_to(c, _QUIC_CONNECTED)

    def _quic_to(self, c: Conn, st: int) -> None:
        """Move a QUIC connection forward (never back: a late Initial does not reopen it)."""
        if _QUIC_ORDER.get(st, 0) > _QUIC_ORDER.get(c.so, -1):
            c.so = st
            self._reschedule(c)

    # --- DPI -------------------------------------------------------------------------
    def _merge_dpi(self, c: Conn, fwd: bool, info: dict[str, Any]) -> None:
        """rn-dissect's DPI fields into the connection (rustnet.track.dpi, bounded); an application
        found for the first time may change what kind of connection it is (QUIC, DNS, SSH)."""
        d = c.dpi
        if d is None:
            d = c.dpi = {}
        had_app = "app" in d  # the first value stays (fields.FIRST): only a first one is news
        if dpi_fields.merge(d, info):
            c.tmpl = None  # the record's DPI fields changed
            app = None if had_app else d.get("app")
            if isinstance(app, str):
                kind = _APP_KIND.get(app.upper(), KIND_NONE)
                if kind and c.kind != kind and (kind == KIND_SSH) == (c.proto == PROTO_TCP):
                    c.kind = kind
                    if kind == KIND_QUIC:
                        c.so = _QUIC_INITIAL
                    elif kind == KIND_DNS and c.so != _DNS_QUERY and c.so != _DNS_RESPONSE:
                        c.so = _DNS_RESPONSE if "dns_rcode" in info else _DNS_QUERY
                    self._reschedule(c)
        if c.kind == KIND_QUIC:
            ptype = info.get("quic_packet")
            if (ptype == "initial" or ptype == "handshake") and c.rtt < 0 and _sends(c, fwd):
                c.syn_ts = c.last  # the local side's handshake packet: timed (again) from now
            hint = info.get("quic_state")
            if isinstance(hint, str):
                st = _QUIC_HINTS.get(hint.lower().removeprefix("quic_"))
                if st is not None:
                    c.hinted = True
                    self._quic_to(c, st)
            if "quic_close" in info:
                self._quic_to(c, _QUIC_DRAINING)

    # --- expiry ----------------------------------------------------------------------
    def _timeout(self, c: Conn) -> float:
        """``Timeouts.timeout`` for ``c``'s class and activity, from the pre-multiplied tables
        (process() has a copy of the TCP case inline)."""
        if c.proto == PROTO_TCP:
            cls = (_TCP_CLASS_LOCAL_RESP if c.local == 2 else _TCP_CLASS)[c.so * _NTCP + c.sr]
            if cls <= _C_TCP_ESTABLISHED and c.kind == KIND_SSH:
                cls = _C_SSH
        else:
            so = c.so
            if so == _QUIC_DRAINING and c.dpi is not None and "quic_close" in c.dpi:
                cls = _C_QUIC_CLOSED  # a CONNECTION_CLOSE was seen: 3 x RTT, 1-10 s
            else:
                cls = _CLASS_OF_STATE[so]
            if cls == _C_QUIC_CLOSED:
                return self.timeouts.quic_close(c.rtt)
        n = c.ps + c.pd
        if n <= 1:
            return self._t_single[cls]
        if n >= self._busy_packets and c.last - c.first >= self._long_lived:
            return self._t_busy[cls]
        return self._t_base[cls]

    def _schedule(self, c: Conn, deadline: float) -> None:
        b = int(deadline) + 1
        c.due = b
        lst = self._wheel.get(b)
        if lst is None:
            self._wheel[b] = [c]
            heapq.heappush(self._wheel_heap, b)
        else:
            lst.append(c)

    def _reschedule(self, c: Conn) -> None:
        """After a state change: bring the expiry forward if the new state's timeout is shorter
        (a later one is found when the current bucket comes due). Schedules a new connection."""
        due = c.due
        if due < 0:
            return
        deadline = c.last + self._timeout(c)
        if due == 0 or int(deadline) + 1 < due:
            self._schedule(c, deadline)

    def _sweep(self, out: list[Record]) -> None:
        now = self.clock
        heap, wheel = self._wheel_heap, self._wheel
        while heap and heap[0] <= now:
            b = heapq.heappop(heap)
            for c in wheel.pop(b, ()):
                if c.due != b:
                    continue  # rescheduled since, or gone
                deadline = c.last + self._timeout(c)
                if deadline <= now:
                    self.expired += 1
                    self._end(c, "timeout", out)
                    continue
                so = c.so
                if so == _UDP_ACTIVE or so == _ACTIVE:
                    # Activity states change with idle time alone: an update when the shown one is
                    # out of date, and a wake-up at the next change.
                    if c.shown >= 0 and not c.dirty and self._display(c, now) != c.shown:
                        c.dirty = True
                        self._dirty.append(c)
                    for change in (
                        c.last + self._idle_after,
                        c.last + (deadline - c.last) * self._stale_fraction,
                    ):
                        if now < change < deadline:
                            deadline = change
                            break
                self._schedule(c, deadline)

    # --- output ----------------------------------------------------------------------
    def _timers(self, out: list[Record]) -> None:
        now = self.clock
        if self._marks:
            out.append([CLOCK, now])
        if not self._next_sweep:
            self._next_sweep = now + SWEEP_EVERY
            self._next_emit = now + self.refresh
            self._next_snapshot = now + self.snapshot_every if self.snapshot_every else 0.0
        if now >= self._next_sweep:
            self._sweep(out)
            self._next_sweep = now + SWEEP_EVERY
        if not self.live and now >= self._next_emit:
            self._emit_dirty(out)
            self._next_emit = now + self.refresh
        if self._next_snapshot and now >= self._next_snapshot:
            self._snapshot(out)
            self._next_snapshot = now + self.snapshot_every
        nxt = self._next_sweep
        if not self.live and self._next_emit < nxt:
            nxt = self._next_emit
        if self._next_snapshot and self._next_snapshot < nxt:
            nxt = self._next_snapshot
        self.next_event = nxt

    def _emit_dirty(self, out: list[Record]) -> None:
        now = self.clock
        dirty = self._dirty[:]
        self._dirty.clear()  # in place: process() holds this list in a local
        rating = self._rating
        write = not self.final_only
        # Unwritten updates still take their rate sample (rates are smoothed from one record to the
        # next); the joiner, when there is one, still sees each record (it may keep process fields).
        for c in dirty:
            c.dirty = False
            if c.due >= 0:
                self._update(c, now, write, out)
        # Connections gone quiet: their rate still falls to 0, and the viewer should see that;
        # except one shown over (TCP TIME_WAIT or CLOSED, DNS answered: flow-heavy traffic is mostly
        # these), and the viewer reads its rate as 0 once rates.WINDOW has passed since its
        # last_seen (rustnet.view.model). Its rate falls to 0 here all the same, as writing the
        # record would have done (no packet since its last record: the sample reads 0; the shown
        # state cannot change without one), so every later record is unchanged.
        for c in list(rating.values()):
            if c.rate_t == now or c.due < 0:
                continue  # just written above, or gone
            if c.shown in _ENDED_SHOWN and c.bs == c.rate_bs and c.bd == c.rate_bd:
                if self.joiner is None:
                    c.rate_src = c.rate_dst = 0.0
                    c.rate_t = now
                    del rating[c.id]  # its record copy stays (_record): rates are refreshed from c
                else:
                    self._record(c, now)  # the joiner may keep process fields from it: not written
                continue
            self._update(c, now, write, out)

    def _update(self, c: Conn, now: float, write: bool, out: list[Record]) -> None:
        """One update of ``c``: written; or, not written, still seen by the joiner; or only its
        rate sample taken."""
        if write:
            out.append(self._record(c, now))
        elif self.joiner is not None:
            self._record(c, now)
        else:
            self._sample(c, now)

    def _snapshot(self, out: list[Record]) -> None:
        now = self.clock
        for h in self.history:
            out.append({**h, "snapshot": True})
        for c in self.table.values():
            # Marked in a copy: the record itself may be the connection's copy (reuse_records).
            out.append({**self._record(c, now), "snapshot": True})

    def _record(self, c: Conn, now: float, final: bool = False) -> dict[str, Any]:
        """The record of ``c`` now. While its rate is not 0 a connection keeps a copy of its
        record (``c.tmpl``), so the next one only refreshes the fields that change
        (record.update); so does one that is over or nearly (TCP shown TIME_WAIT or CLOSED, DNS
        answered: it leaves within seconds, and its final record is then a copy too). Another idle
        one keeps none (memory: it may stay idle for long), nor does one that left the table.
        Whoever changes other fields of the record drops the copy."""
        keep = self._sample(c, now, final)
        shown = c.shown
        tmpl = c.tmpl
        joiner = self.joiner
        reuse = self.reuse_records and joiner is None
        if tmpl is None:
            rec = record.build(c, NAMES[shown])
            if keep:
                # Reusing, the record itself: ours alone again once this call's output is released.
                c.tmpl = rec if reuse else rec.copy()
                c.tmpl_call = self._calls
        else:
            # A copy when the copy stays ours, or when the copy went out in a call not released
            # yet (it may still be queued); else the copy itself is this record.
            if (keep and not reuse) or (reuse and c.tmpl_call > self._released):
                rec = tmpl.copy()
            else:
                rec = tmpl
            if not keep:
                c.tmpl = None
            elif rec is tmpl:
                c.tmpl_call = self._calls
            record.update(rec, c, NAMES[shown])
        if joiner is not None:
            try:
                if joiner.annotate(rec):
                    self._keep_annotations(c, rec)
            except Exception:  # a joiner problem must not stop tracking
                pass
        return rec

    def _sample(self, c: Conn, now: float, final: bool = False) -> bool:
        """What writing a record of ``c`` now does to ``c`` itself, without the record: the rate
        sample, whether it is rating, the state shown (``c.shown``). True when the record would
        be kept as its copy (see :meth:`_record`)."""
        # The rate rule of rustnet.track.rates (once per record; tests/test_track_rates.py)
        bs = c.bs
        bd = c.bd
        rate_t = c.rate_t
        if now - c.last >= _RATE_WINDOW or (bs == c.rate_bs and bd == c.rate_bd and rate_t > 0):
            c.rate_src = c.rate_dst = 0.0
            c.rate_t = now
            c.rate_bs = bs
            c.rate_bd = bd
        else:
            span = now - (rate_t if rate_t > 0 else c.first)
            if span > 0:
                if rate_t <= 0:
                    if span < _RATE_MIN_SPAN:
                        span = _RATE_MIN_SPAN
                    alpha = 1.0
                else:
                    alpha = 1.0 - exp(-span / _RATE_TAU)
                c.rate_src += alpha * ((bs - c.rate_bs) / span - c.rate_src)
                c.rate_dst += alpha * ((bd - c.rate_bd) / span - c.rate_dst)
                c.rate_t = now
                c.rate_bs = bs
                c.rate_bd = bd
        moving = not final and (c.rate_src or c.rate_dst)
        if moving:
            self._rating[c.id] = c
        else:
            self._rating.pop(c.id, None)
        if c.proto == PROTO_TCP:
            shown = c.sr if c.local == 2 else c.so
            # Over (TIME_WAIT, CLOSED): it leaves at tcp.closed (seconds), its final record is
            # this one again: keep the copy, whatever the rate.
            keep = moving or (not final and shown in _ENDED_SHOWN)
        else:
            shown = self._display(c, now)
            keep = moving or (not final and shown == _DNS_RESPONSE)  # likewise, at dns (30 s)
        c.shown = shown
        return bool(keep)

    def _keep_annotations(self, c: Conn, rec: dict[str, Any]) -> None:
        """Process fields found once stay on the connection's later records (rustnet-records(5)); only a known
        pid is final (a socket seen without its owner may be attributed better later)."""
        if rec.get("pid") is None:
            return
        d = c.dpi
        if d is None:
            d = c.dpi = {}
        from rustnet.track.join import ANNOTATED_FIELDS  # loaded with the joiner itself

        for k in ANNOTATED_FIELDS:
            v = rec.get(k)
            if v is not None and k not in d:
                d[k] = v
                c.tmpl = None

    def _display(self, c: Conn, now: float) -> int:
        if c.proto == PROTO_TCP:
            return c.sr if c.local == 2 else c.so
        so = c.so
        if so == _UDP_ACTIVE or so == _ACTIVE:
            idle = now - c.last
            if idle >= self._idle_after:
                stale = self._timeout(c) * self._stale_fraction
                if so == _UDP_ACTIVE:
                    return _UDP_STALE if idle >= stale else _UDP_IDLE
                return _STALE if idle >= stale else _IDLE
        return so


def _sends(c: Conn, fwd: bool) -> bool:
    """Whether the packet (``fwd``: from the originator) is the local side's: the originator's when
    the local side is not known (a capture file), nobody's when neither end is this host."""
    local = c.local
    return fwd if local < 2 else (local == 2 and not fwd)


def _last_seen(c: Conn) -> float:
    return c.last


MAX_HEADER_ADDRS: Final = 256


def header_addresses(addrs: Any) -> frozenset[bytes] | None:
    """The packed addresses a header's ``addrs`` lists (at most MAX_HEADER_ADDRS; junk skipped),
    or None when it lists none."""
    import socket

    if not isinstance(addrs, list):
        return None
    out: set[bytes] = set()
    for a in addrs[:MAX_HEADER_ADDRS]:
        if not isinstance(a, str) or len(a) > 64:
            continue
        for family in (socket.AF_INET, socket.AF_INET6):
            try:
                out.add(socket.inet_pton(family, a))
                break
            except (OSError, ValueError):
                continue
    return frozenset(out) or None


def local_addresses() -> frozenset[bytes]:
    """This host's IPv4/IPv6 addresses, packed, from psutil (empty when psutil cannot tell)."""
    import socket

    import psutil

    out: set[bytes] = set()
    try:
        for addrs in psutil.net_if_addrs().values():
            for a in addrs:
                if a.family in (socket.AF_INET, socket.AF_INET6):
                    try:
                        out.add(socket.inet_pton(a.family, a.address.split("%", 1)[0]))
                    except (OSError, ValueError):
                        pass
    except (OSError, RuntimeError):
        pass
    return frozenset(out)
