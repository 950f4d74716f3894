"""Give up root once the capture handle (and any ``-w`` file) is open, like tcpdump ``-Z``.

Only opening the packet socket needs privileges; parsing hostile packets should not run
as root. ``setuid`` from root to a non-root uid clears every capability (no
``PR_SET_KEEPCAPS``), and ``PR_SET_NO_NEW_PRIVS`` stops anything we might exec from
regaining them.
"""

from __future__ import annotations

import ctypes
import os
import pwd

DEFAULT_USER = "nobody"
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
            raise PrivDropError(f"cannot drop privileges: no such user {user!r} (use -Z USER or --no-drop)") \
                from None
    uid, gid = entry.pw_uid, entry.pw_gid
    try:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    except OSError as exc:
        raise PrivDropError(f"cannot drop privileges to {user!r}: {exc.strerror}") from None
    if uid != 0 and (os.getuid() == 0 or os.geteuid() == 0):
        raise PrivDropError(f"privileges were not dropped to {user!r}")
    _no_new_privs()
    return uid, gid


def _no_new_privs() -> None:
    # Best effort: absent outside Linux, and harmless to skip there.
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass
