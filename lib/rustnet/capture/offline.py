"""Read a pcap or pcapng file with libpcap into ``pkt`` records.

Two ways, the same records. ``next()`` gives the true wire length (``getlen()``, needed for
byte totals when frames were cut by the snaplen) and stops exactly at the first damaged
record. ``next_batch`` gives a few hundred packets per call at about half the cost per
packet, but only their captured length, and it loses its whole batch on a read error: it
is used for the packets that ``wirelen.WholePacketProof`` showed whole and readable (for
them the captured length is the wire length), ``next()`` for everything else.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from typing import Any

import pcapy

from rustnet.capture.batch import BatchReadError, pump_batches
from rustnet.capture.pcapwrite import PcapWriter
from rustnet.stream import RecordWriter

# Packets between checks of the stop flag (SIGINT/SIGTERM): bounds the reaction time.
CHUNK = 256


_PCAP_MAGICS = {
    b"\xa1\xb2\xc3\xd4": ">",
    b"\xd4\xc3\xb2\xa1": "<",
    b"\xa1\xb2\x3c\x4d": ">",
    b"\x4d\x3c\xb2\xa1": "<",
}
_PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"


class CaptureFileError(Exception):
    """The file cannot be opened as a capture; ``damaged`` when it is a capture cut in its header."""

    def __init__(self, message: str, damaged: bool = False) -> None:
        super().__init__(message)
        self.damaged = damaged


def open_capture_file(path: str) -> Any:
    """A libpcap reader for ``path`` (``-`` is standard input)."""
    try:
        return pcapy.open_offline(path)
    except pcapy.PcapError as exc:
        reason = str(exc)
        if path != "-" and not os.path.exists(path):
            raise CaptureFileError(f"{path}: no such file") from None
        if path != "-" and os.path.isdir(path):
            raise CaptureFileError(f"{path}: is a directory") from None
        if "truncated" in reason and path != "-" and _has_capture_magic(path):
            raise CaptureFileError(
                f"{path}: damaged capture file after 0 packets: {reason}", damaged=True
            ) from None
        if "unknown file format" in reason or "truncated" in reason:
            raise CaptureFileError(f"{path}: not a pcap or pcapng capture file ({reason})") from None
        raise CaptureFileError(f"{path}: cannot read: {reason}") from None


def _has_capture_magic(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError:
        return False
    return head in _PCAP_MAGICS or head == _PCAPNG_SHB


def file_snaplen(path: str) -> int | None:
    """The snaplen a file declares (pcap header, or the first pcapng interface), when readable."""
    if path == "-":
        return None
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
    except OSError:
        return None
    order = _PCAP_MAGICS.get(head[:4])
    if order is not None and len(head) >= 20:
        return int(struct.unpack_from(order + "I", head, 16)[0])
    if head[:4] == _PCAPNG_SHB and len(head) >= 12:
        order = "<" if head[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
        # Walk the first blocks (secrets or comments may precede the interface block).
        pos = 0
        for _ in range(16):
            if pos + 16 > len(head):
                break
            btype, blen = struct.unpack_from(order + "II", head, pos)
            if btype == 1:
                return int(struct.unpack_from(order + "I", head, pos + 12)[0]) or None
            if blen < 12 or blen % 4:
                break
            pos += blen
    return None


def pump_file(
    reader: Any,
    writer: RecordWriter,
    count: int,
    dump: PcapWriter | None,
    should_stop: Callable[[], bool],
    whole: int = 0,
) -> tuple[int, str | None]:
    """Write every packet of ``reader`` as a ``pkt`` record.

    The first ``whole`` packets are known to be whole (``wirelen.WholePacketProof``) and are
    read in batches. Returns (packets written, None) at the end of the file, at ``count``
    packets (0: no limit) or when ``should_stop()`` turns true; (packets written, libpcap's
    reason) when the file turns out damaged.
    """
    n = 0
    try:
        if whole > 0:
            limit = whole if count <= 0 else min(whole, count)
            n = pump_batches(reader.next_batch, writer, dump, limit, should_stop, from_file=True)
            if should_stop() or 0 < count <= n:
                return n, None
        return n + _pump_exact(reader, writer, count - n if count > 0 else 0, dump, should_stop), None
    except BatchReadError as exc:  # in the batches only when the file changed since it was proven whole
        return n + exc.packets, exc.reason


def _pump_exact(
    reader: Any, writer: RecordWriter, count: int, dump: PcapWriter | None, should_stop: Callable[[], bool]
) -> int:
    """Write packets with ``next()`` (true wire lengths) until the end, ``count`` (0: no limit) or a stop."""
    nxt = reader.next
    write = writer.write
    n = 0
    try:
        while not should_stop():
            chunk = CHUNK if count <= 0 else min(CHUNK, count - n)
            if chunk <= 0:
                break
            if dump is None:
                for _ in range(chunk):
                    hdr, data = nxt()
                    if hdr is None:
                        return n
                    sec, usec = hdr.getts()
                    write(["pkt", sec + usec * 1e-6, hdr.getlen(), data])
                    n += 1
            else:
                for _ in range(chunk):
                    hdr, data = nxt()
                    if hdr is None:
                        return n
                    sec, usec = hdr.getts()
                    wirelen = hdr.getlen()
                    write(["pkt", sec + usec * 1e-6, wirelen, data])
                    dump.write(sec, usec, wirelen, data)
                    n += 1
    except pcapy.PcapError as exc:
        raise BatchReadError(n, str(exc) or "read error") from None
    return n
