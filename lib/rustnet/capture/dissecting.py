"""``rn-capture -r FILE --dissect``: rn-dissect's work done in rn-capture's process.

rn-capture hands its records (header, ``pkt`` records, warnings, stats) to a writer; this one
passes them through rn-dissect's :class:`~rustnet.dissect.engine.Dissector` first and writes
what comes out: the stream ``rn-capture -r FILE | rn-dissect`` gives, without every packet's
bytes encoded, piped and decoded again (on full-size frames that is most of both stages' cost).

rn-capture gives up root before the first packet (a file is read, a live capture drained, only
after the drop), so the dissecting runs as the unprivileged user rn-dissect would run as. Whole
frames come as libpcap reads them, a pkb record a batch, which the Dissector reads in place
(rustnet.stream.pktbatch). Records written one at a time are gathered and dissected in batches;
a batch of packets is dissected as it comes, after what was gathered. Live, each flush
(rn-capture flushes before it waits for packets) also gives the Dissector its tick, at most once
a second as rn-dissect does: its counters then follow while the link is quiet.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from rustnet.dissect.engine import Dissector
from rustnet.stream import pktbatch
from rustnet.stream.records import PACKETS, Record

BATCH = 256  # records written one by one (a damaged file's packets) dissected together
TICK_EVERY = 1.0  # seconds between the Dissector's ticks (rn-dissect's interval)


class DissectingWriter:
    """A RecordWriter's interface in front of ``writer``: records go through a Dissector."""

    def __init__(self, writer: Any) -> None:
        self.writer = writer
        self.dissector = Dissector(dpi=True)
        self.max_records: int = writer.max_records
        self.max_bytes: int = writer.max_bytes
        self._pending: list[Record] = []
        self._next_tick = time.monotonic() + TICK_EVERY
        # libpcap's batches reach the Dissector as pkb records, each frame read in place.
        self.packet_batches = pktbatch.META_IN_HOST_ORDER

    def _dissect(self, recs: list[Record]) -> None:
        out = self.dissector.process(recs)
        if out:
            self.writer.write_many(out)

    def _drain(self) -> None:
        if self._pending:
            pending, self._pending = self._pending, []
            self._dissect(pending)

    def write_packets(self, recs: Sequence[Record], data_bytes: int) -> None:
        self._drain()
        self._dissect(list(recs))

    def write_packet_batch(self, signed: bool, meta: bytes, data: bytes) -> None:
        self._drain()
        self._dissect([[PACKETS, signed, meta, data]])

    def write(self, rec: Record) -> None:
        self._pending.append(rec)
        if len(self._pending) >= BATCH:
            self._drain()

    def write_many(self, recs: list[Record]) -> None:
        self._pending.extend(recs)
        if len(self._pending) >= BATCH:
            self._drain()

    def flush(self) -> None:
        self._drain()
        now = time.monotonic()
        if now >= self._next_tick:
            self._next_tick = now + TICK_EVERY
            out = self.dissector.tick(time.time())
            if out:
                self.writer.write_many(out)
        self.writer.flush()

    def close(self) -> None:
        self._drain()
        out = self.dissector.finish()
        if out:
            self.writer.write_many(out)
        self.writer.close()
