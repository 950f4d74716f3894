"""The Details tab's content: RustNet's cards, filled from the field table.

Each connection field declares the card that shows it, its label and its unit
(:mod:`rustnet.stream.fields`): Connection, Network Context, Attribution, an Application card
per protocol, Transport Health and Traffic Statistics. A field that describes one end
(``side``) is shown twice, as the Local and the Remote one. Cards have fixed rows, ``-`` for a
value the connection does not have, so rows do not move from one connection to the next; a
field nobody declared is not shown (``--json`` has every field).

Everything here returns plain, safe text (record values pass :func:`rustnet.view.text.safe`)
with a colour *name* beside it; the renderer places and paints it.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Sequence
from typing import Any, Final

from rustnet.stream import fields
from rustnet.stream.fields import Field
from rustnet.view import braille, staleness
from rustnet.view.columns import cast_kind, endpoint
from rustnet.view.model import ConnTable, Row, num, text
from rustnet.view.text import age, full_bytes, full_rate, rtt_tone, safe

LABEL_W: Final = 22  # labels are padded to this many cells (RustNet's)
APP_ROWS: Final = 10  # the Application card's rows under its heading, padded so rows do not move
NONE: Final = "-"

# (label, value, colour name) of one line; a card is its title and its lines.
Line = tuple[str, str, str]
Card = tuple[str, list[Line]]

_BY_CARD: Final[dict[str, tuple[Field, ...]]] = {}
for _f in fields.CONN:
    if _f.card:
        _BY_CARD[_f.card] = (*_BY_CARD.get(_f.card, ()), _f)
# The field of (card, label, side): the other end's twin of a sided field.
_SIDED: Final = {(f.card, f.label, f.side): f for f in fields.CONN if f.side}
_FIELD: Final = fields.CONN_BY_NAME

# A connection's application (the record's ``app``) -> the cards of its fields, in order.
_APP_CARDS: Final = {
    "MDNS": ("DNS",),
    "LLMNR": ("DNS",),
    "QUIC": ("TLS", "QUIC"),
    "NetBIOS-NS": ("NetBIOS",),
    "NetBIOS-DGM": ("NetBIOS",),
    "NetBIOS-SSN": ("NetBIOS",),
    "BitTorrent-DHT": ("BitTorrent",),
}
# The Transport Health rows of a TCP connection (the other measurements are of request/response
# protocols over UDP and ICMP).
_TCP_HEALTH: Final = (
    "rtt_ms",
    "rtt_kind",
    "rtt_initial_ms",
    "retransmits",
    "out_of_order",
    "dup_acks",
    "fast_retransmits",
)
# What rn-track's rtt_kind says, for people.
_RTT_KINDS: Final = {
    "tcp": "TCP data and its ACK (live)",
    "tcp_handshake": "TCP handshake",
    "quic_handshake": "QUIC handshake",
    "icmp_echo": "ICMP echo",
}
# QUIC shows only these of the TLS card (the handshake it carries).
_QUIC_TLS: Final = ("sni", "alpn", "tls_version")
_MATCH: Final = {
    "exact-tuple": ("exact tuple", "ok"),
    "short-lived-watch": ("exact tuple, caught by the fast watcher", "ok"),
    "exec-event": ("exact tuple, process from a kernel exec event", "ok"),
    "listener-socket": ("listener socket", "warn"),
    "bound-socket": ("bound socket (wildcard remote)", "warn"),
}
_SCOPES: Final = (
    ("UNSPECIFIED", ("0.0.0.0/32", "::/128")),
    ("LOOPBACK", ("127.0.0.0/8", "::1/128")),
    ("BROADCAST", ("255.255.255.255/32",)),
    ("IPV4-MAPPED", ("::ffff:0:0/96",)),
    ("DISCARD", ("100::/64",)),
    ("DOCUMENTATION", ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")),
    ("BENCHMARKING", ("198.18.0.0/15", "2001:2::/48")),
    ("CGNAT", ("100.64.0.0/10",)),
    ("LINK-LOCAL", ("169.254.0.0/16", "fe80::/10")),
    ("MULTICAST", ("224.0.0.0/4", "ff00::/8")),
    ("PRIVATE", ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")),
    ("UNIQUE-LOCAL", ("fc00::/7",)),
    ("RESERVED", ("0.0.0.0/8", "240.0.0.0/4")),
)
_SCOPE_NETS: Final = [(name, [ipaddress.ip_network(n) for n in nets]) for name, nets in _SCOPES]


def scope(addr: str) -> str:
    """The kind of address ``addr`` is (RustNet's Scope row): PUBLIC, PRIVATE, LOOPBACK, ..."""
    try:
        ip = ipaddress.ip_address(addr.split("%", 1)[0])
    except ValueError:
        return NONE
    for name, nets in _SCOPE_NETS:
        if any(ip.version == n.version and ip in n for n in nets):
            return name
    return "PUBLIC"


def when(ts: float) -> str:
    """Local date and time of an epoch timestamp, to the millisecond."""
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) + f".{int((ts % 1) * 1000):03d}"
    except (OverflowError, ValueError, OSError):  # a hostile time beyond the calendar
        return NONE


