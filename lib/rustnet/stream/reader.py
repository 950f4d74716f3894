"""Read a record stream (MessagePack frames or JSON Lines) from a file descriptor.

One reader for every command. It reads with ``os.read`` and feeds a streaming
unpacker, so records arrive as soon as their bytes do (``Unpacker(file)`` would
hold them until its buffer fills). A whole frame is decoded in one call (the C
unpacker builds the list of records: ~5x cheaper than one call per record); the
bytes of a frame still incomplete are kept, so when a stream turns out cut or
corrupted in the middle of a frame, that frame is decoded again element by element
and still yields every complete record before the damage. Then the reader stops
and says what happened in :attr:`RecordReader.damage`.

Frames of map records (connection records: ~28 keys each) are decoded by ormsgpack
instead, ~2x faster than msgpack there. msgpack still finds where such a frame and
each of its records end (``skip()``, no objects built), so everything that decides
what a stream yields stays msgpack's: a frame ormsgpack refuses, or one that could
hold a container over the limits, is decoded by msgpack exactly as before.
"""

from __future__ import annotations

import json
import os
import re
import select
from collections.abc import Iterator
from typing import Any

import msgpack

try:
    import ormsgpack
except ImportError:  # pragma: no cover - ormsgpack is a dependency; degrade, do not fail
    ormsgpack = None  # type: ignore[assignment]

from rustnet.stream.escape import escape_unsafe
from rustnet.stream.frames import take_records
from rustnet.stream.pktbatch import expand as expand_packets
from rustnet.stream.records import FORMAT_VERSION, HEADER, PACKETS, Record, from_json_obj

# Bytes read at once. A pipe holds 1 MiB (rustnet.stream.writer.PIPE_SIZE), but decoding a
# quarter of that at a time keeps the chunk, its copy kept for a redo and the records built from
# it in the CPU's cache: rn-track read 200k summaries with 0.10 s less CPU than with 1 MiB reads
# (-6% for the whole pipe on short flows; the same on long transfers).
READ_SIZE = 1 << 18
# Bounds what one hostile record can make us buffer.
MAX_BUFFER = 64 << 20
MAX_JSON_LINE = 16 << 20
# A container header makes the unpacker allocate its length at once: bound what a few hostile bytes
# can ask for (frames hold a few hundred records; a longer frame is read element by element).
MAX_CONTAINER = 1 << 16
# A text field longer than this is damage, not data (records hold names and short texts): such a
# string is never built. No record up to MAX_CONTAINER bytes can hold one, so frames ormsgpack
# decodes (records that short) need no check.
MAX_STRING = MAX_CONTAINER
# First bytes of MessagePack maps (fixmap, map16, map32): a frame starting with one holds map records.
_MAP_FIRST = frozenset([*range(0x80, 0x90), 0xDE, 0xDF])
_UNDECIDED = -2


class NewerFormatError(Exception):
    """The stream was written by a newer rustnet with a format this one cannot read."""


