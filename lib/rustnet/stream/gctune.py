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
THRESHOLDS: Final = (50_000, 20, 100)


def tune_gc() -> None:
    """Call once after start-up: what was imported stays out of every later pass (``gc.freeze``)."""
    # No gc.collect() first: it costs every start ~3-4 ms and finds at most a few hundred objects of
    # import-time garbage, which stay (frozen) instead.
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
