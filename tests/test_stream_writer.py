"""RecordWriter: frames written together, written at every flush, pipes grown, closed pipes quiet."""

from __future__ import annotations

import fcntl
import os
import random
import tempfile

import msgpack
import pytest
from rustnet.stream import PipeClosed, RecordReader, RecordWriter
from rustnet.stream.writer import PIPE_SIZE, WRITE_SIZE, grow_pipe


def packet(i: int, size: int = 100) -> list[object]:
    return ["pkt", 1700000000.0 + i * 0.001, size, bytes([i % 256]) * size]


def conn(i: int) -> dict[str, object]:
    return {"t": "conn", "id": i, "proto": "tcp", "bytes": i * 10}


def frames(data: bytes) -> list[list[object]]:
    up = msgpack.Unpacker(raw=False)
    up.feed(data)
    return list(up)


def pending_bytes(r: int) -> bytes:
    os.set_blocking(r, False)
    try:
        return os.read(r, 1 << 24)
    except BlockingIOError:
        return b""


def test_frames_wait_for_a_large_write_and_flush_writes_them_all() -> None:
    r, w = os.pipe()
    writer = RecordWriter(w)
    for i in range(300):  # more than a frame, far less than WRITE_SIZE
        writer.write(packet(i))
    assert pending_bytes(r) == b""  # the full frame waits for more
    writer.flush()
    data = pending_bytes(r)
    assert [len(f) for f in frames(data)] == [256, 44]
    writer.flush()  # nothing queued: nothing written
    assert pending_bytes(r) == b""
    os.close(r)
    os.close(w)


def test_a_large_backlog_is_written_without_flush() -> None:
    r, w = os.pipe()
    writer = RecordWriter(w)
    size = 1000
    n = 2 * WRITE_SIZE // (size + 24)
    got = b""
    for i in range(n):
        writer.write(packet(i, size))
        got += pending_bytes(r)
    assert len(got) >= WRITE_SIZE // 2
    writer.close()
    got += pending_bytes(r)
    recs = [rec for frame in frames(got) for rec in frame]
    assert recs == [packet(i, size) for i in range(n)]
    os.close(r)
    os.close(w)


@pytest.mark.parametrize("fmt", ["msgpack", "json"])
def test_every_way_of_writing_gives_the_same_stream(fmt: str) -> None:
    rng = random.Random(1)
    recs: list[object] = []
    for i in range(3000):
        recs.append(packet(i, rng.randrange(0, 1500)) if rng.random() < 0.7 else conn(i))
    outs = []
    for how in ("write", "many", "mixed"):
        with tempfile.TemporaryFile() as fh:
            writer = RecordWriter(fh.fileno(), fmt)
            i = 0
            while i < len(recs):
                step = rng.randrange(1, 400)
                part = recs[i : i + step]
                if how == "write" or (how == "mixed" and step % 3 == 0):
                    for rec in part:
                        writer.write(rec)  # type: ignore[arg-type]
                else:
                    writer.write_many(part)  # type: ignore[arg-type]
                if step % 5 == 0:
                    writer.flush()
                i += step
            writer.close()
            fh.seek(0)
            data = fh.read()
        reader = RecordReader(-1)
        outs.append(reader.feed(data) + reader.feed(b""))
        assert reader.damage is None
    expect = outs[0]
    assert outs[1] == expect and outs[2] == expect
    assert len(expect) == len(recs)


def test_output_pipes_are_grown_never_shrunk() -> None:
    r, w = os.pipe()
    assert fcntl.fcntl(w, fcntl.F_GETPIPE_SZ) < PIPE_SIZE
    RecordWriter(w)
    assert fcntl.fcntl(w, fcntl.F_GETPIPE_SZ) == PIPE_SIZE  # the unprivileged maximum by default
    assert grow_pipe(w, PIPE_SIZE // 4) == PIPE_SIZE
    assert fcntl.fcntl(w, fcntl.F_GETPIPE_SZ) == PIPE_SIZE
    os.close(r)
    os.close(w)
    with open(os.devnull, "wb") as fh:
        assert grow_pipe(fh.fileno()) == 0


def test_a_closed_pipe_is_pipe_closed_with_frames_waiting() -> None:
    r, w = os.pipe()
    os.close(r)
    writer = RecordWriter(w)
    for i in range(600):
        writer.write(packet(i))
    with pytest.raises(PipeClosed):
        writer.flush()
    writer.flush()  # what was waiting is gone: no second error
    os.close(w)


@pytest.mark.parametrize("fmt", ["msgpack", "json"])
def test_partial_writes_to_a_small_non_blocking_pipe_lose_and_reorder_nothing(fmt: str) -> None:
    import threading

    recs = [{"t": "conn", "id": i, "pad": "x" * (i % 300)} for i in range(3000)]
    with tempfile.TemporaryFile() as f:  # the same records written to a file: the expected bytes
        w = RecordWriter(f.fileno(), fmt)
        w.write_many(recs)  # type: ignore[arg-type]
        w.close()
        f.seek(0)
        want = f.read()
    r, wfd = os.pipe()
    got = bytearray()

    def drain() -> None:
        while chunk := os.read(r, 777):  # small reads: the writer meets a full pipe again and again
            got.extend(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        writer = RecordWriter(wfd, fmt)
        fcntl.fcntl(wfd, fcntl.F_SETPIPE_SZ, 4096)  # smaller than the writer made it
        os.set_blocking(wfd, False)
        for i in range(0, len(recs), 50):
            writer.write_many(recs[i : i + 50])  # type: ignore[arg-type]
        writer.close()
    finally:
        os.close(wfd)
        reader.join()
        os.close(r)
    assert bytes(got) == want
    assert len(want) > WRITE_SIZE  # several write-outs, each met a full pipe
