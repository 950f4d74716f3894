"""Creating the files a user asks for (``-w``, ``--write-pcap``, ``--record``, the session log).

These are often created as root and hold captured payloads or connection data, so:

* they are created 0600, with ``O_NOFOLLOW``: a symbolic link at the path (dangling or
  not) is refused, never written through;
* an existing regular file is *replaced* by a fresh 0600 file renamed over it, never
  truncated in place: a hard link to someone else's file keeps its content, and a
  reader that opened the old (perhaps 0644) file sees none of the new data;
* a FIFO of our own is written to as it is (``mkfifo f; rustnet --record f``), and so are
  the names of descriptors the shell opened for us (``/dev/stdout``, ``/dev/fd/N`` of a
  ``>(...)`` substitution, ``/dev/null``);
* anything else at the path (a directory, another user's FIFO, a device) is refused;
* the log directory must be a real directory owned by the user running us, kept 0700,
  and each log file is new (``O_EXCL``).

Refusals are :class:`UnsafePathError` (an OSError whose ``strerror`` is the one-line reason),
so the callers' existing ``exc.strerror`` messages say what happened.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path
from typing import Final

from rustnet.stream.fdname import duplicate_named

PRIVATE_MODE: Final = 0o600
PRIVATE_DIR_MODE: Final = 0o700
_NEW: Final = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC
# How often the path may change under us (created, removed) before we give up.
_ATTEMPTS: Final = 5


class UnsafePathError(OSError):
    """A path we refuse to create or write through; ``strerror`` says why in a few words."""


def _refuse(code: int, why: str, path: str | Path) -> UnsafePathError:
    return UnsafePathError(code, why, os.fspath(path))


def _existing_refusal(path: str | Path, st: os.stat_result) -> UnsafePathError | None:
    """Why the existing ``path`` (lstat ``st``) must not be replaced; None for a regular file."""
    if stat.S_ISLNK(st.st_mode):
        return _refuse(errno.ELOOP, "is a symbolic link (refusing to write through it)", path)
    if stat.S_ISDIR(st.st_mode):
        return _refuse(errno.EISDIR, "is a directory", path)
    if not stat.S_ISREG(st.st_mode):
        return _refuse(errno.EINVAL, "is not a regular file (refusing to write to it)", path)
    return None


# Names that stand for a descriptor the caller's shell already opened (or for nothing): they
# are links by nature, and neither created nor truncated here.
_STREAM_NAMES: Final = re.compile(r"/dev/(stdout|stderr|null)|/dev/fd/\d+|/proc/self/fd/\d+")


def names_a_descriptor(path: str | Path) -> bool:
    """Whether ``path`` names a descriptor of the process that opens it (``/dev/fd/N``,
    ``/dev/stdout``...): meaningful only in the process that was handed the descriptor."""
    return bool(_STREAM_NAMES.fullmatch(os.fspath(path))) and os.fspath(path) != "/dev/null"


def _open_stream(path: str | Path) -> int | None:
    """The descriptor for a stream name (see ``_STREAM_NAMES``) or a FIFO of ours; else None."""
    name = os.fspath(path)
    if _STREAM_NAMES.fullmatch(name):
        fd = duplicate_named(name, write=True)  # written where the shell opened it
        if fd is not None:
            return fd
        return os.open(path, os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISFIFO(st.st_mode) and st.st_uid == os.geteuid():
        # Blocks until a reader opens the other end, as tcpdump -w does.
        return os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC)
    return None


def create_private(path: str | Path) -> int:
    """A new, empty 0600 file at ``path`` open for writing; returns the descriptor.

    An existing regular file is replaced (like ``tcpdump -w`` overwrites, but by rename,
    so no other name of the old file is touched). Raises OSError (UnsafePathError for a
    symlink or a non-regular file).
    """
    stream = _open_stream(path)
    if stream is not None:
        return stream
    for _ in range(_ATTEMPTS):
        try:
            return os.open(path, _NEW, PRIVATE_MODE)
        except FileExistsError:
            pass
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue  # removed in between: try creating it again
        refusal = _existing_refusal(path, st)
        if refusal is not None:
            raise refusal
        return _replace(path)
    raise _refuse(errno.EAGAIN, "keeps changing while being created", path)


def _replace(path: str | Path) -> int:
    """A fresh 0600 file renamed over ``path``; rename never follows a link at the target."""
    target = Path(path)
    # os.urandom, as secrets.token_hex does: importing secrets costs every start ~7 ms (OpenSSL).
    temp = target.with_name(f".{target.name}.{os.urandom(6).hex()}.tmp")
    fd = os.open(temp, _NEW, PRIVATE_MODE)
    try:
        os.rename(temp, target)
    except BaseException:
        os.close(fd)
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    return fd


def private_directory(path: str | Path) -> int:
    """Open (creating it 0700 if needed) a directory only we may use; returns its descriptor.

    Refused: a symbolic link, something that is not a directory, a directory owned by
    another user. A directory of ours with a wider mode is narrowed to 0700.
    """
    try:
        os.mkdir(path, PRIVATE_DIR_MODE)
    except FileExistsError:
        pass
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno not in (errno.ENOTDIR, errno.ELOOP):
            raise
        if stat.S_ISLNK(os.lstat(path).st_mode):
            raise _refuse(
                errno.ELOOP, f"{os.fspath(path)} is a symbolic link (refusing to follow it)", path
            ) from None
        raise _refuse(errno.ENOTDIR, f"{os.fspath(path)} is not a directory", path) from None
    try:
        st = os.fstat(fd)
        uid = os.geteuid()
        if st.st_uid != uid:
            raise _refuse(
                errno.EPERM,
                f"{os.fspath(path)} is owned by uid {st.st_uid}, not by uid {uid} who runs this command",
                path,
            )
        if stat.S_IMODE(st.st_mode) != PRIVATE_DIR_MODE:
            os.fchmod(fd, PRIVATE_DIR_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def create_new_private(name: str, dir_fd: int) -> int:
    """Create ``name`` in the directory ``dir_fd``, 0600, for appending; FileExistsError if it exists."""
    return os.open(name, _NEW | os.O_APPEND, PRIVATE_MODE, dir_fd=dir_fd)


def append_private(path: str | Path) -> int:
    """``path`` open for appending, created 0600 when missing; returns the descriptor.

    An existing file is appended to (a log that grows across runs) only when it is a regular
    file of ours with no other name (a hard link would let us write into someone else's file);
    it is narrowed to 0600. Streams and FIFOs of ours are written to as they are. Raises
    OSError (UnsafePathError for a symlink, another user's file, a hard link, a non-regular file).
    """
    stream = _open_stream(path)
    if stream is not None:
        return stream
    flags = (
        os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC | os.O_NONBLOCK
    )
    try:
        fd = os.open(path, flags, PRIVATE_MODE)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _refuse(errno.ELOOP, "is a symbolic link (refusing to write through it)", path) from None
        raise
    try:
        st = os.fstat(fd)
        refusal = _existing_refusal(path, st)
        if refusal is None and st.st_uid != os.geteuid():
            refusal = _refuse(errno.EPERM, f"is owned by uid {st.st_uid}, not by us", path)
        if refusal is None and st.st_nlink > 1:
            refusal = _refuse(errno.EMLINK, "has other names (hard links): refusing to append to it", path)
        if refusal is not None:
            raise refusal
        if stat.S_IMODE(st.st_mode) != PRIVATE_MODE:
            os.fchmod(fd, PRIVATE_MODE)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd
