"""The kernel's neighbour table (ARP and NDP): on-link IPv4 and IPv6 address -> MAC.

One rtnetlink ``RTM_GETNEIGH`` dump of this network namespace; /proc/net/arp (IPv4 only)
when netlink is unavailable. Only entries that hold a usable MAC (reachable, stale, delay,
probe or permanent) count.
"""

from __future__ import annotations

import socket
import struct
from typing import Final

from rustnet.enrich import sockdiag

RTM_NEWNEIGH: Final = 28
RTM_GETNEIGH: Final = 30
NDA_DST: Final = 1
NDA_LLADDR: Final = 2
# NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT (not INCOMPLETE, FAILED, NOARP)
USABLE_STATES: Final = 0x02 | 0x04 | 0x08 | 0x10 | 0x80
ARP_TABLE: Final = "/proc/net/arp"
MAX_NEIGHBOURS: Final = 4096  # as RustNet's neighbour cache

_NLMSGHDR: Final = struct.Struct("=IHHII")
_NDMSG: Final = struct.Struct("=BBHiHBB")
_RTATTR: Final = struct.Struct("=HH")
_NO_MAC: Final = "00:00:00:00:00:00"


def parse_neigh_dump(data: bytes, out: dict[str, str]) -> bool:
    """Add the usable entries of one answer chunk to ``out``; True when the dump ended.
    Raises :class:`sockdiag.DiagError` on an error or malformed message."""
    off = 0
    n = len(data)
    hsize = _NLMSGHDR.size
    while off + hsize <= n:
        length, mtype, _flags, _seq, _pid = _NLMSGHDR.unpack_from(data, off)
        if length < hsize or off + length > n:
            raise sockdiag.DiagError("rtnetlink: malformed answer")
        if mtype == sockdiag.NLMSG_DONE:
            return True
        if mtype == sockdiag.NLMSG_ERROR:
            (errno_neg,) = struct.unpack_from("=i", data, off + hsize)
            if errno_neg == 0:
                return True
            raise sockdiag.DiagError(-errno_neg, "rtnetlink: neighbour dump refused")
        if mtype == RTM_NEWNEIGH and length >= hsize + _NDMSG.size and len(out) < MAX_NEIGHBOURS:
            family, _, _, _ifindex, state, _nflags, _ntype = _NDMSG.unpack_from(data, off + hsize)
            alen = 4 if family == socket.AF_INET else 16 if family == socket.AF_INET6 else 0
            dst = mac = None
            p = off + hsize + _NDMSG.size
            end = off + length
            while alen and state & USABLE_STATES and p + _RTATTR.size <= end:
                rlen, rtype = _RTATTR.unpack_from(data, p)
                if rlen < _RTATTR.size or p + rlen > end:
                    break
                value = data[p + _RTATTR.size : p + rlen]
                if rtype == NDA_DST and len(value) == alen:
                    dst = socket.inet_ntop(family, value)
                elif rtype == NDA_LLADDR and len(value) == 6:
                    mac = ":".join(f"{b:02x}" for b in value)
                p += (rlen + 3) & ~3
            if dst is not None and mac is not None and mac != _NO_MAC:
                out[dst] = mac
        off += (length + 3) & ~3
    return False


def dump_neighbours(sock: socket.socket) -> dict[str, str]:
    """Every usable neighbour of the namespace ``sock`` (a NETLINK_ROUTE socket) lives in."""
    sock.send(
        _NLMSGHDR.pack(
            _NLMSGHDR.size + _NDMSG.size, RTM_GETNEIGH, sockdiag.NLM_F_REQUEST | sockdiag.NLM_F_DUMP, 1, 0
        )
        + _NDMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0, 0, 0)
    )
    out: dict[str, str] = {}
    while True:
        data = sock.recv(1 << 16)
        if not data:
            raise sockdiag.DiagError("rtnetlink: connection closed")
        if parse_neigh_dump(data, out):
            return out


def read_arp_table(path: str = ARP_TABLE) -> dict[str, str]:
    """IPv4 address -> MAC of the complete entries of /proc/net/arp."""
    out: dict[str, str] = {}
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            next(f, None)  # the header line
            for line in f:
                cols = line.split()
                # IP address, HW type, Flags (0x2: complete), HW address, Mask, Device
                if len(cols) >= 4 and cols[2] == "0x2" and cols[3] != _NO_MAC:
                    out[cols[0]] = cols[3].lower()
                    if len(out) >= MAX_NEIGHBOURS:
                        break
    except OSError:
        pass
    return out


def read_neighbours() -> dict[str, str]:
    """The neighbour table of this namespace, by rtnetlink, else /proc/net/arp."""
    try:
        sock = sockdiag.open_netlink(socket.NETLINK_ROUTE)
    except sockdiag.DiagError:
        return read_arp_table()
    try:
        with sock:
            sock.settimeout(1.0)
            return dump_neighbours(sock)
    except (OSError, sockdiag.DiagError):
        return read_arp_table()
