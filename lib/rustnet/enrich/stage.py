"""The Enricher stage (``rn-enrich``): who is behind each connection.

It can sit in two places in the pipeline; both work with the same command:

1. **After rn-track** (``rn-capture | rn-dissect | rn-track | rn-enrich | rn-view``):
   every ``conn`` record is annotated with ``process``, ``pid``, ``cmdline``, ``user``,
   ``netns`` (only when the socket is not in the host's network namespace: an
   ``ip netns`` name or ``net:[inode]``), ``group``, ``ppid``, ``exe``, ``ancestors`` and
   ``owner_via`` (the owner of the socket at the end in the capture's namespace; the far
   end's owner, when it is on this host too, as ``peer_pid``/``peer_process``/...),
   ``service`` (the responder port's service name, TCP and UDP) and
   ``hostname_src``/``hostname_dst`` (names learned from DNS
   answers seen on the wire to queries seen: the address -> the name the client asked
   for; and PTR names, looked up in the background, by default for live streams only:
   a name found later follows as a ``name`` record, and the PTR queries this causes are
   marked ``ptr_lookup_own``), each with ``hostname_src_via``/``hostname_dst_via``
   saying how: ``dns`` or ``ptr``; with GeoIP databases, the remote end's ``geo_*``
   fields (country, city, autonomous system; rustnet.enrich.geoip).
   Processes are attributed only when the stream is live (``hdr.live`` true): a
   capture file or an old recording is not matched against today's processes
   (services and learned names still apply). Once a connection has a process it
   keeps it, by connection ``id``, through its final record, even after the process
   exited.

2. **Right after rn-capture** (``ssh host 'rn-capture | rn-enrich' | rn-view``):
   ``pkt`` records pass through untouched, and for each local socket that owns a
   flow seen in the packets a ``sock`` record (documented in
   :mod:`rustnet.stream.records`) is written just before the packet that showed the
   flow. Downstream, rn-track / rn-view attribute connections with
   :class:`rustnet.track.join.SocketJoiner`, so the process names are the remote
   host's. The same happens for ``sum`` records (``rn-capture | rn-dissect | rn-enrich``).

In both places a flow none of whose addresses is local (any namespace of this host)
costs no socket lookup at all. A local flow that no known socket owns is looked up at
once (an exact sock_diag query, else a rate-limited full refresh), so short-lived
clients such as curl are caught while their socket still exists; the socket table is
re-read at most every ``--poll-interval`` (default 1 s) and only while local flows need
it, so an idle stream costs nothing. A flow still unowned is retried at each poll for
``retry_for`` seconds, and a local flow found without its owner keeps the short-lived
watcher (:mod:`rustnet.enrich.watch`) polling fast for a while. ``sock`` records
arriving from upstream are passed on and also used to attribute ``conn`` records (they
describe the host and time they were made, so they apply to recordings too).
"""

from __future__ import annotations

import os
import sys
import time
from collections import OrderedDict
from typing import Any, Final

from rustnet.enrich.flows import Flow, decode_key, flow_key
from rustnet.enrich.geoip import GeoIP
from rustnet.enrich.linklayer import LinkLayer
from rustnet.enrich.localaddr import NOT_LOCAL, OWN_NETNS
from rustnet.enrich.macos import PsutilSocketOwners
from rustnet.enrich.names import VIA_PTR, HostNames
from rustnet.enrich.owners import DENIED_HINT, SocketOwners
from rustnet.enrich.services import ServiceNames
from rustnet.stream.records import (
    CONN,
    HEADER,
    NAME,
    PACKET,
    PKT_DATA,
    PROTO_TCP,
    PROTO_UDP,
    SOCK,
    SUM_DPORT,
    SUM_DST,
    SUM_INFO,
    SUM_PROTO,
    SUM_SPORT,
    SUM_SRC,
    SUMMARY,
    WARNING,
    Record,
    ip_text,
    record_type,
    restamp_header,
)
from rustnet.track.join import SocketJoiner

