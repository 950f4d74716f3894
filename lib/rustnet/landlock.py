"""Linux Landlock through its three system calls: which ABI the kernel offers, and a ruleset
that leaves this process (and whatever it starts later, threads included) only the files and
TCP ports it was given.

Landlock is unprivileged and stacks: once ``landlock_restrict_self`` returns, nothing can
widen the access again. It needs ``PR_SET_NO_NEW_PRIVS`` (or CAP_SYS_ADMIN) first. Each
ABI version adds rights (2: renaming across directories, 3: truncate, 4: TCP bind and
connect, 5: device ioctl, 6: abstract unix sockets and signals scoped to the domain); a
ruleset only names the rights the running kernel knows, and what it cannot name is reported
as not enforced.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
import sys
from typing import Any, Final

from rustnet import caps

# The generic syscall table (x86_64, aarch64, arm, riscv, ...); alpha is 110 higher.
_SYSCALL_BASE: Final = 554 if os.uname().machine == "alpha" else 444
_SYS_CREATE_RULESET: Final = _SYSCALL_BASE
_SYS_ADD_RULE: Final = _SYSCALL_BASE + 1
_SYS_RESTRICT_SELF: Final = _SYSCALL_BASE + 2
_CREATE_RULESET_VERSION: Final = 1
_RULE_PATH_BENEATH: Final = 1
_RULE_NET_PORT: Final = 2

# Filesystem rights (linux/landlock.h) and the ABI that introduced each.
EXECUTE: Final = 1 << 0
WRITE_FILE: Final = 1 << 1
READ_FILE: Final = 1 << 2
READ_DIR: Final = 1 << 3
REMOVE_DIR: Final = 1 << 4
REMOVE_FILE: Final = 1 << 5
MAKE_CHAR: Final = 1 << 6
MAKE_DIR: Final = 1 << 7
MAKE_REG: Final = 1 << 8
MAKE_SOCK: Final = 1 << 9
MAKE_FIFO: Final = 1 << 10
MAKE_BLOCK: Final = 1 << 11
MAKE_SYM: Final = 1 << 12
REFER: Final = 1 << 13
TRUNCATE: Final = 1 << 14
IOCTL_DEV: Final = 1 << 15
_FS_BY_ABI: Final = {1: (1 << 13) - 1, 2: REFER, 3: TRUNCATE, 5: IOCTL_DEV}
# Rights that make sense on a file (the kernel refuses the others in a rule for a file).
_FILE_RIGHTS: Final = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV

BIND_TCP: Final = 1 << 0
CONNECT_TCP: Final = 1 << 1
NET_ABI: Final = 4
SCOPE_ABSTRACT_UNIX_SOCKET: Final = 1 << 0
SCOPE_SIGNAL: Final = 1 << 1
SCOPE_ABI: Final = 6

READ: Final = READ_FILE | READ_DIR

# Tests only: pretend the kernel offers at most this ABI (0: no Landlock), to check how a stage
# degrades and that --sandbox-strict refuses. Never set by rustnet itself.
TEST_ABI_ENV: Final = "RUSTNET_TEST_LANDLOCK_ABI"


class LandlockError(Exception):
    """The kernel refused a ruleset it claims to support."""


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _NetPortAttr(ctypes.Structure):
    _fields_ = [("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64)]


_libc: Any = None


def _syscall() -> Any:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    fn = _libc.syscall
    fn.restype = ctypes.c_long
    return fn


def kernel_abi() -> int:
    """The Landlock ABI version the running kernel offers, 0 when it has none (not Linux, not
    built in, or left out of the boot's ``lsm=`` list)."""
    if not sys.platform.startswith("linux"):
        return 0
    abi = int(
        _syscall()(ctypes.c_long(_SYS_CREATE_RULESET), None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION)
    )
    found = max(abi, 0)  # ENOSYS: not built; EOPNOTSUPP: built but disabled at boot
    forced = os.environ.get(TEST_ABI_ENV)
    if forced is not None and forced.isdigit():
        found = min(found, int(forced))
    return found


def fs_rights(abi: int) -> int:
    """Every filesystem right ABI ``abi`` knows."""
    out = 0
    for version, bits in _FS_BY_ABI.items():
        if abi >= version:
            out |= bits
    return out


class Ruleset:
    """What a restricted process may still do: read these paths, write those, connect to
    these TCP ports; everything else the kernel can name is denied."""

    def __init__(self) -> None:
        self.read: list[str] = []
        self.write: list[str] = []
        self.devices: list[str] = []  # read, write and ioctl (a terminal)
        self.connect_ports: list[int] = []
        self.block_tcp = True  # bind and connect (ABI 4 on)
        self.scope = True  # abstract unix sockets (ABI 6 on)
        self.scope_signals = True  # signals only to processes in the same domain (ABI 6 on)


class Applied:
    """What :func:`restrict` enforced."""

    __slots__ = ("abi", "fs", "net", "scoped")

    def __init__(self, abi: int, fs: bool, net: bool, scoped: bool) -> None:
        self.abi = abi
        self.fs = fs
        self.net = net
        self.scoped = scoped


def _check(result: int, what: str) -> int:
    if result < 0:
        raise LandlockError(f"{what}: {os.strerror(ctypes.get_errno() or errno.EINVAL)}")
    return result


def restrict(rules: Ruleset, abi: int | None = None) -> Applied:
    """Restrict this process to ``rules`` as far as the kernel's ABI allows (threads started
    before this call keep their access). Raises LandlockError when the kernel refuses."""
    abi = kernel_abi() if abi is None else abi
    if abi < 1:
        return Applied(0, False, False, False)
    handled_fs = fs_rights(abi)
    net = rules.block_tcp and abi >= NET_ABI
    scoped = rules.scope and abi >= SCOPE_ABI
    attr = _RulesetAttr(
        handled_fs,
        (BIND_TCP | CONNECT_TCP) if net else 0,
        (SCOPE_ABSTRACT_UNIX_SOCKET | (SCOPE_SIGNAL if rules.scope_signals else 0)) if scoped else 0,
    )
    call = _syscall()
    ruleset = _check(
        call(ctypes.c_long(_SYS_CREATE_RULESET), ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)), 0),
        "landlock_create_ruleset",
    )
    try:
        paths = (
            [(p, READ) for p in rules.read]
            + [(p, READ | WRITE_FILE | TRUNCATE) for p in rules.write]
            + [(p, READ_FILE | WRITE_FILE | IOCTL_DEV) for p in rules.devices]
        )
        for path, rights in paths:
            _add_path(call, ruleset, path, rights & handled_fs)
        if net:
            for port in rules.connect_ports:
                rule = _NetPortAttr(CONNECT_TCP, port)
                _check(
                    call(ctypes.c_long(_SYS_ADD_RULE), ruleset, _RULE_NET_PORT, ctypes.byref(rule), 0),
                    f"landlock_add_rule port {port}",
                )
        caps.no_new_privs()  # Landlock refuses a process that could still gain privileges by exec
        _check(call(ctypes.c_long(_SYS_RESTRICT_SELF), ruleset, 0), "landlock_restrict_self")
    finally:
        os.close(ruleset)
    return Applied(abi, True, net, scoped)


def _add_path(call: Any, ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # nothing there: nothing to allow
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            rights &= _FILE_RIGHTS
        rule = _PathBeneathAttr(rights, fd)
        _check(
            call(ctypes.c_long(_SYS_ADD_RULE), ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), 0),
            f"landlock_add_rule {path}",
        )
    finally:
        os.close(fd)
