"""The kernel's socket tables: /proc/net/{tcp,tcp6,udp,udp6} parsers, per network namespace.

Why /proc and not psutil.net_connections: psutil walks every process's fds on each
call (seconds with thousands of sockets) and sees only its own network namespace.
The text tables are one read per protocol per namespace, and give the socket inode
(the join key to a process, see :mod:`rustnet.enrich.processes`) and the owner uid
(known even when the owning process is not readable).

A namespace's tables are read through any process inside it:
``/proc/<pid>/net/tcp`` shows the sockets of ``<pid>``'s namespace, so grouping the
pids by ``/proc/<pid>/ns/net`` inode reaches containers' sockets too.

Address encoding in the tables: IPv4 is one 32-bit word and IPv6 four 32-bit words,
each printed as ``%08X`` of the word as the CPU holds it; so the text of each word is
reversed byte order on little-endian machines (``0100007F`` is 127.0.0.1).
"""

from __future__ import annotations

import os
import re
import socket
import struct
from typing import Final, NamedTuple

# TCP states as printed in the ``st`` column (include/net/tcp_states.h).
TCP_STATES: Final = {
    1: "ESTABLISHED",
    2: "SYN_SENT",
    3: "SYN_RECV",
    4: "FIN_WAIT1",
    5: "FIN_WAIT2",
    6: "TIME_WAIT",
    7: "CLOSE",
    8: "CLOSE_WAIT",
    9: "LAST_ACK",
    10: "LISTEN",
    11: "CLOSING",
    12: "NEW_SYN_RECV",
}
TCP_LISTEN: Final = 10
# The table files: (file name, protocol, address family).
TABLES: Final = (
    ("tcp", "tcp", socket.AF_INET),
    ("tcp6", "tcp", socket.AF_INET6),
    ("udp", "udp", socket.AF_INET),
    ("udp6", "udp", socket.AF_INET6),
)

_WORD: Final = struct.Struct("=I")


class SockEntry(NamedTuple):
    """One row of a socket table (built once per socket per poll, never per packet)."""

    proto: str  # "tcp" | "udp"
    local: str  # address text; IPv4-mapped IPv6 stays as printed (the joiner normalizes)
    lport: int
    remote: str  # "0.0.0.0"/"::" when not connected
    rport: int  # 0 when not connected
    state: int  # the ``st`` column (TCP_STATES; UDP: 1 connected, 7 unconnected)
    uid: int
    inode: int  # 0 for sockets without an owner (TIME_WAIT, orphaned)

    @property
    def listening(self) -> bool:
        return self.state == TCP_LISTEN if self.proto == "tcp" else self.rport == 0


def decode_address(hex_addr: str, family: int) -> str:
    """Address text from the table's hex encoding (see the module doc); ValueError if malformed."""
    if family == socket.AF_INET:
        if len(hex_addr) != 8:
            raise ValueError(f"bad IPv4 address {hex_addr!r}")
        return socket.inet_ntop(family, _WORD.pack(int(hex_addr, 16)))
    if len(hex_addr) != 32:
        raise ValueError(f"bad IPv6 address {hex_addr!r}")
    raw = b"".join(_WORD.pack(int(hex_addr[i : i + 8], 16)) for i in range(0, 32, 8))
    return socket.inet_ntop(family, raw)


def parse_table(
    text: str, proto: str, family: int, addr_cache: dict[str, str] | None = None
) -> list[SockEntry]:
    """Rows of one /proc/net table; malformed rows are skipped (the file is the kernel's, but
    a test or another OS may hand us anything)."""
    cache = addr_cache if addr_cache is not None else {}
    out: list[SockEntry] = []
    append = out.append
    for line in text.splitlines()[1:]:
        f = line.split()
        if len(f) < 10:
            continue
        try:
            la, lp = f[1].split(":")
            ra, rp = f[2].split(":")
            local = cache.get(la)
            if local is None:
                local = cache[la] = decode_address(la, family)
            remote = cache.get(ra)
            if remote is None:
                remote = cache[ra] = decode_address(ra, family)
            append(
                SockEntry(proto, local, int(lp, 16), remote, int(rp, 16), int(f[3], 16), int(f[7]), int(f[9]))
            )
        except ValueError:
            continue
    if len(cache) > 65536:  # bounded: addresses churn on a busy host
        cache.clear()
    return out


