"""Braille charts: a series of numbers drawn as an area chart in a width x height box of cells.

A braille cell (U+2800 + dot bits) is 2 dots wide and 4 dots high, so a box of ``width`` cells
shows the newest ``2 * width`` samples (one dot column each, oldest left) at ``4 * height``
levels. A sample's level is its share of the ceiling, rounded; a sample above zero gets at
least one dot, so a trickle never looks like silence. Values that are not finite positive
numbers (a hostile stream's NaN, inf, negatives) draw as zero.

Plain strings come out, one per row, each exactly ``width`` cells (a cell without dots is a
space): the caller colours them. :func:`area` grows up from the bottom edge; with ``down``
it hangs from the top edge, so rx above tx reads as one mirrored chart (:func:`mirrored`).
:func:`wave` is the one-row form for sidebars and table cells.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

BLANK: Final = 0x2800
DOTS_PER_CELL: Final = 4  # dot rows in one cell
# Dot bits of the left and right dot columns, from the top dot row to the bottom one
# (Unicode braille numbering: dots 1, 2, 3, 7 on the left; 4, 5, 6, 8 on the right).
LEFT_BITS: Final = (0x01, 0x02, 0x04, 0x40)
RIGHT_BITS: Final = (0x08, 0x10, 0x20, 0x80)


def _column_masks(bits: tuple[int, ...], from_bottom: bool) -> tuple[int, ...]:
    """Masks for 0..4 dots filled in one dot column, from the bottom (or the top) of the cell."""
    order = tuple(reversed(bits)) if from_bottom else bits
    masks = [0]
    for bit in order:
        masks.append(masks[-1] | bit)
    return tuple(masks)


def _cells(from_bottom: bool) -> tuple[tuple[str, ...], ...]:
    """The character for (left dots, right dots), each 0..4; no dots is a space."""
    left = _column_masks(LEFT_BITS, from_bottom)
    right = _column_masks(RIGHT_BITS, from_bottom)
    return tuple(
        tuple(chr(BLANK + (left[a] | right[b])) if a or b else " " for b in range(5)) for a in range(5)
    )


_UP: Final = _cells(from_bottom=True)
_DOWN: Final = _cells(from_bottom=False)


def _clean(value: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        return 0.0
    return v if math.isfinite(v) and v > 0 else 0.0


def levels(values: Sequence[float], columns: int, dots: int, ceiling: float | None = None) -> list[int]:
    """Dot heights (0..dots) of the newest ``columns`` samples, right-aligned: missing samples
    at the left are 0. ``ceiling`` None or not positive means the largest sample."""
    tail = [_clean(v) for v in values[-columns:]] if columns > 0 else []
    top = _clean(ceiling) if ceiling is not None else 0.0
    if top <= 0:
        top = max(tail, default=0.0)
    out = [0] * (columns - len(tail))
    for v in tail:
        if v <= 0 or top <= 0:
            out.append(0)
            continue
        n = min(int(v / top * dots + 0.5), dots)
        out.append(max(n, 1))
    return out


def area(
    values: Sequence[float], width: int, height: int, ceiling: float | None = None, *, down: bool = False
) -> list[str]:
    """``height`` rows of ``width`` braille cells charting ``values`` (newest at the right edge).

    Filled from the bottom edge up, or from the top edge down with ``down``.
    """
    if width <= 0 or height <= 0:
        return []
    dots = height * DOTS_PER_CELL
    lv = levels(values, 2 * width, dots, ceiling)
    table = _DOWN if down else _UP
    lefts, rights = lv[0::2], lv[1::2]
    rows: list[str] = []
    for r in range(height):
        # Dot levels this row covers, counted from the edge the chart grows from.
        base = (r if down else height - 1 - r) * DOTS_PER_CELL
        top = base + DOTS_PER_CELL
        rows.append(
            "".join(
                table[0 if a <= base else (DOTS_PER_CELL if a >= top else a - base)][
                    0 if b <= base else (DOTS_PER_CELL if b >= top else b - base)
                ]
                for a, b in zip(lefts, rights, strict=True)
            )
        )
    return rows


def mirrored(
    upper: Sequence[float],
    lower: Sequence[float],
    width: int,
    height: int,
    ceiling: float | None = None,
) -> list[str]:
    """Two series on one axis: ``upper`` grows up to the top half, ``lower`` hangs down from the
    middle into the bottom half (rx over tx). Both share ``ceiling`` (default: the larger peak);
    an odd ``height`` gives the extra row to ``upper``."""
    if width <= 0 or height <= 0:
        return []
    if ceiling is None or _clean(ceiling) <= 0:
        ceiling = max((_clean(v) for v in (*upper[-2 * width :], *lower[-2 * width :])), default=0.0)
    low_h = height // 2
    return area(upper, width, height - low_h, ceiling) + area(lower, width, low_h, ceiling, down=True)


def wave(values: Sequence[float], width: int, ceiling: float | None = None) -> str:
    """One row of ``width`` braille cells: the newest ``2 * width`` samples at four levels."""
    rows = area(values, width, 1, ceiling)
    return rows[0] if rows else ""
