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
import shlex
import stat
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any, BinaryIO

import pcapy

from rustnet.capture.batch import BatchReadError, pump_batches
from rustnet.capture.pcapng import BYTE_ORDER_MAGIC, IDB, SHB_MAGIC, PcapngDamage, PcapngReader
from rustnet.capture.pcapwrite import PcapWriter
from rustnet.capture.walk import (
    LITTLE_ENDIAN_MAGICS,
    MAX_SNAPLEN,  # what filters are compiled for (libpcap's own maximum)
    PCAP_MAGICS,
)
from rustnet.stream import RecordWriter
from rustnet.stream.gunzip import Inflater
from rustnet.stream.sniff import EMPTY, HEAD_SIZE, OTHER, RECORDS, empty_message, neither_message, sniff_fd

# Packets between checks of the stop flag (SIGINT/SIGTERM): bounds the reaction time.
CHUNK = 256


OPEN_TIMEOUT = 30.0  # seconds a gzip'd capture's header may take to decompress


class CaptureFileError(Exception):
    """The file cannot be opened as a capture; ``damaged`` when it is a capture cut in its header."""

    def __init__(self, message: str, damaged: bool = False) -> None:
        super().__init__(message)
        self.damaged = damaged


@dataclass
class CaptureInput:
    """An open capture: the libpcap reader, the snaplen its file declares, and (for a gzip'd
    file) the thread decompressing it into the pipe libpcap reads."""

    reader: Any
    snaplen: int | None
    inflater: Inflater | None = None

    def compressed_damage(self) -> str | None:
        """Why the gzip data ended early, once libpcap has read to its end (None: it did not)."""
        if self.inflater is None:
            return None
        self.reader.close()  # a thread still writing (libpcap stopped early) ends at its next write
        return self.inflater.wait()


def open_capture(path: str, setup: Callable[[], None] | None = None) -> CaptureInput:
    """Open ``path`` (``-``: standard input) for reading packets: a pcap or pcapng file, gzip'd or not.

    A file that is empty, a record stream, or neither is refused with one sentence (damaged
    input). ``setup`` runs first on the decompressing thread of a gzip'd file.
    """
    fd = _open_input(path)
    if fd is None:  # a pipe: libpcap reads it, once
        return CaptureInput(open_capture_file(path), None)
    keep_fd = False
    try:
        sniffed = sniff_fd(fd)
        assert sniffed is not None
        if sniffed.damage is not None:
            raise CaptureFileError(f"{path}: {sniffed.damage}", damaged=True)
        if sniffed.kind == EMPTY:
            raise CaptureFileError(empty_message(path), damaged=True)
        if sniffed.kind == OTHER:
            raise CaptureFileError(neither_message(path), damaged=True)
        if sniffed.kind == RECORDS:
            name = shlex.quote(path)
            raise CaptureFileError(
                f"{path} is a rustnet record stream, not a pcap/pcapng capture: "
                f"read it with rn-dissect {name} or rn-view {name}",
                damaged=True,
            )
        snaplen = snaplen_of(sniffed.head)
        if not sniffed.gzip:
            return CaptureInput(open_capture_file(path), snaplen)
        opening = opening_size(sniffed.head)
        if opening is None:
            raise CaptureFileError(
                f"{path}: no pcapng interface description in the first {len(sniffed.head) >> 10} KiB",
                damaged=True,
            )
        keep_fd = path != "-"  # the thread reads the file to its end and closes it
        inflater = Inflater(fd, close_src=keep_fd, setup=setup)
    finally:
        if path != "-" and not keep_fd:
            os.close(fd)
    # libpcap holds the GIL while it reads the file header: those bytes must be there already.
    if not inflater.wait_produced(opening, OPEN_TIMEOUT):
        inflater.close()
        raise CaptureFileError(f"{path}: cannot read: decompressing took over {OPEN_TIMEOUT:.0f} s")
    try:
        # libpcap takes a path: the pipe's, through /dev/fd.
        return CaptureInput(pcapy.open_offline(f"/dev/fd/{inflater.fd}"), snaplen, inflater)
    except pcapy.PcapError as exc:
        inflater.close()
        damage = inflater.wait()
        reason = damage or f"damaged capture file after 0 packets: {exc}"
        raise CaptureFileError(f"{path}: {reason}", damaged=True) from None
    finally:
        inflater.close()  # libpcap opened the pipe anew: this descriptor is no longer needed


