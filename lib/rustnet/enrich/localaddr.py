"""Which addresses are this host's, per network namespace: so flows with no local end skip the
socket lookups altogether.

A flow neither of whose addresses belongs to any namespace of this host (a router's or a
mirror port's traffic, a replayed capture) cannot have a local socket, except through a
transparent proxy (IP_TRANSPARENT) bound to a foreign address: so the local addresses of
the sockets already in the table count too (see :meth:`LocalAddresses.add_socket_addresses`).

Local means, as the kernel's ``local`` routing table does: every interface address and
subnet broadcast (rtnetlink ``RTM_GETADDR``, one short dump per namespace, about 25 µs),
all of 127.0.0.0/8, and, because a local socket may receive them, multicast, the limited
broadcast and the unspecified addresses (``0.0.0.0`` of a DHCP client). A namespace whose
addresses cannot be read (netlink refused there) makes every address count as local: the
filter then saves nothing but never hides a socket.
"""

from __future__ import annotations

import socket
import struct
from typing import Final

from rustnet.enrich import sockdiag
from rustnet.track.join import normalize_ip

RTM_NEWADDR: Final = 20
RTM_GETADDR: Final = 22
IFA_ADDRESS: Final = 1
IFA_LOCAL: Final = 2
IFA_BROADCAST: Final = 4
NOT_LOCAL: Final = 0  # no namespace of this host has the address
OTHER_NETNS: Final = 1  # local to another namespace than ours (sock_diag queries here cannot find it)
OWN_NETNS: Final = 2  # local to our namespace, or cannot be ruled out

_NLMSGHDR: Final = struct.Struct("=IHHII")
_IFADDRMSG: Final = struct.Struct("=BBBBI")
_RTATTR: Final = struct.Struct("=HH")
_ALWAYS: Final = frozenset({"0.0.0.0", "::", "255.255.255.255"})
_MAX_VERDICTS: Final = 65536


def parse_addr_dump(data: bytes) -> tuple[set[str], bool]:
    """The addresses in the ``RTM_NEWADDR`` messages of one answer chunk, and whether the dump
    ended (``NLMSG_DONE``). Raises :class:`sockdiag.DiagError` on an error or malformed message."""
    out: set[str] = set()
    off = 0
    n = len(data)
    hsize = _NLMSGHDR.size
    while off + hsize <= n:
        length, mtype, _flags, _seq, _pid = _NLMSGHDR.unpack_from(data, off)
        if length < hsize or off + length > n:
            raise sockdiag.DiagError("rtnetlink: malformed answer")
        if mtype == sockdiag.NLMSG_DONE:
            return out, True
        if mtype == sockdiag.NLMSG_ERROR:
            (errno_neg,) = struct.unpack_from("=i", data, off + hsize)
            if errno_neg == 0:
                return out, True
            raise sockdiag.DiagError(-errno_neg, "rtnetlink: address dump refused")
        if mtype == RTM_NEWADDR and length >= hsize + _IFADDRMSG.size:
            family = data[off + hsize]
            alen = 4 if family == socket.AF_INET else 16 if family == socket.AF_INET6 else 0
            p = off + hsize + _IFADDRMSG.size
            end = off + length
            while alen and p + _RTATTR.size <= end:
                rlen, rtype = _RTATTR.unpack_from(data, p)
                if rlen < _RTATTR.size or p + rlen > end:
                    break
                if rtype in (IFA_ADDRESS, IFA_LOCAL, IFA_BROADCAST) and rlen - _RTATTR.size == alen:
                    out.add(socket.inet_ntop(family, data[p + 4 : p + 4 + alen]))
                p += (rlen + 3) & ~3
        off += (length + 3) & ~3
    return out, False


def dump_addresses(sock: socket.socket) -> set[str]:
    """Every address of the namespace ``sock`` (a NETLINK_ROUTE socket) lives in."""
    sock.send(
        _NLMSGHDR.pack(
            _NLMSGHDR.size + _IFADDRMSG.size, RTM_GETADDR, sockdiag.NLM_F_REQUEST | sockdiag.NLM_F_DUMP, 1, 0
        )
        + _IFADDRMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
    )
    out: set[str] = set()
    while True:
        data = sock.recv(1 << 16)
        if not data:
            raise sockdiag.DiagError("rtnetlink: connection closed")
        found, done = parse_addr_dump(data)
        out |= found
        if done:
            return out


def is_special(addr: str) -> bool:
    """Addresses any host may own without an interface holding them: loopback 127/8, multicast,
    limited broadcast and unspecified (a socket bound to them or joined to a group receives them)."""
    if addr in _ALWAYS:
        return True
    if ":" in addr:
        return addr[:2].lower() == "ff" or addr == "::1"
    head = addr.split(".", 1)[0]
    return head == "127" or (head.isdigit() and 224 <= int(head) <= 239)


