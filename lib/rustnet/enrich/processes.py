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

import os
import pwd
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any, NamedTuple

import psutil

from rustnet.enrich.text import printable

_SOCKET_PREFIX = "socket:["


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
    for pid in pid_list:
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
                if ino in remaining:
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

    def user_for_uid(self, uid: int) -> str:
        name = self._users.get(uid)
        if name is None:
            name = self._users[uid] = _user_name(uid)
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
        name = cmdline = user = None
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
                except psutil.AccessDenied:
                    denied = True
        except psutil.NoSuchProcess:
            return None
        except psutil.Error:
            denied = True
        return ProcInfo(
            printable(name, 256) if name else None,
            printable(cmdline, 4096) if cmdline else None,
            user,
            denied,
        )
