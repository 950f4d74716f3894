"""The System panel beside the Overview table (RustNet's sidebar, toggled with ``i``).

34 columns on the right, shown when the Overview is at least 90 columns wide: the capture
(interface, link layer, how processes are attributed), connection counts, packets processed
and dropped, TCP health (retransmits, out-of-order, fast retransmits: summed over the
connections shown now / counted since the start or the last ``x``), each stage's user,
capabilities and sandbox, traffic waves of the interface counters, and each interface's errors
and drops.

Counts that need a pass over every connection (processes, the per-connection counter sums) are
redone at most once a second and only when the table changed, so a frame stays cheap at 50,000
connections; the rest is read from what the table keeps as records come.
"""

from __future__ import annotations

import math
import textwrap
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from rustnet.view import braille
from rustnet.view.state import ViewState
from rustnet.view.text import compact_rate, fit, safe
from rustnet.view.theme import Theme
from rustnet.view.traffic import AGGREGATE

WIDTH: Final = 34  # the panel's cells (RustNet's), a rule before it
MIN_AREA: Final = 90  # the Overview must be this wide to show it
RECOUNT_EVERY: Final = 1.0  # seconds between passes over every connection (big tables)
SMALL: Final = 2_000  # connections a frame may count over every time (~0.4 ms a pass)
SMOOTH: Final = 4  # the waves' trailing average, in samples
COUNTERS: Final = (
    ("retransmits", "TCP Retransmits"),
    ("out_of_order", "Out-of-Order"),
    ("fast_retransmits", "Fast Retransmits"),
)
LINK_TYPES: Final = {
    0: "Null (BSD loopback)",
    1: "Ethernet",
    12: "RawIP",
    101: "RawIP",
    108: "Loop (BSD loopback)",
    113: "LinuxSLL",
    228: "RawIP",
    229: "RawIP",
    258: "Pktap",
    276: "LinuxSLL2",
}

Line = tuple[str, str]  # (safe text, theme style name)


@dataclass
class _Tally:
    """What a pass over every connection found."""

    processes: int = 0
    sums: dict[str, int] | None = None
    key: tuple[int, int] = (-1, 0)
    at: float = -math.inf


_TALLIES: weakref.WeakKeyDictionary[ViewState, _Tally] = weakref.WeakKeyDictionary()


def _tally(state: ViewState) -> _Tally:
    t = _TALLIES.get(state)
    if t is None:
        t = _TALLIES[state] = _Tally()
    table = state.table
    key = (table.version, id(table.rows))
    now = time.monotonic()
    # A pass costs ~2 ms per 10,000 connections: big tables are recounted once a second while
    # records flow (and at once when the input ended: no later frame would correct it).
    due = now - t.at >= RECOUNT_EVERY or len(table.rows) <= SMALL or table.input_done
    if t.key != key and (due or t.key[1] != key[1] or t.sums is None):
        names: set[str] = set()
        sums = dict.fromkeys((k for k, _ in COUNTERS), 0)
        for row in table.rows.values():
            if row.final_seq >= 0 and table.in_history(row):
                continue  # (RustNet's active sums include history; ours are of what is open)
            rec = row.rec
            p = rec.get("process")
            if type(p) is str and p:
                names.add(p)
            for k in sums:
                v = rec.get(k)
                if type(v) is int and v > 0:
                    sums[k] += min(v, 1 << 48)
        t.processes, t.sums, t.key, t.at = len(names), sums, key, now
    return t


def _wrap(head: str, sources: str) -> list[str]:
    """``head`` and the " + "-joined ``sources``, continued on indented lines to fit the panel."""
    out = [head]
    for i, part in enumerate(sources.split(" + ")):
        piece = part if i == 0 else " + " + part
        if i and len(out[-1]) + len(piece) > WIDTH:
            out.append("  " + piece)
        else:
            out[-1] += piece
    return out


