"""The Graph tab: traffic over time, connection lifecycle, health, TCP totals, states, apps, processes.

Layout (RustNet's): a top row (8 lines or more) split 70/30 into Traffic Over Time and
Connection Lifecycle; a middle row of 10 lines split 35/35/30 into Network Health, TCP
Counters and TCP States; a bottom row of 12 lines split 50/50 into Application Distribution
and Top Processes. A screen too short for that shrinks the rows in proportion.

Time series come from what the table keeps as records arrive (``table.traffic`` and
``table.graph``); the per-connection panels (states, applications, processes) count the
active connections when the tab is drawn, once per table version, so a hidden Graph costs
nothing. Rates are bytes/s in 1024-based units; every bar and gauge is drawn from plain
characters, coloured here.
"""

from __future__ import annotations

import math
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from rustnet.view import braille
from rustnet.view.graphcount import TCP_LABEL, ActiveTally
from rustnet.view.graphstats import GraphMetrics, mean
from rustnet.view.text import fit, full_rate, safe, width
from rustnet.view.traffic import CAPTURED

if TYPE_CHECKING:
    from rustnet.view.state import ViewState
    from rustnet.view.theme import Theme

WAITING: Final = "Waiting for traffic data..."
NO_CONNECTIONS: Final = "No connections"
NO_PROCESSES: Final = "No active processes"
TRAFFIC_FLOOR: Final = 1024.0  # the traffic charts' ceiling is at least 1 KB/s
LIFECYCLE_FLOOR: Final = 1.0  # and the lifecycle charts' at least 1 connection/s
EASE_UP: Final = 1.2  # seconds a ceiling takes to rise to a new peak
EASE_DOWN: Final = 6.0  # and to come down after one
TREND_SAMPLES: Final = 6
TREND_SHARE: Final = 0.05  # a slope within 5 % of the current value per sample is flat
SMOOTH: Final = 3  # each traffic point is the mean of itself and the two samples before it
RTT_SCALE: Final = 200.0  # ms at a full RTT gauge
LOSS_SCALE: Final = 10.0  # percent at a full loss gauge
TOP_PROCESSES: Final = 5
PROCESS_NAME: Final = 20  # longer names are cut to 17 characters + "..."
BAR: Final = "█"
GAUGE_EMPTY: Final = "░"
TCP_ORDER: Final = tuple(TCP_LABEL.values()) + ("UNKNOWN",)
APPS: Final = ("HTTPS", "QUIC", "HTTP", "DNS", "SSH", "Other")


# --- numbers --------------------------------------------------------------------------------
def power_ceiling(peak: float, floor: float) -> float:
    """max(peak, floor) rounded up to a power of two."""
    top = max(peak, floor) if math.isfinite(peak) else floor
    return float(2 ** math.ceil(math.log2(top))) if top > 0 else 1.0


def trend(values: Sequence[float]) -> str:
    """↗, → or ↘: the least-squares slope of the last samples against 5 % of the newest one."""
    tail = list(values[-TREND_SAMPLES:])
    n = len(tail)
    if n < 2:
        return "→"
    mx = (n - 1) / 2
    my = sum(tail) / n
    slope = sum((x - mx) * (y - my) for x, y in enumerate(tail)) / sum((x - mx) ** 2 for x in range(n))
    band = abs(tail[-1]) * TREND_SHARE
    if slope > band and slope > 1e-9:
        return "↗"
    if slope < -band and slope < -1e-9:
        return "↘"
    return "→"


def smoothed(values: Sequence[float]) -> list[float]:
    """Each point the mean of itself and up to two samples before it."""
    out = []
    for i in range(len(values)):
        window = values[max(0, i - SMOOTH + 1) : i + 1]
        out.append(sum(window) / len(window))
    return out


@dataclass
class Ceiling:
    """A chart's top that eases towards its target: up over EASE_UP s, down over EASE_DOWN s."""

    value: float = 0.0
    at: float = 0.0

    def toward(self, target: float, now: float) -> float:
        if self.value <= 0 or now < self.at:
            self.value = target
        else:
            span = EASE_UP if target > self.value else EASE_DOWN
            step = min((now - self.at) / span, 1.0)
            self.value += (target - self.value) * step
        self.at = now
        return self.value


@dataclass
class GraphView:
    """What the Graph keeps between frames: eased ceilings, and the counts of the last table version."""

    ceilings: dict[str, Ceiling] = field(default_factory=dict)
    counted: tuple[Any, ...] | None = None
    counts: Counts | None = None
    tally: ActiveTally = field(default_factory=ActiveTally)
    frozen: tuple[int, int, list[str]] | None = None  # (width, height, lines) shown while paused

    def ceiling(self, name: str, target: float, now: float) -> float:
        return self.ceilings.setdefault(name, Ceiling()).toward(target, now)


