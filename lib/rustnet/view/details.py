"""The Details tab's body: the table rows around the selection, a line naming the connection,
RustNet's cards (:mod:`rustnet.view.cards`) in two panes (one below 100 columns), then the
received and sent traffic with a chart of each since the connection was selected."""

from __future__ import annotations

from rustnet.stream import fields
from rustnet.view import cards, staleness
from rustnet.view.columns import (
    PORT_COLUMN,
    REMOTE_ADDRESS_COLUMN,
    endpoint,
    hidden_for,
    layout,
    swap_columns,
)
from rustnet.view.model import Row
from rustnet.view.overview import _group_line, _header, _row_line
from rustnet.view.state import Group, ViewState
from rustnet.view.text import fit, full_rate, rtt_compact, rtt_tone, safe, width
from rustnet.view.theme import Theme

WIDE_PANES = 100  # two panes from this many columns
MAX_CONTENT = 140  # the panes use at most this many columns


def details_lines(state: ViewState) -> list[tuple[str, str]]:
    """(label, safe value) of every card line of the selected connection, cards in order (a
    card's title is a line with an empty value)."""
    row = state.selected_row()
    if row is None:
        return []
    out: list[tuple[str, str]] = []
    for title, lines in cards.left_cards(row, state.table) + cards.right_cards(row, state.table):
        out.append((title, ""))
        out += [(label, value) for label, value, _ in lines if label or value]
    out.append((fields.TRAFFIC, ""))
    out += [(label, value) for label, value, _ in cards.traffic_rows(row, state.table)]
    return out


def _styled(th: Theme, colour: str, cell: str) -> str:
    style = getattr(th, colour, "") if colour else ""
    return style + cell + th.normal if style else cell


# A copyable value on a body line: (first cell, end cell, label, value).
Target = tuple[int, int, str, str]


def _card_text(card: cards.Card, w: int, th: Theme, x: int, targets: list[list[Target]]) -> list[str]:
    """A card's lines ``w`` cells wide; ``targets`` gets, per line, where its value can be
    clicked to copy it (the pane starts at cell ``x``)."""
    title, lines = card
    out = [th.heading + th.bold + th.underline + fit(title, w) + th.normal]
    targets.append([])
    label_w = min(cards.LABEL_W, w)
    value_w = max(w - label_w, 1)
    for label, value, colour in lines:
        if not label and not value:
            out.append(" " * w)
            targets.append([])
        elif not label:  # a note across the card
            out.append(_styled(th, colour or "muted", fit(value, w)))
            targets.append([])
        else:
            out.append(
                th.label + th.dim + fit(label, label_w) + th.normal + _styled(th, colour, fit(value, value_w))
            )
            targets.append([(x, x + w, label, value)])
    out.append(" " * w)
    targets.append([])
    return out


def _band(state: ViewState, row: Row, w: int, th: Theme) -> str:
    """``▎ process → remote``, the state as a pill, the rate and RTT chips (dropped from the right)."""
    table = state.table
    hist = table.in_history(row)
    who = safe(row.process) or "?"
    remote = safe(endpoint(row.addr(row.remote), row.port(row.remote)))
    tone, _ = staleness.tone(staleness.ratio(row, table.clock))
    head = ("▎ Historic · " if hist else "▎ ") + f"{who} → {remote}"
    parts = [(_styled(th, "faint" if hist else tone, head), width(head))]
    pill = f" {'closed' if hist else safe(row.state) or '-'} "
    parts.append((th.reverse + pill + th.normal, width(pill)))
    if not hist and (row.rate_rx or row.rate_tx):
        chip = f"{full_rate(row.rate_rx)} in · {full_rate(row.rate_tx)} out"
        parts.append((chip, width(chip)))
    rtt = row.rec.get("rtt_ms")
    if rtt is not None:
        chip = f"rtt {rtt_compact(rtt)}"
        parts.append((_styled(th, rtt_tone(rtt), chip), width(chip)))
    if state.grouped:
        parts.append((th.dim + "grouped by process" + th.normal, 18))
    out: list[str] = []
    used = 0
    for text_, cells in parts:
        gap = 2 if out else 0
        if used + gap + cells > w:
            break
        out.append(text_)
        used += gap + cells
    return "  ".join(out)


def _strip(state: ViewState, w: int, th: Theme) -> list[str]:
    """The table's header and the rows around the selection (RustNet's continuity strip)."""
    swap = (PORT_COLUMN,) * state.show_ports + (REMOTE_ADDRESS_COLUMN,) * state.show_ips
    cols = swap_columns(layout(w, state.adjust, hidden_for(state.table), keep=state.sort_code), swap)
    out = [_header(state, cols, th)]
    entries = state.entries()
    for i in (state.cursor - 1, state.cursor, state.cursor + 1):
        if 0 <= i < len(entries):
            e = entries[i]
            if isinstance(e, Group):
                out.append(_group_line(state, e, cols, i == state.cursor, th))
            else:
                out.append(_row_line(state, e, cols, i == state.cursor, th))
    return out + [""]


def draw(state: ViewState, w: int, h: int, th: Theme) -> list[str]:
    row = state.selected_row()
    state.conn_rates.observe(row, state.table.clock)
    state.copy_targets = []
    if row is None:
        return [th.dim + fit("  no connection selected (Esc: back to the overview)", w) + th.normal]
    table = state.table
    top = _strip(state, w, th) if h >= 20 else []
    top += [_band(state, row, w, th), ""]
    content_w = min(w, MAX_CONTENT)
    body: list[str] = []
    where: list[list[Target]] = []  # per body line: its copyable values
    rates = state.conn_rates
    if content_w >= WIDE_PANES:
        pane_w = (content_w - 2) // 2
        lt: list[list[Target]] = []
        rt: list[list[Target]] = []
        left = [ln for c in cards.left_cards(row, table) for ln in _card_text(c, pane_w, th, 0, lt)]
        right = [
            ln for c in cards.right_cards(row, table) for ln in _card_text(c, pane_w, th, pane_w + 2, rt)
        ]
        blank = " " * pane_w
        for i in range(max(len(left), len(right))):
            a = left[i] if i < len(left) else blank
            body.append(a + "  " + (right[i] if i < len(right) else blank))
            where.append((lt[i] if i < len(lt) else []) + (rt[i] if i < len(rt) else []))
        rx = cards.traffic_panel(row, table, list(rates.rx), True, pane_w)
        tx = cards.traffic_panel(row, table, list(rates.tx), False, pane_w)
        for (ra, _, ca), (ta, _, ct) in zip(rx, tx, strict=False):
            body.append(_styled(th, ca, fit(ra, pane_w)) + "  " + _styled(th, ct, fit(ta, pane_w)))
            where.append([])
    else:
        for c in cards.left_cards(row, table) + cards.right_cards(row, table):
            body += _card_text(c, content_w, th, 0, where)
        body += _card_text((fields.TRAFFIC, cards.traffic_rows(row, table)), content_w, th, 0, where)
    room = max(h - len(top), 0)
    state.details_overflow = len(body) > room
    state.details_scroll = scroll = max(0, min(state.details_scroll, len(body) - room))
    shown = (top + body[scroll : scroll + room])[:h]
    # A click on a field's value copies it (rustnet.view.pointer).
    state.copy_targets = [
        (len(top) + i - scroll, x0, x1, label, value)
        for i in range(scroll, min(scroll + room, len(where)))
        for x0, x1, label, value in where[i]
        if len(top) + i - scroll < h
    ]
    return shown
