"""The streams of N shards (``rn-capture --shard I/N | rn-track --dissect``) as one stream.

Each shard tracks its own connections; what the shards share is put back together:

* one header (the first; the others announce the same capture), without ``shard``;
* connection ids made unique: id ``k`` of shard ``I`` of ``N`` becomes ``(k - 1) * N + I + 1``
  (shard I/N from the stream's header, else the input's position): stable from one record of
  a connection to the next, and one shard's ids never meet another's;
* ``stats`` and ``dstats`` summed over the shards (the latest of each), one merged record each
  time a shard reports; a live capture's ``ifdropped`` (the interface's, the same for every
  shard) taken once;
* ``ifstats`` from one shard only (every capture reads the same interface counters);
* a warning several shards give alike passed on once.

Order: the shards of a file (their headers say ``shard``, not ``live``) come with rn-track's
``clock`` marks, one per expiry and refresh round, at the same packet times in every shard
(their clocks follow the whole file). Their records are put out round by round, and within a
round by when each connection was first seen: the order one unsharded rn-track writes them in,
up to connections first seen at the same instant. That order is what rn-enrich's names learned
from DNS answers depend on (an answer names the connections that come after it). A shard that
is ahead is not read until the others catch up. Live shards' records go out as they arrive.
The marks themselves are dropped.
"""

from __future__ import annotations

import heapq
import math
import select
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Final

from rustnet.stream import fields
from rustnet.stream.records import (
    CAPTURE_STATS,
    CLOCK,
    CONN,
    DISSECT_STATS,
    HEADER,
    IFSTATS,
    WARNING,
    Record,
    restamp_header,
)

DSTATS_COUNTERS: Final = fields.names(fields.DSTATS)[2:]  # every field after t and ts
STATS_SUMMED: Final = ("packets", "received", "dropped")
STATS_SHARED: Final = ("ifdropped",)  # the interface's own counter: every shard reads the same
MAX_WARNINGS_SEEN: Final = 1024
# Records held back for the time order at most: past it they go out as they came (a stream that
# says it is a shard but never marks a round must not hold everything it sends).
MAX_HELD: Final = 50_000
_COUNTERS: Final = (CAPTURE_STATS, DISSECT_STATS, IFSTATS)  # merged and put out at once, never held


class ShardMerge:
    """Merges the records of ``count`` inputs: :meth:`take` the records of input ``index``."""

    def __init__(self, count: int, producer: str) -> None:
        self.count = count
        self.producer = producer
        self.header_sent = False
        self._shard: list[tuple[int, int]] = [(i, count) for i in range(count)]
        self._stats: dict[int, dict[str, Any]] = {}
        self._dstats: dict[int, dict[str, Any]] = {}
        self._ifstats_from: int | None = None
        self._warned: OrderedDict[tuple[Any, Any], None] = OrderedDict()
        self.headers_dropped = 0
        # Per input: whether its records are put in time order (None: no header yet), the round
        # it is in (its last clock mark), and its records not yet out, by round.
        self._ordered: list[bool | None] = [None] * count
        self._epoch: list[float] = [-math.inf] * count
        self._ended: list[bool] = [False] * count
        self._buckets: list[list[tuple[float, list[Record]]]] = [[] for _ in range(count)]

    def take(self, index: int, recs: list[Record]) -> list[Record]:
        """Input ``index`` said ``recs``: what can go out now."""
        now: list[Record] = []
        shard_index, shards = self._shard[index]
        ordered = self._ordered[index]
        bucket = now
        if ordered:
            buckets = self._buckets[index]
            if not buckets or buckets[-1][0] != self._epoch[index]:
                buckets.append((self._epoch[index], []))
            bucket = buckets[-1][1]
        for rec in recs:
            if type(rec) is not dict:
                if type(rec) is list and rec and rec[0] == CLOCK:
                    if ordered and len(rec) > 1 and type(rec[1]) is float:
                        self._epoch[index] = rec[1]
                        bucket = []
                        self._buckets[index].append((rec[1], bucket))
                    continue
                if ordered is None:
                    ordered = self._ordered[index] = False
                    bucket = now
                bucket.append(rec)
                continue
            assert isinstance(rec, dict)
            tag = rec.get("t")
            if tag == HEADER:
                self._adopt_shard(index, rec.get("shard"))
                shard_index, shards = self._shard[index]
                if ordered is None:
                    ordered = self._ordered[index] = "shard" in rec and not rec.get("live")
                    if ordered:
                        bucket = []
                        self._buckets[index].append((-math.inf, bucket))
                    else:
                        bucket = now
                if self.header_sent:
                    self.headers_dropped += 1
                    continue
                self.header_sent = True
                hdr = restamp_header(rec, self.producer)
                hdr.pop("shard", None)
                now.append(hdr)  # first, whatever the order of the rest
                continue
            if ordered is None and tag not in _COUNTERS:
                # Not a shard's stream after all (its first ordered record came before any header);
                # counters alone decide nothing, since they go out at once either way.
                ordered = self._ordered[index] = False
                bucket = now
            if tag == CONN:
                cid = rec.get("id")
                if type(cid) is int and cid >= 1:
                    rec["id"] = (cid - 1) * shards + shard_index + 1
                bucket.append(rec)
            # Counters go out at once, whatever the order: the latest merged one is the sum of
            # every shard's latest.
            elif tag == CAPTURE_STATS:
                self._stats[index] = rec
                now.append(self._merged_stats())
            elif tag == DISSECT_STATS:
                self._dstats[index] = rec
                now.append(self._merged_dstats())
            elif tag == IFSTATS:
                if self._ifstats_from is None:
                    self._ifstats_from = index
                if self._ifstats_from == index:
                    now.append(rec)
            elif tag == WARNING:
                said = (rec.get("stage"), rec.get("msg"))
                try:
                    if said in self._warned:
                        continue
                    self._warned[said] = None
                except TypeError:  # unhashable junk: passed on as it is
                    pass
                if len(self._warned) > MAX_WARNINGS_SEEN:
                    self._warned.popitem(last=False)
                bucket.append(rec)
            else:
                bucket.append(rec)
        return now + self._release()

    def end(self, index: int) -> list[Record]:
        """Input ``index`` ended: what can go out now (everything, once every input ended)."""
        self._epoch[index] = math.inf
        self._ended[index] = True
        return self._release()

    def behind(self, index: int) -> bool:
        """Whether input ``index`` should be read now: it is not ahead of the slowest ordered one
        (the others wait in their pipes instead of in memory)."""
        return not self._ordered[index] or self._epoch[index] <= self._floor()

    def _floor(self) -> float:
        """The earliest round an ordered input (or one not yet known) may still add to."""
        floor = math.inf
        for i in range(self.count):
            if self._ended[i]:
                continue
            if self._ordered[i] is None:
                return -math.inf
            if self._ordered[i] and self._epoch[i] < floor:
                floor = self._epoch[i]
        return floor

    def _release(self) -> list[Record]:
        """The rounds every ordered input is past, merged: round by round, and within a round by
        first_seen (records without one first)."""
        floor = self._floor()
        if sum(len(recs) for buckets in self._buckets for _, recs in buckets) > MAX_HELD:
            floor = math.inf
        lists: list[list[tuple[float, float, int, int, Record]]] = []
        for i, buckets in enumerate(self._buckets):
            done: list[tuple[float, float, int, int, Record]] = []
            while buckets and (buckets[0][0] < floor or floor == math.inf):
                epoch, recs = buckets.pop(0)
                done += [(epoch, _first_seen(r), i, n, r) for n, r in enumerate(recs)]
            if done:
                # A round's records come in the order their shard wrote them, which is not always
                # by first_seen: sorted here (stably), so that what goes out does not depend on
                # how many rounds happen to be released together (heapq.merge needs sorted inputs).
                done.sort(key=_round_order)
                lists.append(done)
        if not lists:
            return []
        if len(lists) == 1:
            return [t[4] for t in lists[0]]
        return [t[4] for t in heapq.merge(*lists, key=_round_order)]

    def _adopt_shard(self, index: int, spec: Any) -> None:
        """The shard I/N a stream's header names, when it names a sound one."""
        if not isinstance(spec, str):
            return
        i, sep, n = spec.partition("/")
        if sep and i.isdigit() and n.isdigit() and 0 <= int(i) < int(n) <= 1 << 16:
            self._shard[index] = (int(i), int(n))

    def _merged_stats(self) -> dict[str, Any]:
        shards = list(self._stats.values())
        out: dict[str, Any] = dict(shards[-1])
        out["ts"] = _latest(shards)
        for key in STATS_SUMMED:
            values = _ints(shards, key)
            if values:
                out[key] = sum(values)
        for key in STATS_SHARED:
            values = _ints(shards, key)
            if values:
                out[key] = max(values)
        return out

    def _merged_dstats(self) -> dict[str, Any]:
        shards = list(self._dstats.values())
        out: dict[str, Any] = dict(shards[-1])
        out["ts"] = _latest(shards)
        for key in DSTATS_COUNTERS:
            values = _ints(shards, key)
            if values:
                out[key] = sum(values)
        return out


def _round_order(held: tuple[float, float, int, int, Record]) -> tuple[float, float]:
    return held[0], held[1]


def _first_seen(rec: Record) -> float:
    if type(rec) is dict:
        assert isinstance(rec, dict)
        t = rec.get("first_seen")
        if type(t) is float:
            assert isinstance(t, float)
            return t
    return -math.inf


def _ints(recs: list[dict[str, Any]], key: str) -> list[int]:
    return [v for v in (r.get(key) for r in recs) if type(v) is int]


def _latest(recs: list[dict[str, Any]]) -> Any:
    times: list[float] = [t for t in (r.get("ts") for r in recs) if type(t) is float or type(t) is int]
    return max(times) if times else recs[-1].get("ts")


def run_merge(prog: str, paths: list[str], writer: Any, producer: str, opened: Callable[[], None]) -> int:
    """Merge the record streams ``paths`` (``-``: standard input) into ``writer`` as they arrive;
    the exit status (3 when an input was damaged: its records up to the damage still count).
    ``opened`` runs once every input is open (the sandbox: a descriptor's name, /dev/fd/N, is
    no file a rule can name)."""
    from rustnet.cli.common import EXIT_DAMAGED, EXIT_OK, StageError, termination, warn
    from rustnet.stream.escape import escape_unsafe
    from rustnet.stream.gctune import tune_gc
    from rustnet.stream.infile import RecordFile

    tune_gc()
    files = []
    try:
        for path in paths:
            try:
                files.append(RecordFile(path))
            except OSError as exc:
                raise StageError(f"{escape_unsafe(path)}: {exc.strerror or exc}") from None
        opened()
        merge = ShardMerge(len(files), producer)
        status = EXIT_OK
        readers = {i: f.reader for i, f in enumerate(files)}
        while readers:
            termination.check()
            for i, reader in list(readers.items()):
                if reader.done:
                    del readers[i]
                    if reader.damage:
                        warn(prog, reader.damage)
                        writer.write({"t": WARNING, "ts": time.time(), "stage": prog, "msg": reader.damage})
                        status = EXIT_DAMAGED
                    writer.write_many(merge.end(i))
            if not readers:
                break
            writer.flush()
            by_fd = {r.fd: i for i, r in readers.items() if merge.behind(i)}
            ready, _, _ = select.select(list(by_fd), [], [])
            for fd in ready:
                i = by_fd[fd]
                recs = readers[i].poll(0)
                if recs:
                    writer.write_many(merge.take(i, recs))
        writer.close()
        return status
    finally:
        for f in files:
            f.close()
