"""Service names: system database first, built-in table, TCP and UDP, bad input."""

from __future__ import annotations

import socket

from rustnet.enrich.services import BUILTIN, ServiceNames


def test_system_database_first() -> None:
    names = ServiceNames()
    try:
        system = socket.getservbyport(143, "tcp")
    except OSError:
        system = None
    assert names.lookup(143, "tcp") == (system or BUILTIN[("tcp", 143)])
    assert names.lookup(443, "tcp") == "https"
    assert names.lookup(22, "tcp") == "ssh"
    assert names.lookup(53, "udp") == "domain"


def test_builtin_table_without_system_database() -> None:
    names = ServiceNames(use_system=False)
    assert names.lookup(443, "udp") == "https"  # QUIC
    assert names.lookup(5353, "udp") == "mdns"
    assert names.lookup(6379, "tcp") == "redis"
    assert names.lookup(51820, "udp") == "wireguard"
    assert names.lookup(51820, "tcp") is None
    assert names.lookup(67, "tcp") is None and names.lookup(67, "udp") == "bootps"


def test_unknown_and_bad_input() -> None:
    names = ServiceNames()
    assert names.lookup(47999, "tcp") is None
    for port, proto in ((0, "tcp"), (70000, "tcp"), (-1, "udp"), ("80", "tcp"), (80, "icmp"), (None, None)):
        assert names.lookup(port, proto) is None
    # Cached: a second lookup gives the same answer.
    assert names.lookup(443, "tcp") == names.lookup(443, "tcp") == "https"
