"""Join ``sock`` records (local sockets and their owners) to ``conn`` records.

rn-enrich emits ``sock`` records when it runs right after rn-capture (possibly on
another host); whoever later builds connections (rn-track, rn-view) feeds them to a
:class:`SocketJoiner` and calls :meth:`SocketJoiner.annotate` on every connection
record it emits. rn-enrich itself uses the same joiner over its own socket table.

    joiner = SocketJoiner()
    joiner.add(sock_record)          # any time a "sock" record arrives
    joiner.annotate(conn_record)     # before writing a "conn" record: adds pid/process/...

Matching, for a connection ``src:sport -> dst:dport`` (first match wins):

1. a connected socket ``local=src:sport remote=dst:dport`` (we are the client);
2. a connected socket ``local=dst:dport remote=src:sport`` (an accepted server socket);
3. a socket bound at ``dst:dport`` with no remote: a listener, or an unconnected UDP
   server; the wildcard addresses ``0.0.0.0`` and ``::`` match any local address (and
   ``::`` also matches IPv4, as a dual-stack listener does);
4. a socket bound at ``src:sport`` with no remote (a UDP client that never called
   ``connect``).

When one socket tuple exists in several network namespaces (a veth pair between two
namespaces on the same host has both ends local), the socket in the preferred
namespace (``prefer_netns``, ``None`` = the host's) wins within the same step.

Which end is the connection's own (rn-enrich's table of every namespace, where ``near`` is
set): the end whose address belongs to the namespace the capture runs in. Its socket must be
in that namespace; the socket of the other end, found in another namespace of this host, is
the *peer* (``peer_pid``, ``peer_process``, ...), never the connection's own process. When
both ends are the capture's (loopback), the originator's end is its own. When neither is
(a capture on a bridge), the first end with a socket on this host is. Downstream joiners
(sock records from an rn-enrich upstream) trust its decision: sock records marked
``peer`` describe only peers.

``owner_via`` says how the owner was found (:data:`OWNER_VIA`).

Once a connection is attributed to a process, the answer is kept by connection
``id`` so its later records (through the final one) carry the process even after the
socket and the process are gone. Memory is bounded: the socket index and the id
cache are LRU-capped.
"""

from __future__ import annotations

import functools
import ipaddress
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Final

from rustnet.stream.bounds import bound_record

# Fields a sock record lends to the connections it owns.
OWNER_FIELDS: Final = (
    "pid",
    "process",
    "cmdline",
    "user",
    "group",
    "netns",
    "ppid",
    "exe",
    "ancestors",
)
# Fields a sock record of the far end lends as the connection's peer (both ends on this host).
PEER_FIELDS: Final = ("pid", "process", "user", "netns")
# Everything annotate may add (kept by whoever keeps a connection's owner once found).
ANNOTATED_FIELDS: Final = (
    *OWNER_FIELDS,
    "owner_via",
    *(f"peer_{k}" for k in PEER_FIELDS),
)
# How an owner was found, as ``owner_via`` says.
OWNER_VIA: Final = {
    "exact-tuple": "a connected socket with this very tuple, its process read from /proc",
    "short-lived-watch": "the same, caught by the fast watcher between two polls (a short-lived client)",
    "exec-event": "the same, its process among the programs just started (kernel exec events)",
    "listener-socket": "a listening socket at the port (the server of an accepted connection)",
    "bound-socket": "an unconnected UDP socket bound at the port",
}

_WILDCARD4: Final = "0.0.0.0"
_WILDCARD6: Final = "::"
_MAX_PER_KEY: Final = 4

SockKey = tuple[str, str, int, str, int]
BoundKey = tuple[str, str, int]
Sock = dict[str, Any]
# (src, dst) -> whether each address belongs to the capture's namespace; None: cannot tell.
NearEnds = Callable[[str, str], "tuple[bool, bool] | None"]


def owner_via(sock: Sock) -> str:
    """How a connection's owner was found, from the socket that matched (see :data:`OWNER_VIA`)."""
    if sock.get("rport"):
        via = sock.get("via")
        return via if isinstance(via, str) and via in OWNER_VIA else "exact-tuple"
    return "listener-socket" if sock.get("proto") == "tcp" and sock.get("listening") else "bound-socket"


_ANY_NETNS: Final = object()  # no socket's netns: with inside=False, any namespace matches