@dataclass
class Counts:
    """Active connections by TCP state, by application and rate by process."""

    active: int = 0
    tcp_states: dict[str, int] = field(default_factory=dict)
    apps: dict[str, int] = field(default_factory=dict)
    processes: list[tuple[str, float]] = field(default_factory=list)


_VIEWS: weakref.WeakKeyDictionary[Any, GraphView] = weakref.WeakKeyDictionary()


def _view(state: ViewState) -> GraphView:
    view = _VIEWS.get(state)
    if view is None:
        view = _VIEWS[state] = GraphView()
    return view


def count(state: ViewState) -> Counts:
    """The active connections counted (history is never part of the Graph); brought up to date
    by difference once per table version, only when the tab is drawn."""
    table = state.table
    view = _view(state)
    key = (table.version, id(table.rows), state.hide_localhost)
    if view.counted == key and view.counts is not None:
        return view.counts
    tally = view.tally
    tally.update(table, state.hide_localhost)
    view.counts = Counts(
        tally.active, dict(tally.tcp_states), dict(tally.apps), tally.top_processes(TOP_PROCESSES)
    )
    view.counted = key
    return view.counts


# --- boxes ----------------------------------------------------------------------------------
Segment = tuple[str, str]  # (style, already-safe text)


def line(segments: Sequence[Segment], cells: int, th: Theme) -> str:
    """Styled segments cut or padded to exactly ``cells`` cells."""
    out: list[str] = []
    used = 0
    for style, text_ in segments:
        if used >= cells:
            break
        w = width(text_)
        if used + w > cells:
            text_ = fit(text_, cells - used)
            w = cells - used
        out.append(style + text_ + th.normal if style else text_)
        used += w
    if used < cells:
        out.append(" " * (cells - used))
    return "".join(out)


def box(title: str, inner: list[str], w: int, h: int, th: Theme) -> list[str]:
    """A bordered panel of ``w`` x ``h`` cells; ``inner`` lines are already ``w - 2`` cells wide."""
    if w <= 0 or h <= 0:
        return [" " * max(w, 0)] * max(h, 0)
    if w < 4 or h < 2:
        return [fit(title, w)] + [" " * w] * (h - 1)
    iw = w - 2
    label = fit(f" {title} ", iw) if width(title) + 2 > iw else f" {title} "
    top = (
        th.border
        + "┌"
        + th.normal
        + th.bold
        + label
        + th.normal
        + th.border
        + "─" * (iw - width(label))
        + "┐"
        + th.normal
    )
    side = th.border + "│" + th.normal
    rows = [top]
    for i in range(h - 2):
        rows.append(side + (inner[i] if i < len(inner) else " " * iw) + side)
    rows.append(th.border + "└" + "─" * iw + "┘" + th.normal)
    return rows


