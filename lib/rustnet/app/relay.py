"""Between the last stage and the viewer: copy the records, tee them, log them, add warnings.

The relay decodes the last stage's output (connection records are few, so this is
cheap) and re-encodes it into the pipe the viewer reads. Working on records rather
than bytes lets it append a ``warn`` record the moment a stage dies — the viewer
then shows why instead of going quiet — and keeps the stream valid even when a
stage was killed in the middle of a frame. The same records go to ``--record``
and, when logging is on, to the session log (header, capture statistics, warnings,
connection state changes; every record at TRACE).
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from typing import Any

from rustnet.app.handoff import Handoff
from rustnet.app.logsetup import TRACE, get_logger
from rustnet.app.supervise import Child, Pipeline
from rustnet.cli.common import EXIT_DAMAGED
from rustnet.cli.safefile import create_private
from rustnet.export import Exports
from rustnet.stream import NewerFormatError, PipeClosed, Record, RecordReader, RecordWriter
from rustnet.stream.records import CAPTURE_STATS, CONN, HEADER, WARNING, record_type

MAX_TRACKED_STATES = 200_000  # connection ids whose last state we remember for the log
STATS_LOG_EVERY = 10.0  # seconds between capture statistics lines at INFO


class RecordLog:
    """Turns records into log lines: what RustNet's log files hold."""

    def __init__(self, log: logging.Logger) -> None:
        self.log = log
        self.states: collections.OrderedDict[Any, Any] = collections.OrderedDict()
        self._last_stats_at = 0.0
        self.last_stats: dict[str, Any] | None = None

    def observe(self, recs: list[Record]) -> None:
        log = self.log
        trace = log.isEnabledFor(TRACE)
        debug = log.isEnabledFor(logging.DEBUG)
        for rec in recs:
            if trace:
                log.log(TRACE, "record %s", _short(rec))
            if not isinstance(rec, dict):
                continue
            t = rec.get("t")
            if t == CONN:
                if debug:
                    self._conn(rec)
            elif t == CAPTURE_STATS:
                self._stats(rec)
            elif t == HEADER:
                log.info(
                    "stream: source=%s live=%s linktype=%s snaplen=%s stages=%s",
                    *(_clip(rec.get(k)) for k in ("source", "live", "linktype", "snaplen", "stages")),
                )
            elif t == WARNING:
                log.warning("%s: %s", _clip(rec.get("stage")), _clip(rec.get("msg")))

    def _conn(self, rec: dict[str, Any]) -> None:
        cid = rec.get("id")
        state = rec.get("state")
        try:
            old = self.states.get(cid, None)
        except TypeError:  # an unhashable id from a hostile stream
            return
        if old == state:
            return
        self.states[cid] = state
        self.states.move_to_end(cid)
        if len(self.states) > MAX_TRACKED_STATES:
            self.states.popitem(last=False)
        self.log.debug(
            "conn %s %s %s:%s -> %s:%s %s -> %s",
            *(
                _clip(v)
                for v in (
                    cid,
                    rec.get("proto"),
                    rec.get("src"),
                    rec.get("sport"),
                    rec.get("dst"),
                    rec.get("dport"),
                    old or "new",
                    state,
                )
            ),
        )

    def _stats(self, rec: dict[str, Any]) -> None:
        now = time.monotonic()
        self.last_stats = rec
        line = (
            "capture statistics: source=%s packets=%s received=%s dropped=%s ifdropped=%s",
            rec.get("source"),
            rec.get("packets"),
            rec.get("received"),
            rec.get("dropped"),
            rec.get("ifdropped"),
        )
        if now - self._last_stats_at >= STATS_LOG_EVERY:
            self._last_stats_at = now
            self.log.info(*line)
        else:
            self.log.debug(*line)

    def finish(self) -> None:
        if self.last_stats is not None:
            rec = self.last_stats
            self.log.info(
                "final capture statistics: packets=%s received=%s dropped=%s ifdropped=%s",
                rec.get("packets"),
                rec.get("received"),
                rec.get("dropped"),
                rec.get("ifdropped"),
            )


def _clip(value: Any) -> str:
    """A field for a log line: hostile streams may carry megabyte strings."""
    text = str(value)
    return text if len(text) <= 200 else text[:200] + "..."


def _short(rec: Record) -> str:
    text = repr(rec)
    return text if len(text) <= 600 else text[:600] + "..."


def open_record_file(path: str) -> int:
    """The ``--record`` file, created 0600 (it holds connection data); OSError when impossible."""
    return create_private(path)


def warn_record(stage: str, msg: str) -> dict[str, Any]:
    return {"t": WARNING, "ts": time.time(), "stage": stage, "msg": msg}