class RecordReader:
    """Records from one input, in order; format detected from the first byte."""

    def __init__(self, fd: int, name: str = "-") -> None:
        self.fd = fd
        # The name goes into damage messages (stderr, warn records): a hostile file name stays inert.
        self.name = escape_unsafe(name)
        self.eof = False
        self.damage: str | None = None  # one-line description once the stream is found damaged
        self.records_read = 0
        # pkb records (rustnet.stream.pktbatch) are handed on as pkt records, one per frame, unless
        # this is set (a consumer that reads them itself: rn-dissect).
        self.keep_packet_batches = False
        self._fmt: str | None = None  # "msgpack" or "json" once detected
        self._unpacker = _unpacker()
        self._fed = 0
        # Whole-frame decoding (False once a frame had to be read element by element).
        self._fast = True
        self._obj_start = -1  # stream offset where the top-level object being decoded began
        self._raw = bytearray()  # the stream's bytes from _raw_base on: that object's, for a redo
        self._raw_base = 0
        self._up_base = 0  # stream offset of the current unpacker's first byte
        self._frame_left = 0  # records still to come in the current frame
        # A frame of map records being skipped over (to be decoded by ormsgpack): records still to
        # skip (-1: not such a frame, _UNDECIDED: not known yet), where the record to skip begins,
        # the longest record so far.
        self._skip_left = -1
        self._skip_rec = 0
        self._skip_longest = 0
        self._positional: list[Any] | None = None  # a positional record being assembled
        self._positional_left = 0
        self._array_unknown = 0  # elements of an array whose first element is not read yet
        self._json_buf = bytearray()
        self._json_line = 0

    @property
    def done(self) -> bool:
        return self.eof or self.damage is not None

    @property
    def damaged(self) -> bool:
        # The decoding loops test this, not ``self.damage is None``: type checkers narrow an attribute
        # tested that way and take the methods called in the loop for leaving it None, so mypyc would
        # drop the code that stops once one of them found damage.
        return self.damage is not None

    def __iter__(self) -> Iterator[Record]:
        while not self.done:
            yield from self.poll(None)

    def poll(self, timeout: float | None) -> list[Record]:
        """Records available within ``timeout`` seconds (None blocks until data or EOF)."""
        if self.done:
            return []
        if timeout is not None:
            ready, _, _ = select.select([self.fd], [], [], max(timeout, 0.0))
            if not ready:
                return []
        try:
            chunk = os.read(self.fd, READ_SIZE)
        except BlockingIOError:
            return []
        return self.feed(chunk)

    def feed(self, chunk: bytes) -> list[Record]:
        """Decode ``chunk`` (empty at end of input) into the complete records it finishes."""
        out: list[Record] = []
        if not chunk:
            self._finish(out)
            self.eof = True
            return out
        if self._fmt is None:
            stripped = chunk.lstrip(b" \t\r\n")
            if not stripped:
                return out
            self._fmt = "json" if stripped[:1] == b"{" else "msgpack"
        if self._fmt == "json":
            self._json_buf += chunk
            self._decode_json(out, final=False)
        else:
            try:
                self._unpacker.feed(chunk)
            except msgpack.BufferFull:
                self.damage = f"{self.name}: record larger than {MAX_BUFFER >> 20} MiB at byte {self._fed}"
                return out
            self._fed += len(chunk)
            if self._fast:
                self._decode_frames(chunk, out)
            else:
                self._decode_msgpack(out)
        self.records_read += len(out)
        return out

    # --- MessagePack ------------------------------------------------------
    def _decode_frames(self, chunk: bytes, out: list[Record]) -> None:
        """The fast path: one ``unpack()`` per frame, then a type check per record."""
        up = self._unpacker
        raw = self._raw
        if self._obj_start >= 0:
            raw += chunk  # the pending frame goes on in this chunk
        else:
            raw.clear()
            raw += chunk
            self._raw_base = self._fed - len(chunk)
        accept = self._accept
        while not self.damaged:
            if self._obj_start < 0:
                self._obj_start = up.tell()
                self._skip_left = -1 if ormsgpack is None else _UNDECIDED
            try:
                if self._skip_left == _UNDECIDED:
                    self._skip_left = _map_frame_len(raw, self._obj_start - self._raw_base)
                    if self._skip_left == _UNDECIDED:
                        raise msgpack.OutOfData()  # wait for the frame's first bytes
                    if self._skip_left >= 0:
                        up.read_array_header()  # its bytes are there: _map_frame_len read them
                        self._skip_rec = up.tell()
                if self._skip_left >= 0:
                    obj = self._skip_frame()
                else:
                    obj = up.unpack()
            except msgpack.OutOfData:
                # Keep only the pending object's bytes (the whole chunk when nothing is pending).
                cut = self._obj_start - self._raw_base
                if cut > 0:
                    del raw[:cut]
                    self._raw_base = self._obj_start
                return
            except Exception:  # corrupt bytes or over a limit: read this object element by element
                self._redo(out)
                return
            self._obj_start = -1
            if type(obj) is list:
                if not obj:
                    continue  # an empty frame
                if type(obj[0]) is str:
                    accept(obj, out)  # a single positional record (a pkb, from rn-capture)
                    continue
                # Each record checked in compiled code; a header or a non-record is _accept's.
                i = take_records(obj, 0, out, self.keep_packet_batches)
                while i < len(obj):
                    accept(obj[i], out)
                    if self.damage is not None:
                        return
                    i = take_records(obj, i + 1, out, self.keep_packet_batches)
            else:
                accept(obj, out)

    def _skip_frame(self) -> Any:
        """Skip to the end of the pending frame of map records (OutOfData: more bytes are needed,
        call again), then decode it: ormsgpack, or msgpack where the result could differ."""
        up = self._unpacker
        tell = up.tell
        skip = up.skip
        left = self._skip_left
        start = self._skip_rec  # where the record to skip begins
        longest = self._skip_longest
        try:
            while left:
                skip()
                end = tell()
                if end - start > longest:
                    longest = end - start
                start = end
                left -= 1
        except msgpack.OutOfData:
            # Called again with more bytes: the unpacker resumes within the record it was skipping.
            self._skip_left, self._skip_rec, self._skip_longest = left, start, longest
            raise
        self._skip_left = -1
        self._skip_longest = 0
        begin = self._obj_start - self._raw_base
        end = tell() - self._raw_base
        # A container over the limits takes more bytes than MAX_CONTAINER: records no longer than that
        # cannot hold one (ormsgpack has no such limits; msgpack refuses those frames).
        if longest <= MAX_CONTAINER:
            with memoryview(self._raw) as view, view[begin:end] as frame:
                try:
                    return ormsgpack.unpackb(frame)
                except Exception:  # noqa: BLE001 - refused (ext types, non-str keys...): msgpack decides
                    pass
        return _unpackb(bytes(self._raw[begin:end]))

    def _redo(self, out: list[Record]) -> None:
        """Switch to element-by-element decoding from the start of the pending object."""
        start = self._obj_start
        self._skip_left = -1
        self._skip_longest = 0
        self._fast = False
        self._obj_start = -1
        up = self._unpacker = _unpacker()
        self._up_base = start
        data = bytes(self._raw[start - self._raw_base :])
        self._raw = bytearray()
        up.feed(data)
        self._decode_msgpack(out)

    def _decode_msgpack(self, out: list[Record]) -> None:
        up = self._unpacker
        try:
            while not self.damaged:
                if self._positional is not None:
                    if self._positional_left:
                        self._positional.append(up.unpack())
                        self._positional_left -= 1
                        continue
                    # Not named rec: compiled, the name would be typed list by this first use, and
                    # a rec = up.unpack() below that is no list would raise before _accept saw it.
                    assembled, self._positional = self._positional, None
                    self._accept(assembled, out)
                    continue
                if self._array_unknown:
                    first = up.unpack()
                    n = self._array_unknown
                    self._array_unknown = 0
                    if isinstance(first, str):
                        self._positional, self._positional_left = [first], n - 1
                    else:
                        self._frame_left = n - 1
                        self._accept(first, out)
                    continue
                if self._frame_left:
                    rec = up.unpack()
                    self._frame_left -= 1
                    self._accept(rec, out)
                    continue
                try:
                    n = up.read_array_header()
                except ValueError:
                    # Not an array: a single map record, or garbage that _accept rejects.
                    self._accept(up.unpack(), out)
                    continue
                self._array_unknown = n
        except msgpack.OutOfData:
            return
        except NewerFormatError:
            raise
        except Exception as exc:  # msgpack raises several types for corrupt bytes
            where = self._up_base + up.tell()
            if isinstance(exc, ValueError) and "exceeds max_" in str(exc):
                self.damage = (
                    f"{self.name}: damaged record near byte {where}: a string or list over the limits "
                    f"(strings {MAX_STRING >> 10} KiB, lists and maps {MAX_CONTAINER} items)"
                )
            else:
                self.damage = f"{self.name}: corrupt record stream near byte {where} ({type(exc).__name__})"

    def _accept(self, rec: Any, out: list[Record]) -> None:
        if isinstance(rec, dict):
            tag = rec.get("t")
            if not isinstance(tag, str):
                self.damage = f"{self.name}: corrupt record stream: a map without a type tag"
                return
            if tag == HEADER:
                self._check_version(rec)
            out.append(rec)
        elif isinstance(rec, list) and rec and isinstance(rec[0], str):
            if rec[0] == PACKETS and not self.keep_packet_batches:
                out += expand_packets(rec)
            else:
                out.append(rec)
        else:
            self.damage = f"{self.name}: corrupt record stream: {type(rec).__name__} where a record belongs"

    def _check_version(self, hdr: dict[str, Any]) -> None:
        v = hdr.get("v")
        if isinstance(v, int) and v > FORMAT_VERSION:
            raise NewerFormatError(
                f"{self.name}: record stream format version {v} is newer than this rustnet reads "
                f"(version {FORMAT_VERSION}); upgrade rustnet on this side"
            )

    # --- JSON Lines -------------------------------------------------------
    def _decode_json(self, out: list[Record], final: bool) -> None:
        buf = self._json_buf
        start = 0
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                break
            self._json_record(bytes(buf[start:nl]), out)
            start = nl + 1
        del buf[:start]
        if final and buf.strip():
            self._json_record(bytes(buf), out, last=True)
            buf.clear()
        elif len(buf) > MAX_JSON_LINE:
            self.damage = (
                f"{self.name}: JSON line {self._json_line + 1} longer than {MAX_JSON_LINE >> 20} MiB"
            )
            buf.clear()

    def _json_record(self, line: bytes, out: list[Record], last: bool = False) -> None:
        self._json_line += 1
        if not line.strip():
            return
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):  # RecursionError: hostile nesting ([[[[...)
            what = "truncated" if last else "invalid"
            self.damage = f"{self.name}: {what} JSON record on line {self._json_line}"
            return
        if not isinstance(obj, dict) or not isinstance(obj.get("t", "conn"), str):
            self.damage = f"{self.name}: line {self._json_line} is not a record object"
            return
        if b"\\ud" in line or b"\\uD" in line:  # a surrogate escape: maybe a lone one
            obj = _without_lone_surrogates(obj)
        obj.setdefault("t", "conn")
        if obj["t"] == HEADER:
            self._check_version(obj)
        out.append(from_json_obj(obj))

    def _finish(self, out: list[Record]) -> None:
        if self._fmt == "json":
            self._decode_json(out, final=True)
            return
        if self._fmt != "msgpack" or self.damaged:
            return
        if self._fast and self._obj_start >= 0:
            self._redo(out)  # a frame cut short: its complete records still count
            if self.damage:
                return
        pending = self._fed - self._up_base - self._unpacker.tell()
        if pending or self._frame_left or self._positional is not None or self._array_unknown:
            self.damage = (
                f"{self.name}: record stream cut short at byte {self._fed} (the last record is incomplete)"
            )


