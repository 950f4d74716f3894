"""A minimal classic-pcap writer for ``-w FILE``: what we captured, with true wire lengths.

pcapy's dumper wants libpcap header objects, which the batched live path does not have,
so this writes the (tiny, stable) file format directly: a 24-byte global header, then a
16-byte record header (seconds, microseconds, captured length, wire length) per packet.
"""

from __future__ import annotations

import os
import struct
from typing import BinaryIO

from rustnet.cli.safefile import create_private

PCAP_MAGIC_USEC = 0xA1B2C3D4
_GLOBAL = struct.Struct("=IHHiIII")
_RECORD = struct.Struct("=IIII")


class PcapWriter:
    """Appends packets to a new private pcap file; opened before privileges are dropped."""

    def __init__(self, path: str, linktype: int, snaplen: int) -> None:
        self.path = path
        # Payloads: 0600, never through a symlink, an existing file replaced (safefile).
        self._fh: BinaryIO = os.fdopen(create_private(path), "wb", buffering=1 << 20)
        self._pack = _RECORD.pack
        self._fh.write(_GLOBAL.pack(PCAP_MAGIC_USEC, 2, 4, 0, 0, snaplen, linktype))

    def write(self, sec: int, usec: int, wirelen: int, data: bytes) -> None:
        fh = self._fh
        # libpcap reports a file's 32-bit times signed: written back as the same 32 bits.
        fh.write(self._pack(sec & 0xFFFFFFFF, usec & 0xFFFFFFFF, len(data), wirelen))
        fh.write(data)

    def flush(self) -> None:
        self._fh.flush()

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()