class Relay:
    """A thread copying records from ``src_fd`` to ``dst_fd`` (and to ``record_fd``)."""

    def __init__(
        self,
        src_fd: int,
        dst_fd: int | Handoff,
        pipeline: Pipeline,
        record_fd: int | None = None,
        exports: Exports | None = None,
    ) -> None:
        self.src_fd = src_fd
        self.exports = exports  # --json-log, --pcap-export's sidecar, --pcapng-export's attribution
        # A pipe the records go to, encoded, or the viewer in this process (rustnet.app.handoff).
        self.dst_fd = dst_fd if isinstance(dst_fd, int) else None
        self.handoff = dst_fd if isinstance(dst_fd, Handoff) else None
        self.pipeline = pipeline
        self.log = get_logger()
        self.record_log = RecordLog(get_logger("stream"))
        self.record_fd = record_fd  # --record: ours to close
        self.record_error: str | None = None
        self.damage: str | None = None
        self.records = 0
        # Set once a stream header went through (the capture is open and the stages work), or
        # when the stream ended: what the TUI waits for before it takes over the terminal.
        self.ready = threading.Event()
        self.saw_header = False
        self._reported: set[int] = set()
        self._drops_reported = False
        self._thread = threading.Thread(target=self._run, name="rustnet-relay", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        out: RecordWriter | Handoff
        if self.handoff is not None:
            out = self.handoff
        else:
            assert self.dst_fd is not None
            out = RecordWriter(self.dst_fd)
        rec_out = RecordWriter(self.record_fd) if self.record_fd is not None else None
        reader = RecordReader(self.src_fd, self.pipeline.children[-1].name if self.pipeline.children else "-")
        try:
            while not reader.done:
                try:
                    recs = reader.poll(0.2)
                except NewerFormatError as exc:  # refused: said like any other damage
                    reader.damage = str(exc)
                    break
                if recs:
                    self.records += len(recs)
                    if not self.saw_header and any(record_type(r) == HEADER for r in recs):
                        self.saw_header = True
                    self.record_log.observe(recs)
                    if self.exports is not None:
                        self.exports.observe(recs)
                    out.write_many(recs)
                    if rec_out is not None:  # encoded before the viewer may change a record
                        rec_out = self._tee(rec_out, recs)
                    out.flush()
                    if self.saw_header:
                        self.ready.set()
                self._report_failures(out)
                self._report_export_drops(out)
            self.damage = reader.damage
            if reader.damage:
                self.log.warning("%s", reader.damage)
                out.write(warn_record("rustnet", reader.damage))
            # The stream ended: the stages are exiting; say why any of them failed.
            self.pipeline.wait_all(2.0)
            self._report_failures(out)
            out.close()
            if rec_out is not None:
                self._tee(rec_out, [])
        except (PipeClosed, OSError):
            pass  # the viewer is gone: nothing left to relay to
        except Exception:  # never let the relay thread die silently: the log says why
            self.log.exception("relay failed")
        finally:
            if self.handoff is not None:
                self.handoff.end()
            if self.exports is not None:
                self.exports.records_ended()
            self.ready.set()
            self.record_log.finish()
            for fd in (self.src_fd, self.dst_fd, self.record_fd):
                if fd is not None:
                    try:
                        os.close(fd)
                    except OSError:
                        pass

    def _tee(self, rec_out: RecordWriter, recs: list[Record]) -> RecordWriter | None:
        try:
            rec_out.write_many(recs)
            rec_out.flush()
            return rec_out
        except (OSError, PipeClosed) as exc:
            self.record_error = f"--record stopped: {exc}"
            self.log.error("%s", self.record_error)
            return None

    def _report_export_drops(self, out: RecordWriter | Handoff) -> None:
        """Once, when the packet exports first leave packets out: the viewer says so (RustNet's
        Export Drops); the count at the end is said on exit."""
        packets = None if self.exports is None else self.exports.packets
        if packets is None or not packets.drops or self._drops_reported:
            return
        self._drops_reported = True
        msg = "packet export queue full: packets are being left out of the export files"
        self.log.warning("%s", msg)
        out.write(warn_record("rustnet", msg))
        out.flush()

    def _report_failures(self, out: RecordWriter | Handoff) -> None:
        for child in self.pipeline.failures():
            if id(child) not in self._reported:
                self._reported.add(id(child))
                out.write(warn_record(child.name, _exit_message(child)))
                out.flush()


def _exit_message(child: Child) -> str:
    """What the viewer shows after the stage's name: ``killed by SIGKILL``, ``exited with status 1: why``;
    for damaged input (status 3) the stage's one line alone (what came before it is on screen)."""
    detail = child.last_error
    if child.status == EXIT_DAMAGED and detail:
        return detail
    return child.exit_reason() + (f": {detail}" if detail else "")


__all__ = ["Relay", "RecordLog", "record_type", "warn_record"]
