"""Sorting the Overview: by any column, each in its natural direction unless reversed.

Numbers (rates, totals) sort biggest first, text A to Z; ``S`` flips that. Sorting is
stable, so rows that tie keep the order they first appeared in.
"""

from __future__ import annotations

from collections.abc import Iterable

from rustnet.view.columns import COLUMN_INDEX, COLUMNS
from rustnet.view.model import Row

SORT_CODES = tuple(c.code for c in COLUMNS)
DEFAULT_SORT = "total"


def sort_rows(rows: Iterable[Row], code: str, reverse: bool = False) -> list[Row]:
    """``rows`` ordered by column ``code`` (its natural direction, flipped by ``reverse``)."""
    col = COLUMNS[COLUMN_INDEX.get(code, COLUMN_INDEX[DEFAULT_SORT])]
    return sorted(rows, key=col.sort_key, reverse=col.descending != reverse)


def next_sort(code: str, skip: frozenset[str] = frozenset()) -> str:
    """The column ``s`` moves the sort to after ``code``, passing over those in ``skip`` (not
    shown for this stream: Loc without GeoIP, as RustNet's Location)."""
    codes = [c for c in SORT_CODES if c not in skip or c == code]
    i = codes.index(code) if code in codes else -1
    return codes[(i + 1) % len(codes)]
