"""The Activity tab: processes ranked by egress or ingress, traffic and interface pulse, and the
Interface Statistics table (``i``).

Layout, top to bottom: Traffic Pulse (9 rows), Top Processes (the rest), and a bottom row of 9
split 58/42 between the 60 s share bars and the Interface Pulse. Short terminals lose the
bottom row first, then the pulse. Columns of the process table drop by width: Pulse, Remote
and Top remote peer need 90 columns; Peak, Iface 60s and the 60 s bytes need 132.
"""

from __future__ import annotations

import re
from typing import Any, Final

from rustnet.stream.bounds import MAX_IFACES
from rustnet.view.activity import (
    PROCESS,
    ActivityView,
    ProcessLine,
    Snapshot,
    ranked,
    sort_title,
)
from rustnet.view.state import ViewState
from rustnet.view.text import compact_rate as table_rate
from rustnet.view.text import fit, full_bytes, full_rate, safe, width
from rustnet.view.theme import Theme
from rustnet.view.traffic import AGGREGATE, InterfaceRow

PULSE_ROWS: Final = 9
BOTTOM_ROWS: Final = 9
TOP_ROWS: Final = 10
WIDE: Final = 90
WIDER: Final = 132
LEGEND: Final = (
    "60s coverage = captured ÷ interface  |  Retained = active + recent closed  |  "
    "Attribution = mapped to PID/name"
)
_EIGHTHS: Final = " ▏▎▍▌▋▊▉"


# --- formats --------------------------------------------------------------------------------------
def compact_rate(n: float) -> str:
    """A rate in a few cells (``3.1M``, ``928K``), and ``0B`` for nothing (the interface pulse)."""
    return table_rate(n) if n > 0 else "0B"


def percent(part: float, whole: float) -> str:
    """``part`` of ``whole`` in whole percent, capped at 100; 99 until it is really all of it."""
    if not whole > 0:
        return "-"
    share = min(max(part / whole, 0.0), 1.0) * 100
    return f"{min(round(share), 99) if share < 100 else 100}%"


def bar(fraction: float, cells: int) -> str:
    """A horizontal bar ``cells`` wide filled to ``fraction`` (eighths of a cell)."""
    if cells <= 0:
        return ""
    f = max(0.0, min(fraction, 1.0)) if fraction == fraction else 0.0
    eighths = round(f * cells * 8)
    full, part = divmod(eighths, 8)
    out = "█" * full + (_EIGHTHS[part] if part else "")
    return out + " " * (cells - width(out))


# --- the tab ---------------------------------------------------------------------------------------
def draw(s: ViewState, w: int, h: int, th: Theme) -> list[str]:
    """The Activity tab's body, ``h`` lines of ``w`` cells."""
    if h <= 0:
        return []
    view: ActivityView = s.activity
    if view.interfaces:
        return interface_table(s, w, h, th)
    snap = view.numbers(s.table, s.hide_localhost)
    colour = th.tx if view.direction == "tx" else th.rx  # Egress blue, Ingress green
    bottom = BOTTOM_ROWS if h >= PULSE_ROWS + BOTTOM_ROWS + 6 else 0
    pulse = PULSE_ROWS if h >= PULSE_ROWS + 6 else 0
    lines = traffic_pulse(s, snap, w, th)[:pulse] if pulse else []
    middle = h - pulse - bottom
    lines += top_processes(s, snap, w, middle, th, colour)
    if bottom:
        lines += side_by_side(
            share_bars(s, snap, w * 58 // 100, th, colour),
            interface_pulse(s, w - w * 58 // 100 - 1, th, colour),
            w * 58 // 100,
            th,
        )[:bottom]
    return lines[:h]


def rule(text_: str, w: int) -> str:
    """A section title drawn into a horizontal rule exactly ``w`` cells wide."""
    head = "─ " + text_ + " "
    if width(head) >= w:
        return fit(head, w)
    return head + "─" * (w - width(head))


def _title(text_: str, w: int, th: Theme) -> str:
    return th.heading + th.bold + rule(text_, w) + th.normal


def traffic_pulse(s: ViewState, snap: Snapshot, w: int, th: Theme) -> list[str]:
    table = s.table
    ifaces = table.interfaces
    captured_rx, captured_tx = table.traffic.captured_window()
    lines = [_title("Traffic Pulse", w, th)]
    have_ifaces = len(ifaces) > 0
    if have_ifaces:
        i_rx, i_tx, approx = ifaces.window_bytes()
        cap = ifaces.captured
        name = "host aggregate" if approx or cap is None or cap in AGGREGATE else safe(cap)
        tilde = "~" if approx else ""
    for label_, captured, i_bytes, now in (
        ("TX", captured_tx, i_tx if have_ifaces else 0, snap.rate[0]),
        ("RX", captured_rx, i_rx if have_ifaces else 0, snap.rate[1]),
    ):
        if have_ifaces:
            pct = percent(captured, i_bytes)
            head = (
                f" {label_} now {full_rate(now)}   60s captured {full_bytes(captured)} / {name} "
                f"{full_bytes(i_bytes)}   {tilde}{pct} observed"
            )
            frac = min(captured / i_bytes, 1.0) if i_bytes > 0 else 0.0
            cov = f" {label_} 60s coverage "
            lines.append(fit(head, w))
            lines.append(fit(cov + bar(frac, max(w - width(cov) - 6, 0)) + f" {tilde}{pct}", w))
        else:
            lines.append(fit(f" {label_} now {full_rate(now)}   60s captured {full_bytes(captured)}", w))
            none = f" {label_} 60s coverage: no interface counters in this stream"
            lines.append(th.dim + fit(none, w) + th.normal)
    lines.append(fit(f" retained TX {full_bytes(snap.retained[0])}   RX {full_bytes(snap.retained[1])}", w))
    attr = [percent(snap.retained[d] - snap.unknown[d], snap.retained[d]) for d in (0, 1)]
    lines.append(
        fit(
            f" process attribution TX {attr[0]}  unknown {full_bytes(snap.unknown[0])}   "
            f"RX {attr[1]}  unknown {full_bytes(snap.unknown[1])}",
            w,
        )
    )
    lines.append(th.dim + fit(" " + LEGEND, w) + th.normal)
    lines.append("")
    return lines


def _columns(w: int, direction: str) -> list[tuple[str, str, int, bool]]:
    """(code, title, cells, right-aligned) of the process table's columns at width ``w``."""
    d = direction.upper()
    cols = [("process", "Process", 24 if w >= WIDER else 20, False)]
    if w >= WIDE:
        cols.append(("pulse", "Pulse", 10, False))
    cols.append(("rate", f"{d} now", 12, True))
    if w >= WIDER:
        cols.append(("peak", f"Peak {d}", 12, True))
    cols.append(("share", "60s %", 6, True))
    if w >= WIDER:
        cols.append(("iface", "Iface 60s", 9, True))
        cols.append(("window", f"{d} 60s", 11, True))
    cols.append(("retained", "Retained", 11, True))
    cols.append(("conns", "Conns", 9, True))
    if w >= WIDE:
        cols.append(("remotes", "Remote", 7, True))
        used = sum(c[2] + 1 for c in cols)
        cols.append(("peer", " Top remote peer", max(w - used, 8), False))  # a wider gap after counts
    return cols


def _cell(code: str, p: ProcessLine, d: int, snap: Snapshot, iface: tuple[float, bool]) -> str:
    if code == "process":
        return safe(p.name)
    if code == "rate":
        return full_rate(p.rate[d])
    if code == "peak":
        return full_rate(p.peak[d])
    if code == "share":
        return percent(p.window[d], snap.window[d])
    if code == "iface":
        whole, approx = iface
        pct = percent(p.window[d], whole)
        return ("~" + pct) if approx and pct != "-" else pct
    if code == "window":
        return full_bytes(p.window[d])
    if code == "retained":
        return full_bytes(p.retained[d])
    if code == "conns":
        return f"{p.active}/{p.total}"
    if code == "remotes":
        return p.remote_count()
    if code == "peer":
        return " " + safe(p.top_peer(d))
    return ""


def top_processes(s: ViewState, snap: Snapshot, w: int, h: int, th: Theme, colour: str) -> list[str]:
    if h <= 0:
        return []
    view: ActivityView = s.activity
    d = 0 if view.direction == "tx" else 1
    name = "Egress (TX)" if d == 0 else "Ingress (RX)"
    desc = (view.sort != PROCESS) != view.reverse
    title = f"Top Processes: {name} · {sort_title(view.sort, view.direction)} {'↓' if desc else '↑'}"
    lines = [colour + th.bold + rule(title, w) + th.normal]
    cols = _columns(w, view.direction)
    lines.append(th.bold + " ".join(fit(t, n, right) for _, t, n, right in cols) + th.normal)
    procs = ranked(snap, view.sort, view.direction, view.reverse)
    procs = [p for p in procs if p.total or p.window[0] or p.window[1]][:TOP_ROWS]
    if not procs:
        lines.append(th.dim + fit("  no process traffic yet", w) + th.normal)
    ifaces = s.table.interfaces
    if len(ifaces):
        i_rx, i_tx, approx = ifaces.window_bytes()
        iface = (float(i_tx if d == 0 else i_rx), approx)
    else:
        iface = (0.0, False)
    for p in procs[: max(h - 2, 0)]:
        cells = []
        for code, _, n, right in cols:
            if code == "pulse":
                share = p.window[d] / snap.window[d] if snap.window[d] > 0 else 0.0
                if not snap.window[d] and snap.retained[d] > 0:
                    share = p.retained[d] / snap.retained[d]  # nothing in the window: retained share
                cells.append(colour + bar(share, n) + th.normal)
            else:
                cells.append(fit(_cell(code, p, d, snap, iface), n, right))
        line = " ".join(cells)
        lines.append((th.warn + line + th.normal) if p.unknown else line)
    lines += [""] * (h - len(lines))
    return lines[:h]


def share_bars(s: ViewState, snap: Snapshot, w: int, th: Theme, colour: str) -> list[str]:
    view: ActivityView = s.activity
    d = 0 if view.direction == "tx" else 1
    title = ("Egress" if d == 0 else "Ingress") + " Share (60s)"
    lines = [colour + th.bold + rule(title, w) + th.normal]
    whole = snap.window[d]
    procs = sorted((p for p in snap.lines if p.window[d] > 0), key=lambda p: (-p.window[d], p.name))
    if not procs:
        lines.append(th.dim + fit("  nothing in the last 60 s", w) + th.normal)
    name_w = min(24, max(w // 3, 8))
    for p in procs[: BOTTOM_ROWS - 1]:
        pct = percent(p.window[d], whole)
        bar_w = max(w - name_w - 7, 0)
        filled = colour + bar(p.window[d] / whole, bar_w) + th.normal
        lines.append(fit(safe(p.name), name_w) + " " + filled + fit(pct, 5, True))
    return lines


def interface_pulse(s: ViewState, w: int, th: Theme, colour: str) -> list[str]:
    view: ActivityView = s.activity
    d = view.direction
    lines = [colour + th.bold + rule(f"Interface Pulse: {d.upper()}", w) + th.normal]
    rows = s.table.interfaces.rows()
    if not rows:
        lines.append(th.dim + fit("  no interface counters in this stream", w) + th.normal)
        return lines

    def rate(r: InterfaceRow) -> float:
        return r.tx_rate if d == "tx" else r.rx_rate

    rows.sort(key=lambda r: (-rate(r), r.name))
    top = max(rate(rows[0]), 0.0)
    name_w = min(12, max(w // 4, 4))
    for r in rows[: BOTTOM_ROWS - 1]:
        tail = f" ↑{compact_rate(r.tx_rate)} ↓{compact_rate(r.rx_rate)}"
        bar_w = max(w - name_w - 1 - width(tail), 0)
        frac = rate(r) / top if top > 0 else 0.0
        lines.append(fit(safe(r.name), name_w) + " " + colour + bar(frac, bar_w) + th.normal + tail)
    return lines


def side_by_side(left: list[str], right: list[str], lw: int, th: Theme) -> list[str]:
    out = []
    for i in range(max(len(left), len(right), BOTTOM_ROWS)):
        a = left[i] if i < len(left) else ""
        b = right[i] if i < len(right) else ""
        out.append(_pad(a, lw) + th.normal + th.border + "│" + th.normal + b)
    return out


def _pad(line: str, cells: int) -> str:
    """``line`` (which may hold style sequences) followed by spaces up to ``cells`` cells."""
    visible = _visible_width(line)
    return line + " " * max(cells - visible, 0)


_STYLE: Final = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\([A-Za-z0-9]")


def _visible_width(line: str) -> int:
    return width(_STYLE.sub("", line))


# --- Interface Statistics (i) ----------------------------------------------------------------------
INTERFACE_COLUMNS: Final = (
    ("Interface", 16, False),
    ("RX Rate", 12, True),
    ("TX Rate", 12, True),
    ("RX Packets", 12, True),
    ("TX Packets", 12, True),
    ("RX Err", 8, True),
    ("TX Err", 8, True),
    ("RX Drop", 8, True),
    ("TX Drop", 8, True),
    ("Collisions", 11, True),
)


def _interface_cells(r: InterfaceRow) -> list[str]:
    return [
        safe(r.name),
        full_rate(r.rx_rate),
        full_rate(r.tx_rate),
        f"{r.get('rx_packets'):,}",
        f"{r.get('tx_packets'):,}",
        f"{r.get('rx_errors'):,}",
        f"{r.get('tx_errors'):,}",
        f"{r.get('rx_dropped'):,}",
        f"{r.get('tx_dropped'):,}",
        f"{r.get('collisions'):,}",
    ]


def interface_table(s: ViewState, w: int, h: int, th: Theme) -> list[str]:
    view: ActivityView = s.activity
    table = s.table.interfaces
    lines = [_title("Interface Statistics", w, th)]
    cols: list[tuple[str, int, bool]] = []
    used = 0
    for title, n, right in INTERFACE_COLUMNS:  # columns that do not fit are left out, from the right
        if used + n + (1 if cols else 0) > w and cols:
            break
        cols.append((title, n, right))
        used += n + (1 if len(cols) > 1 else 0)
    lines.append(th.bold + " ".join(fit(t, n, right) for t, n, right in cols) + th.normal)
    rows = table.rows()
    if not rows:
        none = "  no interface counters in this stream (a capture file has none)"
        lines.append(th.dim + fit(none, w) + th.normal)
        return lines[:h]
    # What a damaged or hostile stream carried beyond what is kept: said, never silent.
    lost = []
    if table.dropped:
        lost.append(f"{table.dropped:,} interfaces beyond {MAX_IFACES} not kept")
    if table.damaged:
        lost.append(f"{table.damaged:,} damaged counters or entries left out")
    note = [th.warn + fit("  " + "; ".join(lost), w) + th.normal] if lost and h > 3 else []
    room = max(h - 2 - len(note), 1)
    view.scroll = max(0, min(view.scroll, len(rows) - room))
    for r in rows[view.scroll : view.scroll + room]:
        cells = _interface_cells(r)
        line = " ".join(fit(c, n, right) for c, (_, n, right) in zip(cells, cols, strict=False))
        if r.name == table.captured:
            line = th.bold + th.accent + line + th.normal  # the captured interface, highlighted
        lines.append(line)
    return lines[: h - len(note)] + note


# --- keys ------------------------------------------------------------------------------------------
def hints(s: ViewState) -> list[tuple[str, str, bool]]:
    """The status bar's hints on this tab: (key, label, highlighted)."""
    if s.activity.interfaces:
        return [("j/k", "scroll", False), ("i", "process activity", False), ("esc", "back", False)]
    return [
        ("d", "tx/rx", s.activity.direction == "rx"),
        ("s", "sort", False),
        ("S", "order", False),
        ("i", "interfaces", False),
        ("esc", "back", False),
    ]


def _scroll(delta: int) -> Any:
    def run(s: ViewState) -> None:
        if s.activity.interfaces:
            s.activity.scroll_by(delta)

    return run


PAGE: Final = 10
# key -> (help, action): the keys of this tab.
KEYS: Final[dict[str, tuple[str, Any]]] = {
    "d": ("egress / ingress", lambda s: s.activity.toggle_direction()),
    "s": ("sort by the next metric", lambda s: s.activity.cycle_sort()),
    "S": ("reverse the sort order", lambda s: s.activity.reverse_sort()),
    "i": ("interface statistics / process activity", lambda s: s.activity.toggle_interfaces()),
    "KEY_UP": ("scroll the interface table up", _scroll(-1)),
    "k": ("scroll the interface table up", _scroll(-1)),
    "KEY_DOWN": ("scroll the interface table down", _scroll(1)),
    "j": ("scroll the interface table down", _scroll(1)),
    "KEY_PGUP": ("scroll a page up", _scroll(-PAGE)),
    "^B": ("scroll a page up", _scroll(-PAGE)),
    "KEY_PGDOWN": ("scroll a page down", _scroll(PAGE)),
    "^F": ("scroll a page down", _scroll(PAGE)),
    "g": ("top of the interface table", _scroll(-(1 << 30))),
    "KEY_HOME": ("top of the interface table", _scroll(-(1 << 30))),
    "G": ("end of the interface table", _scroll(1 << 30)),
    "KEY_END": ("end of the interface table", _scroll(1 << 30)),
}
