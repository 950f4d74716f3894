"""Where the viewer's records come from: files or a pipe, completed and paced.

* Inputs are read in order (recordings, ``-`` for the pipe on stdin, or a capture
  file, which is read by an ``rn-capture -r`` child process).
* Packet records (``pkt``) or packet summaries (``sum``) are completed in-process by
  the same stages the commands run (:class:`rustnet.dissect.engine.Dissector`,
  :class:`rustnet.track.table.Tracker`), chained with the Stage protocol, so
  ``rn-capture | rn-view`` shows connections.
* ``speed`` replays a recording at its own pace (2 = twice as fast): records are
  released when their timestamp comes due; ``None`` releases them at once.

Non-blocking: the app selects on :meth:`Source.fileno` and calls :meth:`Source.read`
only when the descriptor is readable, so a quiet pipe costs nothing.
"""

from __future__ import annotations

import collections
import os
import select
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import IO, Any, Final, Protocol

from rustnet.stream import Record, RecordReader
from rustnet.stream.infile import RecordFile
from rustnet.stream.records import CONN, HEADER, PACKET, PACKETS, SUMMARY, WARNING
from rustnet.stream.sniff import CAPTURE, sniff_fd
from rustnet.stream.stage import Chain, Stage

MAX_PENDING: Final = 200_000  # paced records held before reading further
READ_SIZE: Final = 1 << 16  # a few hundred records per read: the loop gets back to the keys quickly


def is_capture_file(path: str) -> bool:
    """True for a pcap or pcapng file, gzip'd or not (by its first bytes). Only a regular file is
    looked into: opening a FIFO (or /dev/fd/N) to look would take its writer's first bytes, and a
    second open would then wait for a writer that is gone. Such an input is read as a record
    stream (a capture file there is refused with the rn-capture -r hint)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        sniffed = sniff_fd(fd)
    except OSError:
        return False
    finally:
        os.close(fd)
    return sniffed is not None and sniffed.kind == CAPTURE


def record_time(rec: Record) -> float | None:
    """The stream timestamp a record belongs at, for pacing."""
    if type(rec) is list:
        ts = rec[1] if len(rec) > 1 else None
    elif type(rec) is dict:
        ts = rec.get("last_seen") if rec.get("t", CONN) == CONN else rec.get("ts")
    else:
        return None
    return float(ts) if isinstance(ts, (int, float)) and not isinstance(ts, bool) else None


def _capture_command() -> list[str]:
    exe = shutil.which("rn-capture")
    if exe is None:
        cand = os.path.join(os.path.dirname(sys.executable), "rn-capture")
        exe = cand if os.access(cand, os.X_OK) else None
    if exe is None:
        return [sys.executable, "-m", "rustnet_cmds.capture"]
    return [exe]


class Completer:
    """Runs dissect and/or track in-process once packet records or summaries show up."""

    def __init__(self, dpi: bool = True, refresh: float = 1.0) -> None:
        self.dpi = dpi
        self.refresh = refresh
        self.chain: Stage | None = None
        self.header: dict[str, Any] | None = None
        self.problem: str | None = None

    def _build(self, first: str) -> Stage | None:
        stages: list[Stage] = []
        try:
            if first == PACKET or first == PACKETS:
                from rustnet.dissect.engine import Dissector

                stages.append(Dissector(dpi=self.dpi, segments=True))  # the Tracker follows
            from rustnet.track.table import Tracker

            stages.append(Tracker(producer="rn-view", refresh=self.refresh))
        except Exception as exc:  # a missing or broken stage becomes a message, not a crash
            self.problem = f"cannot complete the pipeline in-process ({type(exc).__name__}: {exc})"
            return None
        return Chain(stages)

    def process(self, recs: list[Record]) -> list[Record]:
        if self.chain is None:
            first = None
            for rec in recs:
                if type(rec) is list and rec and rec[0] in (PACKET, PACKETS, SUMMARY):
                    first = rec[0]
                    break
                if type(rec) is dict and rec.get("t") == HEADER:
                    self.header = rec
            if first is None:
                return recs
            if self.problem is not None:
                return [r for r in recs if type(r) is dict]
            chain = self._build(first)
            if chain is None:
                out: list[Record] = [r for r in recs if type(r) is dict]
                out.append({"t": WARNING, "ts": time.time(), "stage": "rn-view", "msg": self.problem})
                return out
            self.chain = chain
            if self.header is not None and not any(r is self.header for r in recs):
                # The header said which link type the packets use: the new stages need it.
                recs = [self.header, *recs]
        return self.chain.process(recs)

    def tick(self, now: float) -> list[Record]:
        return self.chain.tick(now) if self.chain is not None else []

    def finish(self) -> list[Record]:
        return self.chain.finish() if self.chain is not None else []


class Pacer:
    """Holds records back until their stream time comes due at ``speed`` times real time."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self.pending: collections.deque[tuple[float | None, Record]] = collections.deque()
        self._origin: tuple[float, float] | None = None  # (stream time, monotonic time)

    def push(self, recs: list[Record]) -> None:
        for rec in recs:
            self.pending.append((record_time(rec), rec))

    def _due_at(self, ts: float, now: float | None = None) -> float:
        if self._origin is None:
            self._origin = (ts, time.monotonic() if now is None else now)
        s0, m0 = self._origin
        return m0 + max(ts - s0, 0.0) / self.speed

    def due(self) -> list[Record]:
        out: list[Record] = []
        now = time.monotonic()
        while self.pending:
            ts, rec = self.pending[0]
            if ts is not None and self._due_at(ts, now) > now:
                break
            out.append(rec)
            self.pending.popleft()
        return out

    def next_due(self) -> float | None:
        """Monotonic time the next held record is due, or None when nothing is held."""
        for ts, _ in self.pending:
            if ts is not None:
                return self._due_at(ts)
            return time.monotonic()
        return None

    @property
    def full(self) -> bool:
        return len(self.pending) >= MAX_PENDING