def read_tables(
    proc_net_dir: str, protos: tuple[str, ...] = ("tcp", "udp"), addr_cache: dict[str, str] | None = None
) -> list[SockEntry]:
    """Every table under ``proc_net_dir`` (``/proc/self/net`` or ``/proc/<pid>/net``).

    A missing table (IPv6 disabled) or an unreadable one is skipped.
    """
    out: list[SockEntry] = []
    for fname, proto, family in TABLES:
        if proto not in protos:
            continue
        try:
            with open(f"{proc_net_dir}/{fname}", encoding="ascii", errors="replace") as fh:
                text = fh.read()
        except OSError:
            continue
        out.extend(parse_table(text, proto, family, addr_cache))
    return out


# --- network namespaces -------------------------------------------------------------
def netns_inode(pid: int | str) -> int | None:
    """The network namespace inode of a process (``/proc/<pid>/ns/net``), None if unreadable."""
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def pids() -> list[int]:
    """Every process id in /proc, highest first (newest first, pid wrap aside)."""
    out = [int(d) for d in os.listdir("/proc") if d.isdigit()]
    out.sort(reverse=True)
    return out


def group_by_netns(pid_list: list[int]) -> dict[int, list[int]]:
    """Network namespace inode -> the pids in it (pids whose namespace is unreadable are left out)."""
    groups: dict[int, list[int]] = {}
    for pid in pid_list:
        ino = netns_inode(pid)
        if ino is not None:
            groups.setdefault(ino, []).append(pid)
    return groups


def named_netns(run_dir: str = "/run/netns") -> dict[int, str]:
    """Namespace inode -> name for the namespaces ``ip netns`` knows (bind mounts in /run/netns)."""
    out: dict[int, str] = {}
    try:
        names = os.listdir(run_dir)
    except OSError:
        return out
    for name in names:
        try:
            out[os.stat(f"{run_dir}/{name}").st_ino] = name
        except OSError:
            continue
    return out


def host_netns_inode() -> int | None:
    """The host's network namespace: pid 1's, or when that is not readable (no root, or a
    sandbox hiding it) the oldest readable process's, or at last our own."""
    ino = netns_inode(1)
    if ino is not None:
        return ino
    for pid in reversed(pids()):
        ino = netns_inode(pid)
        if ino is not None:
            return ino
    return netns_inode("self")


# Container runtimes as they appear in /proc/<pid>/cgroup (cgroup v1 and v2, systemd or not).
_CONTAINER_PATTERNS: Final = (
    (re.compile(r"(?:/docker[/-])([0-9a-f]{12,64})(?:\.scope)?$"), "docker"),
    (re.compile(r"/libpod-(?:conmon-)?([0-9a-f]{12,64})(?:\.scope)?$"), "podman"),
    (re.compile(r"/cri-containerd-([0-9a-f]{12,64})(?:\.scope)?$"), "containerd"),
    (re.compile(r"/crio-(?:conmon-)?([0-9a-f]{12,64})(?:\.scope)?$"), "cri-o"),
    (re.compile(r"/kubepods[^\n]*/([0-9a-f]{64})$"), "k8s"),
    (re.compile(r"/lxc(?:\.payload)?[./]([^/\n]+)$"), "lxc"),
)


def container_from_cgroup(text: str) -> str | None:
    """``runtime:id`` (the id cut to 12 characters, as ``docker ps`` shows it) from the text of
    /proc/<pid>/cgroup, or None for a process outside any container we know."""
    for line in text.splitlines():
        path = line.split(":", 2)[-1].strip()
        for pattern, runtime in _CONTAINER_PATTERNS:
            m = pattern.search(path)
            if m:
                ident = m.group(1)
                return f"{runtime}:{ident[:12] if runtime != 'lxc' else ident[:64]}"
    return None


def container_of(pid: int) -> str | None:
    """The container a process runs in, from its cgroup; None when unknown or unreadable."""
    try:
        with open(f"/proc/{pid}/cgroup", encoding="utf-8", errors="replace") as fh:
            return container_from_cgroup(fh.read(65536))
    except OSError:
        return None