def names_line(resolve_dns: bool | None, geoip: Sequence[str]) -> str:
    """``reverse DNS + GeoIP country, asn, city`` (what rn-enrich's header says it does), ``none``,
    or "" when no rn-enrich said anything."""
    if resolve_dns is None and not geoip:
        return ""
    parts = (["reverse DNS"] if resolve_dns else []) + (
        ["GeoIP " + ", ".join(safe(g) for g in geoip)] if geoip else []
    )
    return " + ".join(parts) or "none"


def sandbox_lines(described: Sequence[str]) -> list[Line]:
    """A stage's sandbox (``Sandbox: <state> · Landlock ABI vN``, what holds, why not fully
    enforced) cut to the panel's width: the state, the ABI, one bullet a line, the reason."""
    if not described:
        return []
    state, _, abi = described[0].partition(" · ")
    style = "ok" if state.endswith("Fully enforced") else "warn"
    out: list[Line] = [("  " + safe(state), style)]
    if abi:
        out.append(("  " + safe(abi), "dim"))
    if len(described) > 1:
        out += [("  • " + safe(bullet), "") for bullet in described[1].split(", ")]
    for reason in described[2:3]:
        out += [("  " + safe(piece), "dim") for piece in textwrap.wrap(reason, WIDTH - 2)[:3]]
    return out


def link_name(linktype: int | None) -> str:
    if linktype is None:
        return "-"
    return LINK_TYPES.get(linktype, f"DLT {linktype}")


def smooth(values: Sequence[float], n: int = SMOOTH) -> list[float]:
    """A trailing average over ``n`` samples (RustNet smooths its waves so)."""
    out: list[float] = []
    total = 0.0
    clean = [v if isinstance(v, (int, float)) and math.isfinite(v) and v > 0 else 0.0 for v in values]
    for i, v in enumerate(clean):
        total += v
        if i >= n:
            total -= clean[i - n]
        out.append(total / min(i + 1, n))
    return out


def wave_ceiling(values: Sequence[float]) -> float:
    """The 90th percentile of the samples shown, at least 1 KiB, rounded up to a power of two."""
    shown = sorted(v for v in values if v > 0)
    p90 = shown[min(len(shown) - 1, int(len(shown) * 0.9))] if shown else 0.0
    top = 1024.0
    while top < p90 and top < 2.0**80:
        top *= 2
    return top


def lines(state: ViewState, h: int) -> list[Line]:
    """The panel's lines (at most ``h``), each meant for :data:`WIDTH` cells."""
    table = state.table
    counts = table.counts()
    hist = counts.pop("history", 0)
    tcp, udp = counts.get("tcp", 0), counts.get("udp", 0)
    tally = _tally(state)
    out: list[Line] = [("Statistics", "bold")]
    nodes = getattr(table, "nodes", {})
    if len(nodes) > 1:
        down = getattr(table, "nodes_down", {})
        out += [(ln, "") for ln in _wrap("Hosts: ", ", ".join(safe(n) for n in sorted(nodes)))]
        for node in sorted(down):  # why each stopped; rustnet retries it meanwhile
            out += [(ln, "warn") for ln in _wrap("Down: ", safe(node) + ": " + safe(down[node]))]
    else:
        out.append(("Interface: " + (safe(table.interface) or "-"), ""))
    out.append(("Link Layer: " + link_name(table.linktype), ""))
    out += [(ln, "") for ln in _wrap("Detection: ", safe(table.attribution) or "none (no rn-enrich)")]
    names = names_line(table.resolve_dns, table.geoip)
    if names:
        out += [(ln, "") for ln in _wrap("Names: ", names)]
    out.append(("", ""))
    out.append((f"TCP Connections: {tcp:,}", ""))
    out.append((f"UDP Connections: {udp:,}", ""))
    out.append((f"Processes: {tally.processes:,}", ""))
    out.append((f"Total Connections: {sum(counts.values()):,}", ""))
    if hist:
        out.append((f"Historic: {hist:,}", "dim"))
    out.append(("", ""))
    out.append((f"Packets Processed: {table.received:,}", ""))
    pps = table.packets_per_s
    out.append((f"Packets/sec: {pps:,.0f}" if pps is not None else "Packets/sec: -", ""))
    drops = table.dropped + table.ifdropped
    out.append((f"Packets Dropped: {drops:,}" + (" (kernel)" if drops else ""), "warn" if drops else ""))
    out.append(("", ""))
    out.append(("Network Stats (active / total)", "bold"))
    totals = table.graph.totals
    sums = tally.sums or {}
    for key, label in COUNTERS:
        out.append((f"{label}: {sums.get(key, 0):,} / {int(totals.get(key, 0)):,}", ""))
    out.append((f"Active TCP Flows: {tcp:,}", ""))
    out.append(("", ""))
    out.append(("Security", "bold"))
    sandboxes = dict(table.sandboxes)
    if not table.privileges:
        out.append(("(no stage reported its privileges)", "dim"))
    for stage, held in table.privileges:
        who = held.split(" · Sandbox: ", 1)[0]
        name = stage[3:] if stage.startswith("rn-") else stage  # (34 columns: "capture", "enrich")
        out.append((f"{safe(name)}: {safe(who)}", "warn" if who.startswith("root,") else ""))
        out += sandbox_lines(sandboxes.get(stage, []))
    out.append(("", ""))
    out += traffic_lines(state, max(h - len(out), 0))
    return out[:h]


