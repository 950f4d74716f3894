"""The Overview table's columns, declared as data: title, width, priority, cell and sort key.

A column with a larger ``priority`` number is dropped first when the terminal is too
narrow (the remote end and the state are kept longest). Cells return *safe* text:
everything from a record goes through :func:`rustnet.view.text.safe`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from rustnet.view.model import Row, num, text
from rustnet.view.text import human_bytes, human_rate, safe


@dataclass(frozen=True)
class Column:
    code: str
    title: str
    priority: int  # 1 is kept longest
    width: int  # default cells
    min_width: int
    flex: int  # share of spare cells this column takes
    right: bool  # right-aligned (numbers)
    cell: Callable[[Row], str]
    sort_key: Callable[[Row], Any]
    descending: bool  # natural order for this column when first chosen: biggest first for numbers


def endpoint(addr: str, port: int) -> str:
    if ":" in addr:
        addr = f"[{addr}]"
    return f"{addr}:{port}" if port else addr


def _process(row: Row) -> str:
    name = row.process
    pid = row.rec.get("pid")
    if not name and pid is None:
        return "-"
    if not name:
        return safe(f"[{text(pid)}]")
    return safe(f"{name}/{text(pid)}" if pid is not None else name)


def _side(row: Row, side: str) -> str:
    s = endpoint(row.addr(side), row.port(side))
    host = row.hostname_shown(side)
    if host:
        s = f"{s} ({host})"
    if row.rec.get("gateway") == side:
        s += " (gw)"  # the default gateway (rn-enrich, live)
    return safe(s)


def _app(row: Row) -> str:
    rec = row.rec
    parts = [text(rec.get("proto")).upper(), text(rec.get("app")), row.app_detail()]
    return safe(" ".join(p for p in parts if p))


def _process_key(row: Row) -> tuple[int, str, float]:
    # Unknown processes sort last, whatever the direction's first choice.
    name = row.process.lower()
    return (0 if name else 1, name, num(row.rec.get("pid")))


def _ip_key(row: Row, side: str) -> tuple[int, str, int]:
    addr = row.addr(side)
    return (1 if ":" in addr else 0, addr, row.port(side))


COLUMNS: Final[tuple[Column, ...]] = (
    Column("process", "Process", 4, 12, 8, 1, False, _process, _process_key, False),
    Column(
        "local",
        "Local",
        6,
        21,
        10,
        0,
        False,
        lambda r: _side(r, r.local),
        lambda r: _ip_key(r, r.local),
        False,
    ),
    Column(
        "remote",
        "Remote",
        1,
        20,
        12,
        3,
        False,
        lambda r: _side(r, r.remote),
        lambda r: _ip_key(r, r.remote),
        False,
    ),
    Column(
        "service",
        "Service",
        7,
        7,
        5,
        0,
        False,
        lambda r: safe(r.field("service")) or "",
        lambda r: text(r.field("service")).lower(),
        False,
    ),
    Column("app", "Proto/App", 3, 18, 8, 4, False, _app, lambda r: _app(r).lower(), False),
    Column("state", "State", 2, 14, 6, 0, False, lambda r: safe(r.state), lambda r: r.state, False),
    Column("rx", "Rx", 5, 7, 6, 0, True, lambda r: human_rate(r.rate_rx), lambda r: r.rate_rx, True),
    Column("tx", "Tx", 5, 7, 6, 0, True, lambda r: human_rate(r.rate_tx), lambda r: r.rate_tx, True),
    Column(
        "total",
        "Total",
        8,
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
GAP: Final = 1  # cells between columns


def layout(
    total: int, adjust: dict[str, int], hidden: frozenset[str] = frozenset(), keep: str = ""
) -> list[tuple[Column, int]]:
    """Columns that fit in ``total`` cells with their widths (user adjustments applied).

    The highest priority number drops first, except ``keep`` (the column the table is
    sorted by: an order whose values are off screen would look random); spare cells go to
    flexible columns.
    """
    cols = [c for c in COLUMNS if c.code not in hidden]
    widths = {c.code: max(c.min_width, c.width + adjust.get(c.code, 0)) for c in cols}
    if keep in widths:  # room for the title and the sort arrow after it
        widths[keep] = max(widths[keep], len(COLUMNS[COLUMN_INDEX[keep]].title) + 2)

    def used(cs: list[Column]) -> int:
        return sum(widths[c.code] for c in cs) + GAP * max(len(cs) - 1, 0)

    while len(cols) > 1 and used(cols) > total:
        droppable = [c for c in cols if c.code != keep] or cols
        drop = max(droppable, key=lambda c: (c.priority, COLUMN_INDEX[c.code]))
        cols.remove(drop)
    if used(cols) > total and cols:
        widths[cols[0].code] = max(1, total)
    spare = total - used(cols)
    flex = [c for c in cols if c.flex and c.code not in adjust]
    weight = sum(c.flex for c in flex)
    if spare > 0 and weight:
        given = 0
        for i, c in enumerate(flex):
            extra = spare - given if i == len(flex) - 1 else spare * c.flex // weight
            widths[c.code] += extra
            given += extra
    return [(c, widths[c.code]) for c in cols]
