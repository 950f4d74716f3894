"""Service names for ports: the system's services database first, then a built-in table.

The system database (``/etc/services`` through ``getservbyport``) is what the host's
administrators expect to see; the built-in table covers minimal systems and
containers that ship without it, and a few newer ports the database often lacks.
Names follow the IANA service-name registry.
"""

from __future__ import annotations

import socket
from typing import Final

# (protocol, port) -> name. "both" entries are listed for tcp and udp below.
_BOTH: Final = {
    53: "domain",
    88: "kerberos",
    123: "ntp",
    389: "ldap",
    443: "https",
    500: "isakmp",
    1194: "openvpn",
    1812: "radius",
    3478: "stun",
    5060: "sip",
    5353: "mdns",
    5355: "llmnr",
}
_TCP: Final = {
    20: "ftp-data",
    21: "ftp",
    22: "ssh",
    23: "telnet",
    25: "smtp",
    79: "finger",
    80: "http",
    110: "pop3",
    111: "sunrpc",
    119: "nntp",
    143: "imap",
    179: "bgp",
    445: "microsoft-ds",
    465: "submissions",
    514: "shell",
    543: "klogin",
    587: "submission",
    631: "ipp",
    636: "ldaps",
    853: "domain-s",
    873: "rsync",
    993: "imaps",
    995: "pop3s",
    1080: "socks",
    1433: "ms-sql-s",
    1521: "oracle",
    1883: "mqtt",
    2049: "nfs",
    2375: "docker",
    2376: "docker-s",
    3306: "mysql",
    3389: "ms-wbt-server",
    5222: "xmpp-client",
    5432: "postgresql",
    5671: "amqps",
    5672: "amqp",
    5900: "rfb",
    6379: "redis",
    6667: "ircd",
    8080: "http-alt",
    8443: "https-alt",
    8883: "secure-mqtt",
    11211: "memcache",
    27017: "mongodb",
}
_UDP: Final = {
    67: "bootps",
    68: "bootpc",
    69: "tftp",
    137: "netbios-ns",
    138: "netbios-dgm",
    161: "snmp",
    162: "snmptrap",
    514: "syslog",
    520: "router",
    546: "dhcpv6-client",
    547: "dhcpv6-server",
    853: "domain-s",
    1900: "ssdp",
    4500: "ipsec-nat-t",
    51820: "wireguard",
}

BUILTIN: Final[dict[tuple[str, int], str]] = {
    **{("tcp", p): n for p, n in _BOTH.items()},
    **{("udp", p): n for p, n in _BOTH.items()},
    **{("tcp", p): n for p, n in _TCP.items()},
    **{("udp", p): n for p, n in _UDP.items()},
}


class ServiceNames:
    """Port -> service name, cached (the database is read once per port and protocol)."""

    def __init__(self, use_system: bool = True, max_entries: int = 65536 * 2) -> None:
        self.use_system = use_system
        self.max_entries = max_entries
        self._cache: dict[tuple[str, int], str | None] = {}

    def lookup(self, port: object, proto: object) -> str | None:
        """The service for a TCP or UDP port, or None."""
        if proto not in ("tcp", "udp") or not isinstance(port, int) or not 0 < port <= 65535:
            return None
        key = (proto, port)
        try:
            return self._cache[key]
        except KeyError:
            pass
        name: str | None = None
        if self.use_system:
            try:
                name = socket.getservbyport(port, proto)
            except (OSError, OverflowError):
                name = None
        if name is None:
            name = BUILTIN.get((proto, port))
        if len(self._cache) < self.max_entries:
            self._cache[key] = name
        return name
