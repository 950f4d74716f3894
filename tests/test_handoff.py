"""rustnet's relay hands the viewer its decoded records (rustnet.app.handoff): in order, with
the back pressure a pipe gave, an end the viewer sees once everything is taken, and a relay
that stops waiting once the viewer is gone."""

from __future__ import annotations

import select
import threading
from typing import Any

import pytest
from rustnet.app.handoff import Handoff, HandoffSource
from rustnet.stream import PipeClosed


def _conn(i: int) -> dict[str, Any]:
    return {"t": "conn", "id": i, "proto": "udp", "src": "10.0.0.1", "dst": "10.0.0.2", "packets": i}


def _readable(fd: int) -> bool:
    return bool(select.select([fd], [], [], 0)[0])


def test_records_arrive_in_order_and_the_fd_says_when() -> None:
    h = Handoff()
    try:
        assert h.take() == [] and not _readable(h.fd)
        h.write(_conn(1))
        h.write_many([_conn(2), _conn(3)])
        assert not _readable(h.fd)  # nothing is handed over before a flush
        h.flush()
        h.write_many([_conn(4)])
        h.flush()
        h.flush()  # nothing written: nothing handed over
        assert _readable(h.fd)
        assert [r["id"] for r in h.take()] == [1, 2, 3, 4]
        assert not _readable(h.fd) and h.take() == []
        assert not h.drained
        h.write(_conn(5))
        h.close()  # what was written goes first, then the end
        assert _readable(h.fd) and not h.drained
        assert [r["id"] for r in h.take()] == [5]
        assert h.drained
    finally:
        h.close_fds()


def test_a_full_handoff_holds_the_relay_until_the_viewer_takes() -> None:
    h = Handoff(max_records=3)
    try:
        for i in range(2):
            h.write(_conn(i))
            h.flush()
        done = threading.Event()

        def relay() -> None:
            h.write_many([_conn(2), _conn(3)])  # 2 waiting + 2 > 3
            h.flush()
            done.set()

        t = threading.Thread(target=relay, daemon=True)
        t.start()
        assert not done.wait(0.3)  # held: two batches wait already
        assert [r["id"] for r in h.take()] == [0, 1]
        assert done.wait(10)
        assert [r["id"] for r in h.take()] == [2, 3]
        h.write_many([_conn(i) for i in range(4, 9)])  # more than the bound, with none waiting: goes
        h.flush()
        assert len(h.take()) == 5
        t.join(10)
    finally:
        h.close_fds()


def test_a_relay_held_when_the_viewer_goes_stops_with_pipe_closed() -> None:
    h = Handoff(max_records=1)
    try:
        h.write(_conn(0))
        h.flush()
        failed: list[BaseException] = []

        def relay() -> None:
            h.write(_conn(1))
            try:
                h.flush()
            except PipeClosed as exc:
                failed.append(exc)

        t = threading.Thread(target=relay, daemon=True)
        t.start()
        t.join(0.3)
        assert t.is_alive()
        h.shut()
        t.join(10)
        assert not t.is_alive() and len(failed) == 1
        h.write(_conn(2))
        with pytest.raises(PipeClosed):
            h.flush()
    finally:
        h.close_fds()


def test_the_viewer_source_ends_once_everything_is_read() -> None:
    h = Handoff()
    src = HandoffSource(h)
    try:
        assert src.filenos() == [h.fd] and not src.drained and not src.ticking
        h.write_many([{"t": "hdr", "v": 1}, _conn(1)])
        h.flush()
        assert [r.get("id") for r in src.read(h.fd)] == [None, 1]
        assert not src.drained
        h.write(_conn(2))
        h.close()
        assert [r["id"] for r in src.read(h.fd)] == [2]
        assert src.drained and src.filenos() == []
        assert src.damage == [] and src.errors == []
    finally:
        src.close()
        h.close_fds()
