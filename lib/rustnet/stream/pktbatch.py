"""``pkb`` records: many whole frames in one record, as libpcap's ``next_batch`` reads them.

rn-capture writes one for each batch libpcap hands it (its buffer and 16 bytes of metadata
per frame, passed on as they are: no Python work per frame), and a record reader turns it
back into one ``pkt`` record per frame with :func:`expand`, so every stage still sees ``pkt``
records. The fields are declared in :data:`rustnet.stream.fields.PKB`.

A ``pkb`` record is untrusted input like any other: one whose metadata does not check out
becomes a single damaged ``pkt`` record (rn-dissect counts it as malformed), and the frames it
yields never hold more bytes than its data (no frame overlaps the one before), nor number more
than :data:`MAX_FRAMES`.
"""

from __future__ import annotations

import struct
from typing import Any, Final

from rustnet.stream.records import PACKET

# seconds, microseconds, offset, length: little-endian whatever the host (a stream crosses hosts).
META_SIZE: Final = 16
_UNSIGNED: Final = struct.Struct("<IIII")
_SIGNED: Final = struct.Struct("<iiII")
# As many frames as a frame of records may hold (rustnet.stream.reader.MAX_CONTAINER).
MAX_FRAMES: Final = 1 << 16


def damaged() -> list[Any]:
    """The record a ``pkb`` that does not check out becomes: a ``pkt`` with no fields."""
    return [PACKET]


def expand(rec: list[Any]) -> list[list[Any]]:
    """The ``pkt`` records of the ``pkb`` record ``rec``, in order (see the module's docstring)."""
    if len(rec) != 4:
        return [damaged()]
    signed = rec[1]
    meta = rec[2]
    data = rec[3]
    if signed.__class__ is not bool or meta.__class__ is not bytes or data.__class__ is not bytes:
        return [damaged()]
    if len(meta) % META_SIZE or len(meta) > MAX_FRAMES * META_SIZE:
        return [damaged()]
    out: list[list[Any]] = []
    end = 0  # where the previous frame ended
    size = len(data)
    for sec, usec, off, caplen in (_SIGNED if signed else _UNSIGNED).iter_unpack(meta):
        if off < end or off + caplen > size:
            return [damaged()]
        end = off + caplen
        out.append([PACKET, sec + usec * 1e-6, caplen, data[off:end]])
    return out


def header(signed: bool, meta_len: int) -> bytes:
    """The MessagePack bytes of a ``pkb`` record up to its meta; ``meta``, :func:`data_header` and
    the data follow them. Written by hand so that the data, the bulk of it, is never copied."""
    return b"\x94\xa3pkb" + (b"\xc3" if signed else b"\xc2") + b"\xc6" + meta_len.to_bytes(4, "big")


def data_header(data_len: int) -> bytes:
    """The MessagePack header of a ``pkb`` record's data (bin 32)."""
    return b"\xc6" + data_len.to_bytes(4, "big")
