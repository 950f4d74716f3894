"""Draw a whole screen as one string: ``render(state, width, height, theme) -> str``.

Pure apart from keeping the selection in view (``state.set_viewport``): no terminal
I/O, so tests feed the string to ``pyte`` and assert on the screen. Every line is
placed with a cursor move and ended with clear-to-end-of-line, so a frame never
depends on the previous one and never scrolls the terminal.

Only the visible rows are formatted: a frame costs the same with 100 or 100,000
connections once the entry list is cached (see :mod:`rustnet.view.state`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from rustnet.stream import fields
from rustnet.view import filter as filt
from rustnet.view import graph, keys, staleness
from rustnet.view.columns import Column, cell_text, endpoint, layout, remote_name
from rustnet.view.model import CLOSING_STATES, ESTABLISHED_STATES, HALF_OPEN_STATES, Row, num, text
from rustnet.view.state import ACTIVITY, DETAILS, GRAPH, OVERVIEW, TABS, Group, ViewState
from rustnet.view.text import fit, human_bytes, human_rate, rtt_tone, safe, width

MIN_ROWS: Final = 1


def _ansi_move(y: int, x: int) -> str:
    return f"\x1b[{y + 1};{x + 1}H"


@dataclass
class Theme:
    """Escape sequences for styles; empty strings mean plain text (NO_COLOR, tests)."""

    normal: str = ""
    bold: str = ""
    reverse: str = ""
    dim: str = ""
    underline: str = ""
    green: str = ""
    yellow: str = ""
    red: str = ""
    cyan: str = ""
    blue: str = ""
    grey: str = ""  # historic rows (dim without colour)
    bar: str = ""  # the status and tab bars
    clear_eol: str = "\x1b[K"
    move: Callable[[int, int], str] = field(default=_ansi_move)

    @classmethod
    def from_terminal(cls, term: Any, color: bool = True) -> Theme:
        """Styles from a blessed Terminal; without colour only bold/reverse/dim/underline."""
        t = cls(
            normal=str(term.normal),
            bold=str(term.bold),
            reverse=str(term.reverse),
            dim=str(term.dim),
            underline=str(term.underline),
            clear_eol=str(term.clear_eol) or "\x1b[K",
        )
        if color:
            t.green, t.yellow, t.red, t.cyan, t.blue = (
                str(term.green),
                str(term.yellow),
                str(term.red),
                str(term.cyan),
                str(term.blue),
            )
            t.bar = str(term.black_on_cyan)
            t.grey = str(term.bright_black)
        else:
            t.grey = t.dim
            t.bar = str(term.reverse)
        return t

    def state_style(self, state: str) -> str:
        if state in ESTABLISHED_STATES:
            return self.green
        if state in HALF_OPEN_STATES:
            return self.yellow
        if state in CLOSING_STATES:
            return self.red
        return ""


def render(state: ViewState, width: int, height: int, theme: Theme) -> str:
    """The full screen for ``state`` at ``width`` x ``height`` cells."""
    width = max(width, 1)
    height = max(height, 1)
    lines: list[str] = [_tab_bar(state, width, theme)]
    bottom = _bottom_lines(state, width, height, theme)
    body_h = max(height - 1 - len(bottom), 0)
    if state.tab == OVERVIEW:
        body = _overview(state, width, body_h, theme)
    elif state.tab == DETAILS:
        body = _details(state, width, body_h, theme)
    elif state.tab == GRAPH:
        body = graph.draw(state, width, body_h, theme)
    elif state.tab == ACTIVITY:
        from rustnet.view import activity_view

        body = activity_view.draw(state, width, body_h, theme)
    else:
        body = _help(state, width, body_h, theme)
    lines += body[:body_h]
    lines += [""] * (height - len(bottom) - len(lines))
    lines += bottom
    out = [theme.move(0, 0)]
    for y, line in enumerate(lines[:height]):
        out.append(theme.move(y, 0) + line + theme.normal + theme.clear_eol)
    return "".join(out)


# --- bars ----------------------------------------------------------------------------
def _tab_bar(state: ViewState, w: int, th: Theme) -> str:
    parts = []
    used = 0
    for i, name in enumerate(TABS):
        label = f" {i + 1} {name} "
        style = th.reverse + th.bold if name == state.tab else ""
        parts.append(style + label + th.normal)
        used += len(label)
    title = " rustnet"
    if state.table.interface:
        title += " · " + safe(state.table.interface)
    if state.paused:
        title += " · PAUSED"
    rest = w - used
    if rest <= 0:
        # Narrow: just the active tab.
        return th.reverse + fit(f" {state.tab} ", w) + th.normal
    return "".join(parts) + th.bold + fit(title, rest) + th.normal


def status_text(state: ViewState) -> str:
    """The status line's content (plain, safe text)."""
    t = state.table
    counts = t.counts()
    hist = counts.pop("history", 0)
    total = sum(counts.values())
    by_proto = " ".join(f"{safe(k)} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])[:4])
    parts = [safe(t.interface) or "-"]
    if t.packets_per_s is not None:
        parts.append(f"{t.packets_per_s:,.0f} pkt/s")
    drops = t.dropped + t.ifdropped
    parts.append(f"drops {drops:,}" + ("!" if drops else ""))
    shown = state.shown_rows()
    conns = f"{total:,} conns" + (f" ({by_proto})" if by_proto else "")
    if state.filter:
        conns += f", {shown:,} shown"
    parts.append(conns)
    if hist:
        parts.append(f"{hist:,} closed" + (" shown" if state.closed_shown else " (t)"))
    if t.evicted:
        parts.append(f"{t.evicted:,} evicted!")  # over the cap (--max-connections): never silent
    if t.cut:
        parts.append(f"{t.cut:,} cut!")  # values over the record limits (rustnet-records(5))
    if state.filter and state.filter_input is None:
        parts.append("filter: " + safe(state.filter.query))
    if state.filter.error:
        parts.append(safe(state.filter.error))
    if state.paused:
        parts.append("PAUSED")
    if t.input_done:
        parts.append("end of input")
    warning = t.damage or (t.messages[-1] if t.messages else "")
    if warning:
        parts.append(safe(warning))
    return " │ ".join(parts)


def _tail(text_: str, cells: int) -> str:
    """The end of ``text_`` that fits in ``cells`` cells, after an ellipsis (the typing cursor's side)."""
    out: list[str] = []
    used = 1
    for ch in reversed(text_):
        cw = width(ch)
        if used + cw > cells:
            break
        out.append(ch)
        used += cw
    return "…" + "".join(reversed(out))


def _bottom_lines(state: ViewState, w: int, h: int, th: Theme) -> list[str]:
    status = th.bar + fit(" " + status_text(state), w) + th.normal
    if state.filter_input is not None:
        prompt = "/" + safe(state.filter_input)
        # A bad /regex/ says so where the user is typing, instead of the key hints.
        error = state.filter.error
        help_txt = "  " + (safe(error) if error else "  ".join(f"{k} {v}" for k, v in keys.FILTER_HELP))
        avail = w - 1
        shown = prompt if width(prompt) <= avail else _tail(prompt, avail)
        line = th.bold + shown + th.normal + th.reverse + " " + th.normal
        rest = w - width(shown) - 1
        if rest > 0:
            line += th.dim + fit(help_txt, rest) + th.normal
        second = line
    elif state.message:
        second = th.bold + fit(" " + safe(state.message), w) + th.normal
    else:
        second = th.dim + fit(" " + "  ".join(f"{k} {v}" for k, v in keys.hints()), w) + th.normal
    if h >= 12:
        return [status, second]
    # Small screens: one line; typing and messages win over the status.
    return [second if state.filter_input is not None or state.message else status] if h >= 3 else []


# --- overview --------------------------------------------------------------------------
def _overview(state: ViewState, w: int, h: int, th: Theme) -> list[str]:
    if h <= 0:
        return []
    cols = layout(w, state.adjust, keep=state.sort_code)
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
            lines.append(_group_line(e, w, selected, th))
        else:
            lines.append(_row_line(state, e, cols, selected, th))
    return lines


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
    return th.bold + " ".join(cells) + th.normal


def _row_line(state: ViewState, row: Row, cols: list[tuple[Column, int]], selected: bool, th: Theme) -> str:
    """One connection. Historic rows are dim with State ``closed`` and rates ``n/a``; a row near
    its idle timeout is painted whole in the warn, then the err colour (RustNet's staleness);
    otherwise cells keep their own colours (state, RTT, rx green / tx blue)."""
    historic = state.table.in_history(row)
    if selected:
        base = th.reverse
    elif historic:
        base = th.grey or th.dim
    else:
        tone, bold = staleness.tone(staleness.ratio(row, state.table.clock))
        base = (getattr(th, tone) if tone else "") + (th.bold if bold else "")
    plain = not base  # cells keep their own colours
    out = [base]
    for i, (c, cw) in enumerate(cols):
        if i:
            out.append(" ")
        code = c.code
        if historic and code == "state":
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
    style = ""
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
            left = th.green + left + th.normal
        if tx > 0:
            right = th.blue + right + th.normal
        return left + "/" + right
    elif code == "remote" and remote_name(row)[1]:
        style = th.dim  # a name inferred from DNS seen on the wire
    if style:
        return style + cell + th.normal
    return cell


def _group_line(g: Group, w: int, selected: bool, th: Theme) -> str:
    rx = sum(r.rate_rx for r in g.rows)
    tx = sum(r.rate_tx for r in g.rows)
    total = sum(num(r.rec.get("bytes")) for r in g.rows)
    mark = "▸" if g.collapsed else "▾"
    label = f"{mark} {safe(g.name)}  {len(g.rows)} conn{'s' if len(g.rows) != 1 else ''}"
    rates = " ".join(
        x
        for x in (
            f"rx {human_rate(rx)}" if rx else "",
            f"tx {human_rate(tx)}" if tx else "",
            f"total {human_bytes(total)}",
        )
        if x
    )
    style = th.reverse if selected else th.cyan + th.bold
    return style + fit(f"{label}  {rates}", w) + th.normal


# --- details ---------------------------------------------------------------------------
# The fields Details shows, in the declared order, under their declared labels; a field a stream
# carries that is not declared comes after them, under its own name.
DETAIL_ORDER: Final = tuple(f.name for f in fields.CONN if f.label)
_LABELS: Final = {f.name: f.label for f in fields.CONN if f.label}
_UNITS: Final = {f.name: f.unit for f in fields.CONN if f.unit}
_HIDDEN: Final = frozenset(f.name for f in fields.CONN if not f.label)


def _fmt_value(key: str, value: Any) -> str:
    if key == "ancestors" and isinstance(value, list):
        return " > ".join(safe(v) for v in value)  # oldest first, as a process tree reads
    unit = _UNITS.get(key)
    if unit is None or not isinstance(value, (int, float)) or isinstance(value, bool):
        return safe(value)
    if unit == "epoch s":
        try:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))
            return f"{stamp}.{int((value % 1) * 1000):03d} ({value:.6f})"
        except (OverflowError, ValueError, OSError):
            return safe(value)
    if unit == "B/s":
        return f"{human_rate(value) or '0 B/s'} ({value:,.0f} B/s)"
    if unit == "bytes" and isinstance(value, int):
        return f"{value:,} ({human_bytes(value)})"
    if unit == "ms":
        return f"{value:.2f} ms"
    return safe(value)


