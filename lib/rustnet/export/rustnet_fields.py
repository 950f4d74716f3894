"""Our connection records in RustNet's export vocabulary: its field names, values and rules.

RustNet describes a connection from this host's point of view: ``source_*``/``local_*`` is
the local end, ``destination_*``/``remote_*`` the far one. Our records name the originator
``src``; ``local_side`` (live capture) says which end is this host. Without it (a capture
file), the originator is taken as the local end.

Optional values are left out when unknown (never ``null``), except where RustNet always
writes a key (the sidecar's ``pid`` and ``process_name``).
"""

from __future__ import annotations

import functools
import grp
import ipaddress
import pwd
import time
from datetime import UTC, datetime
from typing import Any, Final

# RustNet's protocol names; ICMPv6 is ICMP there too.
_PROTOCOLS: Final = {
    "tcp": "TCP",
    "udp": "UDP",
    "icmp": "ICMP",
    "icmpv6": "ICMP",
    "igmp": "IGMP",
    "arp": "ARP",
}

# How our rn-enrich found a process, as RustNet's attribution_match tokens.
_MATCH: Final = {
    "exact-tuple": "exact-tuple",
    "short-lived-watch": "exact-tuple",
    "exec-event": "exact-tuple",
    "listener-socket": "listener-socket",
    "bound-socket": "wildcard-local-address",
}

# RustNet's display names of the application protocols we detect.
_APP_NAMES: Final = {
    "TLS": "HTTPS",
    "MDNS": "mDNS",
    "NetBIOS-NS": "NetBIOS NS",
    "NetBIOS-DGM": "NetBIOS DGM",
    "NetBIOS-SSN": "NetBIOS SSN",
    "BitTorrent-DHT": "BT DHT",
}
_NAME_FIELD: Final = {
    "HTTP": "http_host",
    "TLS": "sni",
    "QUIC": "sni",
    "DNS": "dns_query",
    "MDNS": "dns_query",
    "LLMNR": "dns_query",
    "DHCP": "dhcp_hostname",
    "SNMP": "snmp_community",
    "SSDP": "ssdp_target",
    "NetBIOS-NS": "netbios_name",
    "NetBIOS-DGM": "netbios_name",
    "NetBIOS-SSN": "netbios_name",
    "MQTT": "mqtt_client_id",
}
_LINEAGE_KEPT: Final = 4  # rn-enrich keeps this many ancestors: a full list may have been cut


@functools.lru_cache(maxsize=256)
def _uid_of(user: str) -> int | None:
    if user.isdigit():
        return int(user)
    try:
        return pwd.getpwnam(user).pw_uid
    except (KeyError, OSError):
        return None


@functools.lru_cache(maxsize=256)
def _gid_of(group: str) -> int | None:
    if group.isdigit():
        return int(group)
    try:
        return grp.getgrnam(group).gr_gid
    except (KeyError, OSError):
        return None


def process_ids(rec: dict[str, Any], local_ids: bool) -> tuple[int | None, int | None]:
    """The process's uid and gid, from the user and group names rn-enrich gives: only when they
    name this host's users (a live capture here, not --remote, not a file)."""
    if not local_ids:
        return None, None
    user, group = rec.get("user"), rec.get("group")
    uid = _uid_of(user) if isinstance(user, str) and 0 < len(user) <= 64 else None
    gid = _gid_of(group) if isinstance(group, str) and 0 < len(group) <= 64 else None
    return uid, gid


def now_rfc3339() -> str:
    """The time now as RFC 3339 UTC, as RustNet stamps each line (``...+00:00``)."""
    return datetime.now(UTC).isoformat()


def system_time(epoch: Any) -> dict[str, int] | None:
    """An epoch float as a serialized Rust ``SystemTime``: whole seconds and the nanoseconds past them."""
    if type(epoch) not in (int, float) or not 0 <= epoch < 1 << 40:
        return None
    secs = int(epoch)
    return {"secs_since_epoch": secs, "nanos_since_epoch": min(int(round((epoch - secs) * 1e9)), 999_999_999)}


def number(value: Any) -> float | None:
    """A finite-looking int or float from a record, else None (bools are not numbers here)."""
    return float(value) if type(value) in (int, float) else None


def _int(value: Any) -> int | None:
    return value if type(value) is int else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class Sides:
    """The local and remote ends of a connection record."""

    __slots__ = ("local", "remote")

    def __init__(self, rec: dict[str, Any]) -> None:
        self.local = "dst" if rec.get("local_side") == "dst" else "src"
        self.remote = "src" if self.local == "dst" else "dst"


