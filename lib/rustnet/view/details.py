"""The Details tab's body: every field of the selected connection, then its state history."""

from __future__ import annotations

import time
from typing import Any, Final

from rustnet.stream import fields
from rustnet.view.columns import endpoint
from rustnet.view.model import num, text
from rustnet.view.state import ViewState
from rustnet.view.text import fit, human_bytes, human_rate, safe, width
from rustnet.view.theme import Theme

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


def draw(state: ViewState, w: int, h: int, th: Theme) -> list[str]:
    items = details_lines(state)
    state.copy_targets = []
    if not items:
        return [th.dim + fit("  no connection selected (Esc: back to the overview)", w) + th.normal]
    label_w = min(max(width(k) for k, _ in items) + 2, max(w // 3, 8))
    lines = []
    for k, v in items:
        lines.append(th.bold + fit(k, label_w) + th.normal + fit(v, w - label_w))
    state.details_overflow = len(lines) > h
    state.details_scroll = top = max(0, min(state.details_scroll, len(lines) - h))
    # A click on a field's line copies its value (pointer.details).
    state.copy_targets = [(y, 0, w, k, v) for y, (k, v) in enumerate(items[top : top + h]) if k and v]
    return lines[top : top + h]