def value_text(f: Field | None, value: Any) -> str:
    """A field's value for people: its unit applied, lists joined, yes/no for flags."""
    if value is None or value == "" or value == []:
        return NONE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(safe(text(v)) for v in value) or NONE
    if isinstance(value, dict):
        return ", ".join(f"{safe(text(k))} {safe(text(v))}" for k, v in value.items()) or NONE
    unit = f.unit if f is not None else ""
    if isinstance(value, (int, float)) and unit:
        v = num(value)
        if unit == "ms":
            return f"{v:.1f}ms"
        if unit == "bytes":
            return full_bytes(v)
        if unit == "B/s":
            return full_rate(v) if v else "0 B/s"
        if unit == "epoch s":
            return when(v) if v else NONE
        if unit in ("packets", "segments"):
            return f"{int(v):,}"
    return safe(value)


def _endpoint_text(row: Row, side: str) -> str:
    s = endpoint(row.addr(side), row.port(side))
    kind = cast_kind(row.addr(side))
    if kind:
        s += " (broadcast)" if kind == "bcast" else " (multicast)"
    if row.rec.get("gateway") == side:
        s += " (gateway)"
    return safe(s)


def _field_line(row: Row, f: Field, label: str, table: ConnTable) -> Line:
    """One field as a card line, with the few that read better composed."""
    name, rec = f.name, row.rec
    side = f.side
    if name in ("src", "dst"):
        return label, _endpoint_text(row, name), ""
    if name.startswith("hostname_"):
        host = row.hostname(side)
        if not host:
            return label, NONE, ""
        if row.field(f"hostname_{side}_via") == "dns":
            return label, safe("~" + host) + " (from DNS seen on the wire)", "dim"
        return label, safe(host), ""
    if name.startswith("mac_"):
        mac, vendor = rec.get(name), rec.get("vendor_" + side)
        if not mac:
            return label, NONE, ""
        return label, safe(text(mac)) + (f" ({safe(text(vendor))})" if vendor else ""), ""
    if name == "geo_country":  # RustNet's "Germany (DE)"
        code, cname = rec.get(name), rec.get("geo_country_name")
        if not code:
            return label, NONE, ""
        return label, (f"{safe(text(cname))} ({safe(text(code))})" if cname else safe(text(code))), ""
    if name == "geo_asn":  # RustNet's "AS15169 (GOOGLE)"
        asn, org = rec.get(name), rec.get("geo_as_org")
        if asn is None:
            return label, safe(text(org)) if org else NONE, ""
        return label, f"AS{safe(text(asn))}" + (f" ({safe(text(org))})" if org else ""), ""
    if name == "proto":
        return label, safe(text(rec.get("proto")).upper()) or NONE, ""
    if name == "user":
        user, group = rec.get("user"), rec.get("group")
        if user is None and group is None:
            return label, NONE, ""
        return label, safe(text(user) or "?") + (":" + safe(text(group)) if group is not None else ""), ""
    if name == "ancestors":
        chain = rec.get("ancestors")
        if isinstance(chain, list) and chain:
            return label, " > ".join(safe(text(v)) for v in chain), ""
        return label, NONE, ""
    if name == "owner_via":
        how = rec.get(name)
        if how is None:
            return label, "unspecified" if rec.get("process") else NONE, "dim"
        said, colour = _MATCH.get(text(how), (safe(how), "warn"))
        return label, said, colour
    if name == "rtt_ms" or f.unit == "ms":
        value = rec.get(name)
        return label, value_text(f, value), rtt_tone(value) if value is not None else ""
    if name == "rtt_kind":
        kind = rec.get(name)
        return label, _RTT_KINDS.get(text(kind), safe(kind) if kind is not None else NONE), ""
    if name == "state" and table.in_history(row):
        return label, "closed", "dim"
    value = row.field(name)
    return label, value_text(f, value), ""