def protocol(rec: dict[str, Any]) -> str:
    proto = rec.get("proto")
    name = proto if isinstance(proto, str) else "?"
    return _PROTOCOLS.get(name, name.upper())


def addr_kind(addr: Any) -> str | None:
    """``broadcast`` or ``multicast`` for such an address, None for unicast (or junk)."""
    if not isinstance(addr, str):
        return None
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return None
    if ip.is_multicast:
        return "multicast"
    if ip.version == 4 and addr == "255.255.255.255":
        return "broadcast"
    return None


def endpoint(addr: Any, port: Any) -> str:
    """``ip:port``, ``[v6]:port``."""
    host = addr if isinstance(addr, str) else "?"
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{port if type(port) is int else 0}"


def dpi_display(rec: dict[str, Any]) -> str | None:
    """RustNet's display string of the detected application: ``HTTPS (example.com)``."""
    app = _text(rec.get("app"))
    if app is None:
        return None
    name = _APP_NAMES.get(app, app)
    detail = _text(rec.get(_NAME_FIELD.get(app, "")))
    if app == "SSH":
        ident = _text(rec.get("ssh_server")) or _text(rec.get("ssh_client"))
        if ident is not None:
            # SSH-2.0-OpenSSH_9.2p1 Debian -> OpenSSH
            software = ident.split(" ", 1)[0].split("-", 2)[-1]
            detail = software.split("_", 1)[0] or None
    return f"{name} ({detail})" if detail else name


def dpi_domain(rec: dict[str, Any]) -> str | None:
    """The DNS query name, else the SNI, else the HTTP Host."""
    for key in ("dns_query", "sni", "http_host"):
        value = _text(rec.get(key))
        if value is not None:
            return value
    return None


def attribution_match(rec: dict[str, Any]) -> str | None:
    via = rec.get("owner_via")
    if not isinstance(via, str):
        return None
    return _MATCH.get(via, "unspecified")


def direction(rec: dict[str, Any]) -> str | None:
    """TCP only, and only when the handshake (the originator's SYN) was seen and this host is an end."""
    if rec.get("proto") != "tcp" or rec.get("local_side") not in ("src", "dst"):
        return None
    if rec.get("rtt_ms") is None and rec.get("state") not in ("SYN_SENT", "SYN_RECV"):
        return None
    return "outgoing" if rec.get("local_side") == "src" else "incoming"


def lineage(rec: dict[str, Any]) -> dict[str, Any] | None:
    """``ancestors`` ("name/pid", oldest first) as RustNet's process_lineage object."""
    ancestors = rec.get("ancestors")
    if not isinstance(ancestors, list) or not ancestors:
        return None
    out: list[dict[str, Any]] = []
    for item in ancestors:
        if not isinstance(item, str):
            continue
        name, _, pid = item.rpartition("/")
        entry: dict[str, Any] = {"name": name or item}
        if pid.isdigit():
            entry["pid"] = int(pid)
        out.append(entry)
    return {"ancestors": out, "truncated": len(ancestors) >= _LINEAGE_KEPT} if out else None


def _process_fields(rec: dict[str, Any], out: dict[str, Any], local_ids: bool) -> None:
    """The rich process fields RustNet writes when known."""
    for ours, theirs in (("ppid", "process_ppid"), ("exe", "process_executable")):
        value = rec.get(ours)
        if (type(value) is int) if ours == "ppid" else _text(value):
            out[theirs] = value
    uid, gid = process_ids(rec, local_ids)
    if uid is not None:
        out["process_uid"] = uid
    if gid is not None:
        out["process_gid"] = gid
    match = attribution_match(rec)
    if match is not None:
        out["attribution_match"] = match
    tree = lineage(rec)
    if tree is not None:
        out["process_lineage"] = tree
    rtt = number(rec.get("rtt_ms"))
    if rtt is not None:
        out["rtt_ms"] = round(rtt, 1)


# Our GeoIP fields (of the remote end) under RustNet's names.
_GEOIP: Final = (
    ("geo_country", "geoip_country_code"),
    ("geo_country_name", "geoip_country_name"),
    ("geo_asn", "geoip_asn"),
    ("geo_as_org", "geoip_as_org"),
    ("geo_city", "geoip_city"),
)


