"""Which interfaces exist, which one to capture on by default, and why one cannot be used.

The default is the interface of the default route (IPv4 first, then IPv6), read from
``/proc/net/route`` and ``/proc/net/ipv6_route`` like ``ip route`` does; without a
default route (a fresh network namespace) the first real interface libpcap offers.
"""

from __future__ import annotations

import os

import pcapy

ROUTE_V4 = "/proc/net/route"
ROUTE_V6 = "/proc/net/ipv6_route"
SYS_NET = "/sys/class/net"

_RTF_UP = 0x0001
_RTF_REJECT = 0x0200
# libpcap pseudo-devices that are not network interfaces (never a sensible default).
_PSEUDO_PREFIXES = ("any", "bluetooth", "nflog", "nfqueue", "dbus", "usbmon", "lo")


class NoInterfaceError(Exception):
    """No interface suitable for capture exists."""


def _default_route_v4(path: str = ROUTE_V4) -> str | None:
    best: tuple[int, str] | None = None
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            lines = fh.read().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        cols = line.split()
        if len(cols) < 8:
            continue
        try:
            flags, metric = int(cols[3], 16), int(cols[6])
        except ValueError:
            continue
        if cols[1] == "00000000" and cols[7] == "00000000" and flags & _RTF_UP and not flags & _RTF_REJECT:
            if best is None or metric < best[0]:
                best = (metric, cols[0])
    return best[1] if best else None


def _default_route_v6(path: str = ROUTE_V6) -> str | None:
    best: tuple[int, str] | None = None
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    for line in lines:
        cols = line.split()
        if len(cols) < 10:
            continue
        try:
            plen, metric, flags = int(cols[1], 16), int(cols[5], 16), int(cols[8], 16)
        except ValueError:
            continue
        # Unreachable defaults sit on "lo" with RTF_REJECT: not a route out.
        if (
            plen == 0
            and int(cols[0], 16) == 0
            and flags & _RTF_UP
            and not flags & _RTF_REJECT
            and cols[9] != "lo"
        ):
            if best is None or metric < best[0]:
                best = (metric, cols[9])
    return best[1] if best else None


def default_route_interface() -> str | None:
    """The interface of the default route (IPv4 first), or None without one."""
    return _default_route_v4() or _default_route_v6()


def list_interfaces() -> list[str]:
    """Names libpcap can capture on, in libpcap's order; /sys/class/net when libpcap lists none."""
    try:
        names = list(pcapy.findalldevs())
    except pcapy.PcapError:
        names = []
    if not names:
        try:
            names = sorted(os.listdir(SYS_NET))
        except OSError:
            names = []
    return names


def real_interfaces() -> list[str]:
    """Kernel network interfaces (``/sys/class/net``), for naming the choices in errors."""
    try:
        return sorted(os.listdir(SYS_NET))
    except OSError:
        return list_interfaces()


def choose_default() -> str:
    """The interface to capture on when the user named none."""
    iface = default_route_interface()
    if iface:
        return iface
    for name in list_interfaces():
        if not name.startswith(_PSEUDO_PREFIXES) and is_up(name):
            return name
    raise NoInterfaceError("No suitable capture interfaces found")


def is_up(name: str) -> bool:
    """True when the kernel reports the interface administratively up."""
    try:
        with open(os.path.join(SYS_NET, name, "flags"), encoding="ascii") as fh:
            return bool(int(fh.read().strip(), 16) & 0x1)
    except (OSError, ValueError):
        return False


def is_kernel_interface(name: str) -> bool:
    """True for a real network interface (not a libpcap pseudo-device such as nflog)."""
    return "/" not in name and name not in ("", ".", "..") and os.path.exists(os.path.join(SYS_NET, name))


def exists(name: str) -> bool:
    """True when ``name`` can be opened: a kernel interface or a libpcap pseudo-device."""
    if name == "any":
        return True
    if is_kernel_interface(name):
        return True
    return name in list_interfaces()


def unknown_interface_message(name: str) -> str:
    """One line naming the interfaces that do exist."""
    names = real_interfaces()
    choices = ", ".join(names) + (", any" if names else "any")
    return f"no such interface: {name!r} (available: {choices}; see --list-interfaces)"


MAX_HOST_ADDRESSES = 256  # addresses a header names at most (a host with more: the first ones)


def host_addresses() -> list[str]:
    """This host's (this network namespace's) IPv4 and IPv6 addresses as text, for the stream
    header: a tracker elsewhere (rustnet --remote) then knows which end is this host's."""
    import socket

    try:
        import psutil

        found = psutil.net_if_addrs()
    except (ImportError, OSError, RuntimeError):
        return []
    out: list[str] = []
    for addrs in found.values():
        for a in addrs:
            if a.family in (socket.AF_INET, socket.AF_INET6):
                addr = a.address.split("%", 1)[0]
                if addr not in out:
                    out.append(addr)
    return out[:MAX_HOST_ADDRESSES]
