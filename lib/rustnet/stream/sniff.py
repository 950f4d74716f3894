"""What an input file holds, told from its first bytes: a capture, a record stream, or neither.

Every command that takes a file asks here first, so an empty file, a text file or a PNG gets
the same plain sentence everywhere instead of a decoder's complaint. gzip-compressed files
(as tshark and tcpdump read them) are looked into: the kind is that of what they hold.
"""

from __future__ import annotations

import json
import os
import stat
import zlib
from dataclasses import dataclass
from typing import Any

import msgpack

EMPTY = "empty"
CAPTURE = "capture"
RECORDS = "records"
OTHER = "other"

GZIP_MAGIC = b"\x1f\x8b"
# pcap (both byte orders, µs and ns timestamps) and pcapng (its section header block).
CAPTURE_MAGICS = (
    b"\xd4\xc3\xb2\xa1",
    b"\xa1\xb2\xc3\xd4",
    b"\x4d\x3c\xb2\xa1",
    b"\xa1\xb2\x3c\x4d",
    b"\x0a\x0d\x0d\x0a",
)
HEAD_SIZE = 1 << 16  # bytes looked at: the first frame of a record stream fits (writers cap it at ~64 KiB)
MAX_COMPRESSED_HEAD = 1 << 20  # compressed bytes read to find the content's first bytes

# MessagePack lead bytes.
_ARRAYS = frozenset([*range(0x90, 0xA0), 0xDC, 0xDD])
_MAPS = frozenset([*range(0x80, 0x90), 0xDE, 0xDF])
_STRS = frozenset([*range(0xA0, 0xC0), 0xD9, 0xDA, 0xDB])
_LIMIT = 1 << 16  # containers the first frame may declare (as the stream reader allows)


def empty_message(name: str) -> str:
    return f"{name} is empty"


def neither_message(name: str) -> str:
    return f"{name} is not a pcap/pcapng capture or a rustnet record stream"


@dataclass
class Sniffed:
    """The kind of a file's content (decompressed when ``gzip``) and its first bytes."""

    kind: str
    gzip: bool = False
    head: bytes = b""
    # gzip data damaged before any content came out of it: why (the file holds nothing readable)
    damage: str | None = None


def sniff_fd(fd: int) -> Sniffed | None:
    """Sniff the regular file open on ``fd`` from its current offset, without moving it;
    None when ``fd`` is not a regular file (a pipe or terminal cannot be read twice)."""
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        return None
    start = os.lseek(fd, 0, os.SEEK_CUR)
    head = os.pread(fd, HEAD_SIZE, start)
    if head[:2] != GZIP_MAGIC:
        return Sniffed(kind_of(head, complete=len(head) < HEAD_SIZE), head=head)
    inflate = zlib.decompressobj(31)
    content = bytearray()
    at = start
    try:
        while len(content) < HEAD_SIZE and at - start < MAX_COMPRESSED_HEAD and not inflate.eof:
            chunk = os.pread(fd, HEAD_SIZE, at)
            if not chunk:
                break
            at += len(chunk)
            content += inflate.decompress(chunk, HEAD_SIZE - len(content))
            while inflate.unconsumed_tail and len(content) < HEAD_SIZE:
                content += inflate.decompress(inflate.unconsumed_tail, HEAD_SIZE - len(content))
    except zlib.error as exc:
        if not content:
            return Sniffed(OTHER, gzip=True, damage=gzip_error(exc))
    complete = inflate.eof or at >= st.st_size
    if not content and not inflate.eof:
        return Sniffed(OTHER, gzip=True, damage="compressed data cut short")
    head = bytes(content)
    return Sniffed(kind_of(head, complete=complete and len(head) < HEAD_SIZE), True, head)


def sniff_stream_head(data: bytes, complete: bool) -> Sniffed:
    """Sniff the first bytes read from a stream (gzip: as much as ``data`` decompresses to)."""
    if data[:2] != GZIP_MAGIC:
        return Sniffed(kind_of(data, complete), head=data)
    inflate = zlib.decompressobj(31)
    try:
        content = inflate.decompress(data, HEAD_SIZE)
    except zlib.error as exc:
        return Sniffed(OTHER, gzip=True, damage=gzip_error(exc))
    if not content and complete and not inflate.eof:
        return Sniffed(OTHER, gzip=True, damage="compressed data cut short")
    return Sniffed(kind_of(content, complete and inflate.eof), True, content)


def gzip_error(exc: zlib.error) -> str:
    """zlib's reason, without its error number: ``compressed data corrupt (invalid block type)``."""
    detail = str(exc).rpartition(": ")[2] or "error"
    return f"compressed data corrupt ({detail})"


def kind_of(head: bytes, complete: bool) -> str:
    """The kind of content that starts with ``head`` (``complete``: the whole content)."""
    if not head:
        return EMPTY
    if head[:4] in CAPTURE_MAGICS or _cut_magic(head):
        return CAPTURE
    return RECORDS if looks_like_records(head, complete) else OTHER


def _cut_magic(head: bytes) -> bool:
    """A capture cut inside its magic number (libpcap then says it is truncated)."""
    return 2 <= len(head) < 4 and bool(head.strip()) and any(m.startswith(head) for m in CAPTURE_MAGICS)


def looks_like_records(head: bytes, complete: bool) -> bool:
    """True when ``head`` can start a record stream: JSON Lines whose first line is an object,
    or MessagePack whose first object is a frame of records (or a single record)."""
    body = head.lstrip(b" \t\r\n")
    if not body:
        return True  # only blank lines: an empty JSON Lines stream
    if body[:1] == b"{":
        line, nl, _ = body.partition(b"\n")
        if not nl and not complete:
            return True  # a first line longer than the head: the reader decides
        try:
            return isinstance(json.loads(line), dict)
        except (ValueError, RecursionError):
            return False
    up = msgpack.Unpacker(
        raw=False, strict_map_key=False, max_array_len=_LIMIT, max_map_len=_LIMIT, max_buffer_size=HEAD_SIZE
    )
    up.feed(head)
    try:
        first = up.unpack()
    except msgpack.OutOfData:
        return _starts_like_a_frame(head)  # longer than the head, or cut: its first bytes decide
    except Exception:  # noqa: BLE001 - msgpack raises several types for bytes that are not MessagePack
        return False
    if isinstance(first, list):
        return not first or isinstance(first[0], str) or _is_record(first[0])
    return _is_record(first)


def _is_record(obj: Any) -> bool:
    if isinstance(obj, dict):
        return isinstance(obj.get("t"), str)
    return isinstance(obj, list) and bool(obj) and isinstance(obj[0], str)


def _starts_like_a_frame(head: bytes) -> bool:
    """An array whose first element is a string, map or array; or a map whose first key is a string."""
    lead = head[0]
    if lead in _ARRAYS:
        skip, follow = 1 if lead < 0xDC else 3 if lead == 0xDC else 5, _STRS | _MAPS | _ARRAYS
    elif lead in _MAPS:
        skip, follow = 1 if lead < 0xDE else 3 if lead == 0xDE else 5, _STRS
    else:
        return False
    if lead in (0x90, 0x80):
        return lead == 0x90  # an empty frame (an empty map has no type tag)
    return len(head) <= skip or head[skip] in follow
