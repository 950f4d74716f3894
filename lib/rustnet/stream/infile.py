"""A record stream read from a file: looked at first, decompressed when gzip'd.

A file argument that is empty, a capture, or neither a capture nor a record stream gives a
reader that is already done, with one sentence as its damage (status 3, and the next input
is still read). Standard input is looked at only when it is a regular file (``< file``): a
pipe cannot be read twice, and an empty pipe stays a valid, empty stream.
"""

from __future__ import annotations

import os
import shlex
from types import TracebackType

from rustnet.stream.fdname import duplicate_named
from rustnet.stream.gunzip import Inflater
from rustnet.stream.reader import RecordReader
from rustnet.stream.records import Record
from rustnet.stream.sniff import CAPTURE, EMPTY, OTHER, empty_message, neither_message, sniff_fd


class InflatedReader(RecordReader):
    """A reader of decompressed records: the gzip layer's damage, when any, is the stream's."""

    def __init__(self, inflater: Inflater, name: str) -> None:
        super().__init__(inflater.fd, name)
        self.inflater = inflater

    def feed(self, chunk: bytes) -> list[Record]:
        out = super().feed(chunk)
        if not chunk:
            reason = self.inflater.wait()
            if reason is not None:  # the cause: a record cut by it is only its echo
                self.damage = f"{self.name}: {reason} after {self.inflater.produced:,} bytes"
        return out


def open_input(path: str) -> int:
    """A descriptor to read ``path`` from: a duplicate of the one a name like ``/dev/fd/N``
    stands for (rustnet.stream.fdname; rustnet hands rn-merge, which runs as nobody, its shards'
    pipes by name), else the file opened."""
    fd = duplicate_named(path, write=False)
    return fd if fd is not None else os.open(path, os.O_RDONLY | os.O_CLOEXEC)


class RecordFile:
    """The reader for one input (``-``: standard input), and what to close after it."""

    def __init__(self, path: str, stdin_fd: int = 0) -> None:
        self._owned = -1
        self._inflater: Inflater | None = None
        if path == "-":
            fd, name = stdin_fd, "stdin"
        else:
            fd = self._owned = open_input(path)
            name = path
        try:
            self.reader = self._reader(fd, name, path == "-")
        except BaseException:
            self.close()
            raise

    def _reader(self, fd: int, name: str, is_stdin: bool) -> RecordReader:
        sniffed = sniff_fd(fd)
        if sniffed is None:
            return RecordReader(fd, name)
        reader = RecordReader(fd, name)
        shown = reader.name  # escaped when the name holds control characters
        if sniffed.damage is not None:
            return _refused(reader, f"{shown}: {sniffed.damage}")
        if sniffed.kind == EMPTY and not is_stdin:
            return _refused(reader, empty_message(shown))
        if sniffed.kind == OTHER:
            return _refused(reader, neither_message(shown))
        if sniffed.kind == CAPTURE:
            hint = "FILE" if is_stdin else shlex.quote(shown)
            what = f"{shown} is a pcap/pcapng capture, not a record stream"
            return _refused(reader, f"{what}: read it with rn-capture -r {hint}")
        if not sniffed.gzip:
            return reader
        # The thread reads the file until it ends: the file is the thread's to close.
        self._inflater = Inflater(fd, close_src=not is_stdin)
        self._owned = -1
        return InflatedReader(self._inflater, name)

    def close(self) -> None:
        if self._inflater is not None:
            self._inflater.close()  # a thread still writing stops at its next write
            self._inflater = None
        if self._owned >= 0:
            os.close(self._owned)
            self._owned = -1

    def __enter__(self) -> RecordFile:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _refused(reader: RecordReader, message: str) -> RecordReader:
    reader.damage = message
    return reader
