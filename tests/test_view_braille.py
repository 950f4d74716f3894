"""Braille charts against code points worked out by hand from the Unicode braille block.

A cell is U+2800 plus dot bits. Left dot column, top to bottom: dots 1, 2, 3, 7 = 0x01, 0x02,
0x04, 0x40; right column: dots 4, 5, 6, 8 = 0x08, 0x10, 0x20, 0x80. The expected characters
below are written as those sums, never computed by the module under test.
"""

from __future__ import annotations

import math

from rustnet.view import braille

FULL_LEFT = 0x01 | 0x02 | 0x04 | 0x40  # 0x47
FULL_RIGHT = 0x08 | 0x10 | 0x20 | 0x80  # 0xB8


def cell(bits: int) -> str:
    return chr(0x2800 + bits)


def test_a_full_cell_is_u28ff_and_a_full_right_column_u28b8() -> None:
    assert braille.area([4, 4], 1, 1, ceiling=4) == ["\u28ff"]
    assert braille.area([0, 4], 1, 1, ceiling=4) == ["\u28b8"]
    assert braille.area([4, 0], 1, 1, ceiling=4) == ["\u2847"]


def test_partial_columns_fill_from_the_bottom_dot_up() -> None:
    # left 1 dot (dot 7), right 2 dots (dots 8 and 6)
    assert braille.area([1, 2], 1, 1, ceiling=4) == [cell(0x40 | 0x80 | 0x20)]  # U+28E0
    # left 3 dots (7, 3, 2), right 1 dot (8)
    assert braille.area([3, 1], 1, 1, ceiling=4) == [cell(0x40 | 0x04 | 0x02 | 0x80)]  # U+28C6
    assert braille.area([1, 2], 1, 1, ceiling=4)[0] == "\u28e0"


def test_two_rows_split_the_levels_between_them() -> None:
    # ceiling 8 over 2 rows = 8 dot levels: left 8 (both rows full), right 3 (bottom row 3 dots)
    top, bottom = braille.area([8, 3], 1, 2, ceiling=8)
    assert top == cell(FULL_LEFT)  # U+2847
    assert bottom == cell(FULL_LEFT | 0x80 | 0x20 | 0x10)  # U+28F7
    # right 5 levels: bottom row full, one dot (dot 8) on the top row
    top, bottom = braille.area([0, 5], 1, 2, ceiling=8)
    assert top == cell(0x80)
    assert bottom == cell(FULL_RIGHT)


def test_newest_samples_sit_at_the_right_edge_and_missing_ones_are_blank() -> None:
    # 3 cells = 6 columns; 3 samples fill the last three columns
    (row,) = braille.area([4, 2, 4], 3, 1, ceiling=4)
    assert row == " " + cell(FULL_RIGHT) + cell(0x40 | 0x04 | FULL_RIGHT)
    # more samples than columns: only the newest 2 * width count
    assert braille.area([4, 4, 4, 0, 0, 4], 1, 1, ceiling=4) == [cell(FULL_RIGHT)]


def test_levels_round_to_the_nearest_dot_and_a_trickle_shows_one_dot() -> None:
    # 4 levels of 100: 60 -> 2.4 -> 2 dots, 65 -> 2.6 -> 3 dots
    assert braille.area([60, 65], 1, 1, ceiling=100) == [cell(0x40 | 0x04 | 0x80 | 0x20 | 0x10)]
    # 1 of 1000 rounds to 0 dots but is not nothing: one dot
    assert braille.area([1, 0], 1, 1, ceiling=1000) == [cell(0x40)]
    # over the ceiling: clipped to full
    assert braille.area([9, 9], 1, 1, ceiling=4) == [cell(FULL_LEFT | FULL_RIGHT)]


def test_without_a_ceiling_the_largest_sample_fills_the_box() -> None:
    assert braille.area([10, 5], 1, 1) == [cell(FULL_LEFT | 0x80 | 0x20)]  # 5/10 of 4 = 2 dots


def test_hanging_down_fills_from_the_top_dot() -> None:
    # left 1 dot from the top: dot 1; right 2 dots: dots 4, 5
    assert braille.area([1, 2], 1, 1, ceiling=4, down=True) == [cell(0x01 | 0x08 | 0x10)]
    # two rows down: 5 levels = the top row full, the bottom row its top dot
    top, bottom = braille.area([5, 0], 1, 2, ceiling=8, down=True)
    assert top == cell(FULL_LEFT)
    assert bottom == cell(0x01)


def test_mirrored_puts_upper_above_and_lower_below_on_one_scale() -> None:
    rows = braille.mirrored([4, 2], [0, 4], 1, 2)  # shared ceiling 4, a row each
    assert rows == [cell(FULL_LEFT | 0x80 | 0x20), cell(FULL_RIGHT)]
    rows = braille.mirrored([2, 0], [0, 8], 1, 2)  # ceiling 8 (lower's peak)
    assert rows == [cell(0x40), cell(FULL_RIGHT)]


def test_silence_and_hostile_values_draw_as_blank_cells() -> None:
    assert braille.area([0, 0, 0, 0], 2, 2) == ["  ", "  "]
    assert braille.area([math.nan, math.inf, -5, 0], 2, 1, ceiling=4) == ["  "]
    assert braille.area([], 3, 1) == ["   "]
    assert braille.area([1, 2], 0, 3) == []
    assert braille.area([1, 2], 2, 0) == []


def test_every_row_is_exactly_width_cells() -> None:
    for n in range(0, 30):
        rows = braille.area(list(range(n)), 7, 3, ceiling=20)
        assert len(rows) == 3
        assert all(len(r) == 7 for r in rows)


def test_wave_is_one_row() -> None:
    assert braille.wave([4, 0, 2, 4], 2, ceiling=4) == cell(FULL_LEFT) + cell(0x40 | 0x04 | FULL_RIGHT)
    assert braille.wave([1], 0) == ""
