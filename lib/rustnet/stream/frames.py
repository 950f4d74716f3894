"""The records of a decoded frame, taken as the record reader's fast path takes them.

A frame is a list of records; nearly all of them need one type check each, and a reader does
that for every record of every stream (200k summaries are 200k checks in rn-track). Compiled
with mypyc, this loop costs a fifth of what it costs in rustnet.stream.reader's interpreted
loop. What it does not take (a header, which the reader checks for its version, or something
that is no record) it leaves to the reader, which decides about damage.
"""

from __future__ import annotations

from typing import Any

from rustnet.stream.pktbatch import expand
from rustnet.stream.records import HEADER, PACKETS


def take_records(frame: list[Any], start: int, out: list[Any], keep_packet_batches: bool) -> int:
    """Append ``frame[start:]`` to ``out`` up to the first element that is not a plain record:
    a positional record (a list whose first element is a str; a ``pkb`` becomes its ``pkt``
    records unless ``keep_packet_batches``) or a map with a str type tag other than a header.
    Returns that element's index (``len(frame)`` when every one was taken)."""
    n = len(frame)
    i = start
    while i < n:
        rec = frame[i]
        if type(rec) is list:
            if not rec or type(rec[0]) is not str:
                return i
            if rec[0] == PACKETS and not keep_packet_batches:
                out.extend(expand(rec))
            else:
                out.append(rec)
        elif type(rec) is dict:
            tag = rec.get("t")
            if type(tag) is not str or tag == HEADER:
                return i
            out.append(rec)
        else:
            return i
        i += 1
    return n
