"""Draw a whole screen as one string: ``render(state, width, height, theme) -> str``.

Pure apart from keeping the selection in view (``state.set_viewport``): no terminal
I/O, so tests feed the string to ``pyte`` and assert on the screen. Every line is
placed with a cursor move and ended with clear-to-end-of-line, so a frame never
depends on the previous one and never scrolls the terminal.

The screen is the tab bar, the shown tab's body (drawn by its entry in
:mod:`rustnet.view.tabs`), the status line and the hints; the help is a box drawn over the body.
Only the visible rows are formatted: a frame costs the same with 100 or 100,000
connections once the entry list is cached (see :mod:`rustnet.view.state`).
"""

from __future__ import annotations

import sys
from typing import Final

from rustnet.view import keys, tabs
from rustnet.view.bar import TAB_PREFIX, bar_rows, tab_label, tab_spans
from rustnet.view.details import details_lines
from rustnet.view.state import ACTIVITY, TABS, ViewState
from rustnet.view.text import fit, safe, width
from rustnet.view.theme import Theme

__all__ = ["Theme", "details_lines", "help_entries", "render", "status_text", "tab_spans"]

RIGHT_HINTS: Final = (("h", "help"), ("q", "quit"))


def render(state: ViewState, width: int, height: int, theme: Theme) -> str:
    """The full screen for ``state`` at ``width`` x ``height`` cells."""
    width = max(width, 1)
    height = max(height, 1)
    top = bar_rows(height)
    lines: list[str] = _tab_bar(state, width, theme)[:top]
    n_bottom = 2 if height >= 12 else 1 if height >= 3 else 0
    body_h = max(height - top - n_bottom, 0)
    body = tabs.tab(state.tab).draw(state, width, body_h, theme)
    box = _help_box(state, width, top, body_h, theme) if state.help_open and body_h >= 3 else ""
    bottom = _bottom_lines(state, width, height, theme)  # after the body: hints follow the selection
    lines += body[:body_h]
    lines += [""] * (height - len(bottom) - len(lines))
    lines += bottom
    out = [theme.move(0, 0)]
    for y, line in enumerate(lines[:height]):
        out.append(theme.move(y, 0) + line + theme.normal + theme.clear_eol)
    out.append(box)
    return "".join(out)


# --- bars ----------------------------------------------------------------------------
def _tab_bar(state: ViewState, w: int, th: Theme) -> list[str]:
    spans = tab_spans(state, w)
    x0 = spans[0][0]
    parts = [th.bold + fit(TAB_PREFIX, x0) + th.normal] if x0 else []
    accent = [" " * x0]
    for start, end, name in spans:
        label = fit(tab_label(state, TABS.index(name), name), end - start)
        shown = name == state.tab
        parts.append((th.bold + th.accent if shown else "") + label + th.normal)
        accent.append((th.accent + "━" * (end - start) + th.normal) if shown else " " * (end - start))
    used = spans[-1][1]
    cluster = "● " + (safe(state.table.interface) or "-")
    if state.paused:
        cluster += " · PAUSED"
    rest = w - used - 2
    if rest >= 4:
        dot_style = th.err if state.table.damage else th.ok
        text = fit(cluster, min(width(cluster), rest))
        parts.append(" " * (w - used - width(text)) + dot_style + text[:1] + th.normal + text[1:])
    if len(spans) == 1:  # narrow: the shown tab alone, marked as the bar used to be
        parts = [th.reverse + fit(tab_label(state, TABS.index(state.tab), state.tab), w) + th.normal]
    return ["".join(parts), "".join(accent)]


