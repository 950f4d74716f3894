"""QUIC (RFC 9000/9001, v2 RFC 9369, drafts 23-34): versions, states, SNI/ALPN, closes.

API (what :mod:`rustnet.dissect.dpi` calls for UDP payloads)::

    flows = QuicFlows(max_flows=4096)
    if flows.known(key) or looks_like_quic(payload):
        info = flows.inspect(key, from_client, payload, ts)   # dict or None
    flows.forget(key)                                         # optional, when a flow ends

* ``key``: any hashable, direction-free flow key chosen by the caller.
* ``from_client``: True when the datagram travels from the flow's originator. It is only a
  hint: which side is the client is confirmed by which Initial keys verify.
* ``looks_like_quic(payload)``: cheap test on the first bytes (long header with the fixed
  bit and a plausible version, or a Version Negotiation packet). Short-header packets
  cannot be recognised without flow state; :meth:`QuicFlows.known` says a flow has it.
* ``inspect`` never raises on packet data. It returns None when the datagram taught
  nothing new, else a dict with only the new facts (the caller merges):

  ``app``                ``"QUIC"`` (always present in a returned dict)
  ``quic_version``       ``"0x00000001"``; the version of the client's Initials
  ``sni``                ClientHello server_name, escaped for display (str)
  ``alpn``               ClientHello ALPN protocol names, escaped (list[str])
  ``tls_versions_offered``  ClientHello supported_versions (``["TLS 1.3"]``), as for TLS
  ``ech``                True when the ClientHello offers Encrypted Client Hello
  ``tls_version``, ``tls_cipher``  from the ServerHello in the server's Initial
  ``quic_state``         a hint for the tracker: QUIC_INITIAL, QUIC_HANDSHAKE,
                         QUIC_CONNECTED, QUIC_DRAINING (a CONNECTION_CLOSE was seen),
                         QUIC_CLOSED (both sides sent one). Never moves backwards.
  ``quic_close``         CONNECTION_CLOSE error code (int)
  ``quic_close_app``     True for an application close (frame 0x1d)
  ``quic_close_reason``  its reason phrase, escaped (str, may be empty)
  ``quic_retry``         True once a Retry packet was seen
  ``quic_vn``            versions offered by a Version Negotiation packet (list[str])
  ``quic_dcid``, ``quic_scid``  hex connection IDs of the client's first Initial

What is decrypted: Initial packets of both sides (the server's with the keys from the
client's original DCID, or the DCID a Retry chose). Handshake, 0-RTT and 1-RTT packets
are counted for the state only: their keys never cross the wire.

Bounds: at most ``max_flows`` flows (oldest evicted); ``CRYPTO_CAP`` bytes of client
and ``SERVER_CRYPTO_CAP`` of server CRYPTO data per flow, ``max_buffered`` for all flows
together, ``MAX_FRAGMENTS`` fragments per stream; ``MAX_PACKETS_PER_DATAGRAM`` coalesced
packets; ``MAX_FAILED_INITIALS`` key derivations for Initials that do not open;
``MAX_OPENED_INITIALS`` Initials decrypted per flow.

Floods: a client's first Initial costs a key derivation, a decryption and a ClientHello
parse (~100 times an ordinary packet), and anyone can send them from random ports with
random DCIDs. So opening a first Initial (of a new flow, or under a new DCID) takes a
token from a bucket refilled with capture time (``INITIAL_RATE`` per second, at most
``INITIAL_BURST`` saved): past it the Initial is skipped, counted in
:attr:`QuicFlows.skipped` (rn-dissect's ``dstats`` ``quic_skipped``), and the flow still
shows as QUIC with its version and state, without SNI. Keys are cached by version and
DCID (``KEY_CACHE``), so a DCID seen again costs no new derivation.

Malformed input raises :class:`QuicError` (a :class:`~rustnet.dissect.errors.DissectError`)
inside the parsers; inspect catches it and counts it in :attr:`QuicFlows.malformed`.
Hello bodies are read by :mod:`rustnet.dissect.tls`; names are escaped by
:mod:`rustnet.dissect.safe_text`.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Final

from rustnet.dissect import quic_crypto as qc
from rustnet.dissect import tls
from rustnet.dissect.errors import DissectError
from rustnet.dissect.quic_detect import MAX_CID, looks_like_quic
from rustnet.dissect.safe_text import escape_text

CRYPTO_CAP: Final = 64 * 1024  # client CRYPTO bytes held per flow (ClientHello)
SERVER_CRYPTO_CAP: Final = 16 * 1024  # server CRYPTO bytes held per flow (ServerHello)
MAX_BUFFERED: Final = 16 * 1024 * 1024  # CRYPTO bytes held by all flows together
MAX_FRAGMENTS: Final = 256
MAX_PACKETS_PER_DATAGRAM: Final = 16
MAX_FRAMES_PER_PACKET: Final = 1024
MAX_VN_VERSIONS: Final = 32
MAX_REASON: Final = 256
# Initials no key opened before a flow stops deriving keys for it: a flood of junk that
# looks like Initials costs a key derivation and a failed AEAD each.
MAX_FAILED_INITIALS: Final = 16
# Initials decrypted per flow: a handshake takes a handful per side; the rest of a flood
# down one flow is only counted for the state.
MAX_OPENED_INITIALS: Final = 64
# First Initials opened per second of capture time, and the most saved up: far above what a
# host or a busy site opens (each costs ~100 ordinary packets), far below a flood.
INITIAL_RATE: Final = 500.0
INITIAL_BURST: Final = 1000.0
KEY_CACHE: Final = 1024  # client Initial keys kept by (salt, DCID)

# States, in the only order they move.
QUIC_INITIAL: Final = "QUIC_INITIAL"
QUIC_HANDSHAKE: Final = "QUIC_HANDSHAKE"
QUIC_CONNECTED: Final = "QUIC_CONNECTED"
QUIC_DRAINING: Final = "QUIC_DRAINING"
QUIC_CLOSED: Final = "QUIC_CLOSED"
STATES: Final = (QUIC_INITIAL, QUIC_HANDSHAKE, QUIC_CONNECTED, QUIC_DRAINING, QUIC_CLOSED)
_RANK: Final = {s: i for i, s in enumerate(STATES)}

# Long-header packet types, normalised to the v1 numbering.
PT_INITIAL: Final = 0
PT_0RTT: Final = 1
PT_HANDSHAKE: Final = 2
PT_RETRY: Final = 3
_V2_TO_V1: Final = (PT_RETRY, PT_INITIAL, PT_0RTT, PT_HANDSHAKE)

# Frame types found in Initial and Handshake packets.
F_PADDING: Final = 0x00
F_PING: Final = 0x01
F_ACK: Final = 0x02
F_ACK_ECN: Final = 0x03
F_CRYPTO: Final = 0x06
F_CLOSE: Final = 0x1C
F_CLOSE_APP: Final = 0x1D


# _open_initial's answer when the budget is spent, compared by identity (its other answers
# are tuples built as they are returned, never this one).
_SKIPPED: Final[tuple[bool, bytes]] = (False, b"")


class QuicError(DissectError):
    """The one error the QUIC parsers raise on malformed input (caught by inspect)."""


# --- small readers -------------------------------------------------------------------


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """A variable-length integer (RFC 9000 §16) at ``pos``: (value, next position)."""
    if pos >= len(buf):
        raise QuicError("varint past end")
    first = buf[pos]
    n = 1 << (first >> 6)
    if pos + n > len(buf):
        raise QuicError("varint past end")
    v = first & 0x3F
    for i in range(1, n):
        v = (v << 8) | buf[pos + i]
    return v, pos + n


def _long_type(payload: bytes | memoryview) -> int:
    """The v1 type of the long-header packet a datagram starts with; -1 for Version Negotiation."""
    version = int.from_bytes(payload[1:5], "big")
    if version == 0:
        return -1
    raw_type = (payload[0] >> 4) & 0x03
    known = qc.profile_for(version)
    return _V2_TO_V1[raw_type] if known is not None and known.v2_types else raw_type


def _initial_type(payload: bytes | memoryview) -> bool:
    """True when a datagram that looks like QUIC starts with an Initial packet."""
    return _long_type(payload) == PT_INITIAL


# quic_packet, the per-datagram hint rn-track times the handshake by (rustnet.dissect.dpi adds it),
# by _long_type: 0-RTT, Retry and Version Negotiation packets are not timed.
PACKET_NAMES: Final = {PT_INITIAL: "initial", PT_HANDSHAKE: "handshake"}


def packet_hint(payload: bytes | memoryview) -> str | None:
    """``quic_packet`` of a datagram of a QUIC flow: initial, handshake or None."""
    if len(payload) < 5 or not payload[0] & 0x80:
        return None  # a short header (1-RTT), the bulk of a flow's datagrams
    return PACKET_NAMES.get(_long_type(payload))


# --- packet headers -----------------------------------------------------------------


class LongHeader:
    """One long-header packet of a datagram (offsets are absolute in the datagram)."""

    __slots__ = ("start", "end", "version", "ptype", "dcid", "scid", "pn_offset", "vn")

    def __init__(self) -> None:
        self.start = 0
        self.end = 0
        self.version = 0
        self.ptype = 0
        self.dcid = b""
        self.scid = b""
        self.pn_offset = 0
        self.vn: list[int] = []


def parse_long_header(data: bytes, pos: int) -> LongHeader:
    """Parse the long header starting at ``data[pos]``; raises QuicError when malformed."""
    n = len(data)
    if pos + 7 > n:
        raise QuicError("long header cut")
    h = LongHeader()
    h.start = pos
    b0 = data[pos]
    h.version = int.from_bytes(data[pos + 1 : pos + 5], "big")
    p = pos + 5
    dlen = data[p]
    p += 1
    if p + dlen + 1 > n:
        raise QuicError("dcid cut")
    h.dcid = bytes(data[p : p + dlen])
    p += dlen
    slen = data[p]
    p += 1
    if p + slen > n:
        raise QuicError("scid cut")
    h.scid = bytes(data[p : p + slen])
    p += slen
    if h.version == 0:  # Version Negotiation: the rest is a list of versions
        h.ptype = -1
        body = data[p:n]
        if len(body) < 4:
            raise QuicError("empty version negotiation")
        h.vn = [
            int.from_bytes(body[i : i + 4], "big")
            for i in range(0, min(len(body) // 4, MAX_VN_VERSIONS) * 4, 4)
        ]
        h.end = n
        return h
    known = qc.profile_for(h.version)
    if known is not None and (dlen > MAX_CID or slen > MAX_CID):
        raise QuicError("connection id too long")
    raw_type = (b0 >> 4) & 0x03
    h.ptype = _V2_TO_V1[raw_type] if known is not None and known.v2_types else raw_type
    if h.ptype == PT_RETRY:
        h.end = n
        h.pn_offset = p
        return h
    if h.ptype == PT_INITIAL:
        token_len, p = read_varint(data, p)
        if p + token_len > n:
            raise QuicError("token cut")
        p += token_len
    length, p = read_varint(data, p)
    if p + length > n:
        # The capture (snaplen) or the sender cut the packet: keep what is there.
        raise QuicError("packet longer than datagram")
    h.pn_offset = p
    h.end = p + length
    return h


# --- frames ---------------------------------------------------------------------------


def parse_frames(plain: bytes) -> tuple[list[tuple[int, bytes]], tuple[int, bool, bytes] | None]:
    """Frames of a decrypted Initial/Handshake payload.

    Returns (CRYPTO fragments as (offset, data), CONNECTION_CLOSE as (code, is_app,
    reason) or None). Stops quietly at a frame type not allowed in these packets, since
    its length cannot be known; raises QuicError when a known frame is cut.
    """
    crypto: list[tuple[int, bytes]] = []
    close: tuple[int, bool, bytes] | None = None
    pos = 0
    n = len(plain)
    frames = 0
    while pos < n and frames < MAX_FRAMES_PER_PACKET:
        frames += 1
        ft = plain[pos]
        if ft == F_PADDING:
            pos += 1
            while pos < n and plain[pos] == 0:
                pos += 1
            continue
        if ft >= 0x40:  # a multi-byte frame type encoding: read as a varint
            ft, pos = read_varint(plain, pos)
        else:
            pos += 1
        if ft == F_PING:
            continue
        if ft in (F_ACK, F_ACK_ECN):
            _, pos = read_varint(plain, pos)  # largest acknowledged
            _, pos = read_varint(plain, pos)  # ack delay
            count, pos = read_varint(plain, pos)  # range count
            _, pos = read_varint(plain, pos)  # first range
            if count > n:
                raise QuicError("ack range count")
            for _ in range(count):
                _, pos = read_varint(plain, pos)
                _, pos = read_varint(plain, pos)
            if ft == F_ACK_ECN:
                for _ in range(3):
                    _, pos = read_varint(plain, pos)
            continue
        if ft == F_CRYPTO:
            off, pos = read_varint(plain, pos)
            ln, pos = read_varint(plain, pos)
            if pos + ln > n:
                raise QuicError("crypto frame cut")
            crypto.append((off, plain[pos : pos + ln]))
            pos += ln
            continue
        if ft in (F_CLOSE, F_CLOSE_APP):
            code, pos = read_varint(plain, pos)
            if ft == F_CLOSE:
                _, pos = read_varint(plain, pos)  # offending frame type
            rlen, pos = read_varint(plain, pos)
            if pos + rlen > n:
                raise QuicError("close reason cut")
            close = (code, ft == F_CLOSE_APP, plain[pos : pos + min(rlen, MAX_REASON)])
            pos += rlen
            continue
        break
    return crypto, close


# --- TLS ClientHello ------------------------------------------------------------------


def parse_client_hello(msg: bytes) -> dict[str, Any]:
    """SNI, ALPN, TLS versions offered and ECH of a complete ClientHello handshake message.

    ``msg`` starts at the handshake header (type 1, 24-bit length); the body is read by
    :func:`rustnet.dissect.tls.parse_client_hello`. Raises a DissectError (QuicError when
    the framing is wrong) when it is not a well-formed ClientHello.
    """
    if len(msg) < 4 or msg[0] != tls.HS_CLIENT_HELLO:
        raise QuicError("not a ClientHello")
    end = 4 + int.from_bytes(msg[1:4], "big")
    if end > len(msg):
        raise QuicError("ClientHello cut")
    return tls.parse_client_hello(bytes(msg[4:end])).fields()


def parse_server_hello(msg: bytes) -> dict[str, Any]:
    """Negotiated TLS version and cipher suite of a complete ServerHello handshake message."""
    if len(msg) < 4 or msg[0] != tls.HS_SERVER_HELLO:
        raise QuicError("not a ServerHello")
    end = 4 + int.from_bytes(msg[1:4], "big")
    if end > len(msg):
        raise QuicError("ServerHello cut")
    return tls.parse_server_hello(bytes(msg[4:end])).fields()


# --- per-flow state -------------------------------------------------------------------


class _Crypto:
    """Offset-ordered reassembly of one side's Initial CRYPTO stream, bounded."""

    __slots__ = ("buf", "ranges", "fragments", "cap")

    def __init__(self, cap: int) -> None:
        self.buf = bytearray()
        self.ranges: list[list[int]] = []  # merged, sorted [start, end) intervals
        self.fragments = 0
        self.cap = cap

    def add(self, off: int, data: bytes, allowance: int) -> int:
        """Store a fragment; returns how many bytes the buffer grew by.

        A fragment is dropped beyond the cap, after MAX_FRAGMENTS, or when the growth
        would exceed ``allowance`` (what is left of the table-wide budget).
        """
        if not data or off >= self.cap or self.fragments >= MAX_FRAGMENTS:
            return 0
        end = min(off + len(data), self.cap)
        growth = max(0, end - len(self.buf))
        if growth > allowance:
            return 0
        self.fragments += 1
        if growth:
            self.buf.extend(bytes(growth))
        self.buf[off:end] = data[: end - off]
        merged: list[list[int]] = []
        for r in sorted(self.ranges + [[off, end]]):
            if merged and r[0] <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], r[1])
            else:
                merged.append(r)
        self.ranges = merged
        return growth

    def contiguous(self) -> int:
        """Bytes available from offset 0 without a hole."""
        return self.ranges[0][1] if self.ranges and self.ranges[0][0] == 0 else 0


