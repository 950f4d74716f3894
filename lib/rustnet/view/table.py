"""``rn-view --table``: one plain-text snapshot of the Overview, for scripts and logs.

Same columns, sort and filter as the TUI, no escape sequences at all; fields are made
safe the same way. Columns are as wide as their content (capped) unless a width is
given, in which case low-priority columns drop as in the TUI.
"""

from __future__ import annotations

from typing import Final

from rustnet.view.columns import COLUMNS, GAP, cell_text, hidden_for, layout
from rustnet.view.model import Row
from rustnet.view.state import ViewState
from rustnet.view.text import fit, width

MAX_CELL: Final = 48


def table_lines(state: ViewState, total_width: int | None = None) -> list[str]:
    """The header and one line per shown connection."""
    rows = [e for e in state.entries() if isinstance(e, Row)]
    if total_width is not None:
        cols = layout(total_width, state.adjust, hidden_for(state.table), keep=state.sort_code)
        widths = [w for _, w in cols]
        columns = [c for c, _ in cols]
        cells = [[cell_text(c, r, w) for c, w in cols] for r in rows]
    else:
        hidden = hidden_for(state.table)
        columns = [c for c in COLUMNS if c.code not in hidden]
        cells = [[c.cell(r) for c in columns] for r in rows]
        widths = [
            min(max([width(c.title)] + [width(row[i]) for row in cells]), MAX_CELL)
            for i, c in enumerate(columns)
        ]
    sep = " " * GAP
    lines = [sep.join(fit(c.title, w, c.right) for c, w in zip(columns, widths, strict=True)).rstrip()]
    for row in cells:
        lines.append(
            sep.join(fit(v, w, c.right) for v, c, w in zip(row, columns, widths, strict=True)).rstrip()
        )
    return lines