def _status(row: Row, table: ConnTable) -> Line:
    last = num(row.rec.get("last_seen"))
    ago = age(table.clock - last) if last else "?"
    if table.in_history(row):
        return "Status", f"Closed ({ago})", "dim"
    tone, _ = staleness.tone(staleness.ratio(row, table.clock))
    return "Status", f"Active (last seen {ago})", tone


def _card_lines(row: Row, card: str, table: ConnTable, only: Sequence[str] = ()) -> list[Line]:
    out: list[Line] = []
    done: set[str] = set()
    for f in _BY_CARD.get(card, ()):
        if only and f.name not in only:
            continue
        if f.side:
            if f.label in done:
                continue
            done.add(f.label)
            for side_name, side in (("Local", row.local), ("Remote", row.remote)):
                twin = _SIDED.get((card, f.label, side), f)
                out.append(_field_line(row, twin, f"{side_name} {f.label}", table))
            if f.name in ("src", "dst"):
                out.append(("Scope", scope(row.addr(row.remote)), ""))
            continue
        out.append(_field_line(row, f, f.label, table))
        if f.name == "proto":
            out.append(_status(row, table))
        elif f.name == "state":
            out.append(("State History", _state_history(row), ""))
    return out


def _state_history(row: Row) -> str:
    """The states the connection went through, with the time of each (one line, newest last)."""
    if not row.states:
        return NONE
    parts = []
    for ts, st in row.states:
        clock = when(ts)[11:] if ts else "?"
        parts.append(f"{safe(st)} {clock}")
    return " → ".join(parts)


def _app_groups(row: Row) -> tuple[str, tuple[str, ...]]:
    """The Application card's heading and the application cards whose fields it shows."""
    rec = row.rec
    app = text(rec.get("app"))
    proto = text(rec.get("proto")).lower()
    if app:
        return app, _APP_CARDS.get(app, (app,))
    if proto == "arp":
        return "ARP", ("ARP",)
    if proto == "igmp":
        return "IGMP", ("IGMP",)
    if rec.get("ndp_type"):
        return "NDP", ("NDP",)
    return "", ()


def application(row: Row, table: ConnTable) -> Card:
    """The Application card: the fields of the connection's application, fixed rows, padded."""
    app, groups = _app_groups(row)
    lines: list[Line] = []
    for g in groups:
        card = fields.app_card(g)
        only = _QUIC_TLS if app == "QUIC" and g == "TLS" else ()
        lines += _card_lines(row, card, table, only)
    if not groups:
        lines.append(("Detected", NONE, ""))
    lines += [("", "", "")] * (APP_ROWS - len(lines))
    title = fields.APPLICATION + (": " + safe(app) if app else "")
    return title, lines


