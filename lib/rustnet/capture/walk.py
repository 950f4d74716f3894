"""The header walks of a capture file: every packet whole, as libpcap would read it.

:func:`whole_records` is the proof ``rustnet.capture.wirelen`` takes without a user's filter: one
pass over the 16-byte record headers, no packet handed to Python. It runs once per packet of the
file, so it is compiled with mypyc, and it reads the headers from chunks of the file
(``os.pread``: no page of the file mapped into our memory) a byte at a time: compiled, indexing a
``bytes`` builds no object, where ``struct`` built a tuple and two numbers for every record (on
200k full-size frames 0.03 s against 0.08; on 200k short-flow frames 0.007 s).
:func:`whole_pcapng_records` walks a pcapng file's blocks the same way. Neither imports anything
of libpcap's.
"""

from __future__ import annotations

import os
from typing import Final

from rustnet.capture.pcapng import (
    BYTE_ORDER_MAGIC,
    EPB,
    IDB,
    MAX_BLOCK,
    OBSOLETE_PB,
    OPT_TSOFFSET,
    OPT_TSRESOL,
    SHB,
    SHB_MAGIC,
    SPB,
)

# Classic pcap, both byte orders, microsecond and nanosecond timestamps.
PCAP_MAGICS: Final = (b"\xa1\xb2\xc3\xd4", b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\x3c\x4d", b"\x4d\x3c\xb2\xa1")
LITTLE_ENDIAN_MAGICS: Final = (PCAP_MAGICS[1], PCAP_MAGICS[3])
# libpcap's largest snaplen for the link types the walk is taken for (MAXIMUM_SNAPLEN): it reads
# a file whose header says 0 or more with this one, and cuts (or refuses) a record longer than
# the snaplen it reads with.
MAX_SNAPLEN: Final = 262144
PCAP_HEADER_LEN: Final = 24
PCAP_RECORD_LEN: Final = 16
WALK_READ: Final = 1 << 20  # bytes of file the walk reads at once


def layout_of(head: bytes) -> tuple[bool, int] | None:
    """(little-endian, the snaplen libpcap reads with) of the classic pcap file whose first bytes are
    ``head``; None for anything else, and for versions other than 2.4 (older files swap or pad
    fields, as libpcap knows: nothing is proven for them)."""
    if len(head) < PCAP_HEADER_LEN or head[:4] not in PCAP_MAGICS:
        return None
    little = head[:4] in LITTLE_ENDIAN_MAGICS
    if _u16(head, 4, little) != 2 or _u16(head, 6, little) != 4:
        return None
    snaplen = _u32(head, 16, little)
    if not 0 < snaplen <= MAX_SNAPLEN:
        snaplen = MAX_SNAPLEN
    return little, snaplen


def _u16(b: bytes, at: int, little: bool) -> int:
    if little:
        return b[at] | b[at + 1] << 8
    return b[at] << 8 | b[at + 1]


def _u32(b: bytes, at: int, little: bool) -> int:
    if little:
        return b[at] | b[at + 1] << 8 | b[at + 2] << 16 | b[at + 3] << 24
    return b[at] << 24 | b[at + 1] << 16 | b[at + 2] << 8 | b[at + 3]


def whole_records(fd: int) -> int:
    """The packets of the classic pcap file open on ``fd`` when every one is whole and libpcap reads it
    unchanged (``caplen == len``, not 0, within libpcap's snaplen for the file, the last record
    ending at the end of the file); 0 otherwise."""
    size = os.fstat(fd).st_size
    layout = layout_of(os.pread(fd, PCAP_HEADER_LEN, 0))
    if layout is None:
        return 0
    little, snaplen = layout
    pos = PCAP_HEADER_LEN
    n = 0
    while pos < size:
        chunk = os.pread(fd, min(WALK_READ, size - pos), pos)
        last = len(chunk) - PCAP_RECORD_LEN
        if last < 0:
            return 0  # a record header cut short (or the file shrank)
        at = 0
        while at <= last:
            caplen = _u32(chunk, at + 8, little)
            if caplen != _u32(chunk, at + 12, little) or not 0 < caplen <= snaplen:
                return 0
            at += PCAP_RECORD_LEN + caplen
            n += 1
        pos += at
    return n if pos == size else 0


# pcapng: the block types and options are rustnet.capture.pcapng's (the reader for the files
# libpcap refuses); the head of an enhanced packet block, and libpcap's seconds in next_batch.
_EPB_HEAD: Final = 28  # type, length, interface, timestamp (2 words), captured and original length
_MAX_SECONDS: Final = (1 << 31) - 2  # next_batch hands seconds over in 32 bits


def whole_pcapng_records(fd: int) -> int:
    """The packets of the pcapng file open on ``fd`` when libpcap reads every one unchanged and
    ``next_batch`` gives what ``next()`` would; 0 otherwise (anything else is read with ``next()``,
    which says what libpcap says of it).

    Proven: sections of one byte order and pcapng version 1; interfaces all of one link type and
    snap length (libpcap stops at any other), with no ``if_tsoffset``; only enhanced packet blocks
    (simple and obsolete ones are not), each of a described interface, whole (captured length =
    original length, not 0, within the snap length libpcap reads with and within its block), at a
    time whose seconds fit in 31 bits; every block's lengths sound and the last one ending at the
    end of the file. Other blocks (names, statistics, secrets...) are skipped, as libpcap skips them."""
    size = os.fstat(fd).st_size
    chunk = os.pread(fd, min(WALK_READ, size), 0)
    base = 0  # file offset of chunk[0]
    if len(chunk) < 28 or chunk[:4] != SHB_MAGIC:
        return 0
    little = _u32(chunk, 8, True) == BYTE_ORDER_MAGIC
    if not little and _u32(chunk, 8, False) != BYTE_ORDER_MAGIC:
        return 0
    linktype = -1
    snaplen = 0
    limit = 0  # the longest packet libpcap reads whole: the interfaces' snap length, or its maximum
    highs: list[int] = []  # for each interface of the section: see below
    pos = 0
    n = 0
    while pos < size:
        if pos + 12 > base + len(chunk):
            chunk = os.pread(fd, min(WALK_READ, size - pos), pos)
            base = pos
            if len(chunk) < 12:
                return 0
        at = pos - base
        btype = _u32(chunk, at, little)
        length = _u32(chunk, at + 4, little)
        if length % 4 or length < 12 or length > MAX_BLOCK or pos + length > size:
            return 0
        if btype == SHB or btype == IDB or btype == EPB:
            # What is read of the block: a packet block's head, a header or description whole.
            want = _EPB_HEAD if btype == EPB else length
            if pos + want > base + len(chunk):
                chunk = os.pread(fd, max(min(WALK_READ, size - pos), want), pos)
                base = pos
                at = 0
                if len(chunk) < want:
                    return 0
        if btype == SHB:
            if length < 28 or _u32(chunk, at + 8, little) != BYTE_ORDER_MAGIC:
                return 0  # another byte order (libpcap stops there) or no magic
            if _u16(chunk, at + 12, little) != 1:
                return 0
            highs = []
        elif btype == IDB:
            if length < 20:
                return 0
            lt = _u16(chunk, at + 8, little)
            sl = _u32(chunk, at + 12, little)
            if linktype < 0:
                linktype, snaplen = lt, sl
                limit = snaplen if 0 < snaplen <= MAX_SNAPLEN else MAX_SNAPLEN
            elif lt != linktype or sl != snaplen:
                return 0
            per_second = 1_000_000
            opt = at + 16
            end = at + length - 4
            while opt + 4 <= end:
                code = _u16(chunk, opt, little)
                olen = _u16(chunk, opt + 2, little)
                opt += 4
                if code == 0:
                    break
                if opt + olen > end:
                    return 0
                if code == OPT_TSRESOL and olen == 1:
                    value = chunk[opt]
                    if value & 0x7F > (63 if value & 0x80 else 18):
                        return 0
                    per_second = 1 << (value & 0x7F) if value & 0x80 else 10 ** (value & 0x7F)
                elif code == OPT_TSOFFSET:
                    return 0
                opt += olen + (-olen % 4)
            # Timestamps whose upper word is below this have seconds below _MAX_SECONDS: no
            # division a packet (one that is not is not proven, whatever its seconds).
            highs.append(_MAX_SECONDS * per_second >> 32)
        elif btype == EPB:
            if length < 32:
                return 0
            iface = _u32(chunk, at + 8, little)
            caplen = _u32(chunk, at + 20, little)
            if iface >= len(highs) or caplen != _u32(chunk, at + 24, little) or not 0 < caplen <= limit:
                return 0
            if _EPB_HEAD + caplen + 4 > length:
                return 0  # the packet runs past its block
            if _u32(chunk, at + 12, little) >= highs[iface]:
                return 0
            n += 1
        elif btype == SPB or btype == OBSOLETE_PB:
            return 0
        # libpcap refuses a block whose trailing length is not its leading one.
        tail = pos + length - 4 - base
        if tail + 4 <= len(chunk):
            if _u32(chunk, tail, little) != length:
                return 0
        elif _u32(os.pread(fd, 4, pos + length - 4) + b"\0\0\0\0", 0, little) != length:
            return 0
        pos += length
    return n if pos == size else 0
