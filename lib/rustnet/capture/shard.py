"""Flow-hash sharding: which of N workers tracks a packet, so that N chains of
capture | dissect | track each see only their share of the connections.

Every packet of a connection, both directions, must reach the same worker: the shard is a
hash of the connection's key as rn-track makes it (protocol aside): the two endpoints
(address and port for TCP and UDP, address alone for everything else), in a fixed order.
The L3 view is rn-dissect's own (its link decoders and IP parsers), so a packet is read the
same way here and there.

Where one connection's packets do not all carry its key, a rule keeps them together:

* IP fragments: the first fragment carries the ports; the later ones of the same datagram
  (source, destination, identification, protocol) follow it, as rn-dissect's fragment table
  does. A later fragment whose first one was not seen goes by the addresses alone (rn-dissect
  cannot attribute it to a connection either).
* Tunnels: IP-in-IP and GRE packets, and UDP datagrams to or from the VXLAN, Geneve and
  Teredo ports, go by the outer addresses alone, so the tunnel and every flow inside it stay
  in one shard (a flow seen both inside and outside a tunnel, or through two tunnels, is split).
* Frames that yield no summary (not IP or ARP, damaged, cut before L3) all go to shard 0,
  which counts them once.

Offline (``rn-capture -r F --shard I/N``) every worker reads the whole file and keeps its share;
for the others' packets it writes ``clock`` records instead (their timestamps), so that its
rn-track moves its clock, expires and refreshes exactly when one unsharded rn-track would: the
final records of the N shards together are those of one unsharded run (ids aside). Live, the
kernel shares the packets out (:func:`join_fanout`): no process sees every packet.
"""

from __future__ import annotations

import socket
import struct
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Final
from zlib import crc32

from rustnet.dissect.arp import arp
from rustnet.dissect.info import Malformed
from rustnet.dissect.ip import FRAG_MORE, FRAG_OFFSET_MASK, ipv4, ipv6
from rustnet.dissect.link import ETH_ARP, ETH_IPV4, ETH_IPV6, ETH_RARP, Decoder, decoder_for, ethernet
from rustnet.dissect.tunnel import UDP_TUNNEL_PORTS
from rustnet.stream.records import CAPTURE_STATS, CLOCK, HEADER, PACKET, Record

PROTO_TCP: Final = 6
PROTO_UDP: Final = 17
NO_SUMMARY: Final = -1  # what shard_key says of a frame rn-dissect makes no summary of
MAX_FRAGMENTS: Final = 4096  # datagrams whose first fragment is remembered (rn-dissect's bound)
MAX_WORKERS: Final = 64

# Untagged Ethernet + IPv4 without options + the two ports: the usual frame, read in one call.
_eth_ip4_ports: Final = struct.Struct("!12xHBxH2xHxB2x4s4sHH").unpack_from
_ports: Final = struct.Struct("!HH").unpack_from
_TUNNEL_PORT: Final = tuple(p in UDP_TUNNEL_PORTS for p in range(65536))


