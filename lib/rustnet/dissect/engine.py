"""The dissect stage: ``pkt`` records in, one ``sum`` record per IP or ARP packet out.

A :class:`Dissector` is a :class:`~rustnet.stream.stage.Stage`. It reads each packet with
the link type of the latest ``hdr`` record (which it passes on restamped), passes every
other record through in order, and never raises on packet bytes or record content:

* frames that are not IP or ARP (LLDP, STP, ...) are counted (``non_ip``), not emitted;
* frames of a link type it does not know are counted (``other``), with one ``warn`` record;
* a frame whose L3 header is cut or damaged is counted (``truncated``/``malformed``);
* an IP packet whose L4 header is cut or damaged is emitted with ``info.malformed`` and
  counted; one cut by snaplen after its L4 header is emitted with ``info.trunc`` and counted.

IP-in-IP and GRE packets are summarised as the packet they carry; a VXLAN, Geneve or Teredo
datagram as itself and, in a second summary, as the packet it carries (rustnet.dissect.tunnel).

The counters go downstream as a ``dstats`` record when they changed (``tick``) and at the end.

The hot path (Ethernet/IPv4/TCP) is a handful of ``struct`` reads and one list; no dict is
built unless there is something to report (see rustnet.dissect.info for the keys).
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from rustnet.cli.common import producer
from rustnet.dissect.arp import arp
from rustnet.dissect.frag import FragHead, FragmentTable, Reassembler
from rustnet.dissect.info import (
    ANOMALY,
    ARP_SHA,
    ARP_THA,
    FRAG,
    FRAG_LAST,
    FRAG_PART,
    MALFORMED,
    TRUNC,
    TUNNEL,
    Malformed,
)
from rustnet.dissect.ip import FRAG_MORE, FRAG_OFFSET_MASK, ipv4, ipv6
from rustnet.dissect.l4 import TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, icmp, tcp, udp
from rustnet.dissect.link import (
    ETH_ARP,
    ETH_IPV4,
    ETH_IPV6,
    ETH_RARP,
    Decoder,
    decoder_for,
    ethernet,
    raw_ipv4,
    raw_ipv6,
)
from rustnet.dissect.neighbors import NDP_ADVERT, NDP_SOLICIT, PROTO_IGMP, igmp_info, ndp_info
from rustnet.dissect.tunnel import (
    ETH_TRANSPARENT_BRIDGING,
    MAX_TUNNEL_DEPTH,
    TUNNEL_PROTOS,
    UDP_TUNNEL_PORTS,
    describe,
    udp_inner,
)
from rustnet.dissect.tunnel import inner as tunnel_inner
from rustnet.stream import fields, pktbatch
from rustnet.stream.records import (
    DISSECT_STATS,
    HEADER,
    PACKET,
    PACKETS,
    PROTO_ARP,
    PROTO_ICMP,
    PROTO_ICMPV6,
    PROTO_TCP,
    PROTO_UDP,
    SEGMENT,
    SUM_INFO,
    SUM_VLAN,
    SUM_WIRELEN,
    SUMMARY,
    WARNING,
    Record,
    restamp_header,
    summary,
)

if TYPE_CHECKING:
    from rustnet.dissect.dpi import Inspector

PROG: Final = "rn-dissect"
# TCP packets without payload still reach DPI when they open or close a flow: a bare SYN
# (port reuse), a FIN or an RST; a SYN-ACK or a pure ACK changes nothing there. By flags byte.
_DPI_CONTROL: Final = tuple(
    bool(f & (TCP_FIN | TCP_RST)) or f & (TCP_SYN | TCP_ACK) == TCP_SYN for f in range(256)
)
_SYN_FIN_RST: Final = TCP_SYN | TCP_FIN | TCP_RST
# Timestamps outside [0, this) are not packet times (year ~5138): the record is damaged.
_MAX_TS: Final = 1e11

_CUT_TCP: Final = "truncated tcp header"
_CUT_UDP: Final = "truncated udp header"
_CUT_ICMP: Final = "truncated icmp header"
_CUT_REASONS: Final = frozenset((_CUT_TCP, _CUT_UDP, _CUT_ICMP))

# Untagged Ethernet + IPv4 (no options) + the first 16 bytes of TCP (UDP: its 8, then 8 of payload).
_eth_ip4_l4: Final = struct.Struct("!12xHBxH2xHxB2x4s4sHHIIBBH").unpack_from
# Untagged Ethernet + IPv6 (fixed header) + the same 16 L4 bytes.
_eth_ip6_l4: Final = struct.Struct("!12xHIHBx16s16sHHIIBBH").unpack_from

_TUNNEL_DECODERS: Final[dict[int, Decoder]] = {
    ETH_IPV4: raw_ipv4,
    ETH_IPV6: raw_ipv6,
    ETH_TRANSPARENT_BRIDGING: ethernet,
}

# Per UDP port: does a tunnel use it (the fast path leaves those datagrams to packet()).
_UDP_TUNNEL_PORT: Final = tuple(p in UDP_TUNNEL_PORTS for p in range(65536))

# The dstats counters, as declared (rustnet.stream.fields.DSTATS: every field after t and ts);
# _counts() reads them in this order.
COUNTERS: Final = fields.names(fields.DSTATS)[2:]


class Dissector:
    """L2-L4 dissection of packet records, with an optional DPI hook for TCP/UDP payloads."""

    def __init__(
        self, dpi: bool = True, inspector: Inspector | None = None, prog: str = PROG, segments: bool = False
    ) -> None:
        self.prog = prog
        if inspector is None and dpi:
            # Imported here: --no-dpi starts without the DPI modules (and their ~30 ms).
            from rustnet.dissect.dpi import Inspector

            inspector = Inspector()
        self.inspector: Inspector | None = inspector
        # The inspector when DPI is on, else None (--no-dpi): not even a method call per packet.
        # Called as self._dpi.inspect(...), not through a bound method: compiled, a direct C call.
        self._dpi: Inspector | None = (
            inspector if dpi and inspector is not None and inspector.enabled else None
        )
        # The inspector's flow table, looked up here first: most segments of a long flow have nothing
        # to teach it (the lookup is not used when _dpi is None).
        self._flow_lookup: Callable[[tuple[Any, ...]], object] = (
            self._dpi.flow_lookup if self._dpi is not None else _no_flow
        )
        self._finished: object = _finished_flow() if self._dpi is not None else None
        # The next stage is a Tracker in this process: segments of known flows go to it as SEGMENT
        # records, never to be written (see rustnet.stream.records.SEGMENT).
        self.segments = segments
        # process() reads pkb records itself (rustnet.stream.pktbatch): its reader hands them on whole.
        self.takes_packet_batches = True
        self._decode: Decoder | None = None
        self.frags = FragmentTable()
        self.reassembly = Reassembler()  # fragmented UDP datagrams, for DPI
        self._depth = 0  # tunnels being unwrapped around the current packet
        # Summaries of packets inside UDP tunnels, written after the frame's own summary.
        self._inner: list[list[Any]] = []
        self.packets = 0
        self.malformed = 0
        self.truncated = 0
        self.non_ip = 0
        self.other = 0
        self.fragments = 0
        self.dpi_errors = 0  # exceptions out of the inspector (a bug there; the packet is still summarised)
        self._reported: tuple[int, ...] | None = None
        self._header_seen = False  # a stream's first record is its header: no counters before it

    # --- Stage ------------------------------------------------------------
    def process(self, recs: list[Record]) -> list[Record]:
        out: list[Record] = []
        append = out.append
        packet = self.packet
        eth = self._decode is ethernet
        fast = 0  # packets summarised inline (counted at the end)
        for rec in recs:
            if type(rec) is list and len(rec) == 4 and rec[0] == PACKET:
                _, ts, wirelen, data = rec
                # The fast path: untagged Ethernet, IPv4 without options or IPv6 without
                # extension headers, a sound TCP/UDP header, nothing cut and no length
                # disagreeing. One struct read covers all three headers. Anything else
                # (and any doubt) goes to packet(), the general path, which gives the same
                # summary for what the fast path accepts (tests/test_dissect_fastpath.py).
                if (
                    eth
                    and type(data) is bytes
                    and type(ts) is float
                    and type(wirelen) is int
                    and 0.0 <= ts < _MAX_TS
                    and wirelen >= len(data)
                ):
                    if self._fast(ts, wirelen, data, 0, len(data), out):
                        fast += 1
                        continue
                s = packet(ts, wirelen, data)
                if s is not None:
                    append(s)
                if self._inner:
                    out.extend(self._inner)
                    self._inner.clear()
            elif type(rec) is list and rec and rec[0] == PACKETS:
                # Many whole frames (rustnet.stream.pktbatch): each read in place, as a pkt record
                # with its fields would be; one that does not check out is one damaged packet.
                v = pktbatch.frames(rec)
                if not v:
                    self.packets += 1
                    self.malformed += 1
                    continue
                buf: bytes = rec[3]
                size = len(buf)
                end = 0
                for i in range(0, len(v), 4):
                    off = v[i + 2]
                    caplen = v[i + 3]
                    if not pktbatch.frame_ok(off, caplen, end, size):
                        self.packets += 1  # the rest of the record: one damaged packet
                        self.malformed += 1
                        break
                    end = off + caplen
                    ts = v[i] + v[i + 1] * 1e-6
                    if eth and 0.0 <= ts < _MAX_TS and self._fast(ts, caplen, buf, off, caplen, out):
                        fast += 1
                        continue
                    s = packet(ts, caplen, buf[off:end])
                    if s is not None:
                        append(s)
                    if self._inner:
                        out.extend(self._inner)
                        self._inner.clear()
            elif type(rec) is list and len(rec) == 5 and rec[0] == PACKET:
                s = self.packet_of_link(rec[1], rec[2], rec[3], rec[4])
                if s is not None:
                    append(s)
                if self._inner:
                    out.extend(self._inner)
                    self._inner.clear()
            elif type(rec) is list and rec and rec[0] == PACKET:
                self.packets += 1
                self.malformed += 1
            elif type(rec) is dict and rec.get("t") == HEADER:
                out.extend(self.header(rec))
                eth = self._decode is ethernet
            else:
                append(rec)
        self.packets += fast
        return out

    def _fast(self, ts: float, wirelen: int, buf: bytes, base: int, caplen: int, out: list[Record]) -> bool:
        """The fast path: the summary of the frame ``buf[base : base + caplen]`` (untagged
        Ethernet, IPv4 without options or IPv6 without extension headers, a sound TCP/UDP header,
        nothing cut and no length disagreeing) appended to ``out``, True; False, having done
        nothing, for anything else (and any doubt): the caller sends that to packet(), the general
        path, which gives the same summary for what this path accepts
        (tests/test_dissect_fastpath.py). One struct read covers all three headers, in place: a
        frame of a pkb record is not copied unless DPI wants its payload."""
        dpi = self._dpi
        flow_lookup = self._flow_lookup
        finished = self._finished
        segments = self.segments
        tunnel_port = _UDP_TUNNEL_PORT

        l4off = 0  # stays 0 unless the IP header is one the fast path takes
        try:
            (
                etype,
                vhl,
                l4len,
                frag,
                proto,
                src,
                dst,
                sport,
                dport,
                seq,
                ack,
                doff,
                flags,
                window,
            ) = _eth_ip4_l4(buf, base)
        except struct.error:
            etype = 0
        if etype == ETH_IPV4:
            if vhl == 0x45 and not frag & 0x3FFF and l4len <= wirelen - 14:
                l4off = 34
                l4len -= 20
        elif etype == ETH_IPV6:
            try:
                (_, vtf, l4len, proto, src, dst, sport, dport, seq, ack, doff, flags, window) = _eth_ip6_l4(
                    buf, base
                )
            except struct.error:
                vtf = 0
            if vtf >> 28 == 6 and 0 < l4len <= wirelen - 54:
                l4off = 54
        if l4off:
            if proto == PROTO_TCP:
                hlen = (doff >> 4) << 2
                if 20 <= hlen <= l4len and l4off + l4len <= caplen:
                    paylen = l4len - hlen
                    info = None
                    key = None
                    if dpi is not None and (paylen or _DPI_CONTROL[flags]):
                        if src < dst or (src == dst and sport <= dport):
                            key = (PROTO_TCP, src, sport, dst, dport)
                            low = True
                        else:
                            key = (PROTO_TCP, dst, dport, src, sport)
                            low = False
                        flow = flow_lookup(key)
                        # What inspect() does for a flow that has nothing to learn from
                        # this segment (the bulk of a long transfer), without the call
                        # and the copy of the payload.
                        if (flow is finished and not _DPI_CONTROL[flags]) or (flow is None and not paylen):
                            pass
                        else:
                            try:
                                info = dpi.inspect(
                                    PROTO_TCP,
                                    src,
                                    sport,
                                    dst,
                                    dport,
                                    buf[base + l4off + hlen : base + l4off + l4len],
                                    ts,
                                    seq,
                                    flags,
                                )
                            except Exception:  # DPI must not stop L2-L4 (as in packet())
                                self.dpi_errors += 1
                    if (
                        segments
                        and info is None
                        and not flags & _SYN_FIN_RST
                        and ts > 0.0
                        and not wirelen >> 32
                    ):
                        # For the Tracker in this process: the summary's fields without
                        # the summary (rustnet.stream.records.SEGMENT).
                        if key is None:
                            if src < dst or (src == dst and sport <= dport):
                                key = (PROTO_TCP, src, sport, dst, dport)
                                low = True
                            else:
                                key = (PROTO_TCP, dst, dport, src, sport)
                                low = False
                        out.append((SEGMENT, key, low, ts, wirelen, flags, seq, ack, paylen, window))
                        return True
                    # summary() written out: the call would cost ~5% of this path.
                    # tests/test_dissect_fastpath.py holds it equal to packet()'s.
                    out.append(
                        [
                            SUMMARY,
                            ts,
                            wirelen,
                            PROTO_TCP,
                            src,
                            sport,
                            dst,
                            dport,
                            flags,
                            seq,
                            ack,
                            paylen,
                            window,
                            None,
                            info,
                        ]
                    )
                    return True
            elif proto == PROTO_UDP:
                ulen = seq >> 16  # the UDP length sits where TCP's sequence number starts
                if (
                    8 <= ulen <= l4len
                    and l4off + ulen <= caplen
                    and not tunnel_port[dport]
                    and not tunnel_port[sport]
                ):
                    info = None
                    if dpi is not None and ulen > 8:
                        try:
                            info = dpi.inspect(
                                PROTO_UDP,
                                src,
                                sport,
                                dst,
                                dport,
                                buf[base + l4off + 8 : base + l4off + ulen],
                                ts,
                            )
                        except Exception:  # DPI must not stop L2-L4 (as in packet())
                            self.dpi_errors += 1
                    out.append(  # summary() written out, as for TCP
                        [
                            SUMMARY,
                            ts,
                            wirelen,
                            PROTO_UDP,
                            src,
                            sport,
                            dst,
                            dport,
                            0,
                            0,
                            0,
                            ulen - 8,
                            0,
                            None,
                            info,
                        ]
                    )
                    return True
        return False

    def tick(self, now: float) -> list[Record]:
        if not self._header_seen or self._counts() == self._reported:
            return []
        return [self.stats(now)]

    def finish(self) -> list[Record]:
        return [self.stats(time.time())]

    # --- records ----------------------------------------------------------
    def header(self, hdr: dict[str, Any]) -> list[Record]:
        """Adopt a header's link type; the restamped header (and a warning if we cannot read it)."""
        out: list[Record] = [restamp_header(hdr, producer(self.prog))]
        self._header_seen = True
        linktype = hdr.get("linktype")
        self._decode = decoder_for(linktype)
        self.frags.clear()  # a new recording: its fragment ids have nothing to do with the last
        self.reassembly.clear()
        if self._decode is None:
            shown = repr(linktype)[:40]  # repr escapes control characters
            out.append(
                {
                    "t": WARNING,
                    "ts": time.time(),
                    "stage": self.prog,
                    "msg": f"link type {shown} is not supported: its packets are counted, not dissected",
                }
            )
        return out

    def stats(self, ts: float) -> dict[str, Any]:
        """The ``dstats`` record for the counters now."""
        counts = self._counts()
        self._reported = counts
        rec: dict[str, Any] = {"t": DISSECT_STATS, "ts": ts}
        rec.update(zip(COUNTERS, counts, strict=True))
        return rec

    def _counts(self) -> tuple[int, ...]:
        insp = self.inspector
        return (
            self.packets,
            self.malformed,
            self.truncated,
            self.non_ip,
            self.other,
            self.fragments,
            self.dpi_errors,
            insp.dns_unsolicited if insp is not None else 0,
            insp.dns_evicted if insp is not None else 0,
            insp.quic_skipped if insp is not None else 0,
            self.reassembly.reassembled,
            self.reassembly.dropped,
        )

    # --- one packet -------------------------------------------------------
    def discard_inner(self) -> None:
        """Drop the summaries of tunnelled inner packets that :meth:`packet` set aside
        (:meth:`process` passes them on; a caller of :meth:`packet` alone must drop them)."""
        self._inner.clear()

    def packet_of_link(self, ts: Any, wirelen: Any, data: Any, linktype: Any) -> list[Any] | None:
        """The summary of a frame of its own link type (a pcapng interface other than the first)."""
        decode = self._decode
        own = decoder_for(linktype)
        if own is None:
            self.packets += 1
            if type(linktype) is int:
                self.other += 1  # a link type we do not read, as a header's would be
            else:
                self.malformed += 1
            return None
        self._decode = own
        try:
            return self.packet(ts, wirelen, data)
        finally:
            self._decode = decode

    def packet(self, ts: Any, wirelen: Any, data: Any) -> list[Any] | None:
        """The summary of one captured frame, or None when it yields none (it is counted)."""
        if (
            type(data) is not bytes
            or type(wirelen) is not int
            or type(ts) is not float
            or not 0.0 <= ts < _MAX_TS
        ):
            fields = _sanitize(ts, wirelen, data)
            if fields is None:
                self.packets += 1
                self.malformed += 1
                return None
            ts, wirelen, data = fields
        self.packets += 1
        decode = self._decode
        if decode is None:
            self.other += 1
            return None
        caplen = len(data)
        if wirelen < caplen:
            wirelen = caplen
        try:
            etype, off, vlan = decode(data)
            if etype == ETH_IPV4:
                proto, src, dst, l4off, l4len, frag, ident, anomaly = ipv4(data, off, wirelen - off)
            elif etype == ETH_IPV6:
                proto, src, dst, l4off, l4len, frag, ident, anomaly = ipv6(data, off, wirelen - off)
            elif etype == ETH_ARP or etype == ETH_RARP:
                return self._arp(ts, wirelen, data, off, vlan)
            else:
                self.non_ip += 1
                return None
        except struct.error:
            self._short(caplen, wirelen)
            return None
        except Malformed:
            self.malformed += 1
            return None
        if frag:
            return self._fragment(
                ts, wirelen, data, proto, src, dst, l4off, l4len, frag, ident, vlan, anomaly
            )
        info: dict[str, Any] | None = None
        if proto == PROTO_TCP:
            try:
                sport, dport, seq, ack, flags, window, hlen = tcp(data, l4off, l4len)
            except struct.error:
                return self._broken(ts, wirelen, caplen, proto, src, dst, l4len, vlan, _CUT_TCP)
            except Malformed as exc:
                return self._broken(ts, wirelen, caplen, proto, src, dst, l4len, vlan, exc.reason)
            poff = l4off + hlen
            paylen = l4len - hlen
            end = poff + paylen
            dpi = self._dpi
            if dpi is not None and (paylen or _DPI_CONTROL[flags]):
                try:
                    info = dpi.inspect(PROTO_TCP, src, sport, dst, dport, data[poff:end], ts, seq, flags)
                except Exception:  # DPI promises never to raise; a bug there must not stop L2-L4
                    self.dpi_errors += 1
            if caplen < end or anomaly is not None:
                info = self._flag(info, caplen < end, anomaly)
            # summary() written out here too: every packet of a non-Ethernet capture (-i any) and
            # every tagged one comes this way, and the call costs ~3% of it.
            return [
                SUMMARY,
                ts,
                wirelen,
                PROTO_TCP,
                src,
                sport,
                dst,
                dport,
                flags,
                seq,
                ack,
                paylen,
                window,
                vlan,
                info,
            ]
        if proto == PROTO_UDP:
            try:
                sport, dport, paylen, uanomaly = udp(data, l4off, l4len)
            except struct.error:
                return self._broken(ts, wirelen, caplen, proto, src, dst, l4len, vlan, _CUT_UDP)
            except Malformed as exc:
                return self._broken(ts, wirelen, caplen, proto, src, dst, l4len, vlan, exc.reason)
            poff = l4off + 8
            end = poff + paylen
            dpi = self._dpi
            if dpi is not None and paylen:
                try:
                    info = dpi.inspect(PROTO_UDP, src, sport, dst, dport, data[poff:end], ts)
                except Exception:  # DPI promises never to raise; a bug there must not stop L2-L4
                    self.dpi_errors += 1
            if caplen < end or anomaly is not None or uanomaly is not None:
                info = self._flag(info, caplen < end, anomaly or uanomaly)
            if (_UDP_TUNNEL_PORT[dport] or _UDP_TUNNEL_PORT[sport]) and end <= caplen:
                self._udp_tunnel(ts, wirelen, data, src, dst, sport, dport, poff, end, vlan)
            return [SUMMARY, ts, wirelen, PROTO_UDP, src, sport, dst, dport, 0, 0, 0, paylen, 0, vlan, info]
        if proto == PROTO_ICMP or proto == PROTO_ICMPV6:
            try:
                typ, code, ident, seq, paylen = icmp(data, l4off, l4len, proto == PROTO_ICMPV6)
            except struct.error:
                return self._broken(ts, wirelen, caplen, proto, src, dst, l4len, vlan, _CUT_ICMP)
            except Malformed as exc:
                return self._broken(ts, wirelen, caplen, proto, src, dst, l4len, vlan, exc.reason)
            end = l4off + l4len
            if (typ == NDP_SOLICIT or typ == NDP_ADVERT) and etype == ETH_IPV6 and data[off + 7] == 255:
                info = ndp_info(data, l4off, end)  # hop limit 255: from the link itself
            if caplen < end or anomaly is not None:
                info = self._flag(info, caplen < end, anomaly)
            return summary(
                ts,
                wirelen,
                proto,
                src,
                typ,
                dst,
                code,
                seq=ident,
                ack=seq,
                paylen=paylen,
                vlan=vlan,
                info=info,
            )
        if proto in TUNNEL_PROTOS:
            tunnelled = self._tunnel(ts, wirelen, data, proto, l4off, l4len, vlan)
            if tunnelled is not None:
                return tunnelled
        # Any other IP protocol (ESP, OSPF, SCTP, ...): addresses and length only.
        end = l4off + l4len
        if proto == PROTO_IGMP:
            info = igmp_info(data, l4off, end)
        if caplen < end or anomaly is not None:
            info = self._flag(info, caplen < end, anomaly)
        return summary(ts, wirelen, proto, src, 0, dst, paylen=l4len, vlan=vlan, info=info)

    # --- the less travelled paths -------------------------------------------
    def _short(self, caplen: int, wirelen: int) -> None:
        """A header ran past the captured bytes: snaplen did it, or the frame is damaged."""
        if caplen < wirelen:
            self.truncated += 1
        else:
            self.malformed += 1

    def _flag(self, info: dict[str, Any] | None, trunc: bool, anomaly: str | None) -> dict[str, Any]:
        out = dict(info) if info else {}
        if trunc:
            out[TRUNC] = True
            self.truncated += 1
        if anomaly is not None:
            out[ANOMALY] = anomaly
            self.malformed += 1
        return out

    def _broken(
        self,
        ts: float,
        wirelen: int,
        caplen: int,
        proto: int,
        src: bytes,
        dst: bytes,
        l4len: int,
        vlan: list[int] | None,
        reason: str,
    ) -> list[Any]:
        """An IP packet whose L4 header cannot be read: addresses only, flagged."""
        if reason in _CUT_REASONS:
            self._short(caplen, wirelen)
        else:
            self.malformed += 1
        return summary(ts, wirelen, proto, src, 0, dst, paylen=l4len, vlan=vlan, info={MALFORMED: reason})

    def _tunnel(
        self, ts: float, wirelen: int, data: bytes, proto: int, l4off: int, l4len: int, vlan: list[int] | None
    ) -> list[Any] | None:
        """The summary of the packet inside an IP-in-IP or GRE packet, or None to report the outer one.

        The inner packet goes through :meth:`packet` again with a decoder for what the tunnel
        carries; it is the same frame, so it is counted once and keeps the frame's length.
        """
        if self._depth >= MAX_TUNNEL_DEPTH:
            return None
        try:
            found = tunnel_inner(data, proto, l4off)
        except struct.error:
            return None
        if found is None:
            return None
        etype, off, name = found
        end = l4off + l4len
        saved = self._decode
        self._decode = _TUNNEL_DECODERS[etype]
        self._depth += 1
        self.packets -= 1  # the same packet, counted again by packet()
        try:
            s = self.packet(ts, max(end - off, 0), data[off:end])
        finally:
            self._decode = saved
            self._depth -= 1
        if s is None:
            return None
        s[SUM_WIRELEN] = wirelen
        s[SUM_VLAN] = vlan
        info = dict(s[SUM_INFO]) if s[SUM_INFO] else {}
        info.setdefault(TUNNEL, name)
        s[SUM_INFO] = info
        return s

    def _udp_tunnel(
        self,
        ts: float,
        wirelen: int,
        data: bytes,
        src: bytes,
        dst: bytes,
        sport: int,
        dport: int,
        poff: int,
        end: int,
        vlan: list[int] | None,
    ) -> None:
        """Queue the summary of the packet inside a VXLAN, Geneve or Teredo datagram, if it is one.

        As for IP tunnels, the inner packet goes through :meth:`packet` with the decoder of
        what the tunnel carries, keeps the frame's length and VLAN ids, and is not counted
        again; its summaries (a tunnel in it may add more) follow the outer one.
        """
        if self._depth >= MAX_TUNNEL_DEPTH:
            return
        try:
            found = udp_inner(data, poff, end, sport, dport)
        except struct.error:
            return
        if found is None:
            return
        etype, off, name = found
        saved = self._decode
        self._decode = _TUNNEL_DECODERS[etype]
        self._depth += 1
        self.packets -= 1  # the same packet, counted again by packet()
        queued = len(self._inner)
        try:
            s = self.packet(ts, end - off, data[off:end])
        finally:
            self._decode = saved
            self._depth -= 1
        if s is None:
            return
        s[SUM_WIRELEN] = wirelen
        s[SUM_VLAN] = vlan
        info = dict(s[SUM_INFO]) if s[SUM_INFO] else {}
        info.setdefault(TUNNEL, describe(name, src, dst))
        s[SUM_INFO] = info
        self._inner.insert(queued, s)  # before the summaries of tunnels inside it

    def _arp(
        self, ts: float, wirelen: int, data: bytes, off: int, vlan: list[int] | None
    ) -> list[Any] | None:
        try:
            msg = arp(data, off)
        except struct.error:
            self._short(len(data), wirelen)
            return None
        if msg is None:
            self.non_ip += 1  # ARP for another protocol than IPv4
            return None
        op, spa, tpa, sha, tha = msg
        return summary(ts, wirelen, PROTO_ARP, spa, op, tpa, vlan=vlan, info={ARP_SHA: sha, ARP_THA: tha})

    def _fragment(
        self,
        ts: float,
        wirelen: int,
        data: bytes,
        proto: int,
        src: bytes,
        dst: bytes,
        l4off: int,
        l4len: int,
        frag: int,
        ident: int,
        vlan: list[int] | None,
        anomaly: str | None,
    ) -> list[Any]:
        """One IP fragment: see ``frag`` in rustnet.dissect.info for what is emitted and why."""
        self.fragments += 1
        key = (src, dst, ident, proto)
        offset = (frag & FRAG_OFFSET_MASK) << 3
        more = frag & FRAG_MORE
        info: dict[str, Any] = {FRAG: FRAG_PART}
        caplen = len(data)
        if caplen < l4off + l4len:
            info[TRUNC] = True
            self.truncated += 1
        if anomaly is not None:
            info[ANOMALY] = anomaly
            self.malformed += 1
        if offset == 0:
            head = _first_fragment_head(data, proto, l4off, l4len)
            if head is None:
                return summary(ts, wirelen, proto, src, 0, dst, paylen=l4len, vlan=vlan, info=info)
            self.frags.remember(key, head)
            sport, dport, flags, seq, ack, window, hlen, _ = head
            if proto == PROTO_UDP and self._dpi is not None and caplen >= l4off + l4len:
                self.reassembly.first(key, ts, data[l4off : l4off + l4len])
            return summary(
                ts, wirelen, proto, src, sport, dst, dport, flags, seq, ack, l4len - hlen, window, vlan, info
            )
        head = self.frags.get(key) if more else self.frags.pop(key)
        if head is None:
            return summary(ts, wirelen, proto, src, 0, dst, paylen=l4len, vlan=vlan, info=info)
        sport, dport, flags, seq, ack, window, hlen, udp_paylen = head
        paylen = l4len
        held = proto == PROTO_UDP and self._dpi is not None and caplen >= l4off + l4len
        if more:
            if held:
                self.reassembly.middle(key, ts, offset, data[l4off : l4off + l4len])
        else:
            info[FRAG] = FRAG_LAST
            paylen = udp_paylen if udp_paylen >= 0 else max(offset + l4len - hlen, 0)
            if held and udp_paylen >= 0:
                dgram = self.reassembly.last(key, ts, offset, data[l4off : l4off + l4len])
                if dgram is not None and len(dgram) == udp_paylen + 8:
                    self._inspect_datagram(info, src, sport, dst, dport, dgram[8:], ts)
        return summary(
            ts, wirelen, proto, src, sport, dst, dport, flags, seq, ack, paylen, window, vlan, info
        )

    def _inspect_datagram(
        self, info: dict[str, Any], src: bytes, sport: int, dst: bytes, dport: int, payload: bytes, ts: float
    ) -> None:
        """DPI of a reassembled UDP datagram, merged into the info of the fragment that completed it."""
        dpi = self._dpi
        if dpi is None or not payload:
            return
        try:
            found = dpi.inspect(PROTO_UDP, src, sport, dst, dport, payload, ts)
        except Exception:  # DPI must not stop L2-L4 (as in packet())
            self.dpi_errors += 1
            return
        if found:
            info.update(found)


