"""The Overview tab's body: the connection table (header, rows, process groups)."""

from __future__ import annotations

from typing import Final

from rustnet.view import staleness, system
from rustnet.view.columns import (
    PORT_COLUMN,
    REMOTE_ADDRESS_COLUMN,
    Column,
    cell_text,
    hidden_for,
    layout,
    remote_name,
    swap_columns,
)
from rustnet.view.model import Row, num
from rustnet.view.state import Group, ViewState
from rustnet.view.text import compact_rate, fit, human_bytes, rtt_tone, safe
from rustnet.view.theme import Theme

MIN_ROWS: Final = 1


def draw(state: ViewState, w: int, h: int, th: Theme) -> list[str]:
    if h <= 0:
        return []
    # The selection's rates from when it was selected, for its charts in Details (one connection).
    state.conn_rates.observe(state.selected_row(), state.table.clock)
    if system.shown(state, w):
        # The table on the left, the System panel on the right (RustNet's sidebar).
        table_w = w - system.WIDTH - 1
        table = _table(state, table_w, h, th)
        table += [" " * table_w] * (h - len(table))
        return [a + b for a, b in zip(table, system.draw(state, h, th), strict=False)]
    return _table(state, w, h, th)


def _table(state: ViewState, w: int, h: int, th: Theme) -> list[str]:
    """The connection table, ``w`` cells wide: the header and the rows in view."""
    swap = (PORT_COLUMN,) * state.show_ports + (REMOTE_ADDRESS_COLUMN,) * state.show_ips
    cols = swap_columns(layout(w, state.adjust, hidden_for(state.table), keep=state.sort_code), swap)
    lines = [_header(state, cols, th)]
    rows_h = max(h - 1, MIN_ROWS)
    state.set_viewport(rows_h)
    entries = state.entries()
    if not entries:
        if state.filter:
            msg = "no connection matches the filter"
        elif state.table.input_done:
            msg = "no connections in this stream"
        else:
            msg = "waiting for connections…"
        lines.append(th.dim + fit("  " + msg, w) + th.normal)
        return lines
    end = min(state.top + rows_h, len(entries))
    for i in range(state.top, end):
        e = entries[i]
        selected = i == state.cursor
        if isinstance(e, Group):
            lines.append(_group_line(state, e, cols, selected, th))
        else:
            child = _child_mark(entries, i) if state.grouped else None
            lines.append(_row_line(state, e, cols, selected, th, child))
    return lines


def _child_mark(entries: list[Row | Group], i: int) -> str:
    """``├─`` for a process's connection with another after it, ``└─`` for its last."""
    last = i + 1 >= len(entries) or isinstance(entries[i + 1], Group)
    return "└─" if last else "├─"


def _header(state: ViewState, cols: list[tuple[Column, int]], th: Theme) -> str:
    cells = []
    for c, cw in cols:
        title = c.title
        if c.code == state.sort_code:
            title += " ▼" if c.descending != state.sort_reverse else " ▲"
        cell = fit(title, cw, c.right)
        if c.code == state.focus_col and state.focus_visible:
            cell = th.underline + cell + th.normal + th.bold
        cells.append(cell)
    return th.heading + th.bold + " ".join(cells) + th.normal


def _row_line(
    state: ViewState,
    row: Row,
    cols: list[tuple[Column, int]],
    selected: bool,
    th: Theme,
    child: str | None = None,
) -> str:
    """One connection. Historic rows are dim with State ``closed`` and rates ``n/a``; a row near
    its idle timeout is painted whole in the warn, then the err colour (RustNet's staleness);
    otherwise cells keep their own colours (state, RTT, rx green / tx blue)."""
    historic = state.table.in_history(row)
    if selected:
        base = th.selection
    elif historic:
        base = th.faint or th.dim
    else:
        tone, bold = staleness.tone(staleness.ratio(row, state.table.clock))
        base = (getattr(th, tone) if tone else "") + (th.bold if bold else "")
    plain = not base  # cells keep their own colours
    out = [base]
    for i, (c, cw) in enumerate(cols):
        if i:
            out.append(" ")
        code = c.code
        if child is not None and code == "process":
            pid = row.rec.get("pid")
            value = f"  {child} {safe(pid)}" if pid is not None else f"  {child} -"
        elif historic and code == "state":
            value = "closed"
        elif historic and code == "rate":
            value = "n/a"
        else:
            value = cell_text(c, row, cw)
        cell = fit(value, cw, c.right)
        if plain:
            cell = _paint(code, row, cell, th)
        out.append(cell)
    return "".join(out)


def _paint(code: str, row: Row, cell: str, th: Theme) -> str:
    """A cell in its own colours (only on rows that are not painted whole)."""
    style = th.columns.get(code, "")  # the theme's colour for the column, if it has one
    if code == "state":
        style = th.state_style(row.state)
    elif code == "rtt":
        tone = rtt_tone(row.rec.get("rtt_ms"))
        style = getattr(th, tone) if tone else ""
    elif code == "rate":
        rx, tx = row.rate_rx, row.rate_tx
        if not (rx > 0 or tx > 0):
            return th.dim + cell + th.normal
        cut = cell.rfind("/")
        if cut < 0:
            return cell
        left, right = cell[:cut], cell[cut + 1 :]
        if rx > 0:
            left = th.rx + left + th.normal
        if tx > 0:
            right = th.tx + right + th.normal
        return left + "/" + right
    elif code == "remote" and remote_name(row)[1]:
        style = th.dim  # a name inferred from DNS seen on the wire
    if style:
        return style + cell + th.normal
    return cell


def _group_line(state: ViewState, g: Group, cols: list[tuple[Column, int]], selected: bool, th: Theme) -> str:
    """A process's header row, RustNet's: ``▸ name (count)`` (``, hist`` when closed ones are
    among them), ``TCP:n UDP:m`` of its open connections in State, their summed rates in
    Rx↓/Tx↑ and bytes in Total; the other cells blank."""
    table = state.table
    active = [r for r in g.rows if not table.in_history(r)]
    hist = len(g.rows) - len(active)
    mark = "▸" if g.collapsed else "▾"
    label = f"{mark} {safe(g.name)} ({len(g.rows)}{', hist' if hist else ''})"
    tcp = sum(1 for r in active if r.rec.get("proto") == "tcp")
    udp = sum(1 for r in active if r.rec.get("proto") == "udp")
    rx, tx = sum(r.rate_rx for r in active), sum(r.rate_tx for r in active)
    cells = {
        "process": label,
        "state": f"TCP:{tcp} UDP:{udp}",
        "rate": f"{compact_rate(rx)}/{compact_rate(tx)}",
        "total": human_bytes(sum(num(r.rec.get("bytes")) for r in g.rows)),
    }
    out = []
    for c, cw in cols:
        out.append(fit(cells.get(c.code, ""), cw, c.right))
    if not cols:
        return ""
    if cols[0][0].code != "process":  # the name always shows, first
        out[0] = fit(label, cols[0][1])
    style = th.selection if selected else th.accent + th.bold
    return style + " ".join(out) + th.normal
