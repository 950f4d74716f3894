"""Names of descriptors a process was handed: ``/dev/stdin``, ``/dev/stdout``, ``/dev/stderr``,
``/dev/fd/N`` and ``/proc/self/fd/N``.

Opening such a name again goes through /proc: a pipe refuses that to every user but the one
that made it (rustnet hands its stages, which run as nobody, pipes by name), and a file gets a
new open file description at offset 0 (``-w /dev/fd/3 3>>f`` would write over f's start). A
duplicate of the descriptor has neither problem.
"""

from __future__ import annotations

import fcntl
import os
import re
from typing import Final

_NAMED: Final = re.compile(r"/dev/std(in|out|err)|/(?:dev|proc/self)/fd/(\d+)")
_STD: Final = {"in": 0, "out": 1, "err": 2}


def duplicate_named(path: str, write: bool) -> int | None:
    """A duplicate (close-on-exec, numbered 3 or above) of the descriptor ``path`` names, when
    this process has it open for reading (``write`` False) or writing; else None, and opening
    the name says why it cannot be used."""
    m = _NAMED.fullmatch(path)
    if m is None:
        return None
    fd = _STD[m[1]] if m[1] is not None else int(m[2])
    try:
        mode = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
        if mode == os.O_RDWR or mode == (os.O_WRONLY if write else os.O_RDONLY):
            return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    except (OSError, OverflowError):  # not open here, or a number no descriptor can have
        pass
    return None