class LocalAddresses:
    """The addresses of our own namespace and of the others, each namespace read on demand."""

    def __init__(self) -> None:
        self.own: set[str] = set()
        self.others: set[str] = set()
        self.complete = False  # until read, and when some namespace's addresses could not be read
        self._by_ns: dict[int | None, set[str] | None] = {}
        self._socks: dict[int | None, socket.socket | None] = {}
        self._sockets_seen: set[str] = set()
        self._verdicts: dict[str, int] = {}
        self.own_ns: int | None = None
        self.capture_ns: int | None = None  # where the capture runs (None: ours)
        self._capture: set[str] | None = None
        self._capture_verdicts: dict[str, bool] = {}

    def locality(self, addr: str) -> int:
        """:data:`OWN_NETNS`, :data:`OTHER_NETNS` or :data:`NOT_LOCAL` for one address text
        (remembered until the addresses are read again: one dict lookup per address)."""
        verdict = self._verdicts.get(addr)
        if verdict is None:
            verdict = self._classify(addr)
            if len(self._verdicts) >= _MAX_VERDICTS:
                self._verdicts.clear()
            self._verdicts[addr] = verdict
        return verdict

    def _classify(self, addr: str) -> int:
        if addr in self.own:
            return OWN_NETNS
        if addr in self.others:
            return OTHER_NETNS
        if not self.complete or is_special(addr):
            return OWN_NETNS
        if ":" in addr:
            norm = normalize_ip(addr)  # ::ffff:a.b.c.d, or an uncompressed spelling
            if norm != addr:
                return self._classify(norm)
        return NOT_LOCAL

    def flow_locality(self, src: str, dst: str) -> int:
        """The nearer of the two ends (see :meth:`locality`)."""
        get = self._verdicts.get
        a = get(src)
        if a is None:
            a = self.locality(src)
        if a == OWN_NETNS:
            return a
        b = get(dst)
        if b is None:
            b = self.locality(dst)
        return a if a > b else b

    def in_capture_ns(self, addr: str) -> bool | None:
        """Whether ``addr`` belongs to the capture's namespace (loopback, multicast and the
        unspecified address do, in any); None when that namespace's addresses are unknown."""
        verdict = self._capture_verdicts.get(addr)
        if verdict is None:
            if self._capture is None:
                return None
            verdict = addr in self._capture or is_special(addr) or normalize_ip(addr) in self._capture
            if len(self._capture_verdicts) >= _MAX_VERDICTS:
                self._capture_verdicts.clear()
            self._capture_verdicts[addr] = verdict
        return verdict

    def near_ends(self, src: str, dst: str) -> tuple[bool, bool] | None:
        """:meth:`in_capture_ns` for both ends of a flow; None when it cannot tell."""
        get = self._capture_verdicts.get
        a = get(src)
        if a is None:
            a = self.in_capture_ns(src)
        b = get(dst)
        if b is None:
            b = self.in_capture_ns(dst)
        return None if a is None or b is None else (a, b)

    def _netlink(self, ino: int | None, pid: int | None) -> socket.socket | None:
        """The namespace's rtnetlink socket; None when it is refused there. Raises
        ProcessLookupError when ``pid`` exited before we could enter its namespace (nothing
        learned: not remembered)."""
        if ino in self._socks:
            return self._socks[ino]
        sock: socket.socket | None
        try:
            sock = (
                sockdiag.open_netlink(socket.NETLINK_ROUTE)
                if pid is None
                else sockdiag.open_netlink_in(f"/proc/{pid}/ns/net", socket.NETLINK_ROUTE)
            )
        except OSError as exc:
            if pid is not None and sockdiag.process_gone(exc):
                raise ProcessLookupError(pid) from exc
            sock = None
        self._socks[ino] = sock
        return sock

    def read_ns(self, ino: int | None, pid: int | None) -> None:
        """(Re)read one namespace's addresses; ``pid`` None: our own namespace. When ``pid`` has
        exited meanwhile (processes of other namespaces come and go all the time), what was known
        of the namespace stays as it was: a process gone is no sign of an unreadable namespace,
        which would make every address count as local."""
        try:
            sock = self._netlink(ino, pid)
        except ProcessLookupError:
            return
        addrs: set[str] | None = None
        if sock is not None:
            try:
                addrs = dump_addresses(sock)
            except OSError:
                sock.close()
                self._socks[ino] = None
        self._by_ns[ino] = addrs
        if pid is None:
            self.own_ns = ino

    def forget_except(self, live: set[int | None]) -> None:
        """Drop namespaces that are gone (no process left in them)."""
        for ino in [i for i in self._by_ns if i not in live and i != self.own_ns]:
            del self._by_ns[ino]
            sock = self._socks.pop(ino, None)
            if sock is not None:
                sock.close()

    def add_socket_addresses(self, addrs: set[str]) -> None:
        """Local addresses of sockets in the table (a transparent proxy's foreign binds); counted as
        our namespace's, so an exact sock_diag query is tried for them."""
        self._sockets_seen = {normalize_ip(a) for a in addrs}

    def rebuild(self) -> None:
        """Recompute the lookup sets after :meth:`read_ns` calls. The verdicts remembered stay when
        the sets came out the same: addresses are read again every second while flows with no
        local end arrive, and a busy link has tens of thousands of remote addresses."""
        own_addrs = self._by_ns.get(self.own_ns)
        complete = all(v is not None for v in self._by_ns.values())
        own = set(own_addrs or ()) | self._sockets_seen
        others: set[str] = set()
        for ino, addrs in self._by_ns.items():
            if ino != self.own_ns and addrs:
                others |= addrs
        others -= own
        if complete != self.complete or own != self.own or others != self.others:
            self.complete, self.own, self.others = complete, own, others
            self._verdicts = {}
        cap = self.own_ns if self.capture_ns is None else self.capture_ns
        capture_addrs = self._by_ns.get(cap)
        capture = set(capture_addrs) if capture_addrs is not None else None
        if capture != self._capture:
            self._capture = capture
            self._capture_verdicts = {}

    def close(self) -> None:
        for sock in self._socks.values():
            if sock is not None:
                sock.close()
        self._socks.clear()
