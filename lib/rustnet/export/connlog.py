"""The connection exports: ``--json-log`` events and the ``--pcap-export`` sidecar.

Both are fed the connection records the viewer gets (from the relay thread) and write JSON
Lines with sorted keys, as RustNet does:

* the event log writes ``new_connection`` for the first record of a connection and
  ``connection_closed`` for its final record when it ended in the run (timed out, evicted,
  or replaced by a new generation of its tuple); nothing at the end of the input or at
  shutdown, as RustNet;
* the sidecar writes one line per connection when its final record arrives, and at shutdown
  one for every connection still open, in its last known state.

Memory: only open connections are remembered, at most ``max_connections`` of them (the
least recently updated beyond that are let go: the sidecar writes them then).
"""

from __future__ import annotations

import collections
import json
import os
from typing import Any, Final

from rustnet.export import rustnet_fields
from rustnet.stream.records import CONN, HEADER

# Final records whose connection ended while running; "eof" (end of input) is shutdown.
_CLOSED_ENDS: Final = frozenset({"timeout", "evicted", "reused"})


def json_line(obj: dict[str, Any]) -> bytes:
    """One JSON Lines line, keys sorted, compact, as serde_json writes them."""
    return (json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


class LineFile:
    """An open export file: lines buffered a little, written in whole lines; the first error stops it."""

    def __init__(self, fd: int, what: str) -> None:
        self.fd = fd
        self.what = what
        self.error: str | None = None
        self.lines = 0
        self._buf: list[bytes] = []

    def add(self, line: bytes) -> None:
        if self.error is None:
            self._buf.append(line)
            self.lines += 1

    def flush(self) -> None:
        if not self._buf or self.error is not None:
            self._buf.clear()
            return
        data = memoryview(b"".join(self._buf))
        self._buf.clear()
        try:
            while data:
                data = data[os.write(self.fd, data) :]
        except OSError as exc:
            self.error = f"{self.what} stopped: {exc.strerror or exc}"

    def close(self) -> None:
        self.flush()
        if self.fd >= 0:
            try:
                os.close(self.fd)
            except OSError as exc:
                self.error = self.error or f"{self.what}: {exc.strerror or exc}"
            self.fd = -1


class ConnExports:
    """Turns connection records into ``--json-log`` events and sidecar lines."""

    def __init__(
        self, events: LineFile | None, sidecar: LineFile | None, max_connections: int, local_ids: bool = False
    ) -> None:
        self.local_ids = local_ids  # user and group name this host's: write their ids
        self.events = events
        self.sidecar = sidecar
        self.max_connections = max_connections
        self.live = True  # until a header says otherwise
        # id -> the connection's latest record (the sidecar's) or None (events only).
        self._open: collections.OrderedDict[Any, dict[str, Any] | None] = collections.OrderedDict()

    def observe(self, recs: list[Any]) -> None:
        for rec in recs:
            if type(rec) is not dict:
                continue
            t = rec.get("t")
            if t == CONN:
                self._conn(rec)
            elif t == HEADER and isinstance(rec.get("live"), bool):
                self.live = rec["live"]
        for out in (self.events, self.sidecar):
            if out is not None:
                out.flush()

    def _conn(self, rec: dict[str, Any]) -> None:
        cid = rec.get("id")
        if not isinstance(cid, (int, str)):
            return  # no usable id: nothing can be tracked across records
        known = cid in self._open
        if not known and self.events is not None:
            self.events.add(json_line(rustnet_fields.event(rec, "new_connection", self.live, self.local_ids)))
        if rec.get("final") is True:
            self._open.pop(cid, None)
            if self.events is not None and rec.get("end") in _CLOSED_ENDS:
                self.events.add(
                    json_line(rustnet_fields.event(rec, "connection_closed", self.live, self.local_ids))
                )
            if self.sidecar is not None:
                self.sidecar.add(json_line(rustnet_fields.sidecar(rec, self.local_ids)))
            return
        self._open[cid] = rec if self.sidecar is not None else None
        self._open.move_to_end(cid)
        if len(self._open) > self.max_connections:
            old = self._open.popitem(last=False)[1]
            if old is not None and self.sidecar is not None:
                self.sidecar.add(json_line(rustnet_fields.sidecar(old, self.local_ids)))

    def close(self) -> list[str]:
        """Write what shutdown writes (the sidecar's open connections), close; the errors to report."""
        if self.sidecar is not None:
            for rec in self._open.values():
                if rec is not None:
                    self.sidecar.add(json_line(rustnet_fields.sidecar(rec, self.local_ids)))
        self._open.clear()
        errors = []
        for out in (self.events, self.sidecar):
            if out is not None:
                out.close()
                if out.error:
                    errors.append(out.error)
        return errors