def opening_size(head: bytes) -> int | None:
    """Bytes libpcap reads when it opens a capture starting with ``head``: a pcap file header, or
    a pcapng file up to its first interface description block; None when that is not in ``head``."""
    if head[:4] in PCAP_MAGICS:
        return 24
    if head[:4] != SHB_MAGIC or len(head) < 12:
        return len(head)  # cut short: libpcap reads it all and fails
    order = _pcapng_order(head)
    pos = 0
    while pos + 8 <= len(head):
        btype, blen = struct.unpack_from(order + "II", head, pos)
        if blen < 12 or blen % 4:
            return pos + 8  # a damaged block: libpcap fails on it
        pos += blen
        if btype == IDB:
            return int(pos)
    return len(head) if len(head) < HEAD_SIZE else None  # the whole file: libpcap reads it all


def _open_input(path: str) -> int | None:
    """A descriptor on ``path`` (standard input for ``-``) when it is a regular file, else None."""
    if path == "-":
        try:
            return 0 if stat.S_ISREG(os.fstat(0).st_mode) else None
        except OSError:
            return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise CaptureFileError(f"{path}: no such file") from None
    except OSError as exc:
        raise CaptureFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        mode = 0
    if stat.S_ISREG(mode):
        return fd
    os.close(fd)
    if stat.S_ISDIR(mode):
        raise CaptureFileError(f"{path}: is a directory")
    return None  # a FIFO or device: libpcap reads it as a stream


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
    return head in PCAP_MAGICS or head == SHB_MAGIC


def file_snaplen(path: str) -> int | None:
    """The snaplen a file declares (pcap header, or the first pcapng interface), when readable."""
    if path == "-":
        return None
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
    except OSError:
        return None
    return snaplen_of(head)


def snaplen_of(head: bytes) -> int | None:
    """The snaplen declared by a capture that starts with ``head``, when it can be told."""
    if head[:4] in PCAP_MAGICS and len(head) >= 20:
        order = "<" if head[:4] in LITTLE_ENDIAN_MAGICS else ">"
        return int(struct.unpack_from(order + "I", head, 16)[0])
    if head[:4] == SHB_MAGIC and len(head) >= 12:
        order = _pcapng_order(head)
        # Walk the first blocks (secrets or comments may precede the interface block).
        pos = 0
        for _ in range(16):
            if pos + 16 > len(head):
                break
            btype, blen = struct.unpack_from(order + "II", head, pos)
            if btype == IDB:
                return int(struct.unpack_from(order + "I", head, pos + 12)[0]) or None
            if blen < 12 or blen % 4:
                break
            pos += blen
    return None


def _pcapng_order(head: bytes) -> str:
    """The struct byte order of the pcapng section whose header block starts ``head``."""
    return "<" if struct.unpack_from("<I", head, 8)[0] == BYTE_ORDER_MAGIC else ">"


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


def pump_pcapng(
    fh: BinaryIO | IO[bytes],
    writer: RecordWriter,
    first_linktype: int,
    count: int,
    dump: PcapWriter | None,
    should_stop: Callable[[], bool],
    bpf: str = "",
    skip: int = 0,
) -> tuple[int, str | None, int]:
    """Write the packets of a pcapng file with :class:`PcapngReader` (the files libpcap refuses:
    interfaces of different link types or snap lengths, sections of different byte orders).

    A packet whose link type is not ``first_linktype`` (the header's) carries its own as the
    ``pkt`` record's fifth field. ``bpf`` is compiled for each link type met; the first ``skip``
    packets that pass it are not written again (libpcap wrote them before it gave up). Returns
    (packets written, the damage or None, packets not written to ``dump``: a pcap file holds
    one link type).
    """
    write = writer.write
    programs: dict[int, Any] = {}
    n = unwritten = 0
    packets = PcapngReader(fh)
    try:
        for i, pkt in enumerate(packets.packets()):
            if i % CHUNK == 0 and should_stop():
                break
            if bpf:
                if pkt.linktype in programs:
                    program = programs[pkt.linktype]
                else:
                    program = programs[pkt.linktype] = _compile(bpf, pkt.linktype)
                if program is None or not program.filter(pkt.data):
                    continue
            if skip > 0:
                skip -= 1
                continue
            if pkt.linktype == first_linktype:
                write(["pkt", pkt.ts, pkt.wirelen, pkt.data])
                if dump is not None:
                    dump.write(pkt.sec, pkt.usec, pkt.wirelen, pkt.data)
            else:
                write(["pkt", pkt.ts, pkt.wirelen, pkt.data, pkt.linktype])
                unwritten += dump is not None
            n += 1
            if 0 < count <= n:
                break
    except PcapngDamage as exc:
        return n, str(exc), unwritten
    return n, None, unwritten


def _compile(bpf: str, linktype: int) -> Any:
    """``bpf`` for packets of ``linktype``; None when libpcap cannot express it there (every
    packet of that link type is then left out, as a capture of it with the filter would be)."""
    try:
        return pcapy.compile(linktype, MAX_SNAPLEN, bpf, 1, 0)
    except pcapy.PcapError:
        return None
