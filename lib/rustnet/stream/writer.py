"""Write a record stream to a file descriptor, batched into frames.

MessagePack records are batched into frames of at most ``max_records`` records
or about ``max_bytes`` bytes; JSON Lines are batched the same way. Whole frames
wait until about ``WRITE_SIZE`` bytes of them can go out in one ``write``. Live
stages call :meth:`RecordWriter.flush` before they wait for more input, so a
quiet stream is never held back and a busy one is written in large writes.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import stat
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

import msgpack

from rustnet.stream import pktbatch
from rustnet.stream.bounds import saturate
from rustnet.stream.escape import escape_char
from rustnet.stream.records import PACKET, PKT_DATA, Record, to_json_obj
from rustnet.stream.termination import termination

_data_of = itemgetter(PKT_DATA)

# ~10x faster than the json module for connection records; json remains the fallback. Imported
# here, not at first use: rn-capture may no longer be allowed to read the venv by then.
try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency; degrade, do not fail
    orjson = None  # type: ignore[assignment]

# ormsgpack (Rust) encodes a frame 2-2.5x faster than msgpack's Packer, to the same bytes for the types
# records hold. msgpack stays the exact fallback for whatever ormsgpack refuses (ints beyond 64 bits,
# non-str keys, lone surrogates, ExtType...). Types msgpack refuses but ormsgpack would write (enums,
# dataclasses, datetimes, UUIDs) are passed through, so they reach msgpack and fail as before.
try:
    import ormsgpack

    _ORM_OPTS = (
        ormsgpack.OPT_PASSTHROUGH_ENUM
        | ormsgpack.OPT_PASSTHROUGH_DATACLASS
        | ormsgpack.OPT_PASSTHROUGH_DATETIME
        | ormsgpack.OPT_PASSTHROUGH_UUID
    )
except ImportError:  # pragma: no cover - ormsgpack is a dependency; degrade, do not fail
    ormsgpack = None  # type: ignore[assignment]

FORMATS = ("msgpack", "json")

# Output pipes are grown to this (Linux; the default is 64 KiB): a burst, or a moment when the next
# stage is not scheduled, then fills the pipe instead of stalling this stage (for rn-capture, a stall
# fills the kernel's ring, and a full ring drops packets). 1 MiB is the unprivileged maximum.
PIPE_SIZE = 1 << 20
# Whole frames are written together once about this many bytes of them wait (or at flush()).
WRITE_SIZE = 256 << 10
# Buffers one writev() takes at most (POSIX guarantees 16; Linux takes 1024).
_IOV_MAX = max(16, min(os.sysconf("SC_IOV_MAX") if "SC_IOV_MAX" in os.sysconf_names else 16, 1024))


class PipeClosed(Exception):
    """The reader of our output went away (``| head``): a quiet, normal end."""


class RecordWriter:
    """Batches records and writes them as frames (msgpack) or lines (json)."""

    def __init__(
        self,
        fd: int,
        fmt: str = "msgpack",
        max_records: int = 256,
        max_bytes: int = 64 * 1024,
        only_type: str | None = None,
    ) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown output format {fmt!r}")
        if only_type is not None and fmt != "json":
            # A record stream without its header is no stream: only lines may leave records out.
            raise ValueError("only JSON Lines can leave records out")
        self.fd = fd
        self.fmt = fmt
        # JSON Lines: write only the map records of this type ("conn": one line per connection).
        self.only_type = only_type
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.records_written = 0
        self._batch: list[Any] = []
        self._batch_bytes = 0
        self._packer = msgpack.Packer(use_bin_type=True)
        # Encoded frames (or JSON Lines) waiting, written with one writev(): joining them in a buffer
        # cost a copy, and the buffer's fresh pages, at every write.
        self._out: list[bytes] = []
        self._pending = 0  # about how many bytes of whole frames wait in the output buffer
        self._closed = False
        # Called at the end of every flush(): every record handed over before is encoded and no
        # longer referenced here (rn-track reuses its record dicts then: Tracker.released).
        self.on_flushed: Callable[[], None] | None = None
        # pkb records carry libpcap's metadata as it is (rustnet.stream.pktbatch).
        self.packet_batches = fmt == "msgpack" and pktbatch.META_IN_HOST_ORDER
        grow_pipe(fd)

    def write(self, rec: Record) -> None:
        """Queue one record; a full batch becomes a frame."""
        self._batch.append(rec)
        if type(rec) is list and rec[0] == PACKET:
            try:
                self._batch_bytes += len(rec[PKT_DATA]) + 24
            except (IndexError, TypeError):  # a damaged pkt record passed through: still written
                self._batch_bytes += 64
        else:
            self._batch_bytes += 64
        if len(self._batch) >= self.max_records or self._batch_bytes >= self.max_bytes:
            self._end_frame()

    def write_many(self, recs: list[Record]) -> None:
        """Queue many records at once (cheaper than one write() each on hot paths)."""
        if not recs:
            return
        # Packet records carry real payload bytes: counted a frame's worth at a time.
        if type(recs[0]) is list and recs[0][0] == PACKET:
            step = self.max_records
            for i in range(0, len(recs), step):
                part = recs[i : i + step] if i or step < len(recs) else recs
                try:
                    data_bytes = sum(map(len, map(_data_of, part)))
                except (IndexError, KeyError, TypeError):  # other records among them, or damaged ones
                    for rec in part:
                        self.write(rec)
                    continue
                self.write_packets(part, data_bytes)
            return
        # Anything else is counted as 64 bytes: whole slices go into the frame, a frame at a time.
        batch = self._batch
        i, n = 0, len(recs)
        while i < n:
            take = min(self.max_records - len(batch), (self.max_bytes - self._batch_bytes) // 64, n - i)
            if take <= 0:
                self._end_frame()
                batch = self._batch
                continue
            batch.extend(recs[i : i + take] if i or take < n else recs)
            self._batch_bytes += 64 * take
            i += take
            if len(batch) >= self.max_records or self._batch_bytes >= self.max_bytes:
                self._end_frame()
                batch = self._batch

    def write_packets(self, recs: Sequence[Record], data_bytes: int) -> None:
        """Queue records that carry ``data_bytes`` of packet data in all (``pkt`` records).

        ``write()`` counts each record's bytes; a producer that already knows the total
        (rn-capture: the size of a ``next_batch`` buffer) hands over a frame's worth at once.
        Frames keep their limits: what would overflow the queued frame starts a new one.
        """
        n = len(recs)
        nbytes = data_bytes + 24 * n
        batch = self._batch
        if batch and (len(batch) + n > self.max_records or self._batch_bytes + nbytes > self.max_bytes):
            self._end_frame()
            batch = self._batch
        if n > self.max_records or nbytes > self.max_bytes:  # more than a frame: counted record by record
            for rec in recs:
                self.write(rec)
            return
        batch.extend(recs)
        self._batch_bytes += nbytes
        if len(batch) >= self.max_records or self._batch_bytes >= self.max_bytes:
            self._end_frame()

    def write_packet_batch(self, signed: bool, meta: bytes, data: bytes) -> None:
        """Write ``len(meta) // 16`` whole frames as one ``pkb`` record (only where
        :attr:`packet_batches` is true): after what is queued, as a top-level object of its own,
        the data handed to ``writev`` as it is (never copied here)."""
        self._end_frame()
        self._out += (pktbatch.header(signed, len(meta)), meta, pktbatch.data_header(len(data)), data)
        self.records_written += len(meta) // pktbatch.META_SIZE
        self._pending += len(meta) + len(data)
        if self._pending >= WRITE_SIZE:
            self._write_out()

    def flush(self) -> None:
        """Write everything queued now."""
        self._end_frame()
        if self._pending:
            self._write_out()
        if self.on_flushed is not None:
            self.on_flushed()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.flush()

    def _end_frame(self) -> None:
        """Encode the queued records as a frame into the output buffer; the buffer is written when it
        holds about WRITE_SIZE bytes (one write for several frames: fewer system calls here and
        fewer wake-ups downstream), and always by flush()."""
        batch = self._batch
        if not batch:
            return
        self._pending += self._batch_bytes
        self._batch, self._batch_bytes = [], 0
        self.records_written += len(batch)
        if self.fmt == "msgpack":
            self._out.append(self._pack(batch))
        elif self.only_type is None:
            self._out.append(json_lines(batch))
        else:
            kind = self.only_type
            self._out.append(json_lines([r for r in batch if type(r) is dict and r.get("t") == kind]))
        if self._pending >= WRITE_SIZE:
            self._write_out()

    def _pack(self, batch: list[Any]) -> bytes:
        if ormsgpack is not None:
            try:
                return ormsgpack.packb(batch, option=_ORM_OPTS)
            except Exception:  # noqa: BLE001 - a type or value ormsgpack refuses: msgpack decides
                pass
        try:
            try:
                return self._packer.pack(batch)  # type: ignore[no-any-return]
            except OverflowError:
                # An integer beyond 64 bits (a counter fed by a hostile stream): written saturated.
                return self._packer.pack(saturate(batch))  # type: ignore[no-any-return]
        except BaseException:
            # As msgpack's own buffer did: a frame that cannot be encoded drops what was not written.
            self._out = []
            raise

    def _write_out(self) -> None:
        self._pending = 0
        try:
            self._write_all(self._out)
        finally:
            self._out = []

    def _write_all(self, chunks: list[bytes]) -> None:
        """Write ``chunks`` in order, whole (the list is consumed); SIGTERM waits for the end."""
        termination.hold()
        try:
            self._write_chunks(chunks)
        finally:
            termination.release()

    def _write_chunks(self, chunks: list[bytes]) -> None:
        i = 0
        while i < len(chunks):
            try:
                n = os.writev(self.fd, chunks[i : i + _IOV_MAX])
            except BrokenPipeError as exc:
                self._batch = []
                raise PipeClosed() from exc
            except BlockingIOError:
                select.select([], [self.fd], [])
                continue
            while n:  # drop what was written; a chunk written in part goes on from there
                size = len(chunks[i])
                if n < size:
                    chunks[i] = chunks[i][n:]
                    break
                n -= size
                i += 1
            while i < len(chunks) and not chunks[i]:
                i += 1


def grow_pipe(fd: int, size: int = PIPE_SIZE) -> int:
    """Make the pipe ``fd`` hold ``size`` bytes (never shrink it); returns its capacity, 0 when ``fd``
    is not a pipe or the capacity is unknown."""
    try:
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return 0
        have = fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ)
        if have >= size:
            return int(have)
        return int(fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, size))
    except (OSError, AttributeError):  # over the user's pipe quota, or not Linux: keep what it has
        try:
            return int(fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ))
        except (OSError, AttributeError):
            return 0


def json_lines(batch: list[Record]) -> bytes:
    """The JSON Lines of ``batch``, UTF-8. Map records need no conversion: the only values JSON
    lacks are bytes, and those become hex through the default hook at any depth."""
    if orjson is None:
        return _escape_terminal_controls(
            b"".join(_std_line(r if type(r) is dict else to_json_obj(r)) for r in batch)
        )
    dumps = orjson.dumps
    opts = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS
    # Appending to one buffer: keeping hundreds of orjson's results alive for a join is ~5x slower.
    out = bytearray()
    for r in batch:
        obj = r if type(r) is dict else to_json_obj(r)
        try:
            out += dumps(obj, default=_json_default, option=opts)
        except TypeError:  # orjson.JSONEncodeError: lone surrogates, huge ints, odd keys
            out += _std_line(obj)
    return _escape_terminal_controls(bytes(out))


# JSON escapes C0 controls ("\u001b", "\n") and writes every other character raw; `jq -r` and any
# JSON reader turn both back into the raw character, and our JSON is often read on a terminal.
# So a character of a string the escaping rule (rustnet.stream.escape) does not keep is written
# as its visible escape *text* (JSON "\\u200b": the six characters \u200b), as the stage that
# made the text does; a record from our own stages has none. Compiled at first use (re caches
# it), not at import: most commands never write JSON.
_JSON_UNSAFE = r"\\(?:u00[01][0-9a-fA-F]|[bfnrt])|\\.|[^\n -~]"
_JSON_CONTROL_ESCAPES = {"b": 0x08, "f": 0x0C, "n": 0x0A, "r": 0x0D, "t": 0x09}


def _visible_escape(m: re.Match[str]) -> str:
    token = m.group()
    if token[0] == "\\":
        if len(token) == 6:  # \u00XX: a C0 control
            return "\\\\x" + token[4:].lower()
        code = _JSON_CONTROL_ESCAPES.get(token[1])
        return token if code is None else f"\\\\x{code:02x}"
    return token if token.isprintable() else "\\" + escape_char(token)


def _escape_terminal_controls(data: bytes) -> bytes:
    # Two C scans first: output is nearly always ASCII without a backslash (the regex is slow).
    if data.isascii() and b"\\" not in data and b"\x7f" not in data:
        return data
    text = data.decode("utf-8", "surrogateescape")
    return re.sub(_JSON_UNSAFE, _visible_escape, text).encode("utf-8", "surrogateescape")


def _std_line(obj: Any) -> bytes:
    """One line with the json module: text that is not valid Unicode is shown escaped."""
    obj = saturate(obj)  # integers beyond 64 bits, as in MessagePack (orjson refused them)
    # Second try: without the keys JSON cannot have (bytes keys from a hostile stream).
    for skip in (False, True):
        try:
            text = json.dumps(
                obj, ensure_ascii=False, separators=(",", ":"), default=_json_default, skipkeys=skip
            )
            break
        except (TypeError, ValueError, RecursionError):
            continue
    else:
        tag = obj.get("t") if isinstance(obj, dict) else None
        text = json.dumps({"t": tag if isinstance(tag, str) else "?", "error": "not representable as JSON"})
    return (text + "\n").encode("utf-8", "backslashreplace")


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, (set, tuple)):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