def _geoip_fields(rec: dict[str, Any], out: dict[str, Any]) -> None:
    for ours, theirs in _GEOIP:
        value = rec.get(ours)
        if (type(value) is int) if ours == "geo_asn" else _text(value):
            out[theirs] = value


def _sent_received(rec: dict[str, Any], sides: Sides) -> tuple[int, int]:
    sent = _int(rec.get(f"bytes_{sides.local}")) or 0
    received = _int(rec.get(f"bytes_{sides.remote}")) or 0
    return sent, received


def event(rec: dict[str, Any], kind: str, live: bool, local_ids: bool = False) -> dict[str, Any]:
    """A ``--json-log`` line: ``new_connection`` or ``connection_closed`` of connection record ``rec``."""
    s = Sides(rec)
    out: dict[str, Any] = {
        "timestamp": now_rfc3339(),
        "event": kind,
        "protocol": protocol(rec),
        "source_ip": rec.get(s.local) if isinstance(rec.get(s.local), str) else "?",
        "source_port": _int(rec.get("sport" if s.local == "src" else "dport")) or 0,
        "destination_ip": rec.get(s.remote) if isinstance(rec.get(s.remote), str) else "?",
        "destination_port": _int(rec.get("dport" if s.remote == "dst" else "sport")) or 0,
    }
    for side, key in ((s.local, "source_addr_kind"), (s.remote, "destination_addr_kind")):
        kind_of = addr_kind(rec.get(side))
        if kind_of is not None:
            out[key] = kind_of
    if rec.get("gateway") == s.remote:
        out["destination_is_gateway"] = True
    if rec.get("proto") != "arp":
        for side, key in ((s.remote, "destination_hostname"), (s.local, "source_hostname")):
            name = _text(rec.get(f"hostname_{side}"))
            if name is not None:
                out[key] = name
    if type(rec.get("pid")) is int:
        out["pid"] = rec["pid"]
    if _text(rec.get("process")):
        out["process_name"] = rec["process"]
    _process_fields(rec, out, local_ids)
    if _text(rec.get("service")):
        out["service_name"] = rec["service"]
    for key, value in (("direction", direction(rec)), ("dpi_protocol", dpi_display(rec))):
        if value is not None:
            out[key] = value
    domain = dpi_domain(rec)
    if domain is not None:
        out["dpi_domain"] = domain
    _geoip_fields(rec, out)
    if kind == "connection_closed":
        out["bytes_sent"], out["bytes_received"] = _sent_received(rec, s)
        out["duration_secs"] = duration_secs(rec, live)
    return out


def duration_secs(rec: dict[str, Any], live: bool) -> int:
    """Whole seconds since the connection began: until now when live, until its last packet in a file."""
    first = number(rec.get("first_seen"))
    if first is None:
        return 0
    last = number(rec.get("last_seen"))
    end = time.time() if live or last is None else last
    try:
        return max(0, int(end - first))
    except (OverflowError, ValueError):  # inf or nan from a hostile stream
        return 0


def sidecar(rec: dict[str, Any], local_ids: bool = False) -> dict[str, Any]:
    """A ``FILE.connections.jsonl`` line for connection record ``rec``."""
    s = Sides(rec)
    local_port = rec.get("sport" if s.local == "src" else "dport")
    remote_port = rec.get("dport" if s.remote == "dst" else "sport")
    out: dict[str, Any] = {
        "timestamp": now_rfc3339(),
        "protocol": protocol(rec),
        "local_addr": endpoint(rec.get(s.local), local_port),
        "remote_addr": endpoint(rec.get(s.remote), remote_port),
        "pid": _int(rec.get("pid")),
        "process_name": _text(rec.get("process")),
        "state": _text(rec.get("state")) or "UNKNOWN",
    }
    out["bytes_sent"], out["bytes_received"] = _sent_received(rec, s)
    for ours, theirs in (("first_seen", "first_seen"), ("last_seen", "last_seen")):
        stamp = system_time(rec.get(ours))
        if stamp is not None:
            out[theirs] = stamp
    for side, key in ((s.local, "local_addr_kind"), (s.remote, "remote_addr_kind")):
        kind_of = addr_kind(rec.get(side))
        if kind_of is not None:
            out[key] = kind_of
    if rec.get("gateway") == s.remote:
        out["remote_is_gateway"] = True
    _process_fields(rec, out, local_ids)
    _geoip_fields(rec, out)
    return out
