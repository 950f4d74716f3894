"""``pkb`` records: many whole frames in one record, as libpcap's ``next_batch`` reads them.

rn-capture writes one for each batch libpcap hands it (its buffer and 16 bytes of metadata
per frame, passed on as they are: no Python work per frame), and a record reader turns it
back into one ``pkt`` record per frame with :func:`expand`, so every stage still sees ``pkt``
records. The fields are declared in :data:`rustnet.stream.fields.PKB`.

A ``pkb`` record is untrusted input like any other: one whose fields do not check out becomes
a single damaged ``pkt`` record (rn-dissect counts it as malformed); the frames before the first
that lies outside its data or overlaps the one before are read, and the rest is one damaged
record. So the frames never hold more bytes than its data, nor number more than
:data:`MAX_FRAMES`.
"""

from __future__ import annotations

import struct
import sys
from typing import Any, Final

from rustnet.stream.records import PACKET

# seconds, microseconds, offset, length: little-endian whatever the host (a stream crosses hosts).
META_SIZE: Final = 16
# next_batch gives its metadata in the host's byte order: pkb records are made only where that is
# the format's (elsewhere rn-capture writes pkt records).
META_IN_HOST_ORDER: Final = sys.byteorder == "little"
# As many frames as a frame of records may hold (rustnet.stream.reader.MAX_CONTAINER).
MAX_FRAMES: Final = 1 << 16


def damaged() -> list[Any]:
    """The record a ``pkb`` that does not check out becomes: a ``pkt`` with no fields."""
    return [PACKET]


def frames(rec: list[Any]) -> tuple[int, ...]:
    """The metadata of the ``pkb`` record ``rec`` as one tuple, four numbers a frame (seconds,
    microseconds, offset, length); empty when the record's fields do not check out (the frames
    themselves are checked as they are read: :func:`frame_ok`)."""
    if len(rec) != 4:
        return ()
    meta = rec[2]
    if type(rec[1]) is not bool or type(meta) is not bytes or type(rec[3]) is not bytes:
        return ()
    n = len(meta) // 4
    if len(meta) % META_SIZE or not 0 < n <= 4 * MAX_FRAMES:
        return ()
    return struct.unpack(f"<{n}{'i' if rec[1] else 'I'}", meta)


def frame_ok(off: int, caplen: int, end: int, size: int) -> bool:
    """Whether a frame at ``off``, ``caplen`` bytes long, lies in ``size`` bytes of data after the
    previous frame's ``end``. (Offsets and lengths are read with the seconds' signedness: no valid
    record has data of 2 GiB, so a negative one is always damage.)"""
    return end <= off and 0 <= caplen <= size - off


def expand(rec: list[Any]) -> list[list[Any]]:
    """The ``pkt`` records of the ``pkb`` record ``rec``, in order (see the module's docstring):
    the frames up to the first that does not check out, then one damaged record for the rest."""
    v = frames(rec)
    if not v:
        return [damaged()]
    data: bytes = rec[3]
    size = len(data)
    out: list[list[Any]] = []
    end = 0
    for i in range(0, len(v), 4):
        off = v[i + 2]
        caplen = v[i + 3]
        if not frame_ok(off, caplen, end, size):
            out.append(damaged())
            break
        end = off + caplen
        out.append([PACKET, v[i] + v[i + 1] * 1e-6, caplen, data[off:end]])
    return out


def header(signed: bool, meta_len: int) -> bytes:
    """The MessagePack bytes of a ``pkb`` record up to its meta; ``meta``, :func:`data_header` and
    the data follow them. Written by hand so that the data, the bulk of it, is never copied."""
    return b"\x94\xa3pkb" + (b"\xc3" if signed else b"\xc2") + b"\xc6" + meta_len.to_bytes(4, "big")


def data_header(data_len: int) -> bytes:
    """The MessagePack header of a ``pkb`` record's data (bin 32)."""
    return b"\xc6" + data_len.to_bytes(4, "big")