def transport(row: Row, table: ConnTable) -> Card:
    """Transport Health: TCP's measurements as fixed rows; for the rest, those it has."""
    proto = text(row.rec.get("proto")).lower()
    if proto == "tcp":
        lines = _card_lines(row, fields.TRANSPORT, table, _TCP_HEALTH)
    else:
        lines = [ln for ln in _card_lines(row, fields.TRANSPORT, table) if ln[1] != NONE]
        if text(row.rec.get("app")) == "QUIC":
            lines.append(("", "Loss counters are encrypted in QUIC", "dim"))
        elif not lines:
            lines.append(("", "No transport metrics for this protocol", "dim"))
    return fields.TRANSPORT, lines


def left_cards(row: Row, table: ConnTable) -> list[Card]:
    return [
        (fields.CONNECTION, _card_lines(row, fields.CONNECTION, table)),
        (fields.NETWORK, _card_lines(row, fields.NETWORK, table)),
        (fields.ATTRIBUTION, _card_lines(row, fields.ATTRIBUTION, table)),
    ]


def right_cards(row: Row, table: ConnTable) -> list[Card]:
    return [application(row, table), transport(row, table)]


def _rx_tx(row: Row, what: str) -> tuple[float, float]:
    """(received, sent) of ``bytes`` or ``packets``: what the remote end sent is received."""
    src, dst = num(row.rec.get(what + "_src")), num(row.rec.get(what + "_dst"))
    return (dst, src) if row.local_is_src else (src, dst)


def traffic_rows(row: Row, table: ConnTable) -> list[Line]:
    """Traffic Statistics as rows (the narrow layout)."""
    rb, sb = _rx_tx(row, "bytes")
    rp, sp = _rx_tx(row, "packets")
    hist = table.in_history(row)
    return [
        ("Bytes Sent", full_bytes(sb), ""),
        ("Bytes Received", full_bytes(rb), ""),
        ("Packets Sent", f"{int(sp):,}", ""),
        ("Packets Received", f"{int(rp):,}", ""),
        ("Current Rate (In)", "n/a" if hist else full_rate(row.rate_rx), "rx" if row.rate_rx else ""),
        ("Current Rate (Out)", "n/a" if hist else full_rate(row.rate_tx), "tx" if row.rate_tx else ""),
    ]


def ceiling(values: Sequence[float]) -> float:
    """A chart's top: the peak rounded up to a power of two, at least 1 KiB (RustNet's)."""
    peak = max((v for v in values if v > 0 and math.isfinite(v)), default=0.0)
    top = 1024.0
    while top < peak and top < 2.0**80:
        top *= 2
    return top


def trend(values: Sequence[float]) -> str:
    """↑, ↓ or → : the newest sample against the mean of the few before it."""
    if len(values) < 2:
        return "→"
    before = values[-5:-1]
    mean = sum(before) / len(before)
    now = values[-1]
    if now > mean * 1.1 + 1:
        return "↑"
    if now < mean * 0.9 - 1:
        return "↓"
    return "→"


def traffic_panel(row: Row, table: ConnTable, series: Sequence[float], rx: bool, cells: int) -> list[Line]:
    """One direction's panel: rate, trend and peak, the totals, and a 4-row braille chart."""
    hist = table.in_history(row)
    rate = row.rate_rx if rx else row.rate_tx
    total_b = _rx_tx(row, "bytes")[0 if rx else 1]
    total_p = _rx_tx(row, "packets")[0 if rx else 1]
    peak = max(series, default=0.0)
    head = ("↓ RX " if rx else "↑ TX ") + ("n/a" if hist else f"{full_rate(rate)} {trend(series)}")
    head += f"   peak {full_rate(peak)}"
    colour = "rx" if rx else "tx"
    lines: list[Line] = [
        (head, "", "bold"),
        (f"Total {full_bytes(total_b)}  ·  {int(total_p):,} packets", "", ""),
    ]
    chart = braille.area(list(series), max(cells, 1), 4, ceiling(series))
    lines += [(c, "", colour) for c in chart]
    return lines
