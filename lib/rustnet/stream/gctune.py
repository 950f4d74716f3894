"""Garbage-collector settings for the long-running stages.

Every packet allocates a few containers (a record list, a key tuple), and CPython's
default collector runs a young-generation pass every 700 of them and, every so often,
a pass over everything alive: the whole connection table. For rn-track that was ~20%
of its CPU time, for rn-dissect ~10%. The stages create next to no reference cycles
(records, tuples and slot objects are freed by reference counting), so collecting
much less often costs no memory that matters, and cyclic garbage stays bounded by the
young-generation threshold.
"""

from __future__ import annotations

import gc
from typing import Final

# Young-generation allocations between passes; then 20 young passes per middle pass and 100
# middle passes per full one (CPython also waits until a full pass would look at 25% new objects).
# The young count is net of frees, so it grows with what stays alive: connections and their
# records. Measured on the 200k-packet mixed capture (CPU medians of 5, s; 700 is CPython's
# default): rn-track 1.47 (700) / 1.19 (50k) / 1.10 (200k) / 1.09 (500k) / 1.10 (gc off),
# rn-view --json 0.73 / 0.60 / 0.57 / 0.57 / 0.57; rn-capture, rn-dissect (with or without DPI)
# and rn-enrich the same from 50k up; peak RSS the same in all. One global setting: at 200k
# rn-track and rn-view make no young pass at all there; over 1M packets (131k connections)
# rn-track spends 0.22 s in 2 passes instead of 0.51 s in 15 (the longest 112 ms instead of 67).
THRESHOLDS: Final = (200_000, 20, 100)


def tune_gc() -> None:
    """Call once after start-up: what was imported stays out of every later pass (``gc.freeze``)."""
    # No gc.collect() first: it costs every start ~3-4 ms and finds at most a few hundred objects of
    # import-time garbage, which stay (frozen) instead.
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