class _Flow:
    __slots__ = (
        "state",
        "version",
        "profile",
        "odcid",
        "client_keys",
        "server_keys",
        "largest",
        "crypto",
        "closed",
        "retry",
        "vn_seen",
        "reported",
        "failed",
        "opened",
        "cids_reported",
    )

    def __init__(self) -> None:
        self.state = ""
        self.version = -1
        self.profile: qc.Profile | None = None
        self.odcid: bytes | None = None  # the DCID the Initial keys come from
        self.client_keys: qc.InitialKeys | None = None
        self.server_keys: qc.InitialKeys | None = None
        self.largest = [-1, -1]  # largest Initial pn, client / server
        # CRYPTO stream of each side (client, server) until its hello is read; then None.
        self.crypto: list[_Crypto | None] = [_Crypto(CRYPTO_CAP), _Crypto(SERVER_CRYPTO_CAP)]
        self.cids_reported = False
        self.closed = [False, False]  # CONNECTION_CLOSE seen client / server
        self.retry = False
        self.vn_seen = False
        self.reported = False
        self.failed = 0  # Initials no key opened
        self.opened = 0  # Initials decrypted


class QuicFlows:
    """Bounded per-flow QUIC state; see the module docstring for the contract."""

    def __init__(self, max_flows: int = 4096, max_buffered: int = MAX_BUFFERED) -> None:
        self.max_flows = max_flows
        self.max_buffered = max_buffered
        self.buffered = 0  # CRYPTO bytes held by all flows
        # Oldest first out: an OrderedDict finds it in O(1) (a dict, after many deletions, not).
        self._flows: OrderedDict[Any, _Flow] = OrderedDict()
        self.malformed = 0  # datagrams with a malformed QUIC packet
        self.decrypted = 0  # Initial packets whose AEAD tag verified
        self.undecryptable = 0  # Initial packets no known key opened
        self.skipped = 0  # Initials not opened: over the budget (see the module doc)
        self.bugs = 0  # unexpected exceptions caught (should stay 0)
        self._tokens = INITIAL_BURST
        self._refilled: float | None = None  # capture time of the last refill
        self._now = 0.0  # capture time of the datagram being inspected
        self._key_cache: OrderedDict[tuple[bytes, bytes], qc.InitialKeys] = OrderedDict()

    def known(self, key: Any) -> bool:
        """True when the flow was recognised as QUIC (short headers are then inspected)."""
        return key in self._flows

    def forget(self, key: Any) -> None:
        flow = self._flows.pop(key, None)
        if flow is not None:
            self._release(flow, False)
            self._release(flow, True)

    def inspect(
        self, key: Any, from_client: bool, payload: bytes | memoryview, ts: float
    ) -> dict[str, Any] | None:
        """Learn from one UDP datagram; never raises on its content."""
        flow = self._flows.get(key)
        if flow is None:
            if not looks_like_quic(payload):
                return None
            if not self._budget_left(ts) and _initial_type(payload):
                return self._skip_new(payload, from_client)
            if len(self._flows) >= self.max_flows:
                self.forget(next(iter(self._flows)))
            flow = self._flows[key] = _Flow()
        elif payload and not payload[0] & 0x80:
            # Short header: 1-RTT traffic, the fast path once connected.
            if flow.state in (QUIC_CONNECTED, QUIC_DRAINING, QUIC_CLOSED) or not payload[0] & 0x40:
                return None
            return self._advance(flow, {}, QUIC_CONNECTED)
        out: dict[str, Any] = {}
        self._now = ts
        try:
            self._datagram(flow, bytes(payload), from_client, out)
        except QuicError:
            self.malformed += 1
        except (ValueError, IndexError, OverflowError, KeyError, TypeError):
            # A bug in these parsers must not take the pipeline down; counted apart so
            # the fuzz tests see it.
            self.bugs += 1
        if not flow.reported:
            flow.reported = True
            out.setdefault("quic_state", flow.state or QUIC_INITIAL)
        if not out:
            return None
        out["app"] = "QUIC"
        return out

    # --- internals ------------------------------------------------------------------
    def _advance(self, flow: _Flow, out: dict[str, Any], state: str) -> dict[str, Any] | None:
        if not flow.state or _RANK[state] > _RANK[flow.state]:
            flow.state = state
            out["quic_state"] = state
            out["app"] = "QUIC"
            return out
        return out or None

    def _datagram(self, flow: _Flow, data: bytes, from_client: bool, out: dict[str, Any]) -> None:
        pos = 0
        n = len(data)
        for _ in range(MAX_PACKETS_PER_DATAGRAM):
            if pos >= n:
                return
            b0 = data[pos]
            if not b0 & 0x80:
                # A short header can only be the last packet of a datagram.
                if b0 & 0x40 and flow.state:
                    self._advance(flow, out, QUIC_CONNECTED)
                return
            h = parse_long_header(data, pos)
            if h.version == 0:
                if not flow.vn_seen:
                    flow.vn_seen = True
                    out["quic_vn"] = [f"0x{v:08x}" for v in h.vn]
                return
            if flow.version < 0 and h.ptype == PT_INITIAL and from_client:
                flow.version = h.version
                out["quic_version"] = f"0x{h.version:08x}"
            if h.ptype == PT_RETRY:
                if not flow.retry:
                    flow.retry = True
                    out["quic_retry"] = True
                # The client restarts with the Retry's SCID as DCID: new Initial keys.
                flow.odcid = None
                flow.client_keys = flow.server_keys = None
                flow.largest = [-1, -1]
                self._advance(flow, out, QUIC_INITIAL)
                return
            if h.ptype == PT_INITIAL:
                self._initial(flow, data, h, from_client, out)
            elif h.ptype == PT_HANDSHAKE:
                self._advance(flow, out, QUIC_HANDSHAKE)
            else:
                self._advance(flow, out, QUIC_INITIAL)
            pos = h.end
            # Datagrams are padded after the last packet (zeros, or junk when greased).
            if pos < n and (data[pos] & 0x40) == 0 and data[pos] & 0x80 == 0:
                return

    def _initial(
        self, flow: _Flow, data: bytes, h: LongHeader, from_client: bool, out: dict[str, Any]
    ) -> None:
        self._advance(flow, out, QUIC_INITIAL)
        if flow.opened >= MAX_OPENED_INITIALS:
            self.skipped += 1
            return
        opened = self._open_initial(flow, data, h, from_client)
        if opened is _SKIPPED:
            self.skipped += 1
            return
        if opened is None:
            self.undecryptable += 1
            flow.failed += 1
            return
        self.decrypted += 1
        flow.opened += 1
        is_server, plain = opened
        if is_server:
            self._advance(flow, out, QUIC_HANDSHAKE)
        elif flow.version != h.version:
            # The first version seen, or the one the client moved to after Version Negotiation.
            flow.version = h.version
            out["quic_version"] = f"0x{h.version:08x}"
        if not is_server and not flow.cids_reported:
            flow.cids_reported = True
            out["quic_dcid"] = h.dcid.hex()
            out["quic_scid"] = h.scid.hex()
        crypto, close = parse_frames(plain)
        stream = flow.crypto[is_server]
        if stream is not None and crypto:
            for off, frag in crypto:
                self.buffered += stream.add(off, frag, self.max_buffered - self.buffered)
            self._try_hello(flow, is_server, out)
        if close is not None:
            side = 1 if is_server else 0
            if not flow.closed[side]:
                flow.closed[side] = True
                code, is_app, reason = close
                out["quic_close"] = code
                out["quic_close_app"] = is_app
                out["quic_close_reason"] = escape_text(reason, MAX_REASON)
                both = flow.closed[0] and flow.closed[1]
                self._advance(flow, out, QUIC_CLOSED if both else QUIC_DRAINING)

    def _open_initial(
        self, flow: _Flow, data: bytes, h: LongHeader, from_client: bool
    ) -> tuple[bool, bytes] | None:
        """Decrypt an Initial with the flow's keys, else keys from its own DCID.

        Returns (sent by the server, plaintext), None, or ``_SKIPPED`` when opening it
        would take more than the budget left (see the module doc).
        """
        order = (False, True) if from_client else (True, False)
        if flow.odcid is not None and flow.profile is not None:
            for server in order:
                keys = self._keys(flow, server)
                r = qc.open_packet(data, h.start, h.pn_offset, h.end, keys, flow.largest[server], True)
                if r is not None:
                    flow.largest[server] = max(flow.largest[server], r[1])
                    return server, r[2]
        # A client's first Initial (or its first after a Retry): keys from its DCID.
        if not h.dcid or flow.failed >= MAX_FAILED_INITIALS:
            return None
        known = qc.profile_for(h.version)
        profiles = (known,) if known is not None else qc.TRIAL_PROFILES
        if not self._take(len(profiles)):
            return _SKIPPED
        for prof in profiles:
            keys = self._client_keys(h.dcid, prof)
            r = qc.open_packet(data, h.start, h.pn_offset, h.end, keys, -1, True)
            if r is not None:
                if flow.odcid is not None and flow.odcid != h.dcid:
                    # A new connection on the same addresses and ports: learn it afresh.
                    self._release(flow, False)
                    self._release(flow, True)
                    flow.crypto = [_Crypto(CRYPTO_CAP), _Crypto(SERVER_CRYPTO_CAP)]
                    flow.closed = [False, False]
                flow.odcid = h.dcid
                flow.profile = prof
                flow.client_keys = keys
                flow.server_keys = None
                flow.largest = [r[1], -1]
                return False, r[2]
        return None

    def _keys(self, flow: _Flow, server: bool) -> qc.InitialKeys:
        assert flow.odcid is not None and flow.profile is not None
        if server:
            if flow.server_keys is None:
                flow.server_keys = qc.initial_keys(flow.odcid, flow.profile, True)
            return flow.server_keys
        if flow.client_keys is None:
            flow.client_keys = self._client_keys(flow.odcid, flow.profile)
        return flow.client_keys

    def _client_keys(self, dcid: bytes, prof: qc.Profile) -> qc.InitialKeys:
        """The keys of a client's Initials under ``dcid``, derived once while cached."""
        cache = self._key_cache
        ck = (prof.salt, dcid)
        keys = cache.get(ck)
        if keys is not None:
            cache.move_to_end(ck)
            return keys
        keys = cache[ck] = qc.initial_keys(dcid, prof, server=False)
        if len(cache) > KEY_CACHE:
            cache.popitem(last=False)
        return keys

    def _budget_left(self, now: float) -> bool:
        """Refill the first-Initial budget up to capture time ``now``; True when a token is left."""
        last = self._refilled
        if last is None or now > last:
            if last is not None:
                self._tokens = min(INITIAL_BURST, self._tokens + (now - last) * INITIAL_RATE)
            self._refilled = now
        return self._tokens >= 1

    def _take(self, cost: int) -> bool:
        """Spend ``cost`` tokens of the first-Initial budget (False, nothing spent, when short)."""
        if not self._budget_left(self._now) or self._tokens < cost:
            return False
        self._tokens -= cost
        return True

    def _skip_new(self, payload: bytes | memoryview, from_client: bool) -> dict[str, Any]:
        """A new flow's Initial over the budget: what its header says, no state kept (so
        the flow's next Initial gets its own chance at the budget)."""
        self.skipped += 1
        out: dict[str, Any] = {"quic_state": QUIC_INITIAL, "app": "QUIC"}
        if from_client:
            out["quic_version"] = f"0x{int.from_bytes(payload[1:5], 'big'):08x}"
        return out

    def _release(self, flow: _Flow, server: bool) -> None:
        c = flow.crypto[server]
        if c is not None:
            self.buffered -= len(c.buf)
            flow.crypto[server] = None

    def _try_hello(self, flow: _Flow, server: bool, out: dict[str, Any]) -> None:
        """Read the side's hello once its CRYPTO stream holds it whole, then drop the buffer."""
        c = flow.crypto[server]
        assert c is not None
        have = c.contiguous()
        if have < 4:
            return
        need = 4 + int.from_bytes(c.buf[1:4], "big")
        if need > c.cap or c.buf[0] != (tls.HS_SERVER_HELLO if server else tls.HS_CLIENT_HELLO):
            self._release(flow, server)  # not a hello we can hold: nothing to learn here
            return
        if have < need:
            return
        self._release(flow, server)
        try:
            if server:
                fields = parse_server_hello(bytes(c.buf[:need]))
            else:
                fields = parse_client_hello(bytes(c.buf[:need]))
        except DissectError:
            self.malformed += 1
            return
        out.update(fields)