class RecordSource(Protocol):
    """What the viewer's loop reads records from: :class:`Source`, several merged
    (rustnet.view.merge), or rustnet's relay (rustnet.app.handoff)."""

    @property
    def damage(self) -> list[str]: ...

    @property
    def errors(self) -> list[str]: ...

    @property
    def ticking(self) -> bool: ...

    @property
    def drained(self) -> bool: ...

    def filenos(self) -> list[int]: ...

    def read(self, fd: int | None = None) -> list[Record]: ...

    def due(self) -> list[Record]: ...

    def next_due(self) -> float | None: ...

    def tick(self, now: float) -> list[Record]: ...

    def close(self) -> None: ...


class Source:
    """The viewer's inputs in order, as batches of records ready for the table."""

    def __init__(
        self,
        paths: list[str],
        stdin_fd: int | None = 0,
        read_file: str | None = None,
        speed: float | None = None,
        dpi: bool = True,
        refresh: float = 1.0,
    ) -> None:
        self.paths = list(paths) or (["-"] if read_file is None else [])
        self.read_file = read_file
        self.stdin_fd = stdin_fd
        self.completer = Completer(dpi, refresh)
        self.pacer = Pacer(speed) if speed else None
        self.reader: RecordReader | None = None
        self.damage: list[str] = []
        self.errors: list[str] = []
        self.done = False
        self.finished = False  # finish() output delivered
        self.child: subprocess.Popen[bytes] | None = None
        self._child_err: IO[bytes] | None = None
        self._file: RecordFile | None = None
        self._next = 0
        self._open_next()

    # --- inputs -------------------------------------------------------------------------
    def programs_to_start(self) -> bool:
        """True when an input still to be opened is a capture file (read through rn-capture)."""
        later = self._inputs()[self._next :]
        return any(is_capture_file(name.removeprefix("capture:")) for name in later if name != "-")

    def has_child(self) -> bool:
        return self.child is not None

    def _inputs(self) -> list[str]:
        return ([f"capture:{self.read_file}"] if self.read_file else []) + self.paths

    def _open_next(self) -> None:
        self._close_current()
        inputs = self._inputs()
        while self._next < len(inputs):
            name = inputs[self._next]
            self._next += 1
            try:
                reader = self._open(name)
            except OSError as exc:
                self.errors.append(f"{name.removeprefix('capture:')}: {exc.strerror or exc}")
                continue
            if reader.damage is not None:  # refused by its first bytes (empty, not records...)
                self.damage.append(reader.damage)
                self._close_current()
                continue
            os.set_blocking(reader.fd, False)
            reader.keep_packet_batches = True  # the Completer's Dissector reads pkb records itself
            self.reader = reader
            return
        self.reader = None
        self.done = True

    def _open(self, name: str) -> RecordReader:
        if name == "-":
            if self.stdin_fd is None:
                raise OSError(0, "standard input is not available")
            self._file = RecordFile("-", self.stdin_fd)
            return self._file.reader
        path = name.removeprefix("capture:")
        if is_capture_file(path):
            # stderr to a file: a chatty child must never block on a pipe nobody reads yet.
            self._child_err = tempfile.TemporaryFile()
            self.child = subprocess.Popen(
                [*_capture_command(), "-r", path],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=self._child_err,
            )
            assert self.child.stdout is not None
            return RecordReader(self.child.stdout.fileno(), path)
        self._file = RecordFile(path)
        return self._file.reader

    def _close_current(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self.child is not None:
            self._reap_child()

    def _reap_child(self) -> None:
        child, self.child = self.child, None
        assert child is not None
        try:
            rc = child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            rc = child.wait()
        err = ""
        if self._child_err is not None:
            self._child_err.seek(0)
            err = self._child_err.read(1 << 16).decode("utf-8", "replace").strip()
            self._child_err.close()
            self._child_err = None
        if child.stdout:
            child.stdout.close()
        if rc == 3:  # a damaged capture file: the packets before the damage were shown (exit 3)
            self.damage.append(err.splitlines()[-1] if err else "rn-capture: damaged capture file")
        elif rc != 0 or err:
            self.errors.append(err.splitlines()[-1] if err else f"rn-capture exited with status {rc}")

    def close(self) -> None:
        """Stop reading (the user quit): end a capture child too."""
        if self.child is not None:
            self.child.terminate()
        self._close_current()
        self.done = True

    # --- reading ------------------------------------------------------------------------
    def fileno(self) -> int | None:
        """The descriptor to wait on, or None when finished or holding enough paced records."""
        if self.reader is None or (self.pacer is not None and self.pacer.full):
            return None
        return self.reader.fd

    def filenos(self) -> list[int]:
        """The descriptors to wait on (one at most: the inputs are read in order)."""
        fd = self.fileno()
        return [] if fd is None else [fd]

    @property
    def ticking(self) -> bool:
        """In-process stages run here: they want a tick every second."""
        return self.completer.chain is not None

    def read(self, fd: int | None = None) -> list[Record]:
        """Read what is available now (call when :meth:`fileno` is readable)."""
        reader = self.reader
        if reader is None:
            return []
        try:
            chunk = os.read(reader.fd, READ_SIZE)
        except BlockingIOError:
            return []
        except OSError as exc:
            self.errors.append(f"{reader.name}: {exc.strerror or exc}")
            chunk = b""
        recs = reader.feed(chunk)
        if reader.done:
            if reader.damage:
                self.damage.append(reader.damage)
                recs.append({"t": WARNING, "ts": time.time(), "stage": "rn-view", "msg": reader.damage})
            self._open_next()
        out = self.completer.process(recs)
        if self.done and not self.finished:
            out += self.completer.finish()
            self.finished = True
        if self.pacer is not None:
            self.pacer.push(out)
            return self.pacer.due()
        return out

    def due(self) -> list[Record]:
        return self.pacer.due() if self.pacer is not None else []

    def next_due(self) -> float | None:
        return self.pacer.next_due() if self.pacer is not None else None

    def tick(self, now: float) -> list[Record]:
        out = self.completer.tick(now)
        if self.pacer is not None and out:
            self.pacer.push(out)
            return self.pacer.due()
        return out

    @property
    def drained(self) -> bool:
        """Every input read and every paced record released."""
        return self.done and (self.pacer is None or not self.pacer.pending)

    def batches(self) -> Iterator[list[Record]]:
        """Blocking: every record of every input, batch by batch (for ``--json`` and ``--table``)."""
        while not self.done:
            fd = self.fileno()
            if fd is None:
                yield self.due()
                continue
            select.select([fd], [], [])
            yield self.read()
        while self.pacer is not None and self.pacer.pending:
            yield self.pacer.due()
            nd = self.pacer.next_due()
            if nd is not None:
                time.sleep(max(0.0, min(nd - time.monotonic(), 1.0)))
