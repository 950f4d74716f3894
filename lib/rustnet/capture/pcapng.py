"""A pcapng block reader for files libpcap refuses although they are valid.

libpcap reads one link type and one snap length per file: a pcapng whose interfaces differ
("an interface has a type 276 different from the type of the first interface"), or whose
sections differ in byte order, stops there. This reader walks the blocks itself
(https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html): every section's
interfaces with their own link type, snap length, timestamp resolution (``if_tsresol``)
and offset (``if_tsoffset``); enhanced, simple and obsolete packet blocks; every other
block type skipped. A packet comes out with its interface's link type.

Blocks are untrusted: a length that is not a multiple of 4, below the minimum, over
:data:`MAX_BLOCK`, or disagreeing with its trailing copy, a packet of an interface not
described, or a captured length past its block is damage (:class:`PcapngDamage`, with
the packets before it already given).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, BinaryIO, Final

SHB: Final = 0x0A0D0D0A
SHB_MAGIC: Final = b"\x0a\x0d\x0d\x0a"  # a pcapng file's first bytes
IDB: Final = 1
OBSOLETE_PB: Final = 2
SPB: Final = 3
EPB: Final = 6
BYTE_ORDER_MAGIC: Final = 0x1A2B3C4D
MAX_BLOCK: Final = 16 << 20  # libpcap's own cap on a block
MAX_INTERFACES: Final = 65536  # per section: each one holds a few numbers, and a BPF program
# A file's LINKTYPE_ values as libpcap's DLT_ values (what libpcap's readers, and so the stream's
# headers, give): the few that differ (libpcap's linktype_to_dlt, the values of Linux).
DLT_OF_LINKTYPE: Final = {100: 11, 101: 12, 102: 15, 103: 16}
OPT_TSRESOL: Final = 9
OPT_TSOFFSET: Final = 14


class PcapngDamage(Exception):
    """The file is damaged from here on (the reason is one line)."""


@dataclass
class Interface:
    linktype: int
    snaplen: int
    ticks_per_second: int = 1_000_000
    offset: int = 0  # seconds added to every timestamp (if_tsoffset)


@dataclass
class Packet:
    sec: int  # the timestamp cut to microseconds, as libpcap gives it
    usec: int
    wirelen: int
    data: bytes
    linktype: int

    @property
    def ts(self) -> float:
        return self.sec + self.usec * 1e-6  # the same float libpcap's readers make


def _resolution(value: int) -> int:
    """Ticks per second for an ``if_tsresol`` byte: 10^-n, or 2^-n with the top bit set."""
    n = value & 0x7F
    if value & 0x80:
        return 1 << min(n, 63)
    return int(10 ** min(n, 30))


class PcapngReader:
    """Packets of a pcapng file, in file order, with their interface's link type."""

    def __init__(self, fh: BinaryIO | IO[bytes]) -> None:
        self.fh = fh
        self.order = "<"
        self.interfaces: list[Interface] = []
        self.offset = 0  # file offset of the next block, for messages

    def _read(self, n: int) -> bytes:
        data = self.fh.read(n)
        if len(data) != n:
            raise PcapngDamage(f"block cut short at offset {self.offset}")
        return data

    def blocks(self) -> Iterator[tuple[int, bytes]]:
        """(type, body) of every block; each section's byte order is taken from its header."""
        while True:
            head = self.fh.read(8)
            if not head:
                return
            if len(head) < 8:
                raise PcapngDamage(f"block cut short at offset {self.offset}")
            btype = struct.unpack_from(self.order + "I", head)[0]
            if btype == SHB:  # the same either way round; its magic says the order of the section
                magic = self._read(4)
                if struct.unpack("<I", magic)[0] == BYTE_ORDER_MAGIC:
                    self.order = "<"
                elif struct.unpack(">I", magic)[0] == BYTE_ORDER_MAGIC:
                    self.order = ">"
                else:
                    raise PcapngDamage(f"section header with no byte-order magic at offset {self.offset}")
                length = struct.unpack_from(self.order + "I", head, 4)[0]
                body = magic
                rest = length - 12
            else:
                length = struct.unpack_from(self.order + "I", head, 4)[0]
                body = b""
                rest = length - 12
            if length % 4 or length < 12 + len(body) or length > MAX_BLOCK:
                raise PcapngDamage(f"block of length {length} at offset {self.offset}")
            body += self._read(rest - len(body))
            trailer = struct.unpack(self.order + "I", self._read(4))[0]
            if trailer != length:
                raise PcapngDamage(f"block lengths disagree ({length}, {trailer}) at offset {self.offset}")
            yield btype, body
            self.offset += length

    def packets(self) -> Iterator[Packet]:
        """Every packet of the file; raises PcapngDamage where the file is damaged."""
        for btype, body in self.blocks():
            if btype == EPB:
                if len(body) < 20:
                    raise PcapngDamage(f"short packet block at offset {self.offset}")
                iface, high, low, caplen, wirelen = struct.unpack_from(self.order + "5I", body)
                yield self._packet(iface, (high << 32) | low, body, 20, caplen, wirelen)
            elif btype == SPB:
                if len(body) < 4:
                    raise PcapngDamage(f"short packet block at offset {self.offset}")
                (wirelen,) = struct.unpack_from(self.order + "I", body)
                caplen = min(wirelen, len(body) - 4)
                if self.interfaces and self.interfaces[0].snaplen:
                    caplen = min(caplen, self.interfaces[0].snaplen)
                yield self._packet(0, None, body, 4, caplen, wirelen)
            elif btype == OBSOLETE_PB:
                if len(body) < 20:
                    raise PcapngDamage(f"short packet block at offset {self.offset}")
                iface, _drops, high, low, caplen, wirelen = struct.unpack_from(self.order + "HH4I", body)
                yield self._packet(iface, (high << 32) | low, body, 20, caplen, wirelen)
            elif btype == IDB:
                self._interface(body)
            elif btype == SHB:
                self._section(body)

    def _packet(
        self, iface: int, ticks: int | None, body: bytes, start: int, caplen: int, wirelen: int
    ) -> Packet:
        if iface >= len(self.interfaces):
            raise PcapngDamage(
                f"packet of interface {iface}, which is not described, at offset {self.offset}"
            )
        if start + caplen > len(body):
            raise PcapngDamage(f"captured length {caplen} past its block at offset {self.offset}")
        it = self.interfaces[iface]
        usec = 0 if ticks is None else ticks * 1_000_000 // it.ticks_per_second + it.offset * 1_000_000
        sec, usec = divmod(usec, 1_000_000)
        return Packet(sec, usec, max(wirelen, caplen), body[start : start + caplen], it.linktype)

    def _section(self, body: bytes) -> None:
        if len(body) < 16:
            raise PcapngDamage(f"short section header at offset {self.offset}")
        major = struct.unpack_from(self.order + "H", body, 4)[0]
        if major != 1:
            raise PcapngDamage(f"section of pcapng version {major} at offset {self.offset}")
        self.interfaces = []  # interface ids start again in each section

    def _interface(self, body: bytes) -> None:
        if len(body) < 8:
            raise PcapngDamage(f"short interface description at offset {self.offset}")
        if len(self.interfaces) >= MAX_INTERFACES:
            raise PcapngDamage(f"over {MAX_INTERFACES} interfaces in a section at offset {self.offset}")
        linktype, _, snaplen = struct.unpack_from(self.order + "HHI", body)
        it = Interface(DLT_OF_LINKTYPE.get(linktype, linktype), snaplen)
        pos = 8
        while pos + 4 <= len(body):
            code, size = struct.unpack_from(self.order + "HH", body, pos)
            pos += 4
            if code == 0:
                break
            value = body[pos : pos + size]
            if code == OPT_TSRESOL and len(value) == 1:
                it.ticks_per_second = _resolution(value[0])
            elif code == OPT_TSOFFSET and len(value) == 8:
                it.offset = struct.unpack(self.order + "q", value)[0]
            pos += size + (-size % 4)
        self.interfaces.append(it)


def is_libpcap_refusal(reason: str) -> bool:
    """libpcap's words for a valid pcapng it cannot read (interfaces that differ)."""
    return "different from the" in reason or "different byte order" in reason