def details_lines(state: ViewState) -> list[tuple[str, str]]:
    """(label, safe value) for every field of the selected connection, then its state history."""
    row = state.selected_row()
    if row is None:
        return []
    rec = row.rec
    out: list[tuple[str, str]] = []
    lr, rr = row.local, row.remote
    out.append(("local", safe(endpoint(row.addr(lr), row.port(lr)))))
    out.append(("remote", safe(endpoint(row.addr(rr), row.port(rr)))))
    first, last = num(rec.get("first_seen")), num(rec.get("last_seen"))
    if first and last >= first:
        out.append(("duration", f"{last - first:.3f} s"))
    keys_in_order = [k for k in DETAIL_ORDER if rec.get(k) is not None]
    keys_in_order += sorted(
        (k for k in rec if k not in _LABELS and k not in _HIDDEN and rec[k] is not None), key=text
    )
    for k in keys_in_order:
        out.append((_LABELS.get(k) or safe(k), _fmt_value(k, rec[k])))
    if row.states:
        out.append(("", ""))
        out.append(("history", f"{len(row.states)} state{'s' if len(row.states) != 1 else ''}"))
        for ts, st in row.states:
            try:
                when = "?"
                if ts:
                    when = time.strftime("%H:%M:%S", time.localtime(ts)) + f".{int((ts % 1) * 1000):03d}"
            except (OverflowError, ValueError, OSError):  # a hostile time far beyond the calendar
                when = "?"
            out.append(("", f"{when}  {safe(st)}"))
    return out


