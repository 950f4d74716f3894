"""``pkt`` records from libpcap's ``next_batch``: a few hundred packets per call, a frame each.

``next_batch`` returns the packets of one call as one buffer plus 16 bytes of metadata per
packet (seconds, microseconds, offset, captured length). A MessagePack writer on a little-endian
host takes the two as they are, as one ``pkb`` record (rustnet.stream.pktbatch): no Python work
per packet at all; so does rn-capture --dissect's, which hands it to the Dissector. Otherwise
(JSON, rn-capture --shard, which wants the packets themselves) the records are built in one list
comprehension and handed to the writer as a whole frame. There is no wire length: callers use
this only for packets whose captured length is their wire length (a file proven whole, or a live
capture whose snaplen is larger than any frame).
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import pcapy

from rustnet.capture.pcapwrite import PcapWriter
from rustnet.stream import RecordWriter

# sec, usec, offset, caplen per packet, as unsigned 32-bit numbers. Files: libpcap reads a classic
# pcap's seconds and microseconds as signed 32-bit (as next() reports them), so they are read back
# signed; live: the kernel's clock, unsigned (good until 2106).
_META = struct.Struct("=IIII")
_META_FILE = struct.Struct("=iiII")

NextBatch = Callable[[int], tuple[bytes, bytes]]


class BatchReadError(Exception):
    """libpcap failed after ``packets`` packets were written (the failing call's batch is lost)."""

    def __init__(self, packets: int, reason: str) -> None:
        super().__init__(reason)
        self.packets = packets
        self.reason = reason


def pump_batches(
    next_batch: NextBatch,
    writer: RecordWriter,
    dump: PcapWriter | None,
    limit: int,
    should_stop: Callable[[], bool] | None = None,
    from_file: bool = False,
) -> int:
    """Write up to ``limit`` packets, stopping early when ``next_batch`` has none or ``should_stop()``
    (checked between calls) is true; returns how many. A libpcap error raises BatchReadError."""
    iter_meta = (_META_FILE if from_file else _META).iter_unpack
    write_packets = writer.write_packets
    # RecordWriter and rn-capture --dissect's writer have it; --shard's takes pkt records.
    as_batches = getattr(writer, "packet_batches", False) is True
    per_call = writer.max_records
    n = 0
    while n < limit:
        if should_stop is not None and should_stop():
            break
        try:
            buf, meta = next_batch(min(per_call, limit - n))
        except pcapy.PcapError as exc:
            raise BatchReadError(n, str(exc) or "read error") from None
        if not meta:
            break
        if as_batches:
            count = len(meta) // _META.size
            writer.write_packet_batch(from_file, meta, buf)
        else:
            recs = [
                ["pkt", sec + usec * 1e-6, caplen, buf[off : off + caplen]]
                for sec, usec, off, caplen in iter_meta(meta)
            ]
            count = len(recs)
            write_packets(recs, len(buf))
        if dump is not None:
            for sec, usec, off, caplen in iter_meta(meta):
                dump.write(sec, usec, caplen, buf[off : off + caplen])
        n += count
        # Large packets: fewer per call, so that a call stays one frame of about writer.max_bytes.
        per_call = max(16, min(writer.max_records, writer.max_bytes * count // (len(buf) + 24 * count)))
    return n