PROG: Final = "rn-enrich"
Owners = SocketOwners | PsutilSocketOwners
_MAX_FLOWS: Final = 200_000
_MAX_PENDING: Final = 10_000
_MAX_IDS: Final = 200_000
# A connection's lookup that was final (see Enricher._own_conn); else (refreshes then, first sight).
_FINAL: Final = (-1, 0.0)
_HOSTNAME_FIELDS: Final = (
    ("src", "hostname_src", "hostname_src_via"),
    ("dst", "hostname_dst", "hostname_dst_via"),
)
# How long a local flow found without its owner keeps the short-lived watcher polling fast:
# the same program (a script calling curl in a loop, a browser) is likely to connect again.
_ARM_UNATTRIBUTED: Final = 10.0
# How long the end of a file waits for reverse lookups still under way (--resolve-dns).
_FINISH_WAIT: Final = 3.0
_OWN_PID: Final = os.getpid()


class Enricher:
    """The rn-enrich stage (see the module doc for the two placements)."""

    def __init__(
        self,
        processes: bool = True,
        resolve_dns: bool | None = False,
        geoip: GeoIP | None = None,
        poll_interval: float = 1.0,
        retry_for: float = 5.0,
        producer: str = PROG,
        owners: Owners | None = None,
        watch_interval: float = 0.001,
    ) -> None:
        self.processes = processes
        self.watch_interval = watch_interval
        self.poll_interval = poll_interval
        self.retry_for = retry_for
        self.producer = producer
        self.services = ServiceNames()
        # None: reverse lookups for live streams only (a file's addresses are from elsewhere).
        self.resolve_dns = resolve_dns
        self.names = HostNames(reverse_dns=resolve_dns is True)
        self.geoip = geoip
        self.linklayer = LinkLayer()
        self.upstream = SocketJoiner()
        self.live = False
        self.linktype: int | None = None
        self._owners = owners
        self._last_poll = 0.0
        self._seen: set[Any] = set()
        self._pending: dict[Flow, float] = {}
        self._emitted: set[tuple[Any, ...]] = set()
        # Connection id -> _FINAL when its lookup was final; else the refresh count after it and
        # when the connection was first seen (monotonic).
        self._tried: dict[Any, tuple[int, float]] = {}
        self._want_poll = False  # a local flow used the socket table since the last poll
        self._batch_start = 0.0  # when the records being processed arrived (monotonic)
        self._names_by_id: OrderedDict[Any, dict[str, tuple[str, str]]] = OrderedDict()
        self._hinted = False
        # Counters (read by the benchmark and the tests).
        self.flows_new = 0
        self.flows_owned = 0
        self.conns = 0
        self.conns_owned = 0

    # --- the socket table, only for live streams --------------------------------------------
    def owners(self) -> Owners | None:
        """The local socket table, when processes are attributed for this stream."""
        if not (self.live and self.processes):
            return None
        if self._owners is None:
            if sys.platform.startswith("linux") and os.path.isdir("/proc/self/net"):
                self._owners = SocketOwners(watch_interval=self.watch_interval)
            else:  # macOS and the like: psutil only (see rustnet.enrich.macos)
                self._owners = PsutilSocketOwners()
        if self._last_poll == 0.0:
            self._poll(time.time())
        return self._owners

    def attribution(self) -> str:
        """How processes are found for this stream, in words (the header's ``attribution``)."""
        if not self.processes:
            return "off"
        if not self.live:
            return "none (not a live capture)"
        owners = self.owners()
        if isinstance(owners, SocketOwners):
            parts = ["sock_diag" if owners.use_diag else "/proc/net", "procfs"]
            watcher = owners.watcher
            if watcher is not None:
                parts.append("fast socket watch")
                if watcher.exec_events:
                    parts.append("exec events")
            return " + ".join(parts)
        return "psutil" if owners is not None else "none"

    def _set_capture_netns(self, inode: Any) -> None:
        """A connection's own process is the one at the end in the capture's namespace; the
        other end's, in another namespace of this host, is its peer (rustnet.track.join)."""
        owners = self.owners()
        if isinstance(owners, SocketOwners):
            ok = isinstance(inode, int) and not isinstance(inode, bool)
            owners.set_capture_netns(inode if ok else None)

    def _poll(self, now: float) -> None:
        assert self._owners is not None
        self._owners.refresh(now)
        self._last_poll = time.monotonic()

    # --- Stage protocol --------------------------------------------------------------------
    def process(self, recs: list[Record]) -> list[Record]:
        out: list[Record] = []
        self._batch_start = time.monotonic()
        if self._owners is not None:
            self._owners.absorb_watch()
        for rec in recs:
            t = record_type(rec)
            if t == PACKET:
                if self.linktype is not None and self.live and self.processes and type(rec) is list:
                    data = rec[PKT_DATA] if len(rec) > PKT_DATA else None
                    if type(data) is bytes:
                        key = flow_key(self.linktype, data)
                        if key is not None and key not in self._seen:
                            self._note_flow(key, decode_key(key), out)
            elif t == SUMMARY and type(rec) is list:
                self._on_summary(rec, out)
            elif t == CONN and isinstance(rec, dict):
                self._enrich_conn(rec)
            elif t == SOCK and isinstance(rec, dict):
                self.upstream.add(rec)
            elif t == HEADER and isinstance(rec, dict):
                self.live = rec.get("live") is True
                if self.resolve_dns is None:
                    self.names.set_reverse(self.live)
                lt = rec.get("linktype")
                self.linktype = lt if isinstance(lt, int) else None
                self._set_capture_netns(rec.get("netns"))
                rec = restamp_header(rec, self.producer)
                rec["resolve_dns"] = self.names.resolver is not None
                if self.geoip is not None:
                    rec["geoip"] = self.geoip.kinds()
                rec["attribution"] = self.attribution()
            out.append(rec)
        self._names_found(out)
        self._hint(out)
        return out

    def tick(self, now: float) -> list[Record]:
        out: list[Record] = []
        self._names_found(out)
        owners = self.owners()
        if owners is None:
            return out
        if (
            self._pending or self._want_poll
        ) and time.monotonic() - self._last_poll >= self.poll_interval * 0.9:
            self._want_poll = False
            self._poll(now)
        mono = time.monotonic()
        for flow, first in list(self._pending.items()):
            sock = owners.lookup(*flow)
            if sock is not None and sock["pid"] is not None:
                self._emit(sock, out)
                self._emit_peer(owners, flow, out)
                self.flows_owned += 1
                del self._pending[flow]
            elif mono - first > self.retry_for:
                if sock is not None:
                    self._emit(sock, out)
                del self._pending[flow]
        self._hint(out)
        return out

    def finish(self) -> list[Record]:
        out: list[Record] = []
        resolver = self.names.resolver
        if resolver is not None and not self.live:
            # A file asked for names (--resolve-dns): its end waits a little for the last answers.
            deadline = time.monotonic() + _FINISH_WAIT
            while resolver.pending and time.monotonic() < deadline:
                time.sleep(0.02)
        self._names_found(out)
        self._hint(out)
        if self._owners is not None:
            self._owners.close()
        if resolver is not None:
            resolver.close()
        if self.geoip is not None:
            self.geoip.close()
        return out

    def _names_found(self, out: list[Record]) -> None:
        """A ``name`` record for each name a reverse lookup found since the last call."""
        resolver = self.names.resolver
        if resolver is None:
            return
        found = resolver.done()
        if found:
            now = time.time()
            out.extend({"t": NAME, "ts": now, "addr": ip, "name": name, "via": VIA_PTR} for ip, name in found)

    # --- placement 2: flows seen in packets or summaries -> sock records -------------------
    def _on_summary(self, rec: list[Any], out: list[Record]) -> None:
        if len(rec) <= SUM_INFO:
            return
        info = rec[SUM_INFO]
        if isinstance(info, dict) and info.get("dns_resolved"):
            self.names.learn_from(info)
        if not (self.live and self.processes) or rec[SUM_PROTO] not in (PROTO_TCP, PROTO_UDP):
            return
        src, dst, sport, dport = rec[SUM_SRC], rec[SUM_DST], rec[SUM_SPORT], rec[SUM_DPORT]
        if not (type(src) is bytes and type(dst) is bytes and type(sport) is int and type(dport) is int):
            return
        key = (rec[SUM_PROTO], src, sport, dst, dport)
        if key not in self._seen:
            proto = "tcp" if rec[SUM_PROTO] == PROTO_TCP else "udp"
            self._note_flow(key, (proto, ip_text(src), sport, ip_text(dst), dport), out)

    def _note_flow(self, key: Any, flow: Flow, out: list[Record]) -> None:
        """A flow not seen before: find its socket now, emit it, or retry it at the next polls."""
        if len(self._seen) >= _MAX_FLOWS:
            self._seen.clear()  # flows get looked up again: costs a lookup each, never memory
        self._seen.add(key)
        owners = self.owners()
        if owners is None:
            return
        self.flows_new += 1
        where = owners.locality(flow[1], flow[3])
        if where == NOT_LOCAL:
            return
        sock, final = owners.resolve_flow(
            *flow, where=where, max_age=self.poll_interval, seen_at=self._batch_start
        )
        if sock is not None:
            self._emit(sock, out)
        self._emit_peer(owners, flow, out)
        if sock is not None and sock["pid"] is not None and final:
            self.flows_owned += 1
        elif len(self._pending) < _MAX_PENDING:
            self._pending.setdefault(flow, time.monotonic())
        self._arm_if_unowned(owners, sock, where)

    def _arm_if_unowned(self, owners: Owners, sock: dict[str, Any] | None, where: int) -> None:
        """A flow of our namespace whose owner is not there (gone already, or only the peer's
        listener in another namespace matched): let the watcher poll fast for a while."""
        if where == OWN_NETNS and (sock is None or sock["pid"] is None):
            owners.arm_watch(_ARM_UNATTRIBUTED)

    def _emit_peer(self, owners: Owners, flow: Flow, out: list[Record]) -> None:
        """The far end's socket when it is on this host too, marked ``peer`` (never an owner)."""
        if isinstance(owners, SocketOwners):
            peer = owners.joiner.lookup_sides(*flow)[1]
            if peer is not None and peer["pid"] is not None:
                self._emit({**peer, "peer": True}, out)

    def _emit(self, sock: dict[str, Any], out: list[Record]) -> None:
        ident = (
            sock["proto"],
            sock["local"],
            sock["lport"],
            sock["remote"],
            sock["rport"],
            sock["pid"],
            sock["netns"],
            sock.get("peer"),
        )
        if ident in self._emitted:
            return
        if len(self._emitted) >= _MAX_FLOWS:
            self._emitted.clear()
        self._emitted.add(ident)
        out.append(sock)

    # --- placement 1: connection records -----------------------------------------------------
    def _enrich_conn(self, conn: dict[str, Any]) -> None:
        if conn.get("dns_resolved"):
            self.names.learn_from(conn)
        if conn.get("service") is None:
            service = self.services.lookup(conn.get("dport"), conn.get("proto"))
            if service is not None:
                conn["service"] = service
        own_ptr = self._own_ptr_query(conn)
        self._add_hostnames(conn, reverse=not own_ptr and conn.get("proto") != "arp")
        if self.geoip is not None:
            self.geoip.annotate(conn, conn.get("src" if conn.get("local_side") == "dst" else "dst"))
        self.linklayer.annotate(conn, self.live)
        if conn.get("proto") not in ("tcp", "udp"):
            return
        self.conns += 1
        owned = len(self.upstream) > 0 and self.upstream.annotate(conn)
        owners = self.owners()
        if not owned and owners is not None:
            owned = self._own_conn(owners, conn)
        if owned and conn.get("pid") is not None:
            self.conns_owned += 1
        if not own_ptr and self.names.resolver is not None and conn.get("pid") == _OWN_PID:
            conn["ptr_lookup_own"] = True  # our own socket: the resolver's queries

    def _own_ptr_query(self, conn: dict[str, Any]) -> bool:
        """Mark a DNS connection that asks a PTR name our reverse lookups asked for (it may be
        another process's socket: a local caching resolver forwards our queries)."""
        if conn.get("ptr_lookup_own") is True:
            return True
        resolver = self.names.resolver
        if resolver is None or conn.get("dns_qtype") != "PTR":
            return False
        query = conn.get("dns_query")
        if isinstance(query, str) and resolver.asked(query):
            conn["ptr_lookup_own"] = True
            return True
        return False

    def _own_conn(self, owners: Owners, conn: dict[str, Any]) -> bool:
        """Attribute a connection from our own socket table (see the module doc)."""
        joiner = owners.joiner
        conn_id = conn.get("id")
        if joiner.cached(conn_id) is not None:
            return joiner.annotate(conn)  # attributed before: kept through the final record
        flow = _conn_flow(conn)
        if flow is None:
            return joiner.annotate(conn)
        where = owners.locality(flow[1], flow[3])
        if where == NOT_LOCAL:
            return False  # no local end: no socket of this host can own it
        self._want_poll = True
        # First sight of a connection: look its socket up now (it may be newer than the last
        # poll, and a mere listener match may hide it); later records use the index and cache,
        # unless the first lookup was cut short by the refresh rate limit. Then a later record asks
        # again once a refresh is made or due, as of the first sight: a table read since then
        # answers for good, from the index (it holds the socket if it still exists), where asking
        # as of the later record's arrival made the exact queries again, 20-40 µs a record for
        # the sockets of short connections, gone by then.
        try:
            tried = self._tried.get(conn_id)
        except TypeError:
            tried = _FINAL
        final = True
        if tried is None or (tried[0] >= 0 and (owners.refreshes != tried[0] or owners.refresh_due())):
            first_seen = self._batch_start if tried is None else tried[1]
            sock, final = owners.resolve_flow(
                *flow, where=where, max_age=self.poll_interval, seen_at=first_seen
            )
            if len(self._tried) >= _MAX_IDS:
                self._tried.clear()
            try:
                self._tried[conn_id] = _FINAL if final else (owners.refreshes, first_seen)
            except TypeError:
                pass
            self._arm_if_unowned(owners, sock, where)
        elif tried[0] >= 0:
            final = False
        return joiner.annotate(conn, remember=final)

    def _add_hostnames(self, conn: dict[str, Any], reverse: bool = True) -> None:
        conn_id = conn.get("id")
        try:
            kept = self._names_by_id.get(conn_id) if conn_id is not None else None
        except TypeError:
            conn_id, kept = None, None
        for side, field, via_field in _HOSTNAME_FIELDS:
            if conn.get(field) is not None:
                continue  # named upstream: its own via (if any) stays as sent
            got = kept.get(field) if kept else None
            if got is None:
                got = self.names.lookup(conn.get(side), reverse)
                if got is not None and conn_id is not None:
                    if kept is None:
                        kept = self._names_by_id[conn_id] = {}
                        if len(self._names_by_id) > _MAX_IDS:
                            self._names_by_id.popitem(last=False)
                    kept[field] = got
            if got is not None:
                conn[field], conn[via_field] = got

    def _hint(self, out: list[Record]) -> None:
        if not self._hinted and self._owners is not None and self._owners.denied:
            self._hinted = True
            out.append({"t": WARNING, "ts": time.time(), "stage": PROG, "msg": DENIED_HINT})


def _conn_flow(conn: dict[str, Any]) -> Flow | None:
    src, dst, sport, dport = conn.get("src"), conn.get("dst"), conn.get("sport"), conn.get("dport")
    if not (isinstance(src, str) and isinstance(dst, str) and type(sport) is int and type(dport) is int):
        return None
    if not (0 <= sport <= 65535 and 0 <= dport <= 65535):
        return None
    return str(conn["proto"]), src, sport, dst, dport
