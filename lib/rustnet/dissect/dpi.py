"""Deep packet inspection: the one entry point rn-dissect calls for L7.

CONTRACT (the L2-L4 engine relies on exactly this):

    inspector = Inspector(enabled=True)
    info = inspector.inspect(proto, src, sport, dst, dport, payload, ts, seq=None, flags=0)

* ``proto`` is 6 (TCP) or 17 (UDP); ``src``/``dst`` packed IP bytes; ``payload`` the
  L4 payload as captured (bytes or memoryview, possibly shorter than on the wire).
* ``seq`` (optional, TCP only): the segment's sequence number. With it, retransmitted and
  overlapping segments are trimmed and a few out-of-order ones are held back, so the
  reassembled ClientHello / HTTP head is exact; without it, payloads are appended in
  arrival order.
* ``flags`` (optional, TCP only): the TCP flags byte. A bare SYN starts a flow afresh
  (port reuse); FIN/RST let the inspector drop a finished flow's entry early. Calls with
  an empty payload are only useful with one of those (a SYN-ACK or pure ACK is a no-op).
* Returns ``None`` when there is nothing new to report for this packet, else a small
  dict of fields to put in the summary's ``info`` (keys below and in the
  connection record, rustnet-records(5)). A dict always carries ``app``.
* It keeps bounded per-flow state (at most ``max_flows`` flows, oldest dropped first;
  at most ``buf_cap`` bytes buffered per direction, ``max_buffered`` over all flows) and
  stops looking at a flow once it is classified and has nothing more to learn, so the
  cost for the bulk of packets is one dict lookup. ``wants(proto, src, sport, dst,
  dport)`` says, at the same cost, whether a flow's payloads are still of interest.
* The engine should pass ``seq`` and ``flags`` for TCP: without ``seq`` a retransmitted
  or snaplen-cut segment inside a ClientHello spoils that hello (the strict parser then
  rejects it rather than report a wrong field); without ``flags`` a 5-tuple reused by a
  new connection keeps the old connection's finished state until the entry is evicted.
* It never raises on packet data: parsers raise :class:`~rustnet.dissect.errors.DissectError`,
  counted in :attr:`Inspector.malformed`; anything else would be a bug, counted in
  :attr:`Inspector.bugs` and the flow given up.

Recognition is by content on any port for TLS, HTTP/1.x and SSH (also inside an HTTP
CONNECT tunnel, once the proxy answered 2xx, and after a text protocol's STARTTLS: SMTP,
IMAP, POP3, FTP's AUTH TLS); by port for DNS (53),
mDNS (5353), LLMNR (5355), NTP, DHCP and SSDP; by magic values for STUN and BitTorrent;
QUIC by its long header (then by flow), handled by :mod:`rustnet.dissect.quic`.

A text protocol's lines (a server's lines before its SSH identification, up to OpenSSH's
bounds; the commands before a STARTTLS) are read and dropped as they come, at most
``MAX_TEXT_LINES`` per direction. A connection picked up mid-stream may show first a
keep-alive probe, a retransmitted or an out-of-window segment: when a direction's first
bytes do not start what they seem to, it starts again at its next segment (``_restart``).

Keys returned (all values are display-safe: names escaped by :mod:`safe_text`):

  ``app``                  ``TLS`` ``HTTP`` ``SSH`` ``FTP`` ``MQTT`` ``DNS`` ``MDNS`` ``LLMNR`` ``QUIC``
                           ``NTP`` ``DHCP`` ``SSDP`` ``STUN`` ``BitTorrent`` ``BitTorrent-DHT``
                           ``NetBIOS-SSN``
  TLS ClientHello          ``sni`` (str), ``alpn`` (list[str]), ``tls_versions_offered``
                           (list[str], ``"TLS 1.3"``), ``ech`` (True when ECH/ESNI offered;
                           ``sni`` is then the outer, public name)
  TLS ServerHello          ``tls_version`` (negotiated, str), ``tls_cipher`` (IANA name or hex)
  TLS after STARTTLS       ``starttls`` (``"SMTP"`` ``"IMAP"`` ``"POP3"`` ``"FTP"``) with each hello
  HTTP request / response  ``http_method``, ``http_path``, ``http_host``, ``http_user_agent`` /
                           ``http_status`` (int)
  SSH                      ``ssh_client``, ``ssh_server`` (whole identification strings),
                           ``ssh_stage`` (``kex``, ``auth``, ``established``; only moves forward)
  MQTT (port 1883, or a    ``mqtt_version``, ``mqtt_client_id`` (CONNECT), ``mqtt_topics`` (list:
  CONNECT naming MQTT)     PUBLISH topics, SUBSCRIBE filters), ``mqtt_qos`` (int), ``mqtt_packet``
  NetBIOS-SSN (port 139)   ``netbios_name`` (called), ``netbios_calling``, ``netbios_session``
                           (``positive`` or the negative response's reason)
  FTP (port 21, or a       ``ftp_command`` (latest, a password never shown), ``ftp_reply``
  command only FTP uses)   (latest, code and text), ``ftp_user``, ``ftp_server`` (first word of
                           the 220 banner), ``ftp_system`` (215 reply)
  DNS / mDNS / LLMNR       ``dns_query`` (first question name), ``dns_queries`` (list, every
                           question of the message), ``dns_qtype`` (``"A"``, ``"TYPE65534"``),
                           ``dns_response`` (True) with ``dns_rcode`` (``"NXDOMAIN"``) and
                           ``dns_answers`` (list of ``"name TYPE value"`` strings, e.g.
                           ``"example.com A 93.184.216.34"``, ``"www.x.org CNAME x.org"``;
                           other types as ``"name TYPE"``), one dict per message
  QUIC                     see :mod:`rustnet.dissect.quic`; and ``quic_packet`` (``initial`` or
                           ``handshake``) on a datagram starting with such a packet
  request/response ids     ``req_id`` / ``resp_id`` (``"dns 1a2b"``, ``"llmnr …"``, ``"nbns …"``,
                           ``"ntp <transmit/originate timestamp>"``, ``"stun <transaction id>"``)
                           on each DNS/LLMNR message and each NTP, STUN and NetBIOS name service
                           packet of a flow recognised as such: rn-track times the responses
  others                   see :mod:`rustnet.dissect.udpmisc`

A DNS response names addresses only when it answers a query seen: same message id, the
query's addresses and ports swapped, the same first question (case aside), at most
``DNS_ANSWER_WINDOW`` seconds later, and only once. Then its A/AAAA answers also go into
``dns_resolved`` (list of ``"address name"`` strings, the name asked for), the one field
rn-enrich and rn-view learn hostnames from; a response that answers nothing seen (spoofed,
or its query was not captured) keeps ``dns_answers`` but names nothing. The same holds for
mDNS and LLMNR: an answer multicast or sent to a multicast query's sender answers no query
by this rule, so those (announcements included) name nothing either. Pending queries are
held in a bounded table (:attr:`Inspector.dns_pending`); a query pushed out while its
answer could still come is counted in :attr:`Inspector.dns_evicted`, responses that
matched nothing in :attr:`Inspector.dns_unsolicited`.
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from rustnet.dissect import dns, ftp, http, mqtt, netbios, ssh, tls, udpmisc
from rustnet.dissect.errors import DissectError
from rustnet.dissect.quic_detect import looks_like_quic

if TYPE_CHECKING:
    from rustnet.dissect.quic import QuicFlows

PROTO_TCP: Final = 6
PROTO_UDP: Final = 17

MAX_FLOWS: Final = 65536
BUF_CAP: Final = 16384  # bytes buffered per direction (a ClientHello, an HTTP head)
MAX_BUFFERED: Final = 64 << 20  # bytes buffered over all flows; past it, flows give up buffering
MAX_OOO: Final = 8  # out-of-order segments held per direction
MAX_DNS_PENDING: Final = 8192  # queries awaiting their answer (a busy resolver asks ~1k/s)
DNS_ANSWER_WINDOW: Final = 5.0  # seconds a query waits for its answer (a stub's retry timeout)
MAX_DNS_ANSWERS: Final = 16
UNKNOWN_BUDGET: Final = 6  # payload packets before an unrecognised flow is given up
KNOWN_BUDGET: Final = 48  # payload packets a recognised flow may take to yield its fields
DNS_TCP_BATCH: Final = 16  # messages read from one segment at most
DNS_BAD_LIMIT: Final = 8  # malformed datagrams on a DNS port before the flow is dropped
STRAY_DISTANCE: Final = 1 << 24  # farther from a stray segment than any TCP window reaches
MAX_RESTARTS: Final = 4  # times a flow's directions may start again at a later segment
MAX_TEXT_LINES: Final = ssh.MAX_PRE_LINES  # lines read per direction of a text protocol
MAX_TEXT_LINE: Final = ssh.MAX_PRE_LINE + 2  # a text line's bytes with its CR LF
# Bytes a text protocol's lines are made of (a stream of them may be SSH's lines before the
# identification, or SMTP/IMAP/POP3/FTP before STARTTLS).
_TEXT: Final = bytes(range(0x20, 0x7F)) + b"\t\r\n"

DNS_APPS: Final = {53: "DNS", 5353: "MDNS", 5355: "LLMNR"}
# The req_id/resp_id prefix of the DNS messages rn-track times (mDNS answers are announcements).
_TIMED_DNS: Final = {"DNS": "dns ", "LLMNR": "llmnr "}
SSH_PORT: Final = 22

_SEQ_MASK: Final = 0xFFFFFFFF
_SEQ_HALF: Final = 0x80000000
_TCP_FIN: Final = 0x01
_TCP_SYN: Final = 0x02
_TCP_RST: Final = 0x04
_TCP_ACK: Final = 0x10

# Flow kinds.
K_NEW: Final = 0
K_TLS: Final = 1
K_HTTP: Final = 2
K_SSH: Final = 3
K_DNS_TCP: Final = 4
K_DNS_UDP: Final = 5
K_QUIC: Final = 6
K_BT: Final = 7
K_LINES: Final = 8  # a text protocol: lines read until an SSH identification or a STARTTLS
K_MQTT: Final = 9
K_NBSS: Final = 10  # NetBIOS session service (port 139): its request and the answer
K_TIMED: Final = 11  # UDP NTP, STUN, NetBIOS name service: each packet's request/response id
_NBSS_KEEPALIVE: Final = 0x85
_NBSS_OPENINGS: Final = (b"\x81", b"\x82", b"\x83", b"\x85")
_AGAIN_KIND: Final = -1  # _classify_tcp: read the direction again from its latest segment

_STAGE_RANK: Final = {None: 0, ssh.STAGE_KEX: 1, ssh.STAGE_AUTH: 2, ssh.STAGE_ESTABLISHED: 3}

Info = dict[str, Any]


class _Flow:
    """What one flow has taught so far; directions are 0 (key's low end sent) and 1."""

    __slots__ = (
        "kind",
        "first_dir",
        "bufs",
        "nxt",
        "ooo",
        "closed",
        "budget",
        "app",
        "server_dir",
        "walkers",
        "stage",
        "bad",
        "seen",
        "size",
        "tunnel",
        "mark",
        "restarts",
        "lines",
        "starttls",
        "stray",
        "level",
    )

    def __init__(self, first_dir: int) -> None:
        self.kind = K_NEW
        self.first_dir = first_dir
        self.bufs = [bytearray(), bytearray()]
        self.nxt: list[int | None] = [None, None]
        self.ooo: list[dict[int, bytes] | None] = [None, None]
        self.closed = 0  # bit d: direction d has nothing more to give
        self.budget = UNKNOWN_BUDGET
        self.app = ""
        self.server_dir = -1
        self.walkers: list[ssh.PacketWalker] | None = None
        self.stage: str | None = None
        self.bad = 0
        self.seen = 0  # bit d: direction d's SSH identification was read
        self.size = 0  # bytes buffered (both directions, held segments too)
        self.tunnel = False  # an HTTP CONNECT awaits the proxy's answer
        self.mark = [0, 0]  # where direction d's latest segment starts in its buffer
        self.restarts = 0  # directions started again at a later segment (_restart)
        self.lines = [0, 0]  # text lines read in direction d (K_LINES, SSH lines before the banner)
        self.starttls: str | None = None  # the protocol whose STARTTLS command was seen
        self.stray = 0  # bit d: direction d's first bytes were dropped as stray (_restart)
        self.level = 0  # MQTT protocol level from the CONNECT (0: not seen)


# Entry of a flow that has nothing more to learn: the whole cost of its later packets.
_DONE: Final = _Flow(0)
FINISHED: Final[object] = _DONE  # what Inspector.flow_lookup finds for such a flow
# Inspector._whole's answer when the general path must take the segment (compared by identity).
_SLOW: Final[dict[str, Any]] = {}
# A reader's answer when the direction starts again at its latest segment (compared by identity).
_AGAIN: Final[dict[str, Any]] = {}
_HELLOS: Final = (tls.HS_CLIENT_HELLO, tls.HS_SERVER_HELLO)
# A TLS record's first 9 bytes: version minor, record length, handshake type and length (24 bits).
_TLS_HEADS: Final = struct.Struct("!2xBHBBH").unpack_from


def _starttls_command(line: bytes) -> str | None:
    """The protocol a client's line asks to upgrade to TLS, or None (RFC 3207, 2595, 4217)."""
    words = line.upper().split()
    if len(words) == 1:
        if words[0] == b"STARTTLS":
            return "SMTP"
        if words[0] == b"STLS":
            return "POP3"
    elif len(words) == 2:
        if words[0] == b"AUTH" and words[1] in (b"TLS", b"SSL", b"TLS-C"):
            return "FTP"
        if words[1] == b"STARTTLS" and not words[0].isdigit():
            return "IMAP"  # a tagged command
    return None


def _known_start(data: bytes) -> bool:
    """Whether data starts a TLS hello, an HTTP head or an SSH identification."""
    if tls.looks_like_handshake(data):
        return len(data) >= 6 and data[5] in _HELLOS
    return bool(http.request_start(data) or http.response_start(data) or ssh.banner_start(data))


def _head_end(data: bytes) -> int:
    """Offset just past an HTTP head's blank line (the whole data when there is none)."""
    end = data.find(b"\r\n\r\n")
    if end >= 0:
        return end + 4
    end = data.find(b"\n\n")
    return end + 2 if end >= 0 else len(data)


class Inspector:
    """Per-flow application-protocol detection and field extraction."""

    def __init__(
        self,
        enabled: bool = True,
        max_flows: int = MAX_FLOWS,
        buf_cap: int = BUF_CAP,
        max_buffered: int = MAX_BUFFERED,
    ) -> None:
        self.enabled = enabled
        self.max_flows = max(1, max_flows)
        self.buf_cap = max(64, buf_cap)
        self.max_buffered = max(self.buf_cap, max_buffered)
        self.buffered = 0  # bytes held by all flows now
        self.starved = 0  # directions given up because max_buffered was reached
        self._flows: OrderedDict[tuple[Any, ...], _Flow] = OrderedDict()
        self._quic_flows: QuicFlows | None = None  # made (and rustnet.dissect.quic imported) on first use
        # (flow key, the query's direction, DNS id) -> (capture time, first question folded).
        self.dns_pending: OrderedDict[tuple[Any, ...], tuple[float, str]] = OrderedDict()
        self.dns_evicted = 0  # queries pushed out of the full table within their answer window
        self.dns_unsolicited = 0  # responses that answered no query seen (they name nothing)
        self.malformed = 0  # payloads a parser rejected (DissectError)
        self.bugs = 0  # unexpected exceptions caught (should stay 0; the fuzz tests check)

    @property
    def _quic(self) -> QuicFlows:
        """The QUIC flow table, made when the first flow looks like QUIC."""
        if self._quic_flows is None:
            from rustnet.dissect.quic import QuicFlows

            self._quic_flows = QuicFlows(max_flows=min(self.max_flows, 4096))
        return self._quic_flows

    @property
    def quic_skipped(self) -> int:
        """QUIC Initials left unopened to keep a flood's cost bounded (rustnet.dissect.quic)."""
        return self._quic_flows.skipped if self._quic_flows is not None else 0

    # --- the hot path -----------------------------------------------------------------
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
    ) -> Info | None:
        """Learn from one TCP segment or UDP datagram; a dict of new fields or None."""
        if src < dst or (src == dst and sport <= dport):
            key: tuple[Any, ...] = (proto, src, sport, dst, dport)
            d = 0
        else:
            key = (proto, dst, dport, src, sport)
            d = 1
        flow = self._flows.get(key)
        if flow is None:
            if not payload or not self.enabled:
                return None  # nothing known, nothing to learn (a SYN or FIN only matters to a flow)
        elif flow is _DONE:
            # What _control does to a finished flow, inline: a bare SYN, FIN or RST drops it.
            if flags & (_TCP_FIN | _TCP_RST) or flags & (_TCP_SYN | _TCP_ACK) == _TCP_SYN:
                del self._flows[key]
            return None
        else:
            if flags & (_TCP_SYN | _TCP_FIN | _TCP_RST):
                flow = self._control(key, flow, flags)
            if not payload or not self.enabled:
                return None
        try:
            if flow is None:
                if len(self._flows) < self.max_flows:
                    flow = self._flows[key] = _Flow(d)  # _new_flow without an eviction
                else:
                    flow = self._new_flow(key, d)
            if proto == PROTO_TCP:
                if (
                    seq is not None
                    and flow.nxt[d] is None
                    and not flow.closed & (1 << d)
                    and not flow.bufs[0]
                    and not flow.bufs[1]
                    and not flow.tunnel
                    and len(payload) <= self.buf_cap
                    and self.buffered < self.max_buffered
                ):
                    # Nothing buffered on either side: the common opening segment.
                    out = self._whole(key, flow, d, sport, dport, payload, seq)
                    if out is not _SLOW:
                        return out
                out = self._tcp(key, flow, d, sport, dport, payload, seq, ts)
                if self._flows.get(key) is flow:
                    self._resize(flow)
                return out
            return self._udp(key, flow, d, sport, dport, payload, ts)
        except DissectError:
            self.malformed += 1
            self._finish(key)
        except Exception:  # noqa: BLE001 - a parser bug must not stop the pipeline; counted
            self.bugs += 1
            self._finish(key)
        return None

    @property
    def flow_lookup(self) -> Callable[[tuple[Any, ...]], object]:
        """The flow table's lookup by the key :meth:`inspect` makes (protocol, lower endpoint
        first), for a caller that has the key already: a flow not there learns nothing from a
        segment without payload, and one that is :data:`FINISHED` nothing from any segment but a
        bare SYN, a FIN or an RST (inspect then returns None and changes nothing)."""
        return self._flows.get

    def wants(self, proto: int, src: bytes, sport: int, dst: bytes, dport: int) -> bool:
        """False when inspect would ignore this flow's payloads (classified and finished)."""
        if not self.enabled:
            return False
        if src < dst or (src == dst and sport <= dport):
            return self._flows.get((proto, src, sport, dst, dport)) is not _DONE
        return self._flows.get((proto, dst, dport, src, sport)) is not _DONE

    # --- flow table -------------------------------------------------------------------
    def _new_flow(self, key: tuple[Any, ...], d: int) -> _Flow:
        flows = self._flows
        if len(flows) >= self.max_flows:
            old, gone = flows.popitem(last=False)
            self.buffered -= gone.size
            if old[0] == PROTO_UDP and self._quic_flows is not None:
                self._quic_flows.forget(old)
        flow = flows[key] = _Flow(d)
        return flow

    def _control(self, key: tuple[Any, ...], flow: _Flow | None, flags: int) -> _Flow | None:
        """A bare SYN restarts the flow; FIN/RST drop a finished flow's entry."""
        if flow is None:
            return None
        if flags & _TCP_SYN and not flags & _TCP_ACK:
            if flow is not _DONE and flow.kind == K_NEW and not flow.bufs[0] and not flow.bufs[1]:
                return flow  # a retransmitted SYN: nothing to restart
            self.buffered -= flow.size
            del self._flows[key]
            return None
        if flags & (_TCP_FIN | _TCP_RST) and flow is _DONE:
            del self._flows[key]
            return None
        return flow

    def _finish(self, key: tuple[Any, ...]) -> None:
        flow = self._flows.get(key)
        if flow is not None:
            self.buffered -= flow.size
        self._flows[key] = _DONE

    def _resize(self, flow: _Flow) -> None:
        """Account what the flow buffers now in the inspector-wide total."""
        bufs = flow.bufs
        size = len(bufs[0]) + len(bufs[1])
        held0, held1 = flow.ooo
        if held0:
            size += sum(map(len, held0.values()))
        if held1:
            size += sum(map(len, held1.values()))
        if size != flow.size:
            self.buffered += size - flow.size
            flow.size = size

    # --- TCP ----------------------------------------------------------------------------
    def _accept(self, flow: _Flow, d: int, payload: bytes | memoryview, seq: int | None) -> bool:
        """Add a segment to direction d's in-order buffer; False when it brought nothing new."""
        buf = flow.bufs[d]
        room = self.buf_cap - len(buf)
        if room <= 0:
            return False
        if self.buffered >= self.max_buffered:
            # Everyone's buffers are full: this direction gives up rather than grow memory
            # (skipping the segment instead would corrupt an in-order stream).
            self.starved += 1
            self._close_dir(flow, d)
            return False
        flow.mark[d] = len(buf)
        if seq is None:
            buf += payload[:room]
            return True
        n = len(payload)
        nxt = flow.nxt[d]
        if nxt is None:
            buf += payload[:room]
            flow.nxt[d] = (seq + n) & _SEQ_MASK
            return True
        ahead = (seq - nxt) & _SEQ_MASK
        if ahead and not buf and (flow.stray >> d & 1 or flow.kind == K_LINES):
            # Nothing read waits for what is missing: a stray first segment was dropped (the
            # next one ahead, or one out of any window, anchors the direction), or a text
            # protocol's lines were read up to a gap (they go on after it).
            if ahead < _SEQ_HALF or (flow.kind != K_LINES and ahead < (1 << 32) - STRAY_DISTANCE):
                flow.ooo[d] = None
                ahead = 0
        if ahead == 0:
            buf += payload[:room]
            flow.nxt[d] = (seq + n) & _SEQ_MASK
        elif ahead < _SEQ_HALF:
            # A gap: hold the segment until what is missing arrives.
            held = flow.ooo[d]
            if held is None:
                held = flow.ooo[d] = {}
            if len(held) < MAX_OOO and ahead < room and sum(map(len, held.values())) + n <= room:
                held[seq] = bytes(payload[:room])
            return False
        else:
            behind = (nxt - seq) & _SEQ_MASK
            if behind >= n:
                return False  # a pure retransmission
            buf += payload[behind : behind + room]
            flow.nxt[d] = (seq + n) & _SEQ_MASK
        held = flow.ooo[d]
        while held:
            nxt_seq = flow.nxt[d]
            assert nxt_seq is not None
            for s, data in list(held.items()):
                behind = (nxt_seq - s) & _SEQ_MASK
                if behind < _SEQ_HALF:  # starts at or before the next expected byte
                    del held[s]
                    if behind < len(data):
                        buf += data[behind : behind + max(0, self.buf_cap - len(buf))]
                        flow.nxt[d] = (s + len(data)) & _SEQ_MASK
                    break
            else:
                break
        return True

    def _whole(
        self,
        key: tuple[Any, ...],
        flow: _Flow,
        d: int,
        sport: int,
        dport: int,
        payload: bytes | memoryview,
        seq: int,
    ) -> Info | None:
        """A direction's first segment that holds a whole TLS hello or HTTP head, read in place.

        Gives the answer and leaves the state that buffering the segment and reading the
        buffer (_tcp, _stream) would, without the copies and calls; anything else (a hello
        split over segments, an unfinished head, CONNECT, other protocols) is _SLOW, with
        nothing changed. The caller checked: nothing buffered either way, no tunnel, this
        direction open and without a sequence number yet, room in the buffers.
        tests/test_dpi_inspector_equiv.py holds it to the general path.
        """
        kind = flow.kind
        n = len(payload)
        if kind == K_NEW and (sport == 53 or dport == 53):
            return _SLOW
        if n >= 9 and payload[0] == tls.CONTENT_HANDSHAKE and payload[1] == 3:
            # The record header and the handshake header in one struct read.
            minor, rlen, mtype, hlen_hi, hlen_lo = _TLS_HEADS(payload)
            if kind == K_NEW:
                if minor > 4 or mtype not in _HELLOS:
                    return _SLOW
            elif kind != K_TLS:
                return _SLOW
            stop = (hlen_hi << 16 | hlen_lo) + 9
            if not 0 < rlen <= tls.MAX_RECORD_LEN or stop > tls.RECORD_HEADER_LEN + rlen or stop > n:
                return _SLOW  # the hello goes on in later records or segments
            flow.nxt[d] = (seq + n) & _SEQ_MASK
            flow.budget = KNOWN_BUDGET if kind == K_NEW else flow.budget - 1
            flow.kind = K_TLS
            flow.closed |= 1 << d
            out: Info = {"app": "TLS"}
            try:
                if mtype == tls.HS_CLIENT_HELLO:
                    tls.parse_client_hello(bytes(payload[9:stop])).fields(out)
                elif mtype == tls.HS_SERVER_HELLO:
                    tls.parse_server_hello(bytes(payload[9:stop])).fields(out)
            except DissectError:
                self.malformed += 1
        elif kind == K_NEW or kind == K_HTTP:
            data = payload if type(payload) is bytes else bytes(payload)
            final = n >= self.buf_cap
            # Either start makes a new flow HTTP (_classify_tcp), as neither can look like TLS.
            if http.request_start(data):
                req = http.parse_request(data, final)  # its DissectError: as from _tcp
                if req is None or req.method == "CONNECT":
                    return _SLOW
                out = {"app": "HTTP", "http_method": req.method, "http_path": req.path}
                if req.host is not None:
                    out["http_host"] = req.host
                if req.user_agent is not None:
                    out["http_user_agent"] = req.user_agent
                flow.closed |= 1 << d
            elif http.response_start(data):
                status = http.response_status(data, final)
                if status is None:
                    return _SLOW
                out = {"app": "HTTP", "http_status": status}
                flow.closed |= 1 << d
                self._close_dir(flow, 1 - d)  # a response ends what the flow can tell
            else:
                return _SLOW
            flow.nxt[d] = (seq + n) & _SEQ_MASK
            flow.budget = KNOWN_BUDGET if kind == K_NEW else flow.budget - 1
            flow.kind = K_HTTP
        else:
            return _SLOW
        if flow.closed == 3 or flow.budget <= 0:
            # _finish, knowing the flow is the table's entry for key (one lookup fewer).
            self.buffered -= flow.size
            self._flows[key] = _DONE
        return out

    def _tcp(
        self,
        key: tuple[Any, ...],
        flow: _Flow,
        d: int,
        sport: int,
        dport: int,
        payload: bytes | memoryview,
        seq: int | None,
        ts: float,
    ) -> Info | None:
        if flow.closed & (1 << d):
            flow.budget -= 1
            if flow.budget <= 0:
                self._finish(key)
            return None
        n = len(payload)
        if (
            seq is not None
            and flow.nxt[d] is None
            and n <= self.buf_cap - len(flow.bufs[d])
            and self.buffered < self.max_buffered
        ):
            # This direction's first segment, and it fits: what _accept would do, inline.
            flow.mark[d] = len(flow.bufs[d])
            flow.bufs[d] += payload
            flow.nxt[d] = (seq + n) & _SEQ_MASK
        elif not self._accept(flow, d, payload, seq):
            return None
        flow.budget -= 1
        out = self._stream(key, flow, d, sport, dport, ts)
        other = 1 - d
        if flow.bufs[other] and not flow.closed & (1 << other) and flow.kind != K_NEW:
            # The other direction's bytes waited for the flow to be classified (or for a
            # CONNECT tunnel to open): they may already hold a whole hello.
            more = self._stream(key, flow, other, dport, sport, ts)
            if more:
                out = more if out is None else {**more, **out}
        if flow.closed == 3 or flow.budget <= 0:
            self._finish(key)
        return out

    def _stream(
        self, key: tuple[Any, ...], flow: _Flow, d: int, sport: int, dport: int, ts: float
    ) -> Info | None:
        """Classify direction d's buffered bytes if needed, then read what they carry."""
        out = self._read(key, flow, d, sport, dport, ts)
        if out is _AGAIN:
            # Its start was a stray segment: once more from the latest segment on.
            out = self._read(key, flow, d, sport, dport, ts)
            if out is _AGAIN:
                out = None
        return out

    def _read(
        self, key: tuple[Any, ...], flow: _Flow, d: int, sport: int, dport: int, ts: float
    ) -> Info | None:
        if flow.kind == K_NEW:
            kind = self._classify_tcp(flow, d, sport, dport)
            if kind == _AGAIN_KIND:
                return _AGAIN
            if kind == K_NEW:
                return None
            flow.kind = kind
            flow.budget = KNOWN_BUDGET
            if kind == K_SSH:
                server = sport == SSH_PORT or (dport != SSH_PORT and sport < dport)
                flow.server_dir = d if server else 1 - d
                flow.walkers = [ssh.PacketWalker(), ssh.PacketWalker()]
        kind = flow.kind
        if kind == K_TLS:
            return self._tls(flow, d)
        if kind == K_HTTP:
            return self._http(flow, d)
        if kind == K_SSH:
            return self._ssh(flow, d)
        if kind == K_DNS_TCP:
            return self._dns_tcp(key, flow, d, ts)
        if kind == K_LINES:
            return self._lines(flow, d, sport, dport)
        if kind == K_MQTT:
            return self._mqtt(flow, d)
        if kind == K_NBSS:
            return self._nbss(flow, d)
        return self._bittorrent(flow, d)

    def _classify_tcp(self, flow: _Flow, d: int, sport: int, dport: int) -> int:
        """The kind direction d's first bytes announce, K_NEW while undecided or unknown."""
        data = bytes(flow.bufs[d][:32])
        if sport == 53 or dport == 53:
            return K_DNS_TCP
        if netbios.SSN_PORT in (sport, dport) and data[:1] in _NBSS_OPENINGS:
            return K_NBSS
        if tls.looks_like_handshake(data):
            if len(data) < 6:
                return K_NEW
            if data[5] in (tls.HS_CLIENT_HELLO, tls.HS_SERVER_HELLO):
                return K_TLS
        else:
            connect = mqtt.connect_start(data)
            if connect or (connect is False and mqtt.PORT in (sport, dport) and data[0] >> 4):
                return K_MQTT
            req = http.request_start(data)
            if req:
                return K_HTTP
            resp = http.response_start(data)
            if resp:
                return K_HTTP
            banner = ssh.banner_start(data)
            if banner:
                return K_SSH
            if data.startswith(udpmisc.BT_HANDSHAKE[: len(data)]) and data:
                return K_NEW if len(data) < len(udpmisc.BT_HANDSHAKE) else K_BT
            if req is None or resp is None or banner is None or connect is None:
                return K_NEW  # too short to tell: wait for more of this direction
            if data and not data.translate(None, _TEXT):
                mark = flow.mark[d]
                if mark and _known_start(bytes(flow.bufs[d][mark : mark + 32])) and self._restart(flow, d):
                    return _AGAIN_KIND  # text before a known start: a stray segment first
                return K_LINES
        # Nothing this inspector knows: this direction is of no interest, unless its first
        # segment was a stray one (a keep-alive probe, a retransmission) before the stream.
        return _AGAIN_KIND if self._restart(flow, d) else K_NEW

    def _restart(self, flow: _Flow, d: int) -> bool:
        """Direction d's start was not what it seemed: start it again, or give it up.

        A connection picked up mid-stream may show first a keep-alive probe (one byte before
        the next one due), a retransmitted or a stray out-of-window segment; none may anchor
        the stream. True: read again from the latest segment (it followed the stray bytes).
        False: the bytes are dropped; the direction goes on from where they end, and a
        segment out of any window from there (STRAY_DISTANCE) anchors it anew. After
        MAX_RESTARTS the direction is given up.
        """
        if flow.restarts >= MAX_RESTARTS:
            self._close_dir(flow, d)
            return False
        flow.restarts += 1
        buf = flow.bufs[d]
        mark = flow.mark[d]
        flow.mark[d] = 0
        if 0 < mark < len(buf):
            del buf[:mark]
            return True
        buf.clear()
        flow.ooo[d] = None
        flow.stray |= 1 << d
        return False

    def _close_dir(self, flow: _Flow, d: int) -> None:
        flow.closed |= 1 << d
        flow.bufs[d] = bytearray()
        flow.ooo[d] = None

    def _tls(self, flow: _Flow, d: int) -> Info | None:
        buf = flow.bufs[d]
        try:
            msg = tls.first_handshake_message(buf)
        except DissectError:
            self.malformed += 1
            return _AGAIN if self._restart(flow, d) else None
        if msg is None:
            if len(buf) >= self.buf_cap:
                self._close_dir(flow, d)  # too big to be a hello we can hold: no partial fields
            return None
        self._close_dir(flow, d)
        mtype, body = msg
        out: Info = {"app": "TLS"}
        if flow.starttls is not None:
            out["starttls"] = flow.starttls
        try:
            if mtype == tls.HS_CLIENT_HELLO:
                tls.parse_client_hello(body).fields(out)
            elif mtype == tls.HS_SERVER_HELLO:
                tls.parse_server_hello(body).fields(out)
        except DissectError:
            self.malformed += 1
        return out

    def _http(self, flow: _Flow, d: int) -> Info | None:
        if flow.tunnel and d != flow.server_dir:
            return None  # the tunnel's first bytes wait in the buffer for the proxy's answer
        data = bytes(flow.bufs[d])
        final = len(data) >= self.buf_cap
        if http.request_start(data):
            req = http.parse_request(data, final)
            if req is None:
                return None
            if req.method == "CONNECT":
                # A proxy tunnel: once the proxy says 2xx, the bytes after the heads are
                # classified afresh (TLS through a proxy still shows its SNI).
                flow.tunnel = True
                flow.server_dir = 1 - d
                flow.bufs[d] = bytearray(data[_head_end(data) :])
            else:
                self._close_dir(flow, d)
            out: Info = {"app": "HTTP", "http_method": req.method, "http_path": req.path}
            if req.host is not None:
                out["http_host"] = req.host
            if req.user_agent is not None:
                out["http_user_agent"] = req.user_agent
            return out
        if http.response_start(data):
            resp = http.parse_response(data, final)
            if resp is None:
                return None
            if flow.tunnel and d == flow.server_dir and 200 <= resp.status < 300:
                flow.tunnel = False
                flow.kind = K_NEW
                flow.closed = 0
                flow.budget = UNKNOWN_BUDGET
                flow.bufs[d] = bytearray(data[_head_end(data) :])
            else:
                flow.tunnel = False
                self._close_dir(flow, d)
                self._close_dir(flow, 1 - d)  # a refused tunnel carries nothing to read
            return {"app": "HTTP", "http_status": resp.status}
        if len(data) >= 8:
            return _AGAIN if self._restart(flow, d) else None
        return None

    def _ssh(self, flow: _Flow, d: int) -> Info | None:
        walkers = flow.walkers
        assert walkers is not None
        buf = flow.bufs[d]
        out: Info | None = None
        walker = walkers[d]
        if not flow.seen & (1 << d):
            server = d == flow.server_dir
            try:
                if server:
                    # Lines before the identification, read and dropped as they come: up to
                    # 1023 of 8192 bytes, more than a buffer holds.
                    used, lines = ssh.skip_pre_lines(buf, flow.lines[d])
                    if used:
                        del buf[:used]
                        flow.lines[d] = lines
                        flow.mark[d] = 0
                        flow.budget += 1  # whole lines are bounded by count: not by packets
                got = ssh.parse_banner(bytes(buf), server=server)
            except DissectError:
                # Only this direction is lost (e.g. a server guessed wrong sends lines first).
                self.malformed += 1
                return _AGAIN if self._restart(flow, d) else None
            if got is None:
                if len(buf) >= self.buf_cap:
                    self._close_dir(flow, d)
                return None
            banner, used = got
            flow.seen |= 1 << d
            out = {"app": "SSH", ("ssh_server" if d == flow.server_dir else "ssh_client"): banner}
            data = bytes(buf[used:])
        else:
            data = bytes(buf)
        buf.clear()
        if data:
            try:
                walker.feed(data)
            except DissectError:
                self.malformed += 1
                self._close_dir(flow, d)  # lost track of the packet boundaries
                return out
        stage = flow.stage
        new: str | None
        a, b = walkers
        if a.encrypted >= ssh.ESTABLISHED_PACKETS and b.encrypted >= ssh.ESTABLISHED_PACKETS:
            new = ssh.STAGE_ESTABLISHED
        elif a.saw_newkeys and b.saw_newkeys:
            new = ssh.STAGE_AUTH
        elif a.saw_kexinit or b.saw_kexinit:
            new = ssh.STAGE_KEX
        else:
            new = stage
        if _STAGE_RANK[new] > _STAGE_RANK[stage]:
            flow.stage = new
            out = out if out is not None else {"app": "SSH"}
            out["ssh_stage"] = new
        if new == ssh.STAGE_ESTABLISHED and flow.seen == 3:
            flow.closed = 3
        return out

    def _dns_tcp(self, key: tuple[Any, ...], flow: _Flow, d: int, ts: float) -> Info | None:
        buf = flow.bufs[d]
        out: Info | None = None
        for _ in range(DNS_TCP_BATCH):
            if not buf:
                break
            got = dns.parse_tcp_stream(bytes(buf[:65537]))
            if got is None:
                if len(buf) >= self.buf_cap:
                    self._close_dir(flow, d)
                break
            msg, used = got
            del buf[:used]
            out = self._dns_info(msg, "DNS", out, key, d, ts)
        return out

    def _lines(self, flow: _Flow, d: int, sport: int, dport: int) -> Info | None:
        """A text protocol's lines, read and dropped until an SSH identification starts a
        line (a server's lines before it) or, after a STARTTLS command, a TLS record does."""
        buf = flow.bufs[d]
        pos = 0
        end = len(buf)
        lines = flow.lines[d]
        mark = flow.mark[d]
        out: Info | None = None
        while pos < end:
            if buf.startswith(ssh.PREFIX, pos):
                del buf[:pos]
                flow.lines[d] = lines
                return self._to_ssh(flow, d, sport, dport)
            if pos == mark:
                # A segment that starts a stream this inspector knows: the lines before it
                # were stray (a retransmission, the tail of a body seen mid-stream).
                head = bytes(buf[pos : pos + 32])
                if http.request_start(head) or http.response_start(head):
                    del buf[:pos]
                    flow.kind = K_HTTP
                    flow.budget = KNOWN_BUDGET
                    return self._http(flow, d)
            if flow.starttls is not None and buf[pos] == tls.CONTENT_HANDSHAKE:
                # The upgrade: from here on this direction is TLS (the peer's reply line
                # was read before this side could send its hello).
                del buf[:pos]
                flow.kind = K_TLS
                flow.budget = KNOWN_BUDGET
                flow.bufs[1 - d].clear()
                hello = self._tls(flow, d)
                return hello if out is None else out if hello is None else {**out, **hello}
            eol = buf.find(b"\n", pos, pos + MAX_TEXT_LINE)
            if eol < 0:
                if end - pos >= MAX_TEXT_LINE:
                    self._close_dir(flow, d)
                    return None
                break
            line = bytes(buf[pos:eol])
            if b"\0" in line:
                if pos == 0 and not lines:
                    return _AGAIN if self._restart(flow, d) else None
                self._close_dir(flow, d)  # binary: not a line protocol after all
                return None
            lines += 1
            if lines > MAX_TEXT_LINES:
                self._close_dir(flow, d)
                return None
            if flow.starttls is None and d != flow.first_dir and len(line) < 32:
                flow.starttls = _starttls_command(line)
            if not flow.app and (sport == ftp.PORT or dport == ftp.PORT or ftp.ftp_only(line)):
                flow.app = "FTP"
            if flow.app:
                got = ftp.line_info(line)
                if got is not None:
                    out = {"app": "FTP", **got} if out is None else {**out, **got}
            pos = eol + 1
        if pos:
            del buf[:pos]
            flow.mark[d] = max(0, mark - pos)
            flow.budget += 1  # whole lines are bounded by their count, not by packets
        flow.lines[d] = lines
        return out

    def _to_ssh(self, flow: _Flow, d: int, sport: int, dport: int) -> Info | None:
        """A text flow whose direction d starts an SSH identification: the flow is SSH."""
        flow.kind = K_SSH
        flow.budget = KNOWN_BUDGET
        if flow.lines[d]:
            flow.server_dir = d  # only a server sends lines before its identification
        elif flow.lines[1 - d]:
            flow.server_dir = 1 - d
        else:
            server = sport == SSH_PORT or (dport != SSH_PORT and sport < dport)
            flow.server_dir = d if server else 1 - d
        flow.walkers = [ssh.PacketWalker(), ssh.PacketWalker()]
        return self._ssh(flow, d)

    def _mqtt(self, flow: _Flow, d: int) -> Info | None:
        """Direction d's whole MQTT packets; one larger than the buffer is read as far as it
        holds, and ends what this direction is read for."""
        buf = flow.bufs[d]
        out: Info | None = None
        while buf:
            head = mqtt.fixed_header(buf)
            if head is None:
                break
            total = head[3] + head[2]
            whole = len(buf) >= total
            if not whole and len(buf) < self.buf_cap:
                break  # the rest of the packet is still to come
            got = mqtt.packet_info(bytes(buf[head[3] : total]), head, flow.level, whole)
            if "mqtt_version" in got:
                flow.level = 5 if got["mqtt_version"] == "5.0" else 4
            if out is None:
                out = {"app": "MQTT", **got}
            else:
                topics = out.get("mqtt_topics", []) + got.get("mqtt_topics", [])
                out.update(got)
                if topics:
                    out["mqtt_topics"] = topics
            if not whole:
                self._close_dir(flow, d)
                break
            del buf[:total]
        return out

    def _nbss(self, flow: _Flow, d: int) -> Info | None:
        """Direction d's session packets until its request or answer (keep-alives skipped)."""
        buf = flow.bufs[d]
        while len(buf) >= 4:
            total = 4 + ((buf[1] & 1) << 16 | buf[2] << 8 | buf[3])
            if buf[0] == _NBSS_KEEPALIVE and total == 4:
                del buf[:4]
                continue
            if len(buf) < total and len(buf) < self.buf_cap:
                return None
            self._close_dir(flow, d)
            return netbios.match_session(bytes(buf[:total]))
        return None

    def _bittorrent(self, flow: _Flow, d: int) -> Info | None:
        data = bytes(flow.bufs[d])
        if len(data) < 48:
            return None
        self._close_dir(flow, d)
        return udpmisc.match_bittorrent_tcp(data)

    # --- UDP ----------------------------------------------------------------------------
    def _udp(
        self,
        key: tuple[Any, ...],
        flow: _Flow,
        d: int,
        sport: int,
        dport: int,
        payload: bytes | memoryview,
        ts: float,
    ) -> Info | None:
        kind = flow.kind
        if kind == K_QUIC:
            return self._quic_datagram(key, d == flow.first_dir, payload, ts)
        if kind == K_NEW:
            app = DNS_APPS.get(dport) or DNS_APPS.get(sport)
            if app is not None:
                flow.kind = K_DNS_UDP
                flow.app = app  # datagrams are read one by one: the (empty) buffers stay unused
            elif looks_like_quic(payload):
                flow.kind = K_QUIC
                return self._quic_datagram(key, d == flow.first_dir, payload, ts)
            else:
                found = udpmisc.match_udp(bytes(payload[:2048]), sport, dport)
                flow.budget -= 1
                timing = udpmisc.TIMING_IDS.get(found["app"]) if found is not None else None
                if found is not None and timing is not None:
                    # Requests and responses of this flow are paired for their round trip: it
                    # stays to give their ids (no more fields: the first packet's stand).
                    flow.kind = K_TIMED
                    flow.app = found["app"]
                    ids = timing(payload)
                    if ids is not None:
                        found.update(ids)
                elif found is not None or flow.budget <= 0:
                    self._finish(key)
                return found
        if kind == K_TIMED:
            return udpmisc.TIMING_IDS[flow.app](payload)
        try:
            msg = dns.parse_message(payload if type(payload) is bytes else bytes(payload))
        except DissectError:
            self.malformed += 1
            flow.bad += 1
            if flow.bad >= DNS_BAD_LIMIT:
                self._finish(key)
            return None
        return self._dns_info(msg, flow.app, None, key, d, ts)

    def _quic_datagram(
        self, key: tuple[Any, ...], from_client: bool, payload: bytes | memoryview, ts: float
    ) -> Info | None:
        """QUIC's fields, and on an Initial or Handshake packet its type (``quic_packet``), which
        rn-track times the handshake by."""
        out = self._quic.inspect(key, from_client, payload, ts)
        if payload and payload[0] & 0x80:
            from rustnet.dissect.quic import packet_hint  # loaded with the QUIC flow table

            hint = packet_hint(payload)
            if hint is not None:
                if out is None:
                    out = {"app": "QUIC"}
                out["quic_packet"] = hint
        return out

    # --- DNS fields -----------------------------------------------------------------------
    def _dns_info(
        self, msg: dns.DnsMessage, app: str, out: Info | None, key: tuple[Any, ...], d: int, ts: float
    ) -> Info:
        if out is None:
            return self._dns_fresh(msg, app, key, d, ts)
        if msg.questions:
            first = msg.questions[0]
            out.setdefault("dns_query", first.name)
            out.setdefault("dns_qtype", dns.type_name(first.qtype))
            names = out.setdefault("dns_queries", [])
            for q in msg.questions:
                if q.name not in names:
                    names.append(q.name)
        timed = _TIMED_DNS.get(app)
        if not msg.response:
            if timed is not None:
                out.setdefault("req_id", f"{timed}{msg.id:04x}")
            self._asked(msg, key, d, ts)
            return out
        if timed is not None:
            out.setdefault("resp_id", f"{timed}{msg.id:04x}")
        out["dns_response"] = True
        out.setdefault("dns_rcode", dns.rcode_name(msg.rcode))
        if msg.answers:
            answers = out.setdefault("dns_answers", [])
            for ans in msg.answers[:MAX_DNS_ANSWERS]:
                answers.append(dns.answer_text(ans))
        resolved = self._resolved(msg, key, d, ts)
        if resolved:
            out.setdefault("dns_resolved", []).extend(resolved)
        return out

    def _dns_fresh(self, msg: dns.DnsMessage, app: str, key: tuple[Any, ...], d: int, ts: float) -> Info:
        """_dns_info for a message of its own: the same dict, by plain stores (nothing to merge)."""
        out: Info = {"app": app}
        questions = msg.questions
        if questions:
            first = questions[0]
            name = first.name
            out["dns_query"] = name
            qtype = dns.TYPE_NAMES.get(first.qtype)
            out["dns_qtype"] = qtype if qtype is not None else dns.type_name(first.qtype)
            names = [name]
            for q in questions[1:]:
                if q.name not in names:
                    names.append(q.name)
            out["dns_queries"] = names
        timed = _TIMED_DNS.get(app)
        if not msg.response:
            if timed is not None:
                out["req_id"] = f"{timed}{msg.id:04x}"
            self._asked(msg, key, d, ts)
            return out
        if timed is not None:
            out["resp_id"] = f"{timed}{msg.id:04x}"
        out["dns_response"] = True
        out["dns_rcode"] = dns.rcode_name(msg.rcode)
        if msg.answers:
            text = dns.answer_text
            out["dns_answers"] = [text(ans) for ans in msg.answers[:MAX_DNS_ANSWERS]]
        resolved = self._resolved(msg, key, d, ts)
        if resolved:
            out["dns_resolved"] = resolved
        return out

    # --- which responses may name addresses (see the module doc) ---------------------------
    def _asked(self, msg: dns.DnsMessage, key: tuple[Any, ...], d: int, ts: float) -> None:
        """Remember a query until its answer comes (or its window passes)."""
        if not msg.questions:
            return
        pending = self.dns_pending
        entry = (key, d, msg.id)
        if entry in pending:
            del pending[entry]  # a retry with the same id: its window starts again
        elif len(pending) >= MAX_DNS_PENDING:
            _, (asked_at, _) = pending.popitem(last=False)
            if abs(ts - asked_at) <= DNS_ANSWER_WINDOW:
                self.dns_evicted += 1
        pending[entry] = (ts, msg.questions[0].name.casefold())

    def _resolved(self, msg: dns.DnsMessage, key: tuple[Any, ...], d: int, ts: float) -> list[str]:
        """``"address name"`` for each A/AAAA answer of a response to a query seen, else []."""
        entry = (key, 1 - d, msg.id)
        got = self.dns_pending.get(entry)
        if got is None:
            self.dns_unsolicited += 1
            return []
        asked_at, asked = got
        if msg.questions and msg.questions[0].name.casefold() != asked:
            self.dns_unsolicited += 1  # not its answer: the query still waits for the real one
            return []
        del self.dns_pending[entry]  # answered once: a second answer names nothing
        if abs(ts - asked_at) > DNS_ANSWER_WINDOW:
            self.dns_unsolicited += 1
            return []
        name = msg.questions[0].name if msg.questions else asked
        return [
            f"{ans.value} {name}"
            for ans in msg.answers[:MAX_DNS_ANSWERS]
            if ans.rtype in (dns.TYPE_A, dns.TYPE_AAAA) and ans.value
        ]
