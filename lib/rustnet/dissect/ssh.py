"""SSH: the identification strings and how far the handshake got (RFC 4253 §4.2, §6, §7).

Each side starts with ``SSH-protoversion-softwareversion [comments]`` and CR LF; a server
may send other lines first. After that come binary packets whose message type is in
clear text until NEWKEYS; from then on everything is encrypted and only packet counts
are left to go by.

    got = parse_banner(stream, server=True)   # (banner, consumed), None (need more) or DissectError
    walker = PacketWalker(); walker.feed(data) # message types of the clear-text packets

Stages reported (``ssh_stage``): ``kex`` after a KEXINIT, ``auth`` once both sides sent
NEWKEYS, ``established`` once both sides sent ESTABLISHED_PACKETS encrypted packets after
that (a heuristic: user authentication takes a few round trips; a session takes more).
"""

from __future__ import annotations

from typing import Final

from rustnet.dissect.errors import DissectError
from rustnet.dissect.safe_text import escape_text

PREFIX: Final = b"SSH-"
MAX_LINE: Final = 255  # RFC 4253 §4.2, including CR LF
MAX_PRE_LINES: Final = 16  # lines a server may send before its identification
BANNER_LIMIT: Final = 255

MSG_KEXINIT: Final = 20
MSG_NEWKEYS: Final = 21
MAX_PACKET_LEN: Final = 256 * 1024
ESTABLISHED_PACKETS: Final = 6

STAGE_KEX: Final = "kex"
STAGE_AUTH: Final = "auth"
STAGE_ESTABLISHED: Final = "established"


def banner_start(data: bytes) -> bool | None:
    """Whether data starts with ``SSH-``: True, False, or None when too short to say."""
    if len(data) < len(PREFIX):
        return None if PREFIX.startswith(data) else False
    return data.startswith(PREFIX)


def parse_banner(data: bytes, server: bool = False) -> tuple[str, int] | None:
    """The identification line (escaped, without CR LF) and the bytes up to and after it."""
    pos = 0
    for _ in range(MAX_PRE_LINES + 1):
        starts = banner_start(data[pos : pos + len(PREFIX)])
        if starts is False and not server:
            raise DissectError("SSH client data does not start with SSH-")
        eol = data.find(b"\n", pos, pos + MAX_LINE)  # its LF at most the 255th byte
        if eol < 0:
            if len(data) - pos >= MAX_LINE:
                raise DissectError("SSH line longer than 255 bytes")
            return None
        if starts:
            line = data[pos:eol].rstrip(b"\r")
            if len(line) < len(PREFIX) + 3 or b"-" not in line[len(PREFIX) :]:
                raise DissectError("malformed SSH identification")
            return escape_text(line, BANNER_LIMIT), eol + 1
        pos = eol + 1
    raise DissectError("no SSH identification after the allowed lines")


class PacketWalker:
    """Follows the clear-text binary packets of one direction without buffering them.

    Only the 6 header bytes of each packet are kept; the rest is skipped by counting.
    """

    __slots__ = ("head", "skip", "saw_kexinit", "saw_newkeys", "encrypted")

    def __init__(self) -> None:
        self.head = b""
        self.skip = 0
        self.saw_kexinit = False
        self.saw_newkeys = False
        self.encrypted = 0  # packets (segments) seen after NEWKEYS

    def feed(self, data: bytes) -> None:
        """Account one segment of this direction (after the identification line)."""
        if self.saw_newkeys:
            if self.skip >= len(data):  # still the rest of the NEWKEYS packet
                self.skip -= len(data)
                return
            self.skip = 0
            self.encrypted += 1
            return
        if self.skip:
            if self.skip >= len(data):
                self.skip -= len(data)
                return
            data = data[self.skip :]
            self.skip = 0
        buf = self.head + data
        pos = 0
        while len(buf) - pos >= 6:
            length = int.from_bytes(buf[pos : pos + 4], "big")
            if length < 5 or length > MAX_PACKET_LEN:
                raise DissectError(f"SSH packet length {length}")
            msg = buf[pos + 5]
            if msg == MSG_KEXINIT:
                self.saw_kexinit = True
            elif msg == MSG_NEWKEYS:
                self.saw_newkeys = True
                # Bytes after NEWKEYS in this segment are already encrypted; the rest of the
                # NEWKEYS packet itself, when it comes in later segments, is not.
                end = pos + 4 + length
                if len(buf) > end:
                    self.encrypted += 1
                else:
                    self.skip = end - len(buf)
                self.head = b""
                return
            total = 4 + length
            if pos + total > len(buf):
                self.skip = pos + total - len(buf)
                self.head = b""
                return
            pos += total
        self.head = buf[pos:]