def status_text(state: ViewState) -> str:
    """The status line's content (plain, safe text)."""
    t = state.table
    counts = t.counts()
    hist = counts.pop("history", 0)
    total = sum(counts.values())
    by_proto = " ".join(f"{safe(k)} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])[:4])
    nodes = getattr(t, "nodes", {})
    parts = [f"{len(nodes)} hosts" if len(nodes) > 1 else safe(t.interface) or "-"]
    down = getattr(t, "nodes_down", {})
    if down:
        parts.append("down: " + ", ".join(safe(n) for n in sorted(down)) + "!")  # retried meanwhile
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


def _hint_text(hints: list[tuple[str, str, bool]], labels: bool, th: Theme) -> tuple[str, int]:
    """The hints as styled text and its width; ``labels`` False: the keys alone (narrow)."""
    out: list[str] = []
    used = 0
    for key, label, on in hints:
        piece = f"{key} {label}" if labels else key
        if out:
            out.append("  ")
            used += 2
        out.append((th.reverse if on else "") + piece + (th.normal + th.muted + th.dim if on else ""))
        used += width(piece)
    return "".join(out), used


def hints_line(state: ViewState, w: int, th: Theme) -> str:
    """Context hints on the left, help and quit on the right (RustNet's status bar)."""
    if state.help_open:
        left = [("j/k", "scroll", False)] if state.help_overflow else []
        right = [("h/esc", "close", False), ("q", "quit", False)]
    else:
        left = tabs.tab(state.tab).hints(state)
        right = [(k, v, False) for k, v in RIGHT_HINTS]
    for labels in (True, False):
        ltext, lw = _hint_text(left, labels, th)
        rtext, rw = _hint_text(right, labels, th)
        if 1 + lw + 2 + rw + 1 <= w:
            return th.muted + th.dim + " " + ltext + " " * (w - lw - rw - 2) + rtext + " " + th.normal
    return th.muted + th.dim + fit(" " + "  ".join(k for k, _, _ in left + right), w) + th.normal


def _bottom_lines(state: ViewState, w: int, h: int, th: Theme) -> list[str]:
    status = th.status + fit(" " + status_text(state), w) + th.normal
    if state.filter_input is not None and not state.help_open:
        prompt = "/" + safe(state.filter_input)
        # A bad /regex/ says so where the user is typing, instead of the key hints.
        error = state.filter.error
        left = "  " + (safe(error) if error else "  ".join(f"{k} {v}" for k, v in keys.FILTER_HELP))
        # h and q would type: apply and cancel take their place on the right (RustNet's).
        right = "" if error else "  ".join(f"{k} {v}" for k, v in keys.FILTER_HELP_RIGHT) + " "
        avail = w - 1
        shown = prompt if width(prompt) <= avail else _tail(prompt, avail)
        line = th.bold + shown + th.normal + th.reverse + " " + th.normal
        rest = w - width(shown) - 1
        if rest > 0:
            if right and width(left) + 2 + width(right) <= rest:
                left += " " * (rest - width(left) - width(right)) + right
            line += th.dim + fit(left, rest) + th.normal
        second = line
    elif state.message:
        second = th.bold + fit(" " + safe(state.message), w) + th.normal
    else:
        second = hints_line(state, w, th)
    if h >= 12:
        return [status, second]
    # Small screens: one line; typing and messages win over the status.
    return [second if state.filter_input is not None or state.message else status] if h >= 3 else []


# --- help ------------------------------------------------------------------------------
def help_entries(state: ViewState) -> list[tuple[str, str]]:
    """The help's lines for the shown tab: its keys, the global keys, the tab's own sections
    (the Overview's: display, filter, mouse), then who runs with which privileges.
    A line with a title and no text is a section heading."""
    tab = tabs.tab(state.tab)
    out: list[tuple[str, str]] = []
    if tab.keys:
        out += [(tab.name, "")] + keys.help_lines(tab.keys) + [("", "")]
    out += [("Global", "")] + keys.help_lines(keys.GLOBAL_KEYS)
    for title, lines in tab.help_extra():
        out += [("", ""), (title, "")] + list(lines)
    out += [("", ""), ("Privileges", "")]
    sandboxes = dict(state.table.sandboxes)
    for stage, held in state.table.privileges:
        out.append((safe(stage), safe(held)))
        out += [("", safe(line)) for line in sandboxes.get(stage, [])]
    out += [("viewer", viewer_privileges())]
    out += [("", line) for line in viewer_sandbox()]
    return out


def viewer_privileges() -> str:
    """This process's user and capabilities (the viewer's own line under Privileges)."""
    from rustnet.caps import current

    return current().describe()


def viewer_sandbox() -> list[str]:
    """This viewer's own sandbox in lines (none when it applied none)."""
    sandbox = sys.modules.get("rustnet.sandbox")  # loaded only when this viewer applied one
    own = sandbox.status if sandbox is not None else None
    return own.lines() if own is not None else []


def help_box_rect(w: int, top: int, body_h: int, n_items: int) -> tuple[int, int, int, int]:
    """(x, y, width, height) of the help box: centred over the body, as big as it needs."""
    bw = w if w < 30 else min(w - 4, 92)
    bh = min(body_h, n_items + 2)
    return (w - bw) // 2, top + (body_h - bh) // 2, bw, bh


def _help_box(state: ViewState, w: int, top: int, body_h: int, th: Theme) -> str:
    items = help_entries(state)
    x, y, bw, bh = help_box_rect(w, top, body_h, len(items))
    inner = bw - 2
    rows = bh - 2
    state.help_overflow = len(items) > rows
    state.help_scroll = max(0, min(state.help_scroll, len(items) - rows))
    key_w = min(max(width(k) for k, v in items if v) + 2, max(inner // 3, 8))
    shown = "Interfaces" if state.tab == ACTIVITY and state.activity.interfaces else state.tab
    title = f" Help · {shown} "
    border = th.border
    top_line = ("─" + title + "─" * inner)[:inner] if width(title) + 1 <= inner else "─" * inner
    out = [th.move(y, x) + border + "┌" + top_line + "┐" + th.normal]
    for i, (k, v) in enumerate(items[state.help_scroll : state.help_scroll + rows]):
        if k and not v:
            cell = th.heading + th.bold + th.underline + fit(k, inner) + th.normal
        else:
            cell = th.key + fit(k, key_w) + th.normal + fit(v, inner - key_w)
        out.append(th.move(y + 1 + i, x) + border + "│" + th.normal + cell + border + "│" + th.normal)
    for i in range(len(items[state.help_scroll : state.help_scroll + rows]), rows):
        out.append(th.move(y + 1 + i, x) + border + "│" + th.normal + " " * inner + border + "│" + th.normal)
    out.append(th.move(y + bh - 1, x) + border + "└" + "─" * inner + "┘" + th.normal)
    return "".join(out)