def _lone_surrogate_escape(m: re.Match[str]) -> str:
    return f"\\u{ord(m.group()):04x}"


_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")  # re's escapes: a surrogate in a literal cannot be compiled


def _without_lone_surrogates(value: Any) -> Any:
    """JSON may escape half a surrogate pair (``"\\udcff"``): text no UTF-8 writer can encode
    (every stage's output would fail on it). Such halves are shown as visible escapes."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub(_lone_surrogate_escape, value)
    if isinstance(value, list):
        return [_without_lone_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_without_lone_surrogates(k): _without_lone_surrogates(v) for k, v in value.items()}
    return value


def _unpacker() -> msgpack.Unpacker:
    return msgpack.Unpacker(
        raw=False,
        max_buffer_size=MAX_BUFFER,
        strict_map_key=False,
        max_str_len=MAX_STRING,
        max_array_len=MAX_CONTAINER,
        max_map_len=MAX_CONTAINER,
    )


def _unpackb(data: bytes) -> Any:
    """One whole object, decoded as the stream's unpacker decodes it (same options, same errors)."""
    up = _unpacker()
    up.feed(data)
    return up.unpack()


def _map_frame_len(buf: bytearray, at: int) -> int:
    """The record count of the frame at ``buf[at:]`` when it is an array whose first element is a map
    (and within the limits), else -1; _UNDECIDED when an array's first bytes are not all there yet."""
    try:
        lead = buf[at]
        if 0x91 <= lead <= 0x9F:
            return lead - 0x90 if buf[at + 1] in _MAP_FIRST else -1
        if lead == 0xDC:
            n = buf[at + 1] << 8 | buf[at + 2]
            first = buf[at + 3]
        elif lead == 0xDD:
            n = int.from_bytes(buf[at + 1 : at + 5], "big")
            first = buf[at + 5]
        else:
            return -1
    except IndexError:
        return _UNDECIDED
    return n if 0 < n <= MAX_CONTAINER and first in _MAP_FIRST else -1


def open_inputs(paths: list[str]) -> Iterator[RecordReader]:
    """A reader per input in order: stdin when ``paths`` is empty or ``-``. Files are sniffed first
    (empty, not a record stream, gzip'd: see :mod:`rustnet.stream.infile`)."""
    from rustnet.stream.infile import RecordFile  # built on this module

    for path in paths or ["-"]:
        with RecordFile(path) as source:
            yield source.reader