def traffic_lines(state: ViewState, room: int) -> list[Line]:
    """The Traffic section: RX and TX waves, the current rates, each interface's errors and drops."""
    if room <= 0:
        return []
    traffic = state.traffic
    rx, tx = smooth(traffic.series("rx")), smooth(traffic.series("tx"))
    cells = WIDTH - 3
    top = wave_ceiling(rx[-2 * cells :] + tx[-2 * cells :])
    title = "Traffic" + (" (captured)" if traffic.source != "interfaces" else "")
    out: list[Line] = [(title, "bold")]
    out.append(("RX " + braille.wave(rx, cells, top), "rx"))
    out.append(("TX " + braille.wave(tx, cells, top), "tx"))
    now_rx = rx[-1] if rx else 0.0
    now_tx = tx[-1] if tx else 0.0
    out.append((f"↓{compact_rate(now_rx)}/s ↑{compact_rate(now_tx)}/s", ""))
    ifaces = state.interfaces
    captured = ifaces.captured or state.table.interface
    rows = ifaces.rows()
    if captured in AGGREGATE:
        rows = [
            r for r in rows if any(r.get(c) for c in ("rx_errors", "tx_errors", "rx_dropped", "tx_dropped"))
        ]
    else:
        rows = [r for r in rows if r.name == captured]
    left = room - len(out)
    for i, r in enumerate(rows):
        if i == left - 1 and len(rows) > left:
            out.append((f"... {len(rows) - i} more", "dim"))
            break
        if i >= left:
            break
        errors = r.get("rx_errors") + r.get("tx_errors")
        dropped = r.get("rx_dropped") + r.get("tx_dropped")
        style = "err" if errors else "warn" if dropped else ""
        out.append((f"{safe(r.name)}: Err: {errors:,}  Drop: {dropped:,}", style))
    return out


def shown(state: ViewState, w: int) -> bool:
    """The panel is on (``i``) and the Overview is wide enough for it."""
    return bool(state.show_system) and w >= MIN_AREA


def draw(state: ViewState, h: int, th: Theme) -> list[str]:
    """``h`` lines of :data:`WIDTH` + 1 cells: a rule, then the panel."""
    out = []
    content = lines(state, h)
    for y in range(h):
        text_, style = content[y] if y < len(content) else ("", "")
        cell = fit(text_, WIDTH)
        st = getattr(th, style, "") if style else ""
        out.append(th.border + "│" + th.normal + (st + cell + th.normal if st else cell))
    return out
