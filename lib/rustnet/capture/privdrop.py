"""Give up root once the capture handle (and any ``-w`` file) is open, like tcpdump ``-Z``.

Only opening the packet socket needs privileges; parsing hostile packets should not run
as root. ``setuid`` from root to a non-root uid clears every capability (no
``PR_SET_KEEPCAPS``), and ``PR_SET_NO_NEW_PRIVS`` stops anything we might exec from
regaining them.

Changing the uid also clears the parent-death signal (``PR_SET_PDEATHSIG``) that ``rustnet``
gives every stage so none outlives a ``kill -9`` of it; it is armed again right after the
switch, and if the parent died in between, we end ourselves as the kernel would have.
"""

from __future__ import annotations

import ctypes
import os
import pwd

DEFAULT_USER = "nobody"
_PR_SET_PDEATHSIG = 1
_PR_GET_PDEATHSIG = 2
_PR_SET_NO_NEW_PRIVS = 38


class PrivDropError(Exception):
    """The requested user does not exist or the switch failed."""


def is_root() -> bool:
    return os.geteuid() == 0


def drop_privileges(user: str) -> tuple[int, int]:
    """Become ``user`` (all supplementary groups gone); returns the new (uid, gid)."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        try:
            entry = pwd.getpwuid(int(user))
        except (ValueError, KeyError):
            raise PrivDropError(
                f"cannot drop privileges: no such user {user!r} (use -Z USER or --no-drop)"
            ) from None
    uid, gid = entry.pw_uid, entry.pw_gid
    death_signal, parent = parent_death_signal(), os.getppid()
    try:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    except OSError as exc:
        raise PrivDropError(f"cannot drop privileges to {user!r}: {exc.strerror}") from None
    finally:
        _rearm_parent_death_signal(death_signal, parent)
    if uid != 0 and (os.getuid() == 0 or os.geteuid() == 0):
        raise PrivDropError(f"privileges were not dropped to {user!r}")
    _no_new_privs()
    return uid, gid


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


_LINUX_CAPABILITY_VERSION_3 = 0x20080522


def effective_capabilities() -> int:
    """This process's effective capability mask (Linux), 0 when unknown."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError):
        pass
    return 0


def drop_capabilities() -> None:
    """Give up every capability (a non-root user whose Python was given cap_net_raw by setcap)."""
    libc = ctypes.CDLL(None, use_errno=True)
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    if libc.capset(ctypes.byref(header), data) != 0:
        err = ctypes.get_errno()
        raise PrivDropError(f"cannot drop capabilities: {os.strerror(err)}")
    _no_new_privs()


def parent_death_signal() -> int:
    """The signal this process gets when its parent dies (``PR_GET_PDEATHSIG``), 0 for none or unknown."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        value = ctypes.c_int(0)
        if libc.prctl(_PR_GET_PDEATHSIG, ctypes.byref(value), 0, 0, 0) != 0:
            return 0
        return value.value
    except (OSError, AttributeError):  # not Linux
        return 0


def _rearm_parent_death_signal(signum: int, parent: int) -> None:
    if not signum or parent_death_signal() == signum:
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died while the signal was off: nobody will send it now
        os.kill(os.getpid(), signum)


def _no_new_privs() -> None:
    # Best effort: absent outside Linux, and harmless to skip there.
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass
