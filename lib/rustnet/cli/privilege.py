"""Which stages may run as an unprivileged user when ``rustnet`` is started as root.

Only the capture needs privileges (rn-capture drops them itself once its handle is
open). rn-dissect parses hostile packets and rn-track folds them into connections:
neither needs root, so under a root ``rustnet`` they run as ``nobody`` — when that
user can actually start our Python (a Python installed under /root, say, is not
readable by anyone else; then they stay root and the log says why). rn-enrich stays
root: it needs to see every process's sockets.
"""

from __future__ import annotations

import os
import pwd
import sys
from dataclasses import dataclass
from pathlib import Path

import rustnet

UNPRIVILEGED_USER = "nobody"


@dataclass(frozen=True)
class User:
    name: str
    uid: int
    gid: int


def lookup(name: str = UNPRIVILEGED_USER) -> User | None:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    return User(name, entry.pw_uid, entry.pw_gid)


def _allows(st: os.stat_result, user: User, want: int) -> bool:
    """``want`` (a mask of 4 read, 1 search/execute) for ``user`` by the mode bits alone."""
    if st.st_uid == user.uid:
        bits = (st.st_mode >> 6) & 7
    elif st.st_gid == user.gid:
        bits = (st.st_mode >> 3) & 7
    else:
        bits = st.st_mode & 7
    return bits & want == want


def can_reach(path: Path, user: User, want: int) -> bool:
    """Every directory above ``path`` searchable by ``user`` and ``path`` itself ``want``-able."""
    try:
        path = path.resolve()
        for parent in reversed(path.parents):
            if not _allows(parent.stat(), user, 1):
                return False
        return _allows(path.stat(), user, want)
    except OSError:
        return False


def python_paths() -> list[tuple[Path, int]]:
    """What a stage needs to start: the interpreter (r+x), its import directories and ours (r+x)."""
    need: list[tuple[Path, int]] = [(Path(sys.executable), 5)]
    import site

    user_site = site.getusersitepackages() if site.ENABLE_USER_SITE else None
    for entry in sys.path:
        # The user's own site directory is skipped by a Python that cannot read it: not needed.
        if entry and entry != user_site and Path(entry).is_dir():
            need.append((Path(entry), 5))
    need.append((Path(rustnet.__file__).parent, 5))
    try:
        import rustnet_cmds

        need.append((Path(rustnet_cmds.__file__).parent, 5))
    except ImportError:
        pass
    return need


def unprivileged_stage_user() -> tuple[User | None, str]:
    """The user for the parsing stages (None: keep ours) and why, for the log."""
    if os.geteuid() != 0:
        return None, "not running as root"
    user = lookup()
    if user is None:
        return None, f"no user {UNPRIVILEGED_USER!r}"
    for path, want in python_paths():
        if not can_reach(path, user, want):
            return None, f"{user.name} cannot read {path} (parsing stages stay root)"
    return user, f"rn-dissect and rn-track run as {user.name}"