def _split(total: int, shares: Sequence[int]) -> list[int]:
    sizes = [total * s // 100 for s in shares[:-1]]
    return sizes + [total - sum(sizes)]


def _rows_heights(h: int) -> tuple[int, int, int]:
    """RustNet's rows (top 8 or more, middle 10, bottom 12); a shorter screen first takes the
    middle and bottom rows' spare lines (they need 5 and 8), then shrinks all three alike."""
    if h >= 30:
        return h - 22, 10, 12
    if h >= 21:
        over = 30 - h
        bottom = 12 - min(over, 4)
        mid = 10 - (over - (12 - bottom))
        return 8, mid, bottom
    if h >= 19:
        return h - 13, 5, 8  # the charts give up lines first, down to 6
    top, mid = h * 8 // 21, h * 5 // 21
    return top, mid, h - top - mid


# --- panels ---------------------------------------------------------------------------------
def _series_header(label: str, style: str, now: str, glyph: str, peak: str, iw: int, th: Theme) -> str:
    return line([(style + th.bold, label), ("", f"  {now} {glyph}"), (th.dim, f"  peak {peak}")], iw, th)


def _chart(
    view: GraphView, name: str, values: Sequence[float], floor: float, iw: int, rows: int, now: float
) -> list[str]:
    peak = max(values, default=0.0)
    top = view.ceiling(name, power_ceiling(peak, floor), now)
    return braille.area(values, iw, rows, top)


def _halves(ih: int) -> tuple[int, int]:
    """Chart rows for the upper and lower series of a panel with ``ih`` inner lines (2 are headers)."""
    rows = max(ih - 2, 0)
    return rows - rows // 2, rows // 2


def traffic_panel(state: ViewState, view: GraphView, w: int, h: int, th: Theme, now: float) -> list[str]:
    iw, ih = max(w - 2, 0), max(h - 2, 0)
    history = state.table.traffic
    rx_raw, tx_raw = list(history.series("rx")), list(history.series("tx"))
    # Without interface counters (a capture file, a stream without ifstats) the series is what
    # was captured: the title says so, as the two can differ (loopback, other hosts' traffic).
    title = "Traffic Over Time (60s)"
    if len(rx_raw) < 2 and len(tx_raw) < 2:
        return box(title, [line([(th.dim, WAITING)], iw, th)], w, h, th)
    if history.source == CAPTURED:
        title += " · captured"
    inner: list[str] = []
    up, down = _halves(ih)
    # RustNet's colours: rx text green over a blue wave, tx text blue over a green wave.
    for label, style, wave, raw, rows in (
        ("↓ RX", th.rx, th.rx_wave, rx_raw, up),
        ("↑ TX", th.tx, th.tx_wave, tx_raw, down),
    ):
        values = smoothed(raw)
        current = values[-1] if values else 0.0
        inner.append(
            _series_header(
                label, style, full_rate(current), trend(values), full_rate(max(values, default=0.0)), iw, th
            )
        )
        for chart_row in _chart(view, label, values, TRAFFIC_FLOOR, iw, rows, now):
            inner.append(wave + chart_row + th.normal)
    return box(title, inner, w, h, th)


def lifecycle_panel(
    state: ViewState, view: GraphView, counts: Counts, w: int, h: int, th: Theme, now: float
) -> list[str]:
    iw, ih = max(w - 2, 0), max(h - 2, 0)
    metrics: GraphMetrics = state.table.graph
    retained = state.table.counts().get("history", 0)
    inner = [
        line(
            [
                (th.bold, f"{counts.active:,}"),
                ("", " active  "),
                (th.bold, f"{retained:,}"),
                ("", " retained"),
            ],
            iw,
            th,
        )
    ]
    up, down = _halves(ih - 1)
    for label, style, series, rate, rows in (
        ("OPENED", th.ok, metrics.opened, metrics.opened_rate(), up),
        ("CLOSED", th.err, metrics.closed, metrics.closed_rate(), down),
    ):
        values = [float(v) for v in series]
        head = f" {rate:.1f}/s {trend(values)}"
        peak = f"  peak {max(values, default=0.0):.1f}/s"
        if len(label) + width(head) + len(peak) > iw:
            peak = ""  # a narrow panel keeps the rate and trend whole
        inner.append(line([(style + th.bold, label), ("", head), (th.dim, peak)], iw, th))
        for chart_row in _chart(view, label, values, LIFECYCLE_FLOOR, iw, rows, now):
            inner.append(style + chart_row + th.normal)
    return box("Connection Lifecycle", inner, w, h, th)


def _tone(value: float, green_below: float, yellow_below: float, th: Theme) -> str:
    return th.ok if value < green_below else th.warn if value < yellow_below else th.err


def gauge(label: str, value: float | None, scale: float, shown: str, style: str, iw: int, th: Theme) -> str:
    """``label [████░░░░]  shown``: the bar takes the width the label and value leave."""
    bar_w = max(iw - len(label) - width(shown) - 4, 0)
    filled = 0 if value is None else min(round(value / scale * bar_w), bar_w)
    if value is not None and value > 0 and filled == 0 and bar_w:
        filled = 1
    return line(
        [
            (th.bold, label),
            ("", " "),
            (style, BAR * filled),
            (th.dim, GAUGE_EMPTY * (bar_w - filled)),
            ("", " "),
            (style, shown),
        ],
        iw,
        th,
    )


def health_panel(state: ViewState, w: int, h: int, th: Theme) -> list[str]:
    iw = max(w - 2, 0)
    metrics: GraphMetrics = state.table.graph
    rtt, loss = metrics.rtt_now(), metrics.loss_now()
    rtt_text = f"{rtt:>6.1f}ms" if rtt is not None else "    --"
    loss_text = f"{loss:>5.2f}%" if loss is not None else "   --"
    rtt_style = _tone(rtt, 50, 150, th) if rtt is not None else th.dim
    loss_style = _tone(loss, 1, 5, th) if loss is not None else th.dim
    avg_rtt, avg_loss = mean(metrics.rtt), mean(metrics.loss)
    avg = (f"{avg_rtt:.1f}ms" if avg_rtt is not None else "--") + " / "
    avg += f"{avg_loss:.2f}%" if avg_loss is not None else "--"
    inner = [
        gauge("RTT ", rtt, RTT_SCALE, rtt_text, rtt_style, iw, th),
        gauge("Loss", loss, LOSS_SCALE, loss_text, loss_style, iw, th),
        line([(th.dim, "avg: "), ("", avg)], iw, th),
    ]
    return box("Network Health", inner, w, h, th)


def counters_panel(state: ViewState, w: int, h: int, th: Theme) -> list[str]:
    iw = max(w - 2, 0)
    totals = state.table.graph.totals
    inner = []
    for label, key, yellow_below in (
        ("Retransmits", "retransmits", 100),
        ("Out of Order", "out_of_order", 50),
        ("Fast Retrans", "fast_retransmits", 50),
    ):
        n = totals[key]
        style = th.ok if n == 0 else th.warn if n < yellow_below else th.err
        value = f"{n:,}"
        inner.append(line([("", fit(label, max(iw - width(value), 0))), (style + th.bold, value)], iw, th))
    return box("TCP Counters", inner, w, h, th)


def _bars(
    rows: list[tuple[str, int]], label_w: int, suffix: Any, iw: int, th: Theme, style: str
) -> list[str]:
    """``label bar suffix`` lines, bars scaled to the largest count."""
    if not rows:
        return []
    most = max(n for _, n in rows)
    out = []
    for label, n in rows:
        tail = suffix(n)
        bar_w = max(iw - label_w - width(tail) - 2, 0)
        filled = max(round(n / most * bar_w), 1 if n else 0) if most else 0
        filled = min(filled, bar_w)
        out.append(
            line(
                [
                    ("", fit(label, label_w)),
                    ("", " "),
                    (style, BAR * filled),
                    ("", " " * (bar_w - filled + 1)),
                    (th.bold, tail),
                ],
                iw,
                th,
            )
        )
    return out


def states_panel(counts: Counts, w: int, h: int, th: Theme) -> list[str]:
    iw = max(w - 2, 0)
    rows = [(label, counts.tcp_states[label]) for label in TCP_ORDER if counts.tcp_states.get(label)]
    inner = _bars(rows, 10, lambda n: f"{n:,}", iw, th, th.accent)
    if not inner:
        inner = [line([(th.dim, "No TCP connections")], iw, th)]
    return box("TCP States", inner, w, h, th)


def apps_panel(counts: Counts, w: int, h: int, th: Theme) -> list[str]:
    iw = max(w - 2, 0)
    total = sum(counts.apps.values())
    rows = [(label, counts.apps[label]) for label in APPS if counts.apps.get(label)]
    inner = _bars(rows, 6, lambda n: f"{n / total * 100:5.1f}%", iw, th, th.ok)
    if not inner:
        inner = [line([(th.dim, NO_CONNECTIONS)], iw, th)]
    return box("Application Distribution", inner, w, h, th)


def process_label(name: str) -> str:
    name = safe(name)
    return name[:17] + "..." if len(name) > PROCESS_NAME else name


def processes_panel(counts: Counts, w: int, h: int, th: Theme) -> list[str]:
    iw = max(w - 2, 0)
    if not counts.processes:
        return box("Top Processes", [line([(th.dim, NO_PROCESSES)], iw, th)], w, h, th)
    rate_w = 12
    name_w = max(iw - rate_w - 1, 1)
    inner = [line([(th.bold, fit("Process", name_w) + " " + fit("Rate", rate_w, right=True))], iw, th)]
    for name, rate in counts.processes:
        inner.append(
            line(
                [
                    ("", fit(process_label(name), name_w) + " "),
                    (th.rx, fit(full_rate(rate), rate_w, right=True)),
                ],
                iw,
                th,
            )
        )
    return box("Top Processes", inner, w, h, th)


def _beside(panels: list[list[str]], h: int) -> list[str]:
    return ["".join(p[i] for p in panels) for i in range(h)]


def draw(state: ViewState, w: int, h: int, th: Theme) -> list[str]:
    """The Graph tab's ``h`` lines of ``w`` cells."""
    if h <= 0 or w <= 0:
        return []
    view = _view(state)
    if not state.paused:
        view.frozen = None
    elif view.frozen is not None and view.frozen[:2] == (w, h):
        return view.frozen[2]  # paused: the frame as it was (a resize draws it again, then holds)
    now = time.monotonic()
    counts = count(state)
    top_h, mid_h, bot_h = _rows_heights(h)
    left, right = _split(w, (70, 30))
    out = _beside(
        [
            traffic_panel(state, view, left, top_h, th, now),
            lifecycle_panel(state, view, counts, right, top_h, th, now),
        ],
        top_h,
    )
    a, b, c = _split(w, (35, 35, 30))
    out += _beside(
        [
            health_panel(state, a, mid_h, th),
            counters_panel(state, b, mid_h, th),
            states_panel(counts, c, mid_h, th),
        ],
        mid_h,
    )
    left, right = _split(w, (50, 50))
    out += _beside([apps_panel(counts, left, bot_h, th), processes_panel(counts, right, bot_h, th)], bot_h)
    if state.paused:
        view.frozen = (w, h, out)
    return out