class ShardSpecError(ValueError):
    """``--shard`` not given as I/N."""


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` as (I, N), with 0 <= I < N <= MAX_WORKERS."""
    index, sep, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        raise ShardSpecError(f"--shard takes I/N (e.g. 0/4), not {text!r}") from None
    if not sep or not 1 <= n <= MAX_WORKERS or not 0 <= i < n:
        raise ShardSpecError(f"--shard I/N needs 0 <= I < N <= {MAX_WORKERS}, not {text!r}")
    return i, n


def _pair_hash(a: bytes, pa: int, b: bytes, pb: int) -> int:
    """A hash of the two endpoints that does not depend on their order (both directions alike)."""
    if a > b or (a == b and pa > pb):
        a, b, pa, pb = b, a, pb, pa
    h = crc32(b, crc32(a)) ^ (pa << 16 | pb)
    return (h ^ (h >> 15)) & 0x7FFFFFFF


class FlowHasher:
    """Shard keys of frames: :meth:`key` is >= 0 for a frame rn-dissect summarises (its
    connection's hash), NO_SUMMARY for one it only counts."""

    def __init__(self) -> None:
        self._decode: Decoder | None = None
        self._eth = False
        # First fragments seen: (src, dst, ident, proto) -> their connection's hash.
        self._frags: OrderedDict[tuple[bytes, bytes, int, int], int] = OrderedDict()

    def set_linktype(self, linktype: Any) -> None:
        self._decode = decoder_for(linktype)
        self._eth = self._decode is ethernet
        self._frags.clear()  # as rn-dissect does at a new header

    def key(self, data: bytes, linktype: Any = None) -> int:
        if linktype is None and self._eth:
            try:
                etype, vhl, total, frag, proto, src, dst, sp, dp = _eth_ip4_ports(data)
            except struct.error:
                etype = 0
            if (
                etype == ETH_IPV4
                and vhl == 0x45
                and not frag & 0x3FFF
                and (total >= 20 or total == 0)
                and (proto == PROTO_TCP or proto == PROTO_UDP)
            ):
                if proto == PROTO_UDP and (_TUNNEL_PORT[sp] or _TUNNEL_PORT[dp]):
                    sp = dp = 0
                return _pair_hash(src, sp, dst, dp)
        decode = self._decode if linktype is None else decoder_for(linktype)
        if decode is None or type(data) is not bytes:
            return NO_SUMMARY
        try:
            etype, off, _vlan = decode(data)
            if etype == ETH_IPV4:
                proto, src, dst, l4off, l4len, frag, ident, _ = ipv4(data, off, len(data) - off)
            elif etype == ETH_IPV6:
                proto, src, dst, l4off, l4len, frag, ident, _ = ipv6(data, off, len(data) - off)
            elif etype == ETH_ARP or etype == ETH_RARP:
                msg = arp(data, off)
                if msg is None:
                    return NO_SUMMARY
                return _pair_hash(msg[1], 0, msg[2], 0)
            else:
                return NO_SUMMARY
        except (struct.error, Malformed):
            return NO_SUMMARY
        if frag:
            return self._fragment(data, proto, src, dst, l4off, frag, ident)
        return self._l4(data, proto, src, dst, l4off)

    def _l4(self, data: bytes, proto: int, src: bytes, dst: bytes, l4off: int) -> int:
        sp = dp = 0
        if proto == PROTO_TCP or proto == PROTO_UDP:
            try:
                sp, dp = _ports(data, l4off)
            except struct.error:
                sp = dp = 0  # cut: rn-dissect summarises it without ports, as damaged
            if proto == PROTO_UDP and (_TUNNEL_PORT[sp] or _TUNNEL_PORT[dp]):
                sp = dp = 0
        return _pair_hash(src, sp, dst, dp)

    def _fragment(
        self, data: bytes, proto: int, src: bytes, dst: bytes, l4off: int, frag: int, ident: int
    ) -> int:
        key = (src, dst, ident, proto)
        frags = self._frags
        if not frag & FRAG_OFFSET_MASK:  # the first fragment: it has the ports
            h = self._l4(data, proto, src, dst, l4off)
            if key not in frags and len(frags) >= MAX_FRAGMENTS:
                frags.popitem(last=False)
            frags[key] = h
            return h
        known = frags.get(key) if frag & FRAG_MORE else frags.pop(key, None)
        return _pair_hash(src, 0, dst, 0) if known is None else known


class ShardWriter:
    """rn-capture's writer for worker ``index`` of ``count``: its own packets as they are, the
    others' as ``clock`` records of their timestamps (only those that move time forward, and
    only for frames rn-dissect summarises: the others move no tracker's clock)."""

    def __init__(self, writer: Any, index: int, count: int) -> None:
        self.writer = writer
        self.index = index
        self.count = count
        self.max_records: int = writer.max_records
        self.max_bytes: int = writer.max_bytes
        self.hasher = FlowHasher()
        self.clock = 0.0  # the latest timestamp any summarised frame had
        self.own = 0  # packets of this shard written

    def _split(self, recs: Sequence[Record]) -> tuple[list[Record], int]:
        out: list[Record] = []
        times: list[float] = []
        key = self.hasher.key
        index, count = self.index, self.count
        clock = self.clock
        own = 0
        nbytes = 0
        for rec in recs:
            if type(rec) is not list or not rec or rec[0] != PACKET or len(rec) < 4:
                if times:
                    out.append([CLOCK, *times])
                    times = []
                out.append(rec)
                continue
            data = rec[3]
            h = key(data, rec[4] if len(rec) > 4 else None)
            if h < 0:
                if index == 0:
                    if times:
                        out.append([CLOCK, *times])
                        times = []
                    out.append(rec)
                    own += 1
                    nbytes += len(data)
                continue
            ts = rec[1]
            if h % count == index:
                if times:
                    out.append([CLOCK, *times])
                    times = []
                out.append(rec)
                own += 1
                nbytes += len(data)
                if type(ts) is float and ts > clock:
                    clock = ts
            elif type(ts) is float and ts > clock:
                clock = ts
                times.append(ts)
        if times:
            out.append([CLOCK, *times])
        self.clock = clock
        self.own += own
        return out, nbytes

    def write_packets(self, recs: Sequence[Record], data_bytes: int) -> None:
        out, nbytes = self._split(recs)
        if out:
            self.writer.write_packets(out, nbytes)

    def write(self, rec: Record) -> None:
        if type(rec) is dict:
            assert isinstance(rec, dict)
            tag = rec.get("t")
            if tag == HEADER:
                self.hasher.set_linktype(rec.get("linktype"))
                rec = {**rec, "shard": f"{self.index}/{self.count}"}
            elif tag == CAPTURE_STATS:
                rec = {**rec, "packets": self.own}  # this shard's: the shards' sum is the file's
            self.writer.write(rec)
            return
        for out in self._split([rec])[0]:
            self.writer.write(out)

    def write_many(self, recs: list[Record]) -> None:
        for rec in recs:
            self.write(rec)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


# --- live: the kernel shares the packets out ----------------------------------------------
SOL_PACKET: Final = 263
PACKET_FANOUT: Final = 18
PACKET_FANOUT_HASH: Final = 0
PACKET_FANOUT_FLAG_DEFRAG: Final = 0x8000


class FanoutError(OSError):
    """The kernel refused to put the capture socket into the fanout group."""


def join_fanout(fd: int, group: int) -> None:
    """Put the packet socket ``fd`` (libpcap's, TPACKET_V3 ring and all) into fanout group
    ``group`` of this network namespace: the kernel hands each packet to one member by a hash
    of its flow that is the same both ways (PACKET_FANOUT_HASH), after putting IPv4 fragments
    back together (the flag DEFRAG), so that a datagram's fragments reach the member its flow does."""
    sock = socket.socket(fileno=fd)
    try:
        arg = (group & 0xFFFF) | (PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG) << 16
        sock.setsockopt(SOL_PACKET, PACKET_FANOUT, struct.pack("=I", arg))  # past int's range
    except OSError as exc:
        raise FanoutError(exc.errno, exc.strerror) from None
    finally:
        sock.detach()  # the descriptor stays libpcap's
