"""The connection table the viewer shows: connection records folded by id, plus stream status.

Pure data, no terminal: :class:`ConnTable` ingests records (``conn``, ``stats``, ``hdr``,
``warn``, ``sock``) and keeps one :class:`Row` per connection id, holding that id's
latest record (the last record of an id is its state). Records are untrusted: every
accessor here tolerates missing fields and wrong types.

A connection whose ``final`` record says it expired (``end``: timeout, evicted, reused;
or, without ``end``, one that other updates followed) moves to *history* (shown with
``t``). Final records that end a recording (``end: eof``) are not history: a finished
recording still shows what it ended with.

Memory stays bounded under an endless stream of new connections: history is kept for
``history_seconds`` of stream time (and at most ``max_history`` connections), then
dropped, as RustNet drops closed connections after their timeout. That is a rule of live
input: a finite one (a file; or a stream whose header says it is not live, as
``rn-capture -r`` writes) keeps every connection, history too, and shows it without a key
press (:attr:`ConnTable.whole`), a merged capture's older half included. Either way the table holds
at most ``max_rows`` connections: beyond that the longest-ended history goes first,
then the least recently updated open connections (counted in :attr:`ConnTable.evicted`).
``on_drop`` sees every row before it goes (``rn-view --json`` prints it there). What a row
keeps of its record is cut to the limits of :mod:`rustnet.stream.bounds` (counted in
:attr:`ConnTable.cut`).

rn-track writes no "rate fell to 0" update for a connection that is over (state
TIME_WAIT, CLOSED or DNS_RESPONSE): once :data:`RATE_WINDOW` seconds of stream time have passed since
its ``last_seen``, its row gets that record made here (the same one with rates 0; not
after its final record, which shows rn-track's last word).

Consumers that keep derived views (the sorted Overview) follow :meth:`ConnTable.changes`,
a log of the rows updated since a position, instead of re-reading every row per frame.
"""

from __future__ import annotations

import collections
import heapq
import ipaddress
import math
import operator
from collections.abc import Callable
from typing import Any, Final

from rustnet.stream import fields
from rustnet.stream.bounds import DEFAULT_MAX_CONNECTIONS, MAX_INT, MAX_TEXT, bound_record
from rustnet.stream.records import CAPTURE_STATS, CONN, HEADER, IFSTATS, NAME, SOCK, WARNING, Record
from rustnet.track.rates import WINDOW
from rustnet.track.states import ENDED_NAMES, State
from rustnet.view.graphstats import GraphMetrics
from rustnet.view.nodes import MAX_NODES, NodeInterfaces
from rustnet.view.traffic import SPREAD, InterfaceTable, ProcessWindow, TrafficHistory, process_key

MAX_ROWS: Final = DEFAULT_MAX_CONNECTIONS  # connections held at most (rn-track's default cap too)
HISTORY_SECONDS: Final = 60.0  # stream seconds an ended connection stays in history (t)
HISTORY_SHARE: Final = 10  # history holds at most 1/HISTORY_SHARE of max_rows by default
EVICT_SHARE: Final = 100  # over the cap, evict this share of it at once (amortises the search)
MAX_STATE_HISTORY: Final = 32
# rn-track writes no "rate fell to 0" update for a connection that is over: its rates are read
# as 0 once RATE_WINDOW seconds of stream time have passed since its last_seen (the tracker's rule).
RATE_WINDOW: Final = WINDOW
ENDED_STATES: Final = ENDED_NAMES
MAX_MESSAGES: Final = 50
# Names from ``name`` records wait here until applied to the rows (at most this many).
MAX_PENDING_NAMES: Final = 4096
# Applying names is one pass over the rows: over this many rows, at most once a second of
# stream time (names come at a bounded rate, but a pass over 200,000 rows is not free).
NAME_PASS_ROWS: Final = 20_000
MAX_NAME: Final = 253
_NAME_VIAS: Final = frozenset(("ptr", "dns"))


def _names(*states: State) -> frozenset[str]:
    return frozenset(s.name for s in states)


# States shown as closing / half-open / established (colours) and as quiet (dimmed).
ESTABLISHED_STATES: Final = _names(
    State.ESTABLISHED,
    State.QUIC_CONNECTED,
    State.UDP_ACTIVE,
    State.DNS_RESPONSE,
    State.ECHO_REPLY,
    State.ARP_REPLY,
)
HALF_OPEN_STATES: Final = _names(
    State.SYN_SENT,
    State.SYN_RECV,
    State.QUIC_INITIAL,
    State.QUIC_HANDSHAKE,
    State.DNS_QUERY,
    State.ECHO_REQUEST,
    State.ARP_REQUEST,
)
CLOSING_STATES: Final = _names(
    State.FIN_WAIT1,
    State.FIN_WAIT2,
    State.TIME_WAIT,
    State.CLOSE_WAIT,
    State.LAST_ACK,
    State.CLOSING,
    State.CLOSED,
    State.QUIC_DRAINING,
    State.QUIC_CLOSED,
)
QUIET_STATES: Final = _names(State.UDP_IDLE, State.UDP_STALE)
STALE_AFTER: Final = 60.0  # seconds without packets before a row is dimmed