def normalize_ip(text: Any) -> str:
    """Canonical text for an address; IPv4-mapped IPv6 (``::ffff:a.b.c.d``) becomes IPv4.

    /proc and sock_diag report IPv4 peers of dual-stack sockets in mapped form, while
    the packets (and so the connection records) carry plain IPv4.
    """
    if not isinstance(text, str) or not text:
        return ""
    if ":" not in text:
        return text
    return _normalize_v6(text)


@functools.lru_cache(maxsize=16384)
def _normalize_v6(text: str) -> str:
    try:
        addr = ipaddress.IPv6Address(text.split("%", 1)[0])
    except ValueError:
        return text
    mapped = addr.ipv4_mapped
    return str(mapped) if mapped is not None else addr.compressed


def _port(value: Any) -> int:
    return value if isinstance(value, int) and 0 <= value <= 65535 else -1


class SocketJoiner:
    """Index of local sockets by tuple; attributes connection records to their owners."""

    def __init__(
        self, prefer_netns: str | None = None, max_sockets: int = 200_000, max_ids: int = 200_000
    ) -> None:
        self.prefer_netns = prefer_netns  # with ``near``: the capture's namespace
        self.near: NearEnds | None = None
        self.max_sockets = max_sockets
        self.max_ids = max_ids
        self._peers: SocketJoiner | None = None  # upstream sock records marked ``peer``
        self._exact: OrderedDict[SockKey, list[dict[str, Any]]] = OrderedDict()
        self._bound: OrderedDict[BoundKey, list[dict[str, Any]]] = OrderedDict()
        self._by_id: OrderedDict[Any, dict[str, Any]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._exact) + len(self._bound)

    # --- building the index -------------------------------------------------------
    def _slot(self, sock: dict[str, Any]) -> tuple[OrderedDict[Any, list[dict[str, Any]]], Any] | None:
        """The index and key a sock record lives under, or None when it is not usable."""
        proto = sock.get("proto")
        lport = _port(sock.get("lport"))
        if not isinstance(proto, str) or lport < 0:
            return None
        local = normalize_ip(sock.get("local")) or _WILDCARD4
        remote = normalize_ip(sock.get("remote"))
        rport = _port(sock.get("rport"))
        if remote and remote not in (_WILDCARD4, _WILDCARD6) and rport > 0:
            return self._exact, (proto, local, lport, remote, rport)
        return self._bound, (proto, local, lport)

    def add(self, sock: dict[str, Any]) -> None:
        """Index one ``sock`` record (a newer record for the same tuple and namespace replaces)."""
        sock = bound_record(sock)[0]  # it is kept: a stream's megabyte strings must not be
        if sock.get("peer") is True:
            if self._peers is None:
                self._peers = SocketJoiner(max_sockets=self.max_sockets, max_ids=1)
            self._peers.add({k: v for k, v in sock.items() if k != "peer"})
            return
        slot = self._slot(sock)
        if slot is not None:
            self._put(slot[0], slot[1], sock)

    def _put(self, index: OrderedDict[Any, list[dict[str, Any]]], key: Any, sock: dict[str, Any]) -> None:
        entries = index.get(key)
        if entries is None:
            index[key] = [sock]
            if len(index) > self.max_sockets:
                index.popitem(last=False)
            return
        index.move_to_end(key)
        ns = sock.get("netns")
        for i, old in enumerate(entries):
            if old.get("netns") == ns:
                entries[i] = sock
                return
        entries.append(sock)
        if len(entries) > _MAX_PER_KEY:
            del entries[0]

    def remove(self, sock: dict[str, Any]) -> None:
        """Forget a socket added earlier (the very same record object); gone sockets should go
        after a short grace period, so a later listener on the port is not matched to a dead one."""
        slot = self._slot(sock)
        if slot is None:
            return
        index, key = slot
        entries = index.get(key)
        if entries is None:
            return
        entries[:] = [e for e in entries if e is not sock]
        if not entries:
            del index[key]

    def clear_sockets(self) -> None:
        """Forget every socket (the id cache of attributed connections stays)."""
        self._exact.clear()
        self._bound.clear()
        self._peers = None

    # --- looking up -----------------------------------------------------------------
    def _pick(self, entries: list[dict[str, Any]] | None) -> dict[str, Any] | None:
        if not entries:
            return None
        for s in entries:
            if s.get("netns") == self.prefer_netns:
                return s
        return entries[-1]

    def _bound_at(self, proto: str, ip: str, port: int) -> dict[str, Any] | None:
        s = self._pick(self._bound.get((proto, ip, port)))
        if s is not None:
            return s
        if ":" in ip:
            return self._pick(self._bound.get((proto, _WILDCARD6, port)))
        return self._pick(self._bound.get((proto, _WILDCARD4, port))) or self._pick(
            self._bound.get((proto, _WILDCARD6, port))
        )

    def lookup(
        self, proto: str, src: str, sport: int, dst: str, dport: int, exact_only: bool = False
    ) -> dict[str, Any] | None:
        """The socket owning the flow ``src:sport -> dst:dport``, or None (see the module doc).

        ``exact_only``: only connected sockets (steps 1 and 2), no listener or bound socket.
        """
        return self.lookup_sides(proto, src, sport, dst, dport, exact_only, with_peer=False)[0]

    def lookup_sides(
        self,
        proto: str,
        src: str,
        sport: int,
        dst: str,
        dport: int,
        exact_only: bool = False,
        with_peer: bool = True,
    ) -> tuple[Sock | None, Sock | None]:
        """The flow's own socket and its peer's (the far end's, when it is on this host too;
        not looked for unless ``with_peer``)."""
        src = normalize_ip(src)
        dst = normalize_ip(dst)
        near = self.near(src, dst) if self.near is not None else None
        at_end = self._at_end
        cap = self.prefer_netns
        if near is None and self.near is not None:
            # The capture namespace's addresses are unknown for now: its own socket at either end.
            for a, p, b, q in ((src, sport, dst, dport), (dst, dport, src, sport)):
                own = at_end(proto, a, p, b, q, cap, True, exact_only)
                if own is not None:
                    return own, at_end(proto, b, q, a, p, cap, False, exact_only) if with_peer else None
            return None, None
        if near is None:
            own = self._lookup_any(proto, src, sport, dst, dport, exact_only)
            peers = self._peers
            peer = (
                peers._lookup_any(proto, src, sport, dst, dport, exact_only) if peers and with_peer else None
            )
            return own, peer
        near_src, near_dst = near
        if near_src or near_dst:
            both = near_src and near_dst  # loopback: the peer is in the capture's namespace too
            if near_src:
                own = at_end(proto, src, sport, dst, dport, cap, True, exact_only)
                peer = at_end(proto, dst, dport, src, sport, cap, both, exact_only) if with_peer else None
            else:
                own = at_end(proto, dst, dport, src, sport, cap, True, exact_only)
                peer = at_end(proto, src, sport, dst, dport, cap, both, exact_only) if with_peer else None
            return own, peer
        # Neither end is the capture namespace's (a bridge): the first end with a socket here.
        ends = ((src, sport, dst, dport), (dst, dport, src, sport))
        for (a, p, b, q), (c, r, d, t) in (ends, ends[::-1]):
            own = at_end(proto, a, p, b, q, _ANY_NETNS, False, exact_only)
            if own is not None:
                peer = at_end(proto, c, r, d, t, own.get("netns"), False, exact_only) if with_peer else None
                return own, peer
        return None, None

    def _at_end(
        self,
        proto: str,
        ip: str,
        port: int,
        rip: str,
        rport: int,
        netns: Any,
        inside: bool,
        exact_only: bool,
    ) -> Sock | None:
        """The socket at the end ``ip:port`` of a flow with ``rip:rport``, in ``netns`` (``inside``)
        or in any other namespace: connected to exactly that peer, else bound (a listener, an
        unconnected UDP socket, wildcards too). A socket whose owner is known beats one without,
        newer beats older."""
        best: Sock | None = None
        s: Sock
        for s in reversed(self._exact.get((proto, ip, port, rip, rport)) or ()):
            if (s.get("netns") == netns) is inside:
                if s.get("pid") is not None:
                    return s
                if best is None:
                    best = s
        if exact_only or not self._bound:
            return best
        wild = (_WILDCARD6,) if ":" in ip else (_WILDCARD4, _WILDCARD6)
        for addr in (ip, *wild):
            for s in reversed(self._bound.get((proto, addr, port)) or ()):
                if (s.get("netns") == netns) is inside:
                    if s.get("pid") is not None:
                        return s
                    if best is None:
                        best = s
        return best

    def _lookup_any(
        self, proto: str, src: str, sport: int, dst: str, dport: int, exact_only: bool = False
    ) -> dict[str, Any] | None:
        """The first match in the module doc's order (no knowledge of the capture's namespace)."""
        best: dict[str, Any] | None = None
        exact = self._exact
        if exact:
            candidates = [
                self._pick(exact.get((proto, src, sport, dst, dport))),
                self._pick(exact.get((proto, dst, dport, src, sport))),
            ]
            found = [c for c in candidates if c is not None]
            if found:
                best = found[0]
                for c in found:
                    if c.get("netns") == self.prefer_netns:
                        best = c
                        break
                if best.get("pid") is not None or exact_only:
                    return best
        if self._bound and not exact_only:
            # A connected socket whose owner is unknown loses to a listener whose owner is known.
            server_side = self._bound_at(proto, dst, dport)
            client_side = self._bound_at(proto, src, sport)
            bound = server_side or client_side
            prefer = self.prefer_netns
            if (
                server_side is not None
                and client_side is not None
                and server_side.get("netns") != prefer
                and client_side.get("netns") == prefer
            ):
                bound = client_side  # both ends local (two namespaces): ours first, as for connected ones
            if bound is not None and (best is None or bound.get("pid") is not None):
                return bound
        return best

    def lookup_conn(self, conn: dict[str, Any]) -> dict[str, Any] | None:
        """:meth:`lookup` for a connection record (TCP and UDP only)."""
        proto = conn.get("proto")
        if proto not in ("tcp", "udp"):
            return None
        sport = _port(conn.get("sport"))
        dport = _port(conn.get("dport"))
        src = conn.get("src")
        dst = conn.get("dst")
        if sport < 0 or dport < 0 or not isinstance(src, str) or not isinstance(dst, str):
            return None
        return self.lookup(proto, src, sport, dst, dport)

    def lookup_conn_sides(self, conn: dict[str, Any]) -> tuple[Sock | None, Sock | None]:
        """:meth:`lookup_sides` for a connection record (TCP and UDP only)."""
        proto = conn.get("proto")
        if proto not in ("tcp", "udp"):
            return None, None
        sport = _port(conn.get("sport"))
        dport = _port(conn.get("dport"))
        src = conn.get("src")
        dst = conn.get("dst")
        if sport < 0 or dport < 0 or not isinstance(src, str) or not isinstance(dst, str):
            return None, None
        return self.lookup_sides(proto, src, sport, dst, dport)

    # --- annotating ---------------------------------------------------------------
    def cached(self, conn_id: Any) -> dict[str, Any] | None:
        """The owner fields remembered for a connection id, if any."""
        if conn_id is None:
            return None
        try:
            return self._by_id.get(conn_id)
        except TypeError:  # an unhashable id from a hostile stream
            return None

    def remember(self, conn_id: Any, fields: dict[str, Any]) -> None:
        try:
            self._by_id[conn_id] = fields
            self._by_id.move_to_end(conn_id)
        except TypeError:
            return
        if len(self._by_id) > self.max_ids:
            self._by_id.popitem(last=False)

    def annotate(self, conn: dict[str, Any], remember: bool = True) -> bool:
        """Add the owner's fields (:data:`OWNER_FIELDS`, ``owner_via``) and the peer's
        (``peer_pid``, ``peer_process``, ...) to ``conn`` in place.

        Returns True when owner or peer data was added (from the id cache or matching sockets).
        Fields already on the record (e.g. from an earlier enrich stage) are kept.
        ``remember=False``: for this record only (not kept for the id).
        """
        conn_id = conn.get("id")
        fields = self.cached(conn_id)
        if fields is None:
            sock, peer = self.lookup_conn_sides(conn)
            fields = {}
            if sock is not None:
                fields = {k: sock[k] for k in OWNER_FIELDS if sock.get(k) is not None}
                if sock.get("pid") is not None:
                    fields["owner_via"] = owner_via(sock)
            if peer is not None and peer.get("pid") is not None:
                for k in PEER_FIELDS:
                    if peer.get(k) is not None:
                        fields["peer_" + k] = peer[k]
            if not fields:
                return False
            # Only a known pid is final; a socket seen without its owner may be attributed later.
            if remember and conn_id is not None and fields.get("pid") is not None:
                self.remember(conn_id, fields)
        for k, v in fields.items():
            if conn.get(k) is None:
                conn[k] = v
        return True