# --- building packets (test input, benchmarks) -----------------------------------------


def encode_varint(v: int) -> bytes:
    """The shortest variable-length integer encoding of ``v`` (< 2**62)."""
    if v < 0x40:
        return bytes((v,))
    if v < 0x4000:
        return (v | 0x4000).to_bytes(2, "big")
    if v < 0x40000000:
        return (v | 0x80000000).to_bytes(4, "big")
    return (v | 0xC000000000000000).to_bytes(8, "big")


def build_long_packet(
    ptype: int,
    version: int,
    dcid: bytes,
    scid: bytes,
    pn: int,
    payload: bytes,
    keys: qc.InitialKeys,
    token: bytes = b"",
    pn_len: int = 2,
) -> bytes:
    """A protected long-header packet (``ptype`` in v1 numbering, PT_INITIAL/PT_HANDSHAKE).

    The payload is sealed with ``keys`` (for Handshake packets any keys do: an observer
    cannot open them anyway).
    """
    known = qc.profile_for(version)
    raw_type = ptype
    if known is not None and known.v2_types:
        raw_type = _V2_TO_V1.index(ptype)
    first = 0xC0 | (raw_type << 4) | (pn_len - 1)
    head = bytes((first,)) + version.to_bytes(4, "big")
    head += bytes((len(dcid),)) + dcid + bytes((len(scid),)) + scid
    if ptype == PT_INITIAL:
        head += encode_varint(len(token)) + token
    head += encode_varint(pn_len + len(payload) + qc.AEAD_TAG_LEN)
    head += (pn & ((1 << (8 * pn_len)) - 1)).to_bytes(pn_len, "big")
    return qc.seal_packet(head, pn_len, payload, pn, keys)