def num(value: Any) -> float:
    """A numeric field as float; 0 for anything that is not a finite number (NaN, inf from a
    hostile stream would break int(), sums and sorting)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            f = float(value)
        except OverflowError:
            return 0.0
        return f if math.isfinite(f) else 0.0
    return 0.0


def text(value: Any) -> str:
    """A field as (unescaped) text; empty when missing."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return ",".join(text(v) for v in value)
    return str(value)


MAX_PRIVILEGE_LINES: Final = 16


def privileges_of(entries: Any) -> list[tuple[str, str]]:
    """The header's ``privs`` as (stage, "user, capabilities") lines; malformed entries skipped."""
    out: list[tuple[str, str]] = []
    if not isinstance(entries, list):
        return out
    for entry in entries[-MAX_PRIVILEGE_LINES:]:
        if not isinstance(entry, dict) or not isinstance(entry.get("stage"), str):
            continue
        user = entry.get("user")
        caps = entry.get("caps")
        who = user if isinstance(user, str) else text(entry.get("uid")) or "?"
        held = " ".join(c for c in caps if isinstance(c, str)) if isinstance(caps, list) else ""
        out.append((entry["stage"][:64], f"{who[:64]}, {held[:512] or 'no capabilities'}"))
    return out


def sandboxes_of(entries: Any) -> list[tuple[str, list[str]]]:
    """(stage, its sandbox in lines: ``Sandbox: Fully enforced · Landlock ABI v7``, the bullets,
    why not fully enforced) for each stage of the header that reported one (System panel)."""
    from rustnet.sandbox import describe_entry

    out: list[tuple[str, list[str]]] = []
    if not isinstance(entries, list):
        return out
    for entry in entries[-MAX_PRIVILEGE_LINES:]:
        if isinstance(entry, dict) and isinstance(entry.get("stage"), str):
            found = describe_entry(entry.get("sandbox"))
            if found is not None:
                out.append((entry["stage"][:64], found))
    return out


_LOOPBACK_CACHE: dict[str, bool] = {}


def is_loopback(addr: Any) -> bool:
    if not isinstance(addr, str):
        return False
    hit = _LOOPBACK_CACHE.get(addr)
    if hit is None:
        try:
            ip = ipaddress.ip_address(addr.split("%", 1)[0])
            mapped = getattr(ip, "ipv4_mapped", None)
            hit = bool(ip.is_loopback or (mapped is not None and mapped.is_loopback))
        except ValueError:
            hit = False
        if len(_LOOPBACK_CACHE) < 100_000:
            _LOOPBACK_CACHE[addr] = hit
    return hit


