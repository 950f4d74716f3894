"""Wake-ups when a program starts: the kernel's process events connector, exec events only.

The short-lived watcher (:mod:`rustnet.enrich.watch`) polls fast only for a while after
something suggests a short-lived client is coming. A new program is the best hint there
is: curl, wget, ssh and the like are started for one or a few connections. The process
events connector (netlink ``NETLINK_CONNECTOR``, ``CN_IDX_PROC``) tells within
microseconds that some process called exec, with nothing to poll in between.

Requirements, all checked by :func:`open_exec_events` (None when one is missing): root
(CAP_NET_ADMIN), the host's network namespace (the connector exists only there, so from
inside another one the socket is created in pid 1's namespace as for sock_diag, or, when
pid 1 is not readable, in that of the oldest process outside ours), and
Linux 6.6 or newer, which filters the events in the kernel: without the filter every
fork, exit and ptrace stop of the host would wake us.
"""

from __future__ import annotations

import os
import platform
import socket
import struct
from collections.abc import Iterator
from typing import Final

from rustnet.enrich import sockdiag
from rustnet.enrich import sockets as socktab

NETLINK_CONNECTOR: Final = 11
CN_IDX_PROC: Final = 1
CN_VAL_PROC: Final = 1
PROC_CN_MCAST_LISTEN: Final = 1
PROC_EVENT_EXEC: Final = 0x00000002
NLMSG_DONE: Final = 3
SO_RCVBUFFORCE: Final = 33  # <asm-generic/socket.h>: SO_RCVBUF past net.core.rmem_max (CAP_NET_ADMIN)
EVENTS_BUFFER: Final = 4 << 20  # ~50,000 exec events: a quarter second of a very busy host

_NLMSGHDR: Final = struct.Struct("=IHHII")
_CN_MSG: Final = struct.Struct("=IIIIHH")
_PROC_INPUT: Final = struct.Struct("=II")  # mcast_op, event_type filter (Linux 6.6+)
_EVENT_HEAD: Final = struct.Struct("=IIQ")  # what, cpu, timestamp_ns
_EXEC_EVENT: Final = struct.Struct("=ii")  # pid, tgid


def kernel_filters_events(release: str | None = None) -> bool:
    """Linux 6.6 or newer (the event-type filter of the proc connector)."""
    text = platform.release() if release is None else release
    parts = text.split(".")
    try:
        major, minor = int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or "0")
    except (IndexError, ValueError):
        return False
    return (major, minor) >= (6, 6)


def _subscribe(sock: socket.socket) -> None:
    op = _PROC_INPUT.pack(PROC_CN_MCAST_LISTEN, PROC_EVENT_EXEC)
    msg = _CN_MSG.pack(CN_IDX_PROC, CN_VAL_PROC, 0, 0, len(op), 0) + op
    sock.send(_NLMSGHDR.pack(_NLMSGHDR.size + len(msg), NLMSG_DONE, 0, 0, 0) + msg)


def open_exec_events() -> socket.socket | None:
    """A non-blocking netlink socket that becomes readable when a process calls exec, or None."""
    if os.geteuid() != 0 or not kernel_filters_events():
        return None
    for ns_path in _candidate_namespaces():
        sock: socket.socket | None = None
        try:
            sock = (
                sockdiag.open_netlink(NETLINK_CONNECTOR)
                if ns_path is None
                else sockdiag.open_netlink_in(ns_path, NETLINK_CONNECTOR)
            )
            sock.bind((0, CN_IDX_PROC))
            _subscribe(sock)  # refused (ECONNREFUSED) outside the host's network namespace
            _enlarge_buffer(sock)
            sock.setblocking(False)
            return sock
        except OSError:
            if sock is not None:
                sock.close()
    return None


def _enlarge_buffer(sock: socket.socket) -> None:
    """Room for the events of a busy host between two reads: the watcher reads them in batches a
    quarter of a second apart while other namespaces start many programs, and the kernel drops
    what does not fit (ENOBUFS), ours among them. Root may pass the rmem_max limit."""
    for option in (SO_RCVBUFFORCE, socket.SO_RCVBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, EVENTS_BUFFER)
            return
        except OSError:
            continue


def _candidate_namespaces(tries: int = 4) -> Iterator[str | None]:
    """Ours (None), pid 1's, then those of the oldest processes in other namespaces (looked
    for only when the first ones fail)."""
    yield None
    yield "/proc/1/ns/net"
    seen = {socktab.netns_inode("self"), socktab.netns_inode(1)}
    for pid in reversed(socktab.pids()):
        if tries <= 0:
            return
        ino = socktab.netns_inode(pid)
        if ino is not None and ino not in seen:
            seen.add(ino)
            tries -= 1
            yield f"/proc/{pid}/ns/net"


def exec_pids(data: bytes) -> list[int]:
    """The pids of the exec events in one datagram (other events are ignored)."""
    out: list[int] = []
    off = 0
    base = _NLMSGHDR.size + _CN_MSG.size
    while off + base + _EVENT_HEAD.size + _EXEC_EVENT.size <= len(data):
        length = _NLMSGHDR.unpack_from(data, off)[0]
        if length < base:
            break
        what = _EVENT_HEAD.unpack_from(data, off + base)[0]
        if what == PROC_EVENT_EXEC:
            out.append(_EXEC_EVENT.unpack_from(data, off + base + _EVENT_HEAD.size)[1])
        off += (length + 3) & ~3
    return out


def drain(sock: socket.socket) -> tuple[list[int], bool]:
    """Every exec event waiting on ``sock`` (non-blocking): the new programs' pids, and whether
    some were lost (ENOBUFS: the buffer overflowed, so one of them may have been a program the
    caller watches for)."""
    out: list[int] = []
    lost = False
    while True:
        try:
            data = sock.recv(8192)
        except (BlockingIOError, InterruptedError):
            return out, lost
        except OSError:  # ENOBUFS; the socket goes on with the events after the loss
            if lost:
                return out, lost
            lost = True
            continue
        if not data:
            return out, lost
        out.extend(exec_pids(data))
