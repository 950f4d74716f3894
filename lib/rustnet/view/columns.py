"""The Overview table's columns, declared as data: title, width, order of giving way, cell, sort key.

RustNet's columns and widths: Process, Remote, Local, Service, App, State, RTT, Rx↓/Tx↑, and
ours, Total. Widths depend on the terminal width only, never on the rows. When the table is too
narrow, columns give way in RustNet's order (Service, Local, RTT, then App narrows to its compact
form, then State), with Total first of all; the column the table is sorted by never gives way.
Spare cells go to Remote, App (full width only), Process and Local by weight. Cells return
*safe* text: everything from a record goes through :func:`rustnet.view.text.safe`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Final

from rustnet.view.model import Row, num, text
from rustnet.view.text import ELLIPSIS, compact_rate, human_bytes, rtt_compact, safe, width


@dataclass(frozen=True)
class Column:
    code: str
    title: str
    width: int  # base cells
    min_width: int  # the least a user's narrowing leaves
    flex: int  # share of spare cells this column takes
    right: bool  # right-aligned (numbers)
    cell: Callable[[Row], str]
    sort_key: Callable[[Row], Any]
    descending: bool  # natural order for this column when first chosen: biggest first for numbers
    compact: int = 0  # App: the narrower width it takes before State gives way (0: none)


def endpoint(addr: str, port: int) -> str:
    if ":" in addr:
        addr = f"[{addr}]"
    return f"{addr}:{port}" if port else addr


_CAST_CACHE: dict[str, str] = {}


def cast_kind(addr: str) -> str:
    """ "bcast", "mcast" or "" for an address (cached: the same few addresses repeat)."""
    hit = _CAST_CACHE.get(addr)
    if hit is None:
        hit = ""
        try:
            ip = ipaddress.ip_address(addr.split("%", 1)[0])
            if ip.is_multicast:
                hit = "mcast"
            elif addr == "255.255.255.255":  # (a directed broadcast needs the netmask: not known here)
                hit = "bcast"
        except ValueError:
            pass
        if len(_CAST_CACHE) < 100_000:
            _CAST_CACHE[addr] = hit
    return hit


def raw_endpoint(row: Row, side: str) -> str:
    """``ip:port``, or ``bcast:port`` / ``mcast:port`` for broadcast and multicast ends."""
    addr, port = row.addr(side), row.port(side)
    kind = cast_kind(addr)
    if kind:
        return f"{kind}:{port}" if port else kind
    return endpoint(addr, port)


def _process(row: Row) -> str:
    name = row.process
    pid = row.rec.get("pid")
    if not name and pid is None:
        return "-"
    if not name:
        return safe(f"({text(pid)})")
    return safe(f"{name} ({text(pid)})" if pid is not None else name)


def remote_name(row: Row) -> tuple[str, bool]:
    """The remote end's name as the Remote cell shows it, and whether it was inferred from DNS
    seen on the wire (shown ``~name``, dimmed). A name from DNS gives way to the connection's
    own SNI or HTTP Host, which the App cell shows (RustNet's rule)."""
    side = row.remote
    name = row.hostname(side)
    if not name:
        return "", False
    if row.field(f"hostname_{side}_via") == "dns":
        if row.rec.get("sni") or row.rec.get("http_host"):
            return "", False
        return "~" + name, True
    return name, False


def _remote(row: Row) -> str:
    side = row.remote
    name, _ = remote_name(row)
    if name:
        port = row.port(side)
        return safe(f"{name}:{port}" if port else name)
    s = raw_endpoint(row, side)
    if row.rec.get("gateway") == side:
        s += " (gw)"  # the default gateway (rn-enrich, live)
    return safe(s)


def fit_remote(row: Row, cell: str, cells: int) -> str:
    """The Remote cell cut to ``cells``: a long name loses its end, never its port; " (gw)"
    only when it fits."""
    if width(cell) <= cells:
        return cell
    if cell.endswith(" (gw)"):
        cell = cell[: -len(" (gw)")]
        if width(cell) <= cells:
            return cell
    name, _ = remote_name(row)
    port = row.port(row.remote)
    if name and port:
        tail = f":{port}"
        room = cells - len(tail) - 1
        if room >= 1:
            head = safe(name)
            out, used = [], 0
            for ch in head:
                cw = width(ch)
                if used + cw > room:
                    break
                out.append(ch)
                used += cw
            return "".join(out) + ELLIPSIS + tail
    return cell


def _app_name(row: Row) -> str:
    return text(row.rec.get("proto")).upper() + ("·" + text(row.rec.get("app")) if row.rec.get("app") else "")


def _app(row: Row) -> str:
    detail = row.app_detail()
    base = _app_name(row)
    return safe(f"{base} ({detail})" if detail and row.rec.get("app") else base)


def app_compact(row: Row) -> str:
    return safe(_app_name(row))


def _rate(row: Row) -> str:
    rx, tx = row.rate_rx, row.rate_tx
    return f"{compact_rate(rx)}/{compact_rate(tx)}"


def _rtt(row: Row) -> str:
    return rtt_compact(row.rec.get("rtt_ms"))


def _process_key(row: Row) -> tuple[int, str, float]:
    # Unknown processes sort last, whatever the direction's first choice.
    name = row.process.lower()
    return (0 if name else 1, name, num(row.rec.get("pid")))


def _ip_key(row: Row, side: str) -> tuple[int, str, int]:
    addr = row.addr(side)
    return (1 if ":" in addr else 0, addr, row.port(side))


def _service(row: Row) -> str:
    return safe(row.field("service")) or "-"


def _node(row: Row) -> str:
    return safe(row.rec.get("node")) or "-"


def _loc(row: Row) -> str:
    return safe(row.field("geo_country")) or "-"


NO_GEOIP: Final = frozenset(("loc", "node"))  # hidden with no GeoIP location and one host
ONE_NODE: Final = frozenset(("node",))


def hidden_for(table: Any) -> frozenset[str]:
    """Columns the stream has nothing for: Loc unless rn-enrich loaded a GeoIP Country or City
    database (its header says which), as RustNet shows it only then; Host unless the
    connections come from more than one host (merged streams)."""
    geo = getattr(table, "geoip", ())
    hidden = frozenset() if len(getattr(table, "nodes", ())) > 1 else ONE_NODE
    return hidden if ("country" in geo or "city" in geo) else hidden | {"loc"}


COLUMNS: Final[tuple[Column, ...]] = (
    Column("node", "Host", 15, 4, 1, False, _node, lambda r: text(r.rec.get("node")), False),
    Column("process", "Process", 22, 8, 2, False, _process, _process_key, False),
    Column("remote", "Remote", 21, 12, 4, False, _remote, lambda r: _ip_key(r, r.remote), False),
    Column(
        "local",
        "Local",
        18,
        10,
        1,
        False,
        lambda r: safe(raw_endpoint(r, r.local)),
        lambda r: _ip_key(r, r.local),
        False,
    ),
    Column("loc", "Loc", 4, 3, 0, False, _loc, lambda r: text(r.field("geo_country")), False),
    Column(
        "service", "Service", 10, 5, 0, False, _service, lambda r: text(r.field("service")).lower(), False
    ),
    Column("app", "App", 24, 8, 3, False, _app, lambda r: _app(r).lower(), False, compact=14),
    Column("state", "State", 12, 6, 0, False, lambda r: safe(r.state) or "-", lambda r: r.state, False),
    Column("rtt", "RTT", 7, 5, 0, True, _rtt, lambda r: num(r.rec.get("rtt_ms")), True),
    Column("rate", "Rx↓/Tx↑", 11, 7, 0, True, _rate, lambda r: r.rate_rx + r.rate_tx, True),
    Column(
        "total",
        "Total",
        7,
        5,
        0,
        True,
        lambda r: human_bytes(r.rec.get("bytes")),
        lambda r: num(r.rec.get("bytes")),
        True,
    ),
)
COLUMN_INDEX: Final = {c.code: i for i, c in enumerate(COLUMNS)}


def _remote_address(row: Row) -> str:
    side = row.remote
    s = raw_endpoint(row, side)
    if row.rec.get("gateway") == side:
        s += " (gw)"
    return safe(s)


# The columns as ``p`` (port numbers for service names) and ``d`` (addresses, no host names)
# show them: in the place and width of the column they stand in for (see swap_columns).
PORT_COLUMN: Final = replace(
    COLUMNS[COLUMN_INDEX["service"]],
    title="Port",
    cell=lambda r: str(r.port(r.remote) or "-"),
    sort_key=lambda r: r.port(r.remote),
)
REMOTE_ADDRESS_COLUMN: Final = replace(COLUMNS[COLUMN_INDEX["remote"]], cell=_remote_address)


def swap_columns(cols: list[tuple[Column, int]], swap: tuple[Column, ...]) -> list[tuple[Column, int]]:
    """``cols`` (from :func:`layout`) with the columns of ``swap`` standing in for those of their code."""
    by_code = {c.code: c for c in swap}
    return [(by_code.get(c.code, c), w) for c, w in cols]


GAP: Final = 1  # cells between columns
# RustNet's order of giving way ("app" here: App narrows to its compact width), ours (Total)
# first; then, narrower than RustNet goes, the columns RustNet always keeps, Remote last.
GIVE_WAY: Final = (
    "total",
    "loc",
    "service",
    "local",
    "rtt",
    "app",
    "state",
    "node",
    "process",
    "app",
    "rate",
)


def cell_text(col: Column, row: Row, cells: int) -> str:
    """``col``'s cell for ``row`` in ``cells`` cells, not yet padded: App in its compact form when
    narrowed, a long remote name cut before its port."""
    if col.compact and cells < col.width:
        return app_compact(row)
    value = col.cell(row)
    if col.cell is _remote:  # (not the address-only form ``d`` shows: nothing to cut by name)
        return fit_remote(row, value, cells)
    return value


def layout(
    total: int, adjust: dict[str, int], hidden: frozenset[str] = NO_GEOIP, keep: str = ""
) -> list[tuple[Column, int]]:
    """Columns that fit in ``total`` cells with their widths (user adjustments applied).

    Columns give way in :data:`GIVE_WAY` order, except ``keep`` (the column the table is
    sorted by: an order whose values are off screen would look random); spare cells go to
    flexible columns by weight.
    """
    cols = [c for c in COLUMNS if c.code not in hidden or c.code == keep]
    widths = {c.code: max(c.min_width, c.width + adjust.get(c.code, 0)) for c in cols}
    if keep in widths:  # room for the title and the sort arrow after it
        widths[keep] = max(widths[keep], width(COLUMNS[COLUMN_INDEX[keep]].title) + 2)

    def used(cs: list[Column]) -> int:
        return sum(widths[c.code] for c in cs) + GAP * max(len(cs) - 1, 0)

    compacted = False
    for code in GIVE_WAY:
        if used(cols) <= total or len(cols) <= 1:
            break
        col = COLUMNS[COLUMN_INDEX[code]]
        if col not in cols or code == keep:
            continue
        if col.compact and not compacted and code not in adjust:
            compacted = True
            widths[code] = min(widths[code], col.compact)
            continue
        cols.remove(col)
    if used(cols) > total and cols:
        # Still too wide (a tiny terminal): the widest column takes what is left.
        over = used(cols) - total
        wide = max(cols, key=lambda c: widths[c.code])
        widths[wide.code] = max(1, widths[wide.code] - over)
    spare = total - used(cols)
    flex = [c for c in cols if c.flex and c.code not in adjust and not (c.compact and compacted)]
    weight = sum(c.flex for c in flex)
    if spare > 0 and weight:
        given = 0
        for c in flex:
            extra = spare * c.flex // weight
            widths[c.code] += extra
            given += extra
        # The rounding remainder goes to Remote (or the first flexible column).
        first = next((c for c in flex if c.code == "remote"), flex[0])
        widths[first.code] += spare - given
    return [(c, widths[c.code]) for c in cols]