class Row:
    """One connection: its latest record plus what the viewer derives from it."""

    __slots__ = (
        "id",
        "rec",
        "seq",
        "born",
        "final_seq",
        "hay",
        "kw",
        "states",
        "extra",
        "bucket",
        "sorted_by",
        "sorted_in",
        "filter_score",
        "scored_for",
        "filtered_by",
        "filtered_in",
    )

    def __init__(self, cid: Any, rec: dict[str, Any], seq: int, born: int = 0) -> None:
        self.id = cid
        self.rec = rec
        self.seq = seq  # sequence number of the latest record (least recently updated goes first)
        self.born = born  # creation order: ties in a sort keep the order rows first appeared in
        self.final_seq = -1  # sequence number of the final record, -1 while open
        self.hay: str | None = None  # lower-cased searchable text, built lazily by the filter
        self.kw: dict[str, str] | None = None  # lower-cased text per filter keyword, built lazily
        self.states: list[tuple[float, str]] = []
        # What the viewer worked out itself (service from the port, hostnames from DNS answers)
        # for streams that did not pass rn-enrich; shown, never written back into records.
        self.extra: dict[str, str] | None = None
        self.bucket: tuple[str, int] | None = None  # what the row adds to the table's counts
        # Caches of the view (rustnet.view.state), so a frame moves only the rows that changed:
        # ``sorted_by`` is the key the row sits under in the sorted list whose mark is
        # ``sorted_in``; ``filter_score`` is its rank for the filter ``scored_for`` (cleared when
        # the row changes); ``filtered_by`` is the key it was placed under in the filtered list
        # whose mark is ``filtered_in``.
        self.sorted_by: Any = None
        self.sorted_in: object | None = None
        self.filter_score = -1
        self.scored_for: object | None = None
        self.filtered_by: Any = None
        self.filtered_in: object | None = None

    def replace(self, rec: dict[str, Any]) -> None:
        """A new record for this row: what the filter took from the old one is stale."""
        self.rec = rec
        self.hay = None
        self.kw = None
        self.scored_for = None

    def snapshot(self) -> Row:
        """A frozen copy for the paused display (records are replaced, never mutated)."""
        r = Row(self.id, self.rec, self.seq, self.born)
        r.final_seq = self.final_seq
        r.hay = self.hay
        r.kw = self.kw
        r.extra = self.extra
        r.states = list(self.states)
        return r

    # --- sides: "local" is where the process is (the tracker's local_side, else the originator)
    @property
    def local_is_src(self) -> bool:
        return self.rec.get("local_side") != "dst"

    def addr(self, side: str) -> str:
        return text(self.rec.get(side))

    def port(self, side: str) -> int:
        p = self.rec.get("sport" if side == "src" else "dport")
        return p if isinstance(p, int) and not isinstance(p, bool) else 0

    def field(self, key: str) -> Any:
        """A record field, or the viewer's own value for it when the record has none."""
        v = self.rec.get(key)
        if v is None and self.extra is not None:
            return self.extra.get(key)
        return v

    def hostname(self, side: str) -> str:
        return text(self.field("hostname_" + side))

    def hostname_shown(self, side: str) -> str:
        """The hostname as displayed: ``~name`` when inferred from DNS seen on the wire."""
        name = self.hostname(side)
        if name and self.field(f"hostname_{side}_via") == "dns":
            return "~" + name
        return name

    @property
    def local(self) -> str:
        return "src" if self.local_is_src else "dst"

    @property
    def remote(self) -> str:
        return "dst" if self.local_is_src else "src"

    @property
    def rate_rx(self) -> float:
        return num(self.rec.get("rate_dst" if self.local_is_src else "rate_src"))

    @property
    def rate_tx(self) -> float:
        return num(self.rec.get("rate_src" if self.local_is_src else "rate_dst"))

    @property
    def state(self) -> str:
        return text(self.rec.get("state"))

    @property
    def process(self) -> str:
        return text(self.rec.get("process"))

    @property
    def final(self) -> bool:
        return self.final_seq >= 0

    def app_detail(self) -> str:
        """The most telling DPI value: HTTP host, SNI, DNS name or SSH software."""
        rec = self.rec
        for key in ("http_host", "sni", "dns_query"):
            v = rec.get(key)
            if v:
                return text(v)
        ssh = rec.get("ssh_server") or rec.get("ssh_client")
        if ssh:
            s = text(ssh)
            # "SSH-2.0-OpenSSH_9.2p1 Debian-2" -> "OpenSSH_9.2p1 Debian-2"
            parts = s.split("-", 2)
            return parts[2] if len(parts) == 3 and parts[0] == "SSH" else s
        return ""

    def loopback(self) -> bool:
        return is_loopback(self.rec.get("src")) and is_loopback(self.rec.get("dst"))


# What a row adds to the counts: open (by proto), history (its final record said why it
# ended), or a final record without a reason (history once later updates follow it).
OPEN: Final = 0
HISTORY: Final = 1
ORDER_FINAL: Final = 2
_SEQ: Final = operator.attrgetter("seq")
# Fields learned downstream (rn-enrich, the viewer's joiner): a later record without them keeps
# them (declared with merge "kept").
_KEPT: Final = frozenset(f.name for f in fields.CONN if f.merge == fields.KEPT)


