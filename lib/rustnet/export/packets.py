"""``--pcap-export`` and ``--pcapng-export``: the packets rn-dissect reads, written by a thread of ours.

How a packet travels (every bound is a constant below):

1. The tap thread (rustnet.app.supervise) copies the packet stream into rn-dissect, then
   hands the same bytes to :meth:`PacketExports.feed`, which decodes them and puts the
   packet records on the **export queue** (at most ``QUEUE_MAX`` records). When it is full,
   a live capture's packets are dropped from the exports and counted (the capture itself
   never waits for a disk); a file's reader waits instead (nothing is lost, the file is
   only read more slowly).
2. The writer thread takes them off the queue. pcap: written at once. pcapng: the packet is
   dissected to its connection key (L2-L4, no DPI) and joins the **waiting line**, in order.
3. A packet leaves the line, oldest first, with the comment its connection's record gives
   (rustnet.export.attribution), when that record is *settled* for it, or when the line
   holds more than its bound (``PENDING_MAX`` packets live, ``PENDING_MAX_FILE`` from a
   file, ``PENDING_BYTES`` bytes): then the oldest is written with what is known.
   Live, as RustNet: settled once the record has seen the packet (``last_seen``) and names
   its process, or after ``WAIT_SECONDS`` of waiting. From a file (no process to wait
   for; the file is read faster than real time): once the records report on the
   ``WAIT_SECONDS`` of capture time that follow the packet, or on its connection's end.
   At shutdown everything still waiting is written with what is known.

Memory is therefore bounded by the two queues, the attribution table (``max_connections``
keys) and rn-dissect's own bounded tables in the dissector used for keys.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from typing import Any, BinaryIO, Final

from rustnet import __version__, caps
from rustnet.export.attribution import AttributionTable, Key, flow_key
from rustnet.export.pcapfiles import SNAPLEN, PcapFile, PcapngFile
from rustnet.stream import RecordReader
from rustnet.stream.records import (
    CONN,
    HEADER,
    PACKET,
    SUM_DPORT,
    SUM_DST,
    SUM_PROTO,
    SUM_SPORT,
    SUM_SRC,
)
from rustnet.track.record import proto_name

QUEUE_MAX: Final = 10_000  # records on the export queue
PENDING_MAX: Final = 10_000  # packets waiting for their connection's record (live)
PENDING_MAX_FILE: Final = 100_000  # the same from a file, read much faster than it was captured
PENDING_BYTES: Final = 64 << 20
WAIT_SECONDS: Final = 2.0
FLUSH_SECONDS: Final = 0.5  # a live export reaches the disk at least this often
_TICK: Final = 0.1
CLOSE_SECONDS: Final = 3.0  # how long shutdown waits for the files to be written out


class _Waiting:
    __slots__ = ("since", "ts", "wirelen", "data", "iface", "key")

    def __init__(
        self, since: float, ts: float, wirelen: int, data: bytes, iface: int, key: Key | None
    ) -> None:
        self.since = since
        self.ts = ts
        self.wirelen = wirelen
        self.data = data
        self.iface = iface
        self.key = key


class PacketExports:
    """The packet exports of one run: fed by the tap thread, written by a thread of its own."""

    def __init__(
        self, pcap_fd: int | None, pcapng_fd: int | None, max_connections: int, local_ids: bool = False
    ) -> None:
        self.pcap = None if pcap_fd is None else PcapFile(self._file(pcap_fd))
        self.pcapng = (
            None if pcapng_fd is None else PcapngFile(self._file(pcapng_fd), f"rustnet {__version__}")
        )
        self.table = AttributionTable(max_connections, local_ids)
        self.live = True  # until the stream's header says otherwise
        self.drops = 0  # packets the full export queue turned away (live)
        self.forced = 0  # packets written before their record was settled, to keep the line bounded
        self.skipped = 0  # pcap: packets of a link type other than the file's
        self.error: str | None = None
        self._reader = RecordReader(-1, "packet stream")
        self._cond = threading.Condition()
        self._queue: collections.deque[list[Any]] = collections.deque()
        self._queued = 0
        self._ended = False  # the tap saw the end of the stream
        self._closing = False
        self._dead = False  # the writer thread ended (an error): nothing more is queued
        self._records_ended = False
        self._pending: collections.deque[_Waiting] = collections.deque()
        self._pending_bytes = 0
        self._dissector: Any = None
        self._linktype: int | None = None
        self._thread = threading.Thread(target=self._run, name="rustnet-export", daemon=True)
        self._thread.start()

    @staticmethod
    def _file(fd: int) -> BinaryIO:
        return os.fdopen(fd, "wb", buffering=1 << 20)

    # --- the tap thread -------------------------------------------------------
    def feed(self, chunk: bytes) -> None:
        reader = self._reader
        if reader.done or self._dead:
            return
        recs: list[Any] = [r for r in reader.feed(chunk) if type(r) is list or type(r) is dict]
        if not recs:
            return
        for rec in recs:
            if type(rec) is dict and rec.get("t") == HEADER and isinstance(rec.get("live"), bool):
                self.live = rec["live"]
        with self._cond:
            if self.live:
                room = QUEUE_MAX - self._queued
                if len(recs) > room:
                    kept: list[Any] = [r for r in recs if type(r) is dict]  # headers always pass
                    kept += [r for r in recs if type(r) is list][: max(0, room - len(kept))]
                    self.drops += len(recs) - len(kept)
                    recs = kept
            else:
                while self._queued and self._queued + len(recs) > QUEUE_MAX and not self._closing:
                    if self._dead:
                        return
                    self._cond.wait(0.5)
            self._queue.append(recs)
            self._queued += len(recs)
            self._cond.notify_all()

    def end(self) -> None:
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    # --- the relay thread -------------------------------------------------------
    def observe(self, recs: list[Any]) -> None:
        if self.pcapng is None:
            return
        update = self.table.update
        for rec in recs:
            if type(rec) is dict and rec.get("t") == CONN:
                update(rec)

    def records_ended(self) -> None:
        """The connection records ended (every final record is in): nothing more will settle."""
        with self._cond:
            self._records_ended = True
            self._cond.notify_all()

    # --- shutdown -------------------------------------------------------------
    def close(self) -> list[str]:
        """Write everything still queued or waiting, close the files; what to tell the user."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(CLOSE_SECONDS)
        said = []
        if self._thread.is_alive():  # stuck on a FIFO nobody reads, a hung disk: not our exit too
            said.append("packet export: the writer did not finish in time; the files may be cut short")
        if self.error:
            said.append(self.error)
        if self.drops:
            said.append(f"{self.drops:,} packets left out of the exports (the export queue was full)")
        if self.skipped:
            said.append(f"--pcap-export: {self.skipped:,} packets of another link type left out")
        return said

    # --- the writer thread ------------------------------------------------------
    def _run(self) -> None:
        try:  # this thread parses packets: no capabilities (they are per thread)
            caps.limit(0)
        except caps.CapsError:
            pass  # rustnet's own confinement fails the same way, and says so
        last_flush = time.monotonic()
        try:
            while True:
                with self._cond:
                    if not self._closing and not self._queue:
                        self._cond.wait(_TICK)
                    batches = self._take()
                    closing = self._closing
                    # The records are over and so are the packets: write out what waits.
                    drain = self._records_ended and self._ended and not self._queue
                    self._cond.notify_all()
                for recs in batches:
                    self._records(recs)
                self._release(closing or drain)
                now = time.monotonic()
                if closing or now - last_flush >= FLUSH_SECONDS or not batches:
                    self._flush()
                    last_flush = now
                if closing:
                    with self._cond:
                        if not self._queue:
                            break
        except OSError as exc:
            self.error = f"packet export stopped: {exc.strerror or exc}"
        except Exception as exc:  # a bug: the exports stop, the run goes on
            self.error = f"packet export stopped: {exc!r}"[:300]
        finally:
            with self._cond:
                self._dead = True
                self._queue.clear()
                self._queued = 0
                self._cond.notify_all()
            self._close_files()

    def _take(self) -> list[list[Any]]:
        """Every batch on the queue."""
        out = []
        while self._queue:
            recs = self._queue.popleft()
            self._queued -= len(recs)
            out.append(recs)
        return out

    def _line_full(self) -> bool:
        limit = PENDING_MAX if self.live else PENDING_MAX_FILE
        return len(self._pending) > limit or self._pending_bytes > PENDING_BYTES

    def _records(self, recs: list[Any]) -> None:
        pcap, pcapng = self.pcap, self.pcapng
        now = time.monotonic()
        for rec in recs:
            if type(rec) is dict:
                if rec.get("t") == HEADER:
                    self._header(rec)
                continue
            n = len(rec)
            if n < 4 or rec[0] != PACKET:
                continue
            ts, wirelen, data = rec[1], rec[2], rec[3]
            if type(ts) is not float or type(wirelen) is not int or type(data) is not bytes:
                continue
            linktype = rec[4] if n >= 5 and type(rec[4]) is int else self._linktype
            if linktype is None:
                continue  # no header yet: nothing says how to read it
            if pcap is not None:
                if pcap.linktype is None:
                    pcap.start(linktype)
                if linktype == pcap.linktype:
                    pcap.packet(ts, wirelen, data)
                else:
                    self.skipped += 1
            if pcapng is not None:
                iface = pcapng.interface(linktype)
                data = data[:SNAPLEN]
                self._pending.append(
                    _Waiting(now, ts, wirelen, data, iface, self._key(ts, wirelen, data, n, rec))
                )
                self._pending_bytes += len(data)
                if self._line_full():
                    self._release(False)

    def _header(self, hdr: dict[str, Any]) -> None:
        linktype = hdr.get("linktype")
        if type(linktype) is not int:
            return
        if self._linktype is None and self.pcapng is not None:
            source = hdr.get("source")
            self.pcapng.if_name = source if isinstance(source, str) else ""
        self._linktype = linktype
        if self.pcapng is not None:
            if self._dissector is None:
                from rustnet.dissect.engine import Dissector

                self._dissector = Dissector(dpi=False)
            self._dissector.header(hdr)

    def _key(self, ts: float, wirelen: int, data: bytes, n: int, rec: list[Any]) -> Key | None:
        """The packet's connection key, from its own L2-L4 summary (as rn-track keys it)."""
        dissector = self._dissector
        if dissector is None:
            return None
        summary = (
            dissector.packet_of_link(ts, wirelen, data, rec[4])
            if n >= 5
            else dissector.packet(ts, wirelen, data)
        )
        dissector.discard_inner()  # a tunnel's inner packets would pile up otherwise
        if summary is None:
            return None
        return flow_key(
            proto_name(summary[SUM_PROTO]),
            summary[SUM_SRC],
            summary[SUM_SPORT],
            summary[SUM_DST],
            summary[SUM_DPORT],
        )

    def _release(self, closing: bool) -> None:
        pcapng = self.pcapng
        pending = self._pending
        if pcapng is None or not pending:
            return
        now = time.monotonic()
        table = self.table
        lookup = table.lookup
        live = self.live
        while pending:
            head = pending[0]
            meta = None if head.key is None else lookup(head.key, head.ts)
            if live:
                settled = meta is not None and meta.attributed and meta.last_seen >= head.ts
            else:
                after = head.ts + WAIT_SECONDS
                settled = table.watermark >= after or (
                    meta is not None and (meta.final or meta.last_seen >= after)
                )
            if not (settled or head.key is None or closing or (live and now - head.since >= WAIT_SECONDS)):
                if not self._line_full():
                    break
                self.forced += 1
            pending.popleft()
            self._pending_bytes -= len(head.data)
            pcapng.packet(
                head.iface, head.ts, head.wirelen, head.data, None if meta is None else meta.comment
            )

    def _flush(self) -> None:
        for f in (self.pcap, self.pcapng):
            if f is not None:
                f.fh.flush()

    def _close_files(self) -> None:
        for f in (self.pcap, self.pcapng):
            if f is not None:
                try:
                    f.fh.close()
                except OSError as exc:
                    self.error = self.error or f"packet export: {exc.strerror or exc}"
