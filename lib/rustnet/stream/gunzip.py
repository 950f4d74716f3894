"""gzip-compressed input, decompressed on a thread into a pipe that readers read like any input.

A pipe keeps memory bounded (at most a pipe's worth and one 64 KiB piece of output are held,
whatever the compression ratio) and lets what is decompressed be used at once; zlib releases
the GIL while it works, so decompressing overlaps with decoding. Members of a multi-member
file are read one after the other (as gzip does) and zero padding at the end is ignored.
When the compressed data is cut short or corrupt, everything before the damage has gone
through the pipe by the time it closes, and :attr:`Inflater.damage` says what happened.
"""

from __future__ import annotations

import os
import threading
import zlib
from collections.abc import Callable

from rustnet.stream.sniff import gzip_error
from rustnet.stream.writer import grow_pipe

READ_SIZE = 1 << 16
PIECE = 1 << 16  # output decompressed at most per call: bounds memory against a compression bomb


class Inflater:
    """Decompresses ``head`` and then ``src`` (both gzip data) into a pipe; :attr:`fd` is its read end.

    ``setup`` runs first on the thread (to give up privileges the thread does not need);
    ``close_src`` closes ``src`` when done. The read end is the caller's to close; closing it
    early ends the thread (its next write fails).
    """

    def __init__(
        self,
        src: int,
        head: bytes = b"",
        close_src: bool = False,
        setup: Callable[[], None] | None = None,
    ) -> None:
        self.fd, self._w = os.pipe()
        grow_pipe(self._w)
        self.produced = 0  # bytes of content written
        self.damage: str | None = None  # set before the pipe closes, when the data was damaged
        self._progress = threading.Condition()
        self._ended = False
        self._thread = threading.Thread(
            target=self._run, args=(src, head, close_src, setup), name="rustnet-gunzip", daemon=True
        )
        self._thread.start()

    def wait_produced(self, size: int, timeout: float) -> bool:
        """Wait until ``size`` bytes are in the pipe or the thread has ended; False on timeout.

        For readers that block in C holding the GIL (libpcap opening a capture): the bytes they
        read at once must be there before they start, or the thread could never write them.
        """
        with self._progress:
            return self._progress.wait_for(lambda: self.produced >= size or self._ended, timeout)

    def wait(self, timeout: float = 5.0) -> str | None:
        """Wait for the thread to end (the reader saw the end of the pipe); :attr:`damage`."""
        self._thread.join(timeout)
        return self.damage

    def close(self) -> None:
        """Close the read end (idempotent)."""
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)

    def _run(self, src: int, head: bytes, close_src: bool, setup: Callable[[], None] | None) -> None:
        try:
            if setup is not None:
                setup()
            self._inflate(src, head)
        except zlib.error as exc:
            self.damage = gzip_error(exc)
        except BrokenPipeError:
            pass  # the reader stopped reading: nothing more to do
        except OSError as exc:
            self.damage = f"cannot read: {exc.strerror or exc}"
        finally:
            os.close(self._w)
            if close_src:
                os.close(src)
            with self._progress:
                self._ended = True
                self._progress.notify_all()

    def _inflate(self, src: int, data: bytes) -> None:
        inflate: zlib._Decompress | None = None
        write = self._write
        while True:
            if not data:
                data = os.read(src, READ_SIZE)
                if not data:
                    break
            if inflate is None:
                if not data.strip(b"\0"):
                    data = b""  # padding after the last member
                    continue
                inflate = zlib.decompressobj(31)
            while True:
                out = inflate.decompress(data, PIECE)
                if out:
                    write(out)
                data = inflate.unconsumed_tail
                if inflate.eof or (not data and len(out) < PIECE):
                    break
            if inflate.eof:
                data = inflate.unused_data  # the next member, padding, or nothing
                inflate = None
        if inflate is not None:
            self.damage = "compressed data cut short"

    def _write(self, out: bytes) -> None:
        with memoryview(out) as view:
            while view:
                view = view[os.write(self._w, view) :]
        with self._progress:
            self.produced += len(out)
            self._progress.notify_all()
