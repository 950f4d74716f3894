"""The sockets of programs that just started, read from the programs themselves.

A curl that lives 10 ms is missed by any listing of the socket table that costs more than
a fraction of that: a sock_diag dump walks the host's whole TCP hash table (milliseconds
on a large machine, whatever the namespace holds), and at a 5% duty it runs a few times a
second. When the kernel's exec events (:mod:`rustnet.enrich.procevents`) name a program
that just started in our namespace, :class:`StartedPrograms` instead looks at that one
process every tick: its fd directory (a few entries), and for each new socket a copy of
the descriptor (``pidfd_getfd``, Linux 5.6+, root) asked for its own and its peer's
address, then closed at once. That costs microseconds per program and needs no table; many
programs at once (a build) are each looked at less often, within the share of one CPU given
(the watcher gives a fifth: a curl is watched for the few milliseconds it lives).

The copy holds the socket for the microseconds of two ``getsockname`` calls: a program
closing it at that very moment has its close completed when the copy is closed. Meanwhile
the socket is in our own fd table too, so each copy is announced first
(:func:`rustnet.enrich.processes.note_borrowed`): an owner scan running then in another
thread (newest pids first, and after a pid wrap-around ours may come before the program's)
must not name us as the owner of the program's connection.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import socket
import time
from typing import Final

from rustnet.enrich import sockets as socktab
from rustnet.enrich.processes import note_borrowed
from rustnet.enrich.sockets import SockEntry
from rustnet.enrich.text import printable

SYS_PIDFD_GETFD: Final = 438  # the same number on every architecture (new syscall table)
MAX_WATCHED: Final = 64
_UDP_UNCONNECTED: Final = 7
_TCP_ESTABLISHED: Final = 1

_libc: ctypes.CDLL | None = None


def _pidfd_getfd(pidfd: int, fd: int) -> int:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    got = int(_libc.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0))
    if got < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return got


class _Program:
    __slots__ = ("pid", "pidfd", "until", "uid", "netns", "name", "done")

    def __init__(self, pid: int, pidfd: int, until: float, uid: int, netns: int) -> None:
        self.pid = pid
        self.netns = netns
        self.name = _comm(pid)  # read at its exec: a 10 ms client may be gone when its socket is
        self.pidfd = pidfd
        self.until = until
        self.uid = uid
        self.done: dict[str, tuple[object, ...]] = {}  # fd -> the link and tuple reported


def socket_tuple(sock: socket.socket) -> tuple[str, str, int, str, int] | None:
    """(proto, local, lport, remote, rport) of an IP socket; remote "" while not connected;
    None for other sockets and for a TCP socket not connected yet (asked again later)."""
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return None
    if sock.type == socket.SOCK_STREAM:
        proto = "tcp"
    elif sock.type == socket.SOCK_DGRAM:
        proto = "udp"
    else:
        return None
    local = sock.getsockname()
    try:
        peer = sock.getpeername()
    except OSError as exc:
        if exc.errno != errno.ENOTCONN or proto == "tcp":
            return None
        return (proto, local[0], local[1], "", 0) if local[1] else None
    return proto, local[0], local[1], peer[0], peer[1]


def _comm(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/comm", "rb") as fh:
            return printable(fh.read(64).rstrip(b"\n").decode("utf-8", "replace"), 64) or None
    except OSError:
        return None


class StartedPrograms:
    """Programs announced by exec events, each watched for ``seconds`` or until it exits."""

    def __init__(self, seconds: float = 3.0, duty: float = 0.05) -> None:
        self.seconds = seconds
        self.duty = duty  # share of one CPU the polls may take (many programs: each less often)
        self._next_poll = 0.0
        self.usable = True  # False once pidfd_getfd is refused (no root, old kernel): stop trying
        self._programs: dict[int, _Program] = {}

    def __len__(self) -> int:
        return len(self._programs)

    def add(self, pid: int, netns: int) -> None:
        """Watch ``pid``, started in the namespace ``netns``: its sockets are reported only while
        it is still there."""
        known = self._programs.get(pid)
        if known is not None:  # exec'd again (ip netns exec: setns, then the client's exec)
            known.netns = netns
            known.name = _comm(pid) or known.name
            known.until = time.monotonic() + self.seconds
            return
        if not self.usable or len(self._programs) >= MAX_WATCHED:
            return
        try:
            pidfd = os.pidfd_open(pid)
            uid = os.stat(f"/proc/{pid}").st_uid
        except OSError:
            return  # gone already
        self._programs[pid] = _Program(pid, pidfd, time.monotonic() + self.seconds, uid, netns)

    def name_of(self, pid: int) -> str | None:
        """The name a watched program had when it started (None when not watched)."""
        prog = self._programs.get(pid)
        return prog.name if prog is not None else None

    def poll(self) -> list[tuple[SockEntry, int, int]]:
        """New or newly connected IP sockets of the watched programs, with their pid and namespace."""
        out: list[tuple[SockEntry, int, int]] = []
        now = time.monotonic()
        if now < self._next_poll:
            return out
        t0 = time.thread_time()  # CPU, not wall time: being preempted on a busy host costs nothing
        for prog in list(self._programs.values()):
            if now > prog.until or not self._poll_one(prog, out):
                self._drop(prog)
        self._next_poll = now + (time.thread_time() - t0) * (1.0 / self.duty - 1.0)
        return out

    def _poll_one(self, prog: _Program, out: list[tuple[SockEntry, int, int]]) -> bool:
        fd_dir = f"/proc/{prog.pid}/fd/"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            return False  # exited
        if socktab.netns_inode(prog.pid) != prog.netns:
            return False  # moved to another namespace (ip netns exec: setns, then exec again)
        for fd in fds:
            try:
                link = os.readlink(fd_dir + fd)
            except OSError:
                continue
            if not link.startswith("socket:["):
                continue
            seen = prog.done.get(fd)
            if seen is not None and seen[0] == link and seen[1]:
                continue  # reported connected already
            try:
                inode = int(link[8:-1])
            except ValueError:
                continue
            note_borrowed(inode)  # an owner scan meeting the copy must not take us for its owner
            try:
                copy = _pidfd_getfd(prog.pidfd, int(fd))
            except OSError as exc:
                if exc.errno in (errno.EPERM, errno.ENOSYS):
                    self.usable = False
                    return False
                continue
            try:
                sock = socket.socket(fileno=copy)
            except OSError:
                os.close(copy)
                continue
            try:
                tup = socket_tuple(sock)
            except OSError:
                continue
            finally:
                sock.close()
            if tup is None or (seen is not None and seen[0] == link and seen[2] == tup):
                continue
            proto, local, lport, remote, rport = tup
            connected = bool(rport)
            prog.done[fd] = (link, connected, tup)
            state = _TCP_ESTABLISHED if connected else _UDP_UNCONNECTED
            out.append(
                (
                    SockEntry(proto, local, lport, remote or "0.0.0.0", rport, state, prog.uid, inode),
                    prog.pid,
                    prog.netns,
                )
            )
        return True

    def _drop(self, prog: _Program) -> None:
        self._programs.pop(prog.pid, None)
        os.close(prog.pidfd)

    def close(self) -> None:
        for prog in list(self._programs.values()):
            self._drop(prog)