class ConnTable:
    """Connections by id plus capture status, fed with decoded records."""

    def __init__(
        self,
        joiner: Any = None,
        services: Any = None,
        hostnames: Any = None,
        *,
        max_rows: int = MAX_ROWS,
        history_seconds: float = HISTORY_SECONDS,
        max_history: int | None = None,
        evict_open: bool = True,
        on_drop: Callable[[Row], None] | None = None,
        track_changes: bool = True,
        finite: bool | None = None,
    ) -> None:
        self.rows: dict[Any, Row] = {}
        self.version = 0  # bumps whenever something shown may have changed
        self.seq = 0  # conn records seen
        self.last_open_seq = -1  # seq of the latest non-final conn record
        self.clock = 0.0  # newest timestamp seen in the stream (epoch seconds)
        self.interface = ""
        self.live = False
        # True: a finite input (a file); None: the stream's header tells (``live: false``).
        self.finite = finite
        self._header_finite = False
        self.producer = ""
        self.privileges: list[tuple[str, str]] = []  # (stage, "user, capabilities") from the header
        self.sandboxes: list[tuple[str, list[str]]] = []  # (stage, its sandbox in lines) from the header
        self.geoip: tuple[str, ...] = ()  # the GeoIP databases rn-enrich loaded (from the header)
        self.resolve_dns: bool | None = None  # rn-enrich's reverse DNS (None: no rn-enrich said)
        self._names: dict[str, tuple[str, str]] = {}  # address -> (name, via), not yet applied
        self._names_applied = -math.inf  # stream time of the last pass
        self.linktype: int | None = None  # the capture's link type (header)
        self.attribution = ""  # how rn-enrich finds processes here (header), "" without rn-enrich
        self.received = 0
        self.dropped = 0
        self.ifdropped = 0
        self.packets_per_s: float | None = None
        self._last_stats: tuple[float, float] | None = None
        self.messages: collections.deque[str] = collections.deque(maxlen=MAX_MESSAGES)
        self.ignored = 0  # records we could not use (no id, wrong types)
        self.cut = 0  # values of kept records cut to the limits (rustnet.stream.bounds)
        self.joiner = joiner
        self.services = services  # rustnet.enrich.services.ServiceNames, or None
        self.hostnames = hostnames  # rustnet.enrich.names.HostNames, or None
        self.input_done = False
        self.damage: str | None = None
        self.max_rows = max(int(max_rows), 1)
        self.history_seconds = max(float(history_seconds), 0.0)
        self.max_history = self.max_rows // HISTORY_SHARE if max_history is None else max(max_history, 0)
        self.evict_open = evict_open  # False: over the cap only history goes (--json prints every row)
        self.on_drop = on_drop
        self.evicted = 0  # connections dropped at the cap (the status bar shows them)
        self.expired = 0  # history dropped after its time (as RustNet drops closed connections)
        self.sort_owner: object | None = None  # the view whose sort keys the rows carry
        self._joined = False  # sock records came: connections are joined to them from now on
        self._derives = services is not None or hostnames is not None
        self._born = 0
        # Connections whose final record came, in that order: (stream time, id, final seq).
        self._ended: collections.deque[tuple[float, Any, int]] = collections.deque()
        self._open_n: dict[str, int] = {}
        self._hist_n = 0
        self._order_finals: dict[Any, Row] = {}
        self._log: list[Row] | None = [] if track_changes else None
        self._log_start = 0
        self._counts: dict[str, int] = {}
        self._counts_version = -1
        self._have_stats = False
        self._packets_seen = 0
        self._rate_mark: tuple[float, int] | None = None
        # Rows of ended TCP connections whose record shows a rate: (when it reads 0, record seq, id).
        self._rate_due: list[tuple[float, int, Any]] = []
        # Traffic over time (the charts) and each interface's counters (ifstats records).
        self.traffic = TrafficHistory()
        self.interfaces: InterfaceTable = NodeInterfaces()  # each node's apart when streams are merged
        self.nodes: dict[str, int] = {}  # node -> connections seen (several: a merged stream)
        self.nodes_down: dict[str, str] = {}  # node -> why its stream ended (retried meanwhile)
        # node -> (ts, packets, received, dropped, ifdropped, packets/s) of its latest stats record
        self._per_node_stats: dict[str, tuple[float, float, float, float, float, float | None]] = {}
        self.graph = GraphMetrics()  # the Graph tab's lifecycle and health samples (O(1) a record)
        self.process_window = ProcessWindow()  # each process's bytes over 60 s (Activity)
        # Capture counters as they read at the last clear(): shown counts start from there.
        self._stats_base = (0, 0, 0)
        # Called by clear() after the table's own state is gone: owners of other histories
        # (traffic, activity, graph metrics) append their reset here.
        self.clear_hooks: list[Callable[[], None]] = []

    def clear_traffic(self) -> None:
        """Forget the traffic history, interface windows and process activity (part of ``x``)."""
        self.traffic.clear()
        self.interfaces.clear()
        self.process_window.clear()

    def clear(self) -> None:
        """Forget every connection, open and closed, and every counter (the ``x`` key).

        Stream facts stay (interface, header, privileges, the socket joiner: new records
        are still attributed); the capture counters restart from their current readings.
        """
        for row in self.rows.values():
            row.bucket = None  # gone for any view still holding it
        self.rows = {}
        self._ended.clear()
        self._open_n = {}
        self._hist_n = 0
        self._order_finals = {}
        self._rate_due = []
        if self._log is not None:
            # Past every position a view holds: each view rebuilds its list from the rows.
            self._log_start += len(self._log) + 1
            self._log.clear()
        self._stats_base = (
            self.received + self._stats_base[0],
            self.dropped + self._stats_base[1],
            self.ifdropped + self._stats_base[2],
        )
        self.received = self.dropped = self.ifdropped = 0
        self.evicted = self.expired = self.cut = self.ignored = 0
        self._counts_version = -1
        self.version += 1
        self.clear_traffic()
        self.graph.clear()
        for hook in self.clear_hooks:
            hook()

    def __len__(self) -> int:
        return len(self.rows)

    def ingest(self, recs: list[Record]) -> None:
        """Fold a batch of records into the table."""
        rows = self.rows
        for rec in recs:
            if type(rec) is not dict:
                continue
            t = rec.get("t", CONN)
            if t == CONN:
                self._conn(rec, rows)
            elif t == CAPTURE_STATS:
                self._stats(rec)
            elif t == IFSTATS:
                self._ifstats(rec)
            elif t == NAME:
                self._name(rec)
            elif t == HEADER:
                node = rec.get("node")
                if type(node) is str:  # a node's stream (re)starts: it is up
                    self.nodes_down.pop(node, None)
                    if node not in self.nodes and len(self.nodes) < MAX_NODES:
                        self.nodes[node] = 0
                self.interface = text(rec.get("source"))[:MAX_TEXT] or self.interface
                self.live = bool(rec.get("live"))
                self._header_finite = rec.get("live") is False
                self.producer = text(rec.get("producer"))[:MAX_TEXT]
                self.privileges = privileges_of(rec.get("privs"))
                self.sandboxes = sandboxes_of(rec.get("privs"))
                rd = rec.get("resolve_dns")
                self.resolve_dns = rd if type(rd) is bool else None
                geo = rec.get("geoip")
                self.geoip = tuple(k for k in geo[:8] if type(k) is str) if type(geo) is list else ()
                lt = rec.get("linktype")
                self.linktype = lt if type(lt) is int else None
                self.attribution = text(rec.get("attribution"))[:MAX_TEXT]
            elif t == WARNING:
                stage = text(rec.get("stage"))[:MAX_TEXT]
                node = rec.get("node")
                if rec.get("down") is True and type(node) is str and len(self.nodes_down) < MAX_NODES:
                    self.nodes_down[node] = text(rec.get("msg"))[:MAX_TEXT]
                self.messages.append((stage + ": " if stage else "") + text(rec.get("msg"))[:MAX_TEXT])
            elif t == SOCK and self.joiner is not None:
                try:
                    self.joiner.add(rec)
                    self._joined = True
                except Exception:  # a hostile sock record must not stop the viewer
                    self.ignored += 1
        if self._names and (len(rows) <= NAME_PASS_ROWS or self.clock - self._names_applied >= 1.0):
            self._apply_names()
        if not self._have_stats:
            self._estimate_rate()
        self.traffic.advance(self.clock)
        self.graph.advance(self.clock)
        self.process_window.advance(self.clock)
        due = self._rate_due
        if due and (due[0][0] <= self.clock or len(due) > 2 * len(rows) + 4096):
            self._zero_rates()
        self._prune()
        log = self._log
        if log is not None and len(log) > 2 * len(rows) + 4096:
            # A view that has not looked for a while rebuilds from the rows instead.
            cut = len(log) // 2
            del log[:cut]
            self._log_start += cut
        self.version += 1

    @property
    def whole(self) -> bool:
        """A finite input: every connection is kept (to the cap) and shown, history included."""
        return self._header_finite if self.finite is None else self.finite

    @property
    def order_finals(self) -> bool:
        """Final records without a reason are held: rows may turn history without an update."""
        return bool(self._order_finals)

    def changes(self, pos: int) -> tuple[list[Row] | None, int]:
        """Rows updated, added or dropped since log position ``pos`` (None when the log no longer
        reaches back that far, or is off), and the position to ask from next time.

        The log is emptied once read, so it never keeps dropped rows alive; a second view
        reading the same table finds its position gone and rebuilds (correct, only slower).
        """
        log = self._log
        if log is None:
            return None, 0
        start = self._log_start
        end = start + len(log)
        out = log[pos - start :] if start <= pos <= end else None
        log.clear()
        self._log_start = end
        return out, end

    def _estimate_rate(self) -> None:
        # Without capture stats (a stream from rn-track), packets/s comes from the growth
        # of the connections' packet counters over stream time.
        if self._rate_mark is None:
            self._rate_mark = (self.clock, self._packets_seen)
            return
        t0, p0 = self._rate_mark
        if self.clock - t0 >= 1.0:
            self.packets_per_s = (self._packets_seen - p0) / (self.clock - t0)
            self._rate_mark = (self.clock, self._packets_seen)

    def _conn(self, rec: dict[str, Any], rows: dict[Any, Row]) -> None:
        rec, cut = bound_record(rec)  # a recording's megabyte strings must not be kept
        if cut:
            self.cut += cut
        cid = rec.get("id")
        node = rec.get("node")
        if type(node) is str and cid is not None:
            # Several hosts in one table: their ids (and 5-tuples) may be equal, their rows never.
            cid = (node, cid)
            if node not in self.nodes:
                if len(self.nodes) >= MAX_NODES:
                    self.ignored += 1
                    return
                self.nodes[node] = 0
            self.nodes[node] += 1
        try:
            row = rows.get(cid)
        except TypeError:  # an unhashable id
            self.ignored += 1
            return
        if cid is None:
            self.ignored += 1
            return
        if self._joined:
            try:
                self.joiner.annotate(rec)
            except Exception:
                self.ignored += 1
        self.seq += 1
        packets = rec.get("packets")
        if type(packets) is int:
            before = row.rec.get("packets") if row is not None else 0
            if type(before) is int and packets > before:
                self._packets_seen += packets - before
        old_rec = row.rec if row is not None else None
        self._captured(old_rec, rec)
        if row is None:
            self._born += 1
            row = Row(cid, rec, self.seq, self._born)
            rows[cid] = row
        else:
            # Fields learned downstream (process, hostnames) stay once known.
            old = row.rec
            if not _KEPT.isdisjoint(old):
                for key in _KEPT:
                    if key in old and rec.get(key) is None:
                        rec[key] = old[key]
            row.replace(rec)
            row.seq = self.seq
        if self._derives:
            self._derive(row)
        ts = rec.get("last_seen")
        if type(ts) is not float or not math.isfinite(ts):
            ts = num(ts)
        state = rec.get("state")
        states = row.states
        if type(state) is str:
            if not states or states[-1][1] != state:
                states.append((ts, state))
                if len(states) > MAX_STATE_HISTORY:
                    del states[1]
            # (A final record is rn-track's last word, its rates included, as before.)
            ended = state in ENDED_STATES and rec.get("final") is not True
            if ended and (rec.get("rate_src") or rec.get("rate_dst")):
                heapq.heappush(self._rate_due, (ts + RATE_WINDOW, self.seq, cid))
        if ts > self.clock:
            self.clock = ts
        self.graph.conn(old_rec, rec, self.clock)
        if rec.get("final") is True:
            row.final_seq = self.seq
            self._account(row)
            if row.bucket is not None and row.bucket[1] != OPEN:
                self._ended.append((self.clock, cid, row.final_seq))
        else:
            row.final_seq = -1
            self.last_open_seq = self.seq
            bucket = row.bucket
            if bucket is None or bucket[1] != OPEN or bucket[0] != rec.get("proto"):
                self._account(row)
        if self._log is not None:
            self._log.append(row)

    def _captured(self, old: dict[str, Any] | None, rec: dict[str, Any]) -> None:
        """The bytes a connection's record adds to the one before it, as captured traffic over the
        stream time between them (at most the last SPREAD seconds): the charts' series when the
        stream has no interface counters, and each process's 60 s bytes."""
        src, dst = rec.get("bytes_src"), rec.get("bytes_dst")
        if type(src) is not int or type(dst) is not int:
            return
        t1 = rec.get("last_seen")
        if type(t1) is not float:
            t1 = num(t1)
        if old is None:
            ds, dd, t0 = src, dst, num(rec.get("first_seen")) or t1
        else:
            o_src, o_dst = old.get("bytes_src"), old.get("bytes_dst")
            # A counter that went down started again (a new generation of the id): all of it is new.
            ds = src - o_src if type(o_src) is int and src >= o_src else src
            dd = dst - o_dst if type(o_dst) is int and dst >= o_dst else dst
            t0 = num(old.get("last_seen")) or t1
        if ds <= 0 and dd <= 0:
            return
        if t1 - t0 > SPREAD:
            # rn-track writes a moving connection at least once a second: after a longer gap
            # the new bytes came at its end, not evenly over the quiet time.
            t0 = t1 - SPREAD
        # Within 0..MAX_INT (not min() and max(): compiled, those are generic calls).
        ds = 0 if ds < 0 else MAX_INT if ds > MAX_INT else ds
        dd = 0 if dd < 0 else MAX_INT if dd > MAX_INT else dd
        tx, rx = (ds, dd) if rec.get("local_side") != "dst" else (dd, ds)
        self.traffic.add_captured(t0, t1, rx, tx)
        self.process_window.add(process_key(rec, old), t1, tx, rx)

    def _name(self, rec: dict[str, Any]) -> None:
        """A name found for an address after its connections' records went by (rn-enrich's
        reverse lookups): kept until the next pass names those rows."""
        addr, name, via = rec.get("addr"), rec.get("name"), rec.get("via")
        if type(addr) is not str or type(name) is not str or not name or via not in _NAME_VIAS:
            self.ignored += 1
            return
        if len(addr) > 64 or (len(self._names) >= MAX_PENDING_NAMES and addr not in self._names):
            self.ignored += 1
            return
        self._names[addr] = (name[:MAX_NAME], via)

    def _apply_names(self) -> None:
        """Name the rows whose ends have a pending name (one pass over the rows). A name learned
        from DNS answers stays; records are replaced, never mutated."""
        names, self._names = self._names, {}
        self._names_applied = self.clock
        log = self._log
        for row in self.rows.values():
            rec = row.rec
            named: dict[str, Any] | None = None
            for side in ("src", "dst"):
                addr = rec.get(side)
                got = names.get(addr) if type(addr) is str else None
                if got is None:
                    continue
                key = "hostname_" + side
                old = rec.get(key)
                if old == got[0] or (old is not None and rec.get(key + "_via") == "dns"):
                    continue
                if named is None:
                    named = dict(rec)
                named[key], named[key + "_via"] = got
            if named is not None:
                row.replace(named)
                if log is not None:
                    log.append(row)

    def _ifstats(self, rec: dict[str, Any]) -> None:
        rates = self.interfaces.ingest(rec)
        # One host's totals are not the traffic of several: merged streams chart captured bytes.
        if rates is not None and "node" not in rec:
            self.traffic.add_sample(*rates)
        # Like stats, wall-clock time: the stream's clock only when live.
        ts = num(rec.get("ts"))
        if self.live and ts > self.clock:
            self.clock = ts

    def _zero_rates(self) -> None:
        """Rates of ended connections (ENDED_STATES) quiet for RATE_WINDOW read 0: the record rn-track used to
        write then (the same one with rates 0), made here. Records are replaced, never mutated."""
        due, rows, clock, log = self._rate_due, self.rows, self.clock, self._log
        if len(due) > 2 * len(rows) + 4096:
            # Entries of records since replaced pile up while stream time stands still.
            due[:] = [e for e in due if (r := rows.get(e[2])) is not None and r.seq == e[1]]
            heapq.heapify(due)
        while due and due[0][0] <= clock:
            _, seq, cid = heapq.heappop(due)
            row = rows.get(cid)
            if row is None or row.seq != seq:
                continue  # a later record came, or the row is gone
            rec = dict(row.rec)
            for key in ("rate_src", "rate_dst"):
                if key in rec:
                    rec[key] = 0
            row.replace(rec)
            if log is not None:
                log.append(row)

    def _account(self, row: Row) -> None:
        """Keep the counts by protocol and history current for ``row``'s latest record."""
        rec = row.rec
        proto = rec.get("proto")
        if type(proto) is not str or not proto:
            proto = text(proto) or "?"
        if row.final_seq < 0:
            kind = OPEN
        else:
            end = rec.get("end")
            kind = ORDER_FINAL if end is None else (OPEN if end == "eof" else HISTORY)
        bucket = (proto, kind)
        old = row.bucket
        if old == bucket:
            return
        if old is not None:
            self._uncount(row, old)
        row.bucket = bucket
        if kind == HISTORY:
            self._hist_n += 1
            if old is None or old[1] != HISTORY:
                self.graph.archived(self.clock)
            return
        self._open_n[proto] = self._open_n.get(proto, 0) + 1
        if kind == ORDER_FINAL:
            self._order_finals[row.id] = row

    def _uncount(self, row: Row, bucket: tuple[str, int]) -> None:
        proto, kind = bucket
        if kind == HISTORY:
            self._hist_n -= 1
            return
        self._open_n[proto] -= 1
        if kind == ORDER_FINAL:
            self._order_finals.pop(row.id, None)

    def _derive(self, row: Row) -> None:
        rec = row.rec
        extra: dict[str, str] = {}
        try:
            if self.services is not None and rec.get("service") is None:
                name = self.services.lookup(rec.get("dport"), rec.get("proto"))
                if isinstance(name, str):
                    extra["service"] = name
            if self.hostnames is not None:
                if rec.get("dns_resolved"):
                    self.hostnames.learn_from(rec)
                for side in ("src", "dst"):
                    if rec.get("hostname_" + side) is None:
                        got = self.hostnames.lookup(rec.get(side))
                        if got is not None:
                            extra["hostname_" + side], extra[f"hostname_{side}_via"] = got
        except Exception:  # hostile values must not stop the viewer
            self.ignored += 1
        row.extra = extra or None

    # --- bounds ------------------------------------------------------------------------------
    def _prune(self) -> None:
        """Drop history past its time or count, then evict down to the cap."""
        rows, ended = self.rows, self._ended
        if len(ended) > 2 * self.max_rows + 4096:
            # Final records repeated for the same ids left stale entries behind a blocked head.
            live = [e for e in ended if (r := rows.get(e[1])) is not None and r.final_seq == e[2]]
            ended.clear()
            ended.extend(live)
        whole = self.whole
        horizon = -math.inf if whole else self.clock - self.history_seconds
        most = self.max_rows if whole else self.max_history
        while ended:
            t, cid, fseq = ended[0]
            row = rows.get(cid)
            if row is None or row.final_seq != fseq:
                ended.popleft()  # reopened, or already gone
                continue
            if t > horizon and len(ended) <= most:
                break
            if not self.in_history(row):
                break  # a final record without a reason, no later updates yet: not history
            ended.popleft()
            self.expired += 1
            self._drop(row)
        excess = len(rows) - self.max_rows
        if excess > 0:
            self._evict(excess + self.max_rows // EVICT_SHARE)

    def _evict(self, n: int) -> None:
        # History first (longest ended first), then the least recently updated open rows.
        rows, ended = self.rows, self._ended
        while n > 0 and ended:
            t, cid, fseq = ended[0]
            row = rows.get(cid)
            if row is None or row.final_seq != fseq:
                ended.popleft()
                continue
            if not self.in_history(row):
                break
            ended.popleft()
            self.evicted += 1
            self._drop(row)
            n -= 1
        if n > 0 and self.evict_open and len(rows) > self.max_rows:
            for row in heapq.nsmallest(min(n, len(rows)), rows.values(), key=_SEQ):
                self.evicted += 1
                self._drop(row)

    def _drop(self, row: Row) -> None:
        del self.rows[row.id]
        if row.bucket is not None:
            self._uncount(row, row.bucket)
        row.bucket = None  # gone: a view listing it takes it out when it reads the log
        if self._log is not None and row.sorted_in is not None:
            self._log.append(row)  # (only then: the log must not keep dropped rows alive)
        if self.on_drop is not None:
            self.on_drop(row)

    def _stats(self, rec: dict[str, Any]) -> None:
        self._have_stats = True
        node = rec.get("node")
        if type(node) is str:
            self._node_stats(node, rec)
            return
        ts = num(rec.get("ts"))
        packets = num(rec.get("packets")) or num(rec.get("received"))
        base_received, base_dropped, base_ifdropped = self._stats_base
        self.received = max(int(num(rec.get("received")) or packets) - base_received, 0)
        self.dropped = max(int(num(rec.get("dropped"))) - base_dropped, 0)
        self.ifdropped = max(int(num(rec.get("ifdropped"))) - base_ifdropped, 0)
        if self._last_stats is not None:
            t0, p0 = self._last_stats
            if ts > t0 and packets >= p0:
                self.packets_per_s = (packets - p0) / (ts - t0)
        self._last_stats = (ts, packets)
        # Stats carry wall-clock time: the stream's clock only when live. A replay's clock is its
        # packets' time (the final stats of a file, stamped now, would age out every row).
        if self.live and ts > self.clock:
            self.clock = ts

    def _node_stats(self, node: str, rec: dict[str, Any]) -> None:
        """Capture counters of one of several hosts: the table shows their sums (each host's
        counters and rate from its own records, on its own clock)."""
        ts = num(rec.get("ts"))
        packets = num(rec.get("packets")) or num(rec.get("received"))
        per = self._per_node_stats
        prev = per.get(node)
        if prev is None and len(per) >= MAX_NODES:
            self.ignored += 1
            return
        rate = prev[5] if prev is not None else None
        if prev is not None and ts > prev[0] and packets >= prev[1]:
            rate = (packets - prev[1]) / (ts - prev[0])
        received = num(rec.get("received")) or packets
        per[node] = (ts, packets, received, num(rec.get("dropped")), num(rec.get("ifdropped")), rate)
        base_received, base_dropped, base_ifdropped = self._stats_base
        self.received = max(int(sum(v[2] for v in per.values())) - base_received, 0)
        self.dropped = max(int(sum(v[3] for v in per.values())) - base_dropped, 0)
        self.ifdropped = max(int(sum(v[4] for v in per.values())) - base_ifdropped, 0)
        rates = [v[5] for v in per.values() if v[5] is not None]
        self.packets_per_s = sum(rates) if rates else None
        if self.live and ts > self.clock:
            self.clock = ts

    def in_history(self, row: Row) -> bool:
        """Expired while the stream went on (shown only with ``t``).

        rn-track says why a connection ended (``end``: timeout, evicted, reused, eof); a
        stream without that tells by order: a final record followed by other updates.
        """
        if row.final_seq < 0:
            return False
        end = row.rec.get("end")
        if end is not None:
            return bool(end != "eof")
        return row.final_seq < self.last_open_seq

    def is_stale(self, row: Row) -> bool:
        if row.state in QUIET_STATES:
            return True
        last = num(row.rec.get("last_seen"))
        return last > 0 and self.clock - last > STALE_AFTER

    def counts(self) -> dict[str, int]:
        """Open connections by protocol, plus history (kept current as records come)."""
        if self._counts_version != self.version:
            out = {p: n for p, n in self._open_n.items() if n}
            hist = self._hist_n
            for row in self._order_finals.values():
                if row.final_seq < self.last_open_seq and row.bucket is not None:
                    proto = row.bucket[0]
                    out[proto] -= 1
                    if not out[proto]:
                        del out[proto]
                    hist += 1
            out["history"] = hist
            self._counts = out
            self._counts_version = self.version
        return dict(self._counts)

    def final_records(self) -> list[dict[str, Any]]:
        """The last record of every connection, in first-seen order (for ``--json``)."""
        return [row.rec for row in self.rows.values()]