def _details(state: ViewState, w: int, h: int, th: Theme) -> list[str]:
    items = details_lines(state)
    if not items:
        return [th.dim + fit("  no connection selected (Esc: back to the overview)", w) + th.normal]
    label_w = min(max(width(k) for k, _ in items) + 2, max(w // 3, 8))
    lines = []
    for k, v in items:
        lines.append(th.bold + fit(k, label_w) + th.normal + fit(v, w - label_w))
    state.details_scroll = max(0, min(state.details_scroll, len(lines) - h))
    return lines[state.details_scroll : state.details_scroll + h]


# --- help ------------------------------------------------------------------------------
def help_entries(state: ViewState | None = None) -> list[tuple[str, str]]:
    """The help screen's lines: who runs with which privileges, the keymap, the filter keywords."""
    out: list[tuple[str, str]] = []
    if state is not None:
        out += [("PRIVILEGES", "")]
        out += [(safe(stage), safe(held)) for stage, held in state.table.privileges]
        out += [("viewer", viewer_privileges()), ("", "")]
    out += [("KEYS", "")]
    out += keys.help_lines()
    out += [("", ""), ("FILTER", "")]
    out += filt.help_lines()
    return out


def viewer_privileges() -> str:
    """This process's user and capabilities (the viewer's own line under PRIVILEGES)."""
    from rustnet.caps import current

    return current().describe()


def _help(state: ViewState, w: int, h: int, th: Theme) -> list[str]:
    items = help_entries(state)
    key_w = min(max(width(k) for k, _ in items) + 2, max(w // 3, 8))
    lines = []
    for k, v in items:
        if not v and k:
            lines.append(th.bold + th.underline + fit(k, w) + th.normal)
        else:
            lines.append(th.cyan + fit(k, key_w) + th.normal + fit(v, w - key_w))
    state.details_scroll = max(0, min(state.details_scroll, len(lines) - h))
    return lines[state.details_scroll : state.details_scroll + h]
