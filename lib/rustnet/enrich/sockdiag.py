"""Socket tables through sock_diag netlink (NETLINK_SOCK_DIAG), the way ``ss`` reads them.

Why: reading /proc/net/tcp costs milliseconds even when nearly empty (the kernel
walks its whole hash tables to print text), while a sock_diag dump returns binary
rows with the same facts (tuple, state, uid, inode) much faster, and an exact
query asks the kernel for one socket by its tuple (the cheapest check on a miss).

A netlink socket sees the network namespace it was created in. Sockets for other
namespaces are created by entering the namespace (setns) for the moment of the
``socket()`` call; when that is not allowed the caller falls back to /proc.

Wire layout (linux/inet_diag.h): request = nlmsghdr + inet_diag_req_v2
(family, protocol, ext, pad, states, inet_diag_sockid); each answer = nlmsghdr +
inet_diag_msg (family, state, timer, retrans, inet_diag_sockid, expires, rqueue,
wqueue, uid, inode). inet_diag_sockid = sport, dport (big-endian), src[16], dst[16]
(IPv4 in the first 4 bytes), interface, cookie[2].
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import socket
import struct
from typing import Any, Final

from rustnet.enrich.sockets import SockEntry

NETLINK_SOCK_DIAG: Final = 4
SOCK_DIAG_BY_FAMILY: Final = 20
NLM_F_REQUEST: Final = 0x01
NLM_F_DUMP: Final = 0x300
NLMSG_ERROR: Final = 2
NLMSG_DONE: Final = 3
CLONE_NEWNET: Final = 0x40000000
ALL_STATES: Final = 0xFFFFFFFF
# Sockets that can have an owner: not TIME_WAIT (6) nor NEW_SYN_RECV (12), which never have an
# inode; a host closing thousands of connections a second holds hundreds of thousands of them.
OWNED_STATES: Final = ALL_STATES & ~((1 << 6) | (1 << 12))

_NLMSGHDR: Final = struct.Struct("=IHHII")
_SOCKID: Final = struct.Struct(">HH16s16sI8s")  # the interface index is never used, so its byte order is moot
_REQ: Final = struct.Struct("=BBBBI")
_MSG: Final = struct.Struct("=BBBB")
_MSG_TAIL: Final = struct.Struct("=IIIII")
_MSG_LEN: Final = _MSG.size + _SOCKID.size + _MSG_TAIL.size  # 72
_PROTOS: Final = {"tcp": socket.IPPROTO_TCP, "udp": socket.IPPROTO_UDP}
_RTATTR: Final = struct.Struct("=HH")
_BC_OP: Final = struct.Struct("=BBH")  # inet_diag_bc_op: code, yes, no
INET_DIAG_REQ_BYTECODE: Final = 1
INET_DIAG_BC_S_GE: Final = 2
INET_DIAG_BC_S_LE: Final = 3


class DiagError(OSError):
    """sock_diag is not available (old kernel, no permission, or a malformed answer)."""


def process_gone(exc: OSError) -> bool:
    """Whether opening a socket in a process's namespace failed only because that process has
    exited meanwhile (not a refusal: the namespace is not unreadable, try another process)."""
    return exc.errno in (errno.ENOENT, errno.ESRCH)


def open_netlink(proto: int) -> socket.socket:
    """A netlink socket of family ``proto`` in the current network namespace."""
    try:
        return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, proto)
    except (OSError, AttributeError) as exc:
        raise DiagError(f"netlink {proto} unavailable: {exc}") from exc


def open_diag() -> socket.socket:
    """A sock_diag netlink socket in the current network namespace."""
    return open_netlink(NETLINK_SOCK_DIAG)


_libc: ctypes.CDLL | None = None


def _setns(fd: int) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def open_diag_in(ns_path: str) -> socket.socket:
    """A sock_diag socket bound to the namespace at ``ns_path`` (``/proc/<pid>/ns/net``)."""
    return open_netlink_in(ns_path, NETLINK_SOCK_DIAG)


def open_netlink_in(ns_path: str, proto: int) -> socket.socket:
    """A netlink socket of family ``proto`` bound to the namespace at ``ns_path``.

    Enters the namespace only for the ``socket()`` call and always returns to ours; if
    returning fails the process would be in the wrong namespace, so that is fatal here.
    """
    own = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        target = os.open(ns_path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        os.close(own)
        raise DiagError(exc.errno, f"{ns_path}: {exc.strerror}") from exc  # ENOENT: the process is gone
    try:
        try:
            _setns(target)
        except OSError as exc:
            raise DiagError(f"cannot enter {ns_path}: {exc}") from exc
        try:
            return open_netlink(proto)
        finally:
            _setns(own)
    finally:
        os.close(target)
        os.close(own)


def _request(
    proto: int,
    family: int,
    states: int,
    flags: int,
    sport: int = 0,
    dport: int = 0,
    src: bytes = b"",
    dst: bytes = b"",
    bytecode: bytes = b"",
) -> bytes:
    body = _REQ.pack(family, proto, 0, 0, states) + _SOCKID.pack(
        sport, dport, src.ljust(16, b"\0"), dst.ljust(16, b"\0"), 0, b"\xff" * 8
    )
    if bytecode:
        body += _RTATTR.pack(_RTATTR.size + len(bytecode), INET_DIAG_REQ_BYTECODE) + bytecode
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(body), SOCK_DIAG_BY_FAMILY, flags, 1, 0) + body


def sport_filter(low: int, high: int) -> bytes:
    """inet_diag bytecode keeping sockets whose local port is in ``low..high`` (the kernel runs it:
    the other sockets are never sent). Each test is two 4-byte ops, the second holding the
    port; ``no`` jumps past the end of the program, which rejects the socket."""
    op = _BC_OP.pack
    return op(INET_DIAG_BC_S_GE, 8, 16 + 4) + op(0, 0, low) + op(INET_DIAG_BC_S_LE, 8, 8 + 4) + op(0, 0, high)


def _ip_text(family: int, raw: bytes, cache: dict[bytes, str]) -> str:
    key = raw if family == socket.AF_INET6 else raw[:4]
    text = cache.get(key)
    if text is None:
        text = cache[key] = socket.inet_ntop(family, key)
    return text


def _exchange(
    sock: socket.socket, req: bytes, proto_name: str, cache: dict[bytes, Any], max_rows: int
) -> list[SockEntry]:
    """Send one request and collect its answers. ``cache`` maps the stable bytes of an answer
    (family, state, tuple, uid, inode: not the timers and queues) to its decoded row, so an
    unchanged socket costs a slice and a dict lookup on every poll, not a decode."""
    sock.send(req)
    out: list[SockEntry] = []
    append = out.append
    rows = cache.setdefault(proto_name.encode(), {})
    addrs = cache.setdefault(b"addrs", {})
    hdr_unpack = _NLMSGHDR.unpack_from
    hsize = _NLMSGHDR.size
    while True:
        data = sock.recv(1 << 18)
        n = len(data)
        if n <= 0:
            raise DiagError("sock_diag: connection closed")
        off = 0
        while off + hsize <= n:
            length, mtype, _flags, _seq, _pid = hdr_unpack(data, off)
            if length < hsize or off + length > n:
                raise DiagError("sock_diag: malformed answer")
            if mtype == SOCK_DIAG_BY_FAMILY and length >= hsize + _MSG_LEN:
                p = off + hsize
                key = data[p : p + 2] + data[p + 4 : p + 40] + data[p + 64 : p + 72]
                row = rows.get(key)
                if row is None:
                    try:
                        row = _decode(data, p, proto_name, addrs)
                    except (ValueError, struct.error) as exc:
                        raise DiagError(f"sock_diag: malformed answer ({exc})") from exc
                    if len(rows) >= 262_144:
                        rows.clear()
                    rows[key] = row
                if len(out) < max_rows:
                    append(row)
            elif mtype == NLMSG_DONE:
                return out
            elif mtype == NLMSG_ERROR:
                (errno_neg,) = struct.unpack_from("=i", data, off + hsize)
                if errno_neg == 0 or -errno_neg == 2:  # 0: end; ENOENT: an exact query found nothing
                    return out
                raise DiagError(-errno_neg, f"sock_diag: {os.strerror(-errno_neg)}")
            off += (length + 3) & ~3
        if not (_flags_dump(req)):
            return out


def _decode(data: bytes, p: int, proto_name: str, addrs: dict[bytes, str]) -> SockEntry:
    family, state, _timer, _retrans = _MSG.unpack_from(data, p)
    sport, dport, src, dst, _if, _cookie = _SOCKID.unpack_from(data, p + 4)
    _exp, _rq, _wq, uid, inode = _MSG_TAIL.unpack_from(data, p + 4 + _SOCKID.size)
    return SockEntry(
        proto_name,
        _ip_text(family, src, addrs),
        sport,
        _ip_text(family, dst, addrs),
        dport,
        state,
        uid,
        inode,
    )


def _flags_dump(req: bytes) -> bool:
    return bool(_NLMSGHDR.unpack_from(req)[2] & NLM_F_DUMP)


def dump(
    sock: socket.socket,
    protos: tuple[str, ...] = ("tcp", "udp"),
    cache: dict[bytes, Any] | None = None,
    max_rows: int = 1_000_000,
    states: int = ALL_STATES,
    bytecode: bytes = b"",
) -> list[SockEntry]:
    """Every TCP/UDP socket (IPv4 and IPv6) of the socket's namespace in ``states`` (a bit mask of
    TCP states; :data:`OWNED_STATES` leaves out those that never have an owner) that passes
    ``bytecode`` (e.g. :func:`sport_filter`). ``cache``: see _exchange; keep one per namespace
    across polls."""
    cache = cache if cache is not None else {}
    out: list[SockEntry] = []
    for name in protos:
        for family in (socket.AF_INET, socket.AF_INET6):
            req = _request(_PROTOS[name], family, states, NLM_F_REQUEST | NLM_F_DUMP, bytecode=bytecode)
            out.extend(_exchange(sock, req, name, cache, max_rows))
    if len(cache.get(b"addrs", ())) > 65536:
        cache.clear()
    return out


def query(
    sock: socket.socket, proto: str, local: str, lport: int, remote: str, rport: int
) -> SockEntry | None:
    """The one socket with exactly this tuple (as seen locally), or None."""
    family = socket.AF_INET6 if ":" in local else socket.AF_INET
    if proto not in _PROTOS or not (0 <= lport <= 65535 and 0 <= rport <= 65535):
        return None
    try:
        src = socket.inet_pton(family, local)
        dst = socket.inet_pton(family, remote)
    except OSError:
        return None
    req = _request(_PROTOS[proto], family, ALL_STATES, NLM_F_REQUEST, lport, rport, src, dst)
    rows = _exchange(sock, req, proto, {}, 1)
    return rows[0] if rows else None
