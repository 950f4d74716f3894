"""The streams of N shards (``rn-capture --shard I/N | rn-track --dissect``) as one stream.

Each shard tracks its own connections, so their records simply interleave; what the shards
share is put back together:

* one header (the first; the others announce the same capture), without ``shard``;
* connection ids made unique: id ``k`` of shard ``I`` of ``N`` becomes ``(k - 1) * N + I + 1``
  (shard I/N from the stream's header, else the input's position): stable from one record of
  a connection to the next, and one shard's ids never meet another's;
* ``stats`` and ``dstats`` summed over the shards (the latest of each), one merged record each
  time a shard reports; a live capture's ``ifdropped`` (the interface's, the same for every
  shard) taken once;
* ``ifstats`` from one shard only (every capture reads the same interface counters);
* ``clock`` records (rn-track consumes them) dropped, and a warning several shards give alike
  passed on once.

Everything else passes through in the order it arrives.
"""

from __future__ import annotations

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

    def take(self, index: int, recs: list[Record]) -> list[Record]:
        out: list[Record] = []
        shard_index, shards = self._shard[index]
        for rec in recs:
            if rec.__class__ is not dict:
                if rec.__class__ is list and rec and rec[0] == CLOCK:
                    continue
                out.append(rec)
                continue
            assert isinstance(rec, dict)
            tag = rec.get("t")
            if tag == CONN:
                cid = rec.get("id")
                if cid.__class__ is int and cid >= 1:
                    rec["id"] = (cid - 1) * shards + shard_index + 1
                out.append(rec)
            elif tag == HEADER:
                self._adopt_shard(index, rec.get("shard"))
                shard_index, shards = self._shard[index]
                if self.header_sent:
                    self.headers_dropped += 1
                    continue
                self.header_sent = True
                hdr = restamp_header(rec, self.producer)
                hdr.pop("shard", None)
                out.append(hdr)
            elif tag == CAPTURE_STATS:
                self._stats[index] = rec
                out.append(self._merged_stats())
            elif tag == DISSECT_STATS:
                self._dstats[index] = rec
                out.append(self._merged_dstats())
            elif tag == IFSTATS:
                if self._ifstats_from is None:
                    self._ifstats_from = index
                if self._ifstats_from == index:
                    out.append(rec)
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
                out.append(rec)
            else:
                out.append(rec)
        return out

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


def _ints(recs: list[dict[str, Any]], key: str) -> list[int]:
    return [v for v in (r.get(key) for r in recs) if v.__class__ is int]


def _latest(recs: list[dict[str, Any]]) -> Any:
    times: list[float] = [t for t in (r.get("ts") for r in recs) if t.__class__ in (int, float)]
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
            if not readers:
                break
            writer.flush()
            by_fd = {r.fd: i for i, r in readers.items()}
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

