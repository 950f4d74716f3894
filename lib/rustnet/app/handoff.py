"""Records from the relay thread to the viewer in the same process, handed over as decoded.

The relay decodes the last stage's output (it tees, logs and exports it, and adds warnings).
Through a pipe, the viewer got it encoded once more and decoded it again; handing the decoded
batches over spares both. A bounded queue keeps the back pressure the pipe gave: when the
viewer falls behind, the relay waits, the last stage blocks on its output, and the capture's
kernel buffer counts what is dropped.

The viewer changes the records it keeps (fields learned earlier, derived ones), so they are
handed over only after everything else that sees them is done with them (the relay's tee
encodes before its flush); rustnet keeps the pipe when exports hold on to records.
"""

from __future__ import annotations

import collections
import os
import threading

from rustnet.stream import PipeClosed, Record

# Records waiting at most before the relay waits: about twice what the 1 MiB pipe held of
# connection records (a batch that alone is more still goes, when nothing else waits).
MAX_RECORDS = 8192


class Handoff:
    """The relay's side writes as a RecordWriter does (``write``, ``write_many``, ``flush``,
    ``close``); the viewer's side waits on :attr:`fd` and :meth:`take` s what came."""

    def __init__(self, max_records: int = MAX_RECORDS) -> None:
        self._batches: collections.deque[list[Record]] = collections.deque()
        self._cond = threading.Condition()
        self._max = max_records
        self._waiting = 0  # records in _batches
        self._pending: list[Record] = []  # written since the last flush (the relay's alone)
        self._ended = False  # the relay is done: nothing more comes
        self._shut = False  # the viewer is gone: a flush raises PipeClosed
        self._closed = False  # the descriptors are closed (never written to again)
        self.fd, self._wake_w = os.pipe()
        os.set_blocking(self.fd, False)
        os.set_blocking(self._wake_w, False)

    # --- the relay's side ---------------------------------------------------------------
    def write(self, rec: Record) -> None:
        self._pending.append(rec)

    def write_many(self, recs: list[Record]) -> None:
        self._pending += recs

    def flush(self) -> None:
        """Hand over what was written; waits while :data:`MAX_RECORDS` records wait."""
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        with self._cond:
            while self._batches and self._waiting + len(batch) > self._max and not self._shut:
                self._cond.wait()
            if self._shut:
                raise PipeClosed()
            self._batches.append(batch)
            self._waiting += len(batch)
            if len(self._batches) == 1:
                self._wake()

    def close(self) -> None:
        """The end of the stream: what was written is handed over, then the end."""
        try:
            self.flush()
        finally:
            self.end()

    def end(self) -> None:
        """The end, without handing over anything more (the relay failed)."""
        with self._cond:
            self._ended = True
            self._wake()

    # --- the viewer's side --------------------------------------------------------------
    def take(self) -> list[Record]:
        """Every record handed over and not yet taken, in order (never waits)."""
        try:
            while os.read(self.fd, 4096):
                pass
        except BlockingIOError:
            pass
        with self._cond:
            batches = list(self._batches)
            self._batches.clear()
            self._waiting = 0
            self._cond.notify_all()
        if len(batches) == 1:
            return batches[0]
        return [rec for batch in batches for rec in batch]

    @property
    def drained(self) -> bool:
        """The stream ended and everything was taken."""
        with self._cond:
            return self._ended and not self._batches

    def shut(self) -> None:
        """The viewer is gone: the relay's next flush raises PipeClosed instead of waiting."""
        with self._cond:
            self._shut = True
            self._batches.clear()
            self._waiting = 0
            self._cond.notify_all()

    def close_fds(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._shut = True
            self._cond.notify_all()
            os.close(self.fd)
            os.close(self._wake_w)

    def _wake(self) -> None:
        """One byte on the pipe the viewer waits on (called holding the lock)."""
        if self._closed:
            return  # its number may be another descriptor's by now
        try:
            os.write(self._wake_w, b"\0")
        except (BlockingIOError, OSError):
            pass  # a byte already waits (or the viewer is gone)


class HandoffSource:
    """The viewer's input (what rustnet.view.source.Source offers the viewer's loop) over a
    :class:`Handoff`. Records that still need dissecting or tracking are completed in-process,
    as Source does."""

    def __init__(self, handoff: Handoff, dpi: bool = True, refresh: float = 1.0) -> None:
        from rustnet.view.source import Completer

        self.handoff = handoff
        self.completer = Completer(dpi, refresh)
        self.damage: list[str] = []
        self.errors: list[str] = []
        self._finished = False

    def filenos(self) -> list[int]:
        return [] if self._finished else [self.handoff.fd]

    @property
    def ticking(self) -> bool:
        return self.completer.chain is not None

    def read(self, fd: int | None = None) -> list[Record]:
        recs = self.completer.process(self.handoff.take())
        if not self._finished and self.handoff.drained:
            self._finished = True
            recs += self.completer.finish()
        return recs

    def due(self) -> list[Record]:
        return []

    def next_due(self) -> float | None:
        return None

    def tick(self, now: float) -> list[Record]:
        return self.completer.tick(now)

    @property
    def drained(self) -> bool:
        return self._finished

    def close(self) -> None:
        self.handoff.shut()
