"""This process's Linux privileges: read them, name them, give up what a stage does not need.

Capabilities come from two places here: root has them all, and an interpreter given
``setcap cap_net_raw,cap_net_admin=eip`` hands them to every script it runs, so every
rustnet stage (not only the capture) would start with them. :func:`limit` keeps a chosen
few in the effective and permitted sets, empties the inheritable and ambient sets and,
when allowed (``CAP_SETPCAP``), the bounding set, so nothing this process execs gets the
rest back either (for a process that stays root, exec would otherwise grant the bounding
set again). ``PR_SET_NO_NEW_PRIVS`` then stops setuid programs and file capabilities.

Everything is best effort outside Linux: the functions do nothing there and
:func:`current` reports what it can.
"""

from __future__ import annotations

import os
import pwd
import sys
from typing import Any

# The kernel's numbering (linux/capability.h), names without the CAP_ prefix, lower case.
NAMES: tuple[str, ...] = (
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
)
CAP_DAC_READ_SEARCH = NAMES.index("dac_read_search")
CAP_KILL = NAMES.index("kill")
CAP_SETPCAP = NAMES.index("setpcap")
CAP_NET_ADMIN = NAMES.index("net_admin")
CAP_NET_RAW = NAMES.index("net_raw")
CAP_SYS_PTRACE = NAMES.index("sys_ptrace")
CAP_SYS_ADMIN = NAMES.index("sys_admin")

PR_CAPBSET_DROP = 24
_PR_SET_NO_NEW_PRIVS = 38
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class CapsError(Exception):
    """The kernel refused to change our capabilities."""


def mask(*caps: int) -> int:
    """The bit mask of capability numbers ``caps``."""
    out = 0
    for cap in caps:
        out |= 1 << cap
    return out


def names(bits: int) -> list[str]:
    """``cap_net_raw``-style names of the capabilities in mask ``bits`` (unknown ones as ``cap_N``)."""
    out = []
    n = 0
    while bits >> n:
        if bits >> n & 1:
            out.append("cap_" + (NAMES[n] if n < len(NAMES) else str(n)))
        n += 1
    return out


class Privileges:
    """What ``/proc/PID/status`` says about a process's identity and capabilities. A plain class:
    a dataclass would cost every stage's start a millisecond."""

    __slots__ = ("uid", "gid", "effective", "permitted", "bounding", "no_new_privs")

    def __init__(
        self, uid: int, gid: int, effective: int, permitted: int, bounding: int, no_new_privs: bool
    ) -> None:
        self.uid = uid  # effective
        self.gid = gid  # effective
        self.effective = effective
        self.permitted = permitted
        self.bounding = bounding
        self.no_new_privs = no_new_privs

    def __repr__(self) -> str:
        return f"Privileges(uid={self.uid}, permitted={self.permitted:#x}, no_new_privs={self.no_new_privs})"

    def describe(self) -> str:
        """``nobody, no capabilities`` or ``root, cap_kill``: one short line for people."""
        caps = names(self.permitted)
        return f"{user_name(self.uid)}, " + (" ".join(caps) if caps else "no capabilities")


def read(pid: int | str = "self") -> Privileges | None:
    """The privileges of process ``pid`` from /proc (None when there is no such file: not Linux)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            fields = dict(line.rstrip("\n").split(":\t", 1) for line in fh if ":\t" in line)
        return Privileges(
            uid=int(fields["Uid"].split()[1]),
            gid=int(fields["Gid"].split()[1]),
            effective=int(fields["CapEff"], 16),
            permitted=int(fields["CapPrm"], 16),
            bounding=int(fields["CapBnd"], 16),
            no_new_privs=fields.get("NoNewPrivs", "0").strip() == "1",
        )
    except (OSError, KeyError, ValueError, IndexError):
        return None


_frozen: Privileges | None = None  # what /proc said before a sandbox hid it


def current() -> Privileges:
    """This process's privileges (from the uid alone where /proc is missing)."""
    found = read()
    if found is not None:
        return found
    if _frozen is not None:
        return _frozen
    return Privileges(os.geteuid(), os.getegid(), 0, 0, 0, False)


def freeze() -> None:
    """Remember the privileges now, for :func:`current` once a sandbox hides /proc (they only
    shrink from here on)."""
    global _frozen
    _frozen = read()


_names: dict[int, str] = {}  # looked up before a sandbox hid /etc/passwd


def user_name(uid: int) -> str:
    if uid in _names:
        return _names[uid]
    try:
        name = _names[uid] = pwd.getpwuid(uid).pw_name
        return name
    except (KeyError, OverflowError):
        return str(uid)


def _libc() -> Any:
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def last_cap() -> int:
    """The highest capability number this kernel knows."""
    try:
        with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as fh:
            return int(fh.read())
    except (OSError, ValueError):
        return len(NAMES) - 1


def limit(keep: int) -> None:
    """Keep only the capabilities in mask ``keep`` (those we have of them), now and across exec.

    Raises CapsError when the kernel refuses the change (it never refuses giving up).
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    now = current()
    libc = _libc()
    if now.effective >> CAP_SETPCAP & 1:  # the bounding set first: this needs CAP_SETPCAP
        for cap in range(last_cap() + 1):
            if now.bounding >> cap & 1 and not keep >> cap & 1:
                libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)  # EINVAL before Linux 4.3: none there

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [
            ("effective", ctypes.c_uint32),
            ("permitted", ctypes.c_uint32),
            ("inheritable", ctypes.c_uint32),
        ]

    wanted = now.permitted & keep
    data = (Data * 2)()
    for i in range(2):
        part = wanted >> (32 * i) & 0xFFFFFFFF
        data[i].effective = data[i].permitted = part
    if libc.capset(ctypes.byref(Header(_LINUX_CAPABILITY_VERSION_3, 0)), data) != 0:
        raise CapsError(f"cannot drop capabilities: {os.strerror(ctypes.get_errno())}")


def no_new_privs() -> None:
    """Nothing this process execs gains privileges (setuid bits and file capabilities ignored)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        _libc().prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass
