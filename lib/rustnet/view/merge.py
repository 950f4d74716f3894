"""Several record streams in one view, each naming its node (host).

Each input is its own :class:`rustnet.view.source.Source`: completed by its own in-process
stages and paced by its own clock (``--speed`` replays every stream from its own start, so a
recording of yesterday and one of today play side by side). Every connection, interface
counter and socket record of an input is tagged ``node``: the name it was given (``rustnet
--remote HOST``), else its header's ``host``, else the file's name; names that repeat get
``#2``, ``#3``. The table keys connections by (node, id), so two hosts' connections never merge;
a stream that starts again (a header after the first: a host reconnected) numbers its
connections from N * 10^12, N the times it started again, so they do not take the old rows.
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Iterator
from typing import Any, Final

from rustnet.stream import Record
from rustnet.stream.bounds import MAX_IFNAME
from rustnet.stream.records import CAPTURE_STATS, CONN, HEADER, IFSTATS, SOCK, WARNING
from rustnet.view.source import Source

TAGGED: Final = frozenset((CONN, IFSTATS, SOCK, CAPTURE_STATS))
EPOCH_IDS: Final = 10**12  # a stream that starts again numbers its connections from N * this
SUFFIXES: Final = (".gz", ".rn", ".msgpack", ".jsonl", ".json", ".pcapng", ".pcap")


def file_node(path: str) -> str:
    """A node name from a file name: its base name without the usual suffixes."""
    name = os.path.basename(path.rstrip("/")) or path
    for suffix in SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
    return name


def clean_name(name: str) -> str:
    """A node name fit for a column and a filter: printable, short, no separators."""
    kept = "".join(c if c.isprintable() and c not in "/: \t" else "_" for c in name)
    return kept[:MAX_IFNAME] or "?"


class MergedSource:
    """The inputs read side by side; the same calls as a Source, with :meth:`filenos`."""

    def __init__(self, parts: list[Source], names: list[str | None], fallback: list[str]) -> None:
        self.parts = parts
        self._given = names  # a name given (rustnet --remote HOST) or None: the header tells
        self._fallback = fallback  # the name when the header names no host (the file's name)
        self.nodes: list[str | None] = [clean_name(n) if n else None for n in names]
        self._headers = [False] * len(parts)  # a header came on that input
        self._epochs = [0] * len(parts)  # times that input's stream started again

    # --- naming -------------------------------------------------------------------------
    def _name(self, i: int, recs: list[Record]) -> str:
        node = self.nodes[i]
        if node is not None:
            return node
        host = None
        for rec in recs:
            if type(rec) is dict and rec.get("t") == HEADER and isinstance(rec.get("host"), str):
                host = rec["host"]
                break
        base = clean_name(host or self._fallback[i])
        taken = {n for n in self.nodes if n is not None}
        node, k = base, 2
        while node in taken:
            node, k = f"{base}#{k}", k + 1
        self.nodes[i] = node
        return node

    def _tag(self, i: int, recs: list[Record]) -> list[Record]:
        if not recs:
            return recs
        node = self._name(i, recs)
        epoch = self._epochs[i]
        for rec in recs:
            if type(rec) is not dict:
                continue
            t = rec.get("t", CONN)
            if t in TAGGED:
                rec["node"] = node
                cid = rec.get("id")
                if epoch > 0 and t == CONN and type(cid) is int and 0 <= cid < EPOCH_IDS:
                    rec["id"] = cid + epoch * EPOCH_IDS
            elif t == HEADER:
                rec["node"] = node
                if self._headers[i]:
                    # A stream started again (a host reconnected): its rn-track counts ids from 1
                    # again, so the new connections must not take the old ones' rows.
                    self._epochs[i] = epoch = epoch + 1
                self._headers[i] = True
            elif t == WARNING:
                rec["node"] = node
                rec["stage"] = f"{node} {rec.get('stage') or ''}".rstrip()
        return recs

    # --- the Source calls ---------------------------------------------------------------
    def filenos(self) -> list[int]:
        return [fd for part in self.parts if (fd := part.fileno()) is not None]

    def fileno(self) -> int | None:
        fds = self.filenos()
        return fds[0] if fds else None

    def read(self, fd: int | None = None) -> list[Record]:
        out: list[Record] = []
        for i, part in enumerate(self.parts):
            if fd is None or part.fileno() == fd:
                out += self._tag(i, part.read())
                if fd is not None:
                    break
        return out

    def due(self) -> list[Record]:
        out: list[Record] = []
        for i, part in enumerate(self.parts):
            out += self._tag(i, part.due())
        return out

    def next_due(self) -> float | None:
        dues = [d for part in self.parts if (d := part.next_due()) is not None]
        return min(dues) if dues else None

    def tick(self, now: float) -> list[Record]:
        out: list[Record] = []
        for i, part in enumerate(self.parts):
            out += self._tag(i, part.tick(now))
        return out

    @property
    def ticking(self) -> bool:
        return any(part.ticking for part in self.parts)

    @property
    def done(self) -> bool:
        return all(part.done for part in self.parts)

    @property
    def drained(self) -> bool:
        return all(part.drained for part in self.parts)

    @property
    def damage(self) -> list[str]:
        return [msg for part in self.parts for msg in part.damage]

    @property
    def errors(self) -> list[str]:
        return [msg for part in self.parts for msg in part.errors]

    def programs_to_start(self) -> bool:
        return any(part.programs_to_start() for part in self.parts)

    def has_child(self) -> bool:
        return any(part.has_child() for part in self.parts)

    def close(self) -> None:
        for part in self.parts:
            part.close()

    def batches(self) -> Iterator[list[Record]]:
        """Blocking: every record of every input as it comes, input by input (``--json``, ``--table``)."""
        while not self.done:
            fds = self.filenos()
            if not fds:
                yield self.due()
                nd = self.next_due()
                if nd is not None:
                    time.sleep(max(0.0, min(nd - time.monotonic(), 1.0)))
                continue
            nd = self.next_due()
            wait = None if nd is None else max(0.0, nd - time.monotonic())
            ready, _, _ = select.select(fds, [], [], wait)
            for fd in ready:
                yield self.read(fd)
            yield self.due()
        for i, part in enumerate(self.parts):
            for batch in part.batches():  # the paced records still held
                yield self._tag(i, batch)


def merged(
    paths: list[str],
    stdin_fd: int | None,
    speed: float | None,
    dpi: bool,
    refresh: float,
    names: list[str | None] | None = None,
) -> MergedSource:
    """One Source per input (a path, or ``-`` for ``stdin_fd``), merged."""
    parts = [Source([p], stdin_fd, None, speed, dpi=dpi, refresh=refresh) for p in paths]
    given: list[str | None] = list(names) if names is not None else [None] * len(paths)
    fallback = ["stdin" if p == "-" else file_node(p) for p in paths]
    return MergedSource(parts, given, fallback)


def describe(source: Any) -> str:
    """The nodes of a merged source, for a log line."""
    return ", ".join(n or "?" for n in getattr(source, "nodes", []))
