"""Socket inode -> owning process, and a process's name, command line and user.

The kernel keeps no socket -> pid index: the only way is to read every process's
``/proc/<pid>/fd`` links (``socket:[<inode>]``). That scan is the costly part of
attribution, so :func:`scan_socket_inodes` looks only for the inodes it is asked
about, walks the newest pids first (a new connection usually comes from a new
process, e.g. curl) and stops as soon as all are found.

Names: the kernel's ``comm`` is cut at 15 characters; psutil's ``name()`` then takes
the executable's name from the command line, so a ``rn-dl-client-long-name`` shows
in full. A process that cannot be read (another user's, without root) degrades to what
is known: the pid (when its fds were readable), the user from the socket table, and
``process`` left out; the caller says so once (a ``warn`` record).
"""

from __future__ import annotations

import grp
import os
import pwd
from collections import OrderedDict
from collections.abc import Container, Iterable
from typing import Any, NamedTuple

import psutil

from rustnet.enrich.text import printable

_SOCKET_PREFIX = "socket:["


# Sockets of other processes that this process holds a copy of for a moment (the short-lived
# watcher reads a new program's socket through a pidfd_getfd copy, rustnet.enrich.newprocs): a
# scan that meets one in our own fd table at that moment must not call us its owner. Inode ->
# None, oldest first; written by the watcher thread, read by any (single dict operations).
_BORROWED: dict[int, None] = {}
_MAX_BORROWED = 4096


def note_borrowed(inode: int) -> None:
    """Say that this process is about to hold a copy of another process's socket ``inode``
    (call it before the copy exists, so no scan can see the copy unannounced)."""
    _BORROWED.pop(inode, None)
    _BORROWED[inode] = None
    if len(_BORROWED) > _MAX_BORROWED:
        try:
            del _BORROWED[next(iter(_BORROWED))]
        except (KeyError, RuntimeError, StopIteration):
            pass  # another thread noted one meanwhile: trimmed at the next note


class ScanResult(NamedTuple):
    found: dict[int, int]  # inode -> pid
    denied: int  # processes whose fd directory we could not read
    scanned: int  # processes looked at


def scan_socket_inodes(wanted: set[int], pid_list: Iterable[int]) -> ScanResult:
    """Find the pids owning the socket inodes in ``wanted`` (stops early once all are found)."""
    found: dict[int, int] = {}
    if not wanted:
        return ScanResult(found, 0, 0)
    remaining = set(wanted)
    denied = scanned = 0
    readlink = os.readlink
    own = os.getpid()
    for pid in pid_list:
        # Our own copies of other processes' sockets (see note_borrowed) name no owner.
        skip: Container[int] = _BORROWED if pid == own else ()
        fd_dir = f"/proc/{pid}/fd/"
        try:
            fds = os.listdir(fd_dir)
        except PermissionError:
            denied += 1
            continue
        except OSError:  # the process exited meanwhile
            continue
        scanned += 1
        for fd in fds:
            try:
                link = readlink(fd_dir + fd)
            except OSError:
                continue
            if link.startswith(_SOCKET_PREFIX):
                try:
                    ino = int(link[8:-1])
                except ValueError:
                    continue
                if ino in remaining and ino not in skip:
                    found[ino] = pid
                    remaining.discard(ino)
                    if not remaining:
                        return ScanResult(found, denied, scanned)
    return ScanResult(found, denied, scanned)


class ProcInfo(NamedTuple):
    name: str | None
    cmdline: str | None
    user: str | None
    denied: bool  # some of it was not readable
    ppid: int | None = None
    exe: str | None = None  # the executable's absolute path
    group: str | None = None  # the effective group
    ancestors: tuple[str, ...] = ()  # "name/pid" of up to MAX_ANCESTORS parents, oldest first


MAX_ANCESTORS = 4


def stat_name_ppid(pid: int) -> tuple[str, int] | None:
    """The kernel's name (comm) and parent pid of ``pid`` from /proc/<pid>/stat (one read)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read(4096)
    except OSError:
        return None
    open_at, close_at = raw.find(b"("), raw.rfind(b")")  # the name may hold spaces and parentheses
    rest = raw[close_at + 2 :].split(b" ", 2)
    if open_at < 0 or close_at < open_at or len(rest) < 2 or not rest[1].isdigit():
        return None
    return raw[open_at + 1 : close_at].decode("utf-8", "replace"), int(rest[1])


def ancestors_of(ppid: int | None, limit: int = MAX_ANCESTORS) -> tuple[str, ...]:
    """``name/pid`` of the parent chain from ``ppid`` up (at most ``limit``, not pid 0), oldest first."""
    chain: list[str] = []
    pid = ppid
    while pid and len(chain) < limit:
        got = stat_name_ppid(pid)
        if got is None:
            break
        chain.append(f"{printable(got[0], 64)}/{pid}")
        pid = got[1]
    chain.reverse()
    return tuple(chain)


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except (KeyError, OverflowError):
        return str(gid)


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except (KeyError, OverflowError):
        return str(uid)


class ProcessInfoCache:
    """Process details by pid, checked against the process start time (pids get reused)."""

    def __init__(self, max_entries: int = 8192) -> None:
        self.max_entries = max_entries
        self._cache: OrderedDict[int, tuple[float, ProcInfo]] = OrderedDict()
        self._users: dict[int, str] = {}
        self._groups: dict[int, str] = {}

    def user_for_uid(self, uid: int) -> str:
        name = self._users.get(uid)
        if name is None:
            name = self._users[uid] = _user_name(uid)
        return name

    def group_for_gid(self, gid: int) -> str:
        name = self._groups.get(gid)
        if name is None:
            name = self._groups[gid] = _group_name(gid)
        return name

    def get(self, pid: int) -> ProcInfo | None:
        """Name, command line and user of ``pid``; None when it no longer exists."""
        try:
            proc = psutil.Process(pid)
            started = proc.create_time()
        except psutil.NoSuchProcess:
            self._cache.pop(pid, None)
            return None
        except psutil.Error:
            started = -1.0
            proc = None
        hit = self._cache.get(pid)
        if hit is not None and hit[0] == started:
            return hit[1]
        info = self._read(pid, proc)
        if info is None:
            return None
        self._cache[pid] = (started, info)
        if len(self._cache) > self.max_entries:
            self._cache.popitem(last=False)
        return info

    def _read(self, pid: int, proc: Any) -> ProcInfo | None:
        name = cmdline = user = exe = group = None
        ppid: int | None = None
        denied = proc is None
        if proc is None:
            return ProcInfo(None, None, None, True)
        try:
            with proc.oneshot():
                try:
                    name = proc.name()
                except psutil.AccessDenied:
                    denied = True
                try:
                    argv = proc.cmdline()
                    cmdline = " ".join(argv) if argv else None
                except psutil.AccessDenied:
                    denied = True
                try:
                    user = self.user_for_uid(proc.uids().real)
                    group = self.group_for_gid(proc.gids().effective)
                    ppid = proc.ppid()
                except psutil.AccessDenied:
                    denied = True
                try:
                    exe = proc.exe() or None
                except psutil.Error:  # a kernel thread, or another user's process without root
                    exe = None
        except psutil.NoSuchProcess:
            return None
        except psutil.Error:
            denied = True
        return ProcInfo(
            printable(name, 256) if name else None,
            printable(cmdline, 4096) if cmdline else None,
            user,
            denied,
            ppid,
            printable(exe, 4096) if exe else None,
            group,
            ancestors_of(ppid),
        )
