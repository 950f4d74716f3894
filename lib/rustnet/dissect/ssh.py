"""SSH: the identification strings and how far the handshake got (RFC 4253 §4.2, §6, §7).

Each side starts with ``SSH-protoversion-softwareversion [comments]`` and CR LF; a server
may send other lines first, bounded as OpenSSH bounds them (``kex_exchange_identification``
in kex.c: the identification among the first ``SSH_MAX_PRE_BANNER_LINES`` = 1024 lines, each
of at most ``SSH_MAX_BANNER_LEN`` = 8192 bytes before its CR LF, none with a NUL). After
that come binary packets whose message type is in clear text until NEWKEYS; from then on
everything is encrypted and only packet counts are left to go by.

    got = parse_banner(stream, server=True)   # (banner, consumed), None (need more) or DissectError
    used, lines = skip_pre_lines(stream, 0)    # whole lines before a server's identification
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
MAX_LINE: Final = 255  # RFC 4253 §4.2, the identification including CR LF
MAX_PRE_LINES: Final = 1023  # OpenSSH: the identification is one of the first 1024 lines
MAX_PRE_LINE: Final = 8192  # OpenSSH: bytes of a line before its CR LF
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


def skip_pre_lines(data: bytes | bytearray, lines: int) -> tuple[int, int]:
    """The whole lines a server sent before its identification at the start of data.

    Returns the bytes they take and the count of such lines including the ``lines`` already
    skipped; stops at a line that starts (or may start) with ``SSH-`` and at an unfinished
    line. Raises DissectError where OpenSSH gives up: too many lines, a line too long, a NUL.
    """
    pos = 0
    end = len(data)
    while pos < end:
        if data.startswith(PREFIX, pos) or (end - pos < len(PREFIX) and PREFIX.startswith(data[pos:])):
            break
        eol = data.find(b"\n", pos, pos + MAX_PRE_LINE + 2)  # CR LF after 8192 bytes at most
        if eol < 0:
            if end - pos >= MAX_PRE_LINE + 2:
                raise DissectError("SSH line before the identification longer than 8192 bytes")
            break
        line = data[pos:eol].rstrip(b"\r")
        if b"\0" in line or b"\r" in line:
            raise DissectError("SSH line before the identification holds a NUL or a lone CR")
        lines += 1
        if lines > MAX_PRE_LINES:
            raise DissectError("no SSH identification in the first 1024 lines")
        pos = eol + 1
    return pos, lines


def parse_banner(data: bytes, server: bool = False) -> tuple[str, int] | None:
    """The identification line (escaped, without CR LF) and the bytes up to and after it."""
    pos = skip_pre_lines(data, 0)[0] if server else 0
    starts = banner_start(data[pos : pos + len(PREFIX)])
    if starts is False:
        if not server:
            raise DissectError("SSH client data does not start with SSH-")
        return None  # an unfinished line before the identification (skip_pre_lines bounds it)
    eol = data.find(b"\n", pos, pos + MAX_LINE)  # its LF at most the 255th byte
    if eol < 0:
        if len(data) - pos >= MAX_LINE:
            raise DissectError("SSH line longer than 255 bytes")
        return None
    line = data[pos:eol].rstrip(b"\r")
    if len(line) < len(PREFIX) + 3 or b"-" not in line[len(PREFIX) :]:
        raise DissectError("malformed SSH identification")
    return escape_text(line, BANNER_LIMIT), eol + 1


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