def _first_fragment_head(data: bytes, proto: int, l4off: int, l4len: int) -> FragHead | None:
    """The L4 header fields a first fragment carries, or None when it carries none we read.

    ``l4len`` is this fragment's share of the datagram: the header must fit in it, but the
    UDP length is checked against the whole datagram, which is not known yet.
    """
    try:
        if proto == PROTO_TCP:
            sport, dport, seq, ack, flags, window, hlen = tcp(data, l4off, l4len)
            return (sport, dport, flags, seq, ack, window, hlen, -1)
        if l4len < 8:
            return None
        if proto == PROTO_UDP:
            sport, dport, paylen, anomaly = udp(data, l4off, 1 << 30)
            return (sport, dport, 0, 0, 0, 0, 8, -1 if anomaly or paylen > 0xFFFF else paylen)
        if proto == PROTO_ICMP or proto == PROTO_ICMPV6:
            typ, code, ident, seq, _ = icmp(data, l4off, l4len, proto == PROTO_ICMPV6)
            return (typ, code, 0, ident, seq, 0, 8, -1)
    except (struct.error, Malformed):
        return None
    return None


def _no_flow(key: tuple[Any, ...]) -> object:
    return None


def _finished_flow() -> object:
    from rustnet.dissect.dpi import FINISHED

    return FINISHED


def _sanitize(ts: Any, wirelen: Any, data: Any) -> tuple[float, int, bytes] | None:
    """The fields of a ``pkt`` record that failed the fast type check, repaired if harmless."""
    if type(data) is not bytes:
        return None
    if type(ts) is int:
        ts = float(ts)
    if type(ts) is not float or not 0.0 <= ts < _MAX_TS:
        return None
    if type(wirelen) is not int:
        wirelen = len(data)
    return ts, wirelen, data
