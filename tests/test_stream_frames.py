"""rustnet.stream.frames.take_records: the reader's check of each record of a decoded frame.

Whatever it leaves, the reader's slower check takes or refuses the same way, so only the
function itself shows which records it took: these tests hold it to its contract with
hand-built records.
"""

from __future__ import annotations

import struct
from typing import Any

from rustnet.stream.frames import take_records

SUM = ["sum", 1.0, 60, 6, b"\x01\x02\x03\x04", 1, b"\x05\x06\x07\x08", 2, 2, 0, 0, 0, 0, None, None]
CONN = {"t": "conn", "id": 1}
HEADER = {"t": "hdr", "v": 2}
PKB = ["pkb", False, struct.pack("<IIII", 3, 0, 0, 2), b"ab"]


def take(frame: list[Any], start: int = 0, keep: bool = False) -> tuple[int, list[Any]]:
    out: list[Any] = ["before"]
    return take_records(frame, start, out, keep), out[1:]


def test_plain_records_are_all_taken() -> None:
    assert take([SUM, CONN, ["novel"], SUM]) == (4, [SUM, CONN, ["novel"], SUM])
    assert take([]) == (0, [])


def test_it_stops_at_a_header_or_anything_that_is_no_record() -> None:
    for odd in (HEADER, [], [1, 2], {"t": 5}, {"x": 1}, "sum", 7, None, b"pkt"):
        assert take([SUM, odd, CONN]) == (1, [SUM]), odd
        assert take([SUM, odd, CONN], start=2) == (3, [CONN]), odd


def test_a_pkb_becomes_its_frames_unless_kept() -> None:
    assert take([PKB, CONN]) == (2, [["pkt", 3.0, 2, b"ab"], CONN])
    assert take([PKB, CONN], keep=True) == (2, [PKB, CONN])
