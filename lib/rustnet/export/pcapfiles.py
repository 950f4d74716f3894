"""Writing classic pcap and pcapng files block by block (little-endian, microsecond stamps).

pcapng (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html): one Section
Header Block whose ``shb_userappl`` names us, an Interface Description Block per link type
(``if_name``, ``if_tsresol`` = 6), then an Enhanced Packet Block per packet, with an
``opt_comment`` when there is one.
"""

from __future__ import annotations

import struct
from typing import BinaryIO, Final

from rustnet.capture.pcapng import BYTE_ORDER_MAGIC, EPB, IDB, OPT_TSRESOL, SHB
from rustnet.capture.pcapwrite import PCAP_MAGIC_USEC

SNAPLEN: Final = 1514  # RustNet's capture snaplen: what each exported packet keeps at most

_PCAP_GLOBAL: Final = struct.Struct("<IHHiIII")
_PCAP_RECORD: Final = struct.Struct("<IIII")

OPT_COMMENT: Final = 1
OPT_IF_NAME: Final = 2
OPT_SHB_USERAPPL: Final = 4
_OPT: Final = struct.Struct("<HH")
_EPB_HEAD: Final = struct.Struct("<IIIIIII")
_U32: Final = struct.Struct("<I")
_MAX_OPTION: Final = 0xFFFF - 3  # an option's length field is 16 bits (padded to 4)


def _pad(n: int) -> bytes:
    return b"\0" * (-n & 3)


def option(code: int, value: bytes) -> bytes:
    value = value[:_MAX_OPTION]
    return _OPT.pack(code, len(value)) + value + _pad(len(value))


_END_OF_OPTIONS: Final = _OPT.pack(0, 0)


def _block(kind: int, body: bytes) -> bytes:
    total = 12 + len(body)
    return _U32.pack(kind) + _U32.pack(total) + body + _U32.pack(total)


def split_usec(ts: float) -> tuple[int, int]:
    """A capture time as whole seconds and microseconds (rounded; never 1,000,000)."""
    usec = int(round(ts * 1_000_000))
    return usec // 1_000_000, usec % 1_000_000


class PcapFile:
    """A classic pcap written to ``fh``: the global header at :meth:`start`, then packets."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.linktype: int | None = None

    def start(self, linktype: int) -> None:
        self.linktype = linktype
        self.fh.write(_PCAP_GLOBAL.pack(PCAP_MAGIC_USEC, 2, 4, 0, 0, SNAPLEN, linktype & 0xFFFFFFFF))

    def packet(self, ts: float, wirelen: int, data: bytes) -> None:
        sec, usec = split_usec(ts)
        data = data[:SNAPLEN]
        self.fh.write(_PCAP_RECORD.pack(sec & 0xFFFFFFFF, usec, len(data), wirelen & 0xFFFFFFFF) + data)


class PcapngFile:
    """A pcapng section written to ``fh``: one interface per link type, packets with comments."""

    def __init__(self, fh: BinaryIO, userappl: str) -> None:
        self.fh = fh
        self.userappl = userappl
        self.interfaces: dict[int, int] = {}  # link type -> interface id
        self.if_name = ""

    def interface(self, linktype: int) -> int:
        """The id of the interface of ``linktype``, described first if it is new."""
        found = self.interfaces.get(linktype)
        if found is not None:
            return found
        if not self.interfaces:  # the section header goes before the first interface
            body = struct.pack("<IHHq", BYTE_ORDER_MAGIC, 1, 0, -1)
            body += option(OPT_SHB_USERAPPL, self.userappl.encode()) + _END_OF_OPTIONS
            self.fh.write(_block(SHB, body))
        body = struct.pack("<HHI", linktype & 0xFFFF, 0, SNAPLEN)
        if self.if_name:
            body += option(OPT_IF_NAME, self.if_name.encode("utf-8", "backslashreplace"))
        body += option(OPT_TSRESOL, b"\x06") + _END_OF_OPTIONS
        self.fh.write(_block(IDB, body))
        self.interfaces[linktype] = len(self.interfaces)
        return self.interfaces[linktype]

    def packet(self, iface: int, ts: float, wirelen: int, data: bytes, comment: str | None) -> None:
        usec = int(round(ts * 1_000_000)) & 0xFFFFFFFFFFFFFFFF
        data = data[:SNAPLEN]
        opts = b""
        if comment:
            opts = option(OPT_COMMENT, comment.encode("utf-8", "backslashreplace")) + _END_OF_OPTIONS
        total = 32 + len(data) + (-len(data) & 3) + len(opts)
        head = _EPB_HEAD.pack(
            EPB, total, iface, usec >> 32, usec & 0xFFFFFFFF, len(data), wirelen & 0xFFFFFFFF
        )
        self.fh.write(head + data + _pad(len(data)) + opts + _U32.pack(total))
