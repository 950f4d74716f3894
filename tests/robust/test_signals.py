"""Pipes and signals on a RUNNING pipeline: rn-capture -r - | rn-dissect | rn-track.

The capture is endless (tests/robust/pipeline.py feeds a pcap into rn-capture's stdin
from outside the pipeline's process group), so every signal lands while packets flow.
Checked: ``| head`` ends everything quietly; SIGINT to the group drains (the final
records hold every packet rn-capture wrote); a second SIGINT exits at once; SIGTERM and
SIGHUP end every stage cleanly; an upstream crash (kill -9 rn-capture) ends the rest
with at most one clear line; a downstream crash (kill -9 rn-track) ends the upstream
quietly; a stopped consumer pushes back to the source with bounded memory and loses
nothing. The live variant (drops counted, never silent) is in test_signals_live.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.robust.pipeline import Feeder, Pipeline
from tests.robust.util import cmd, json_lines, rss_mb

pytestmark = pytest.mark.slow

CAPTURE = ["rn-capture", "-r", "-"]
DISSECT = ["rn-dissect"]
TRACK = ["rn-track", "--format", "json"]
RUNNING = 1.0  # seconds the pipeline runs before the event under test


@pytest.fixture
def feeder() -> Iterator[Feeder]:
    f = Feeder().start()
    yield f
    f.close()


@pytest.fixture
def pipelines() -> Iterator[list[Pipeline]]:
    made: list[Pipeline] = []
    yield made
    for p in made:
        p.close()


def start(pipelines: list[Pipeline], feeder: Feeder, tmp_path: Path, argvs: list[list[str]]) -> Pipeline:
    p = Pipeline(argvs, feeder.read_fd, tmp_path)
    pipelines.append(p)
    feeder.handed_over()
    time.sleep(RUNNING)
    assert all(p.alive()), "the pipeline must still be running when the event happens"
    assert feeder.packets > 0
    return p


def finals(out: bytes) -> list[dict[str, Any]]:
    return [r for r in json_lines(out) if r.get("t") == "conn" and r.get("final")]


def captured(out: bytes) -> int:
    stats = [r for r in json_lines(out) if r.get("t") == "stats"]
    assert stats, "rn-capture's statistics pass through to the end"
    return int(stats[-1]["packets"])


def no_traceback(p: Pipeline) -> None:
    for i in range(len(p.procs)):
        err = p.stderr(i)
        assert b"Traceback" not in err and b"internal error" not in err, err
        assert len(err.splitlines()) <= 1, err


def test_head_ends_an_endless_pipeline_quietly(
    tmp_path: Path, feeder: Feeder, pipelines: list[Pipeline]
) -> None:
    p = Pipeline(
        [CAPTURE, [*DISSECT, "--format", "json"], ["/usr/bin/head", "-n", "5"]], feeder.read_fd, tmp_path
    )
    pipelines.append(p)
    feeder.handed_over()
    statuses = p.wait(timeout=15)
    assert statuses == [0, 0, 0], [p.stderr(i) for i in range(3)]
    assert all(p.stderr(i) == b"" for i in range(3))
    assert len(p.output().splitlines()) == 5
    feeder.stop()
    assert feeder.broken, "the source learnt that nobody reads any more"


def test_sigint_drains_and_final_records_hold_every_packet(
    tmp_path: Path, feeder: Feeder, pipelines: list[Pipeline]
) -> None:
    p = start(pipelines, feeder, tmp_path, [CAPTURE, DISSECT, TRACK])
    p.signal(signal.SIGINT)
    assert p.wait(timeout=20) == [0, 0, 0], [p.stderr(i) for i in range(3)]
    assert all(p.stderr(i) == b"" for i in range(3))
    out = p.output()
    n = captured(out)
    assert n > 0
    conns = finals(out)
    assert conns and sum(r["packets"] for r in conns) == n, "every packet written reaches a final record"


def test_second_sigint_exits_at_once_while_draining(
    tmp_path: Path, feeder: Feeder, pipelines: list[Pipeline]
) -> None:
    # rn-capture runs outside the signalled group: dissect and track have input to drain.
    upstream = subprocess.Popen(
        [cmd("rn-capture"), "-r", "-"],
        stdin=feeder.read_fd,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    feeder.handed_over()
    try:
        assert upstream.stdout is not None
        p = Pipeline([DISSECT, TRACK], upstream.stdout.fileno(), tmp_path)
        pipelines.append(p)
        upstream.stdout.close()
        time.sleep(RUNNING)
        p.signal(signal.SIGINT)
        time.sleep(1.0)
        assert all(p.alive()), "after one SIGINT the stages drain their (still flowing) input"
        t = time.monotonic()
        p.signal(signal.SIGINT)
        assert p.wait(timeout=5) == [130, 130]
        assert time.monotonic() - t < 3
        no_traceback(p)
    finally:
        upstream.kill()
        upstream.wait()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_end_every_stage_cleanly(
    tmp_path: Path, feeder: Feeder, pipelines: list[Pipeline], sig: signal.Signals
) -> None:
    p = start(pipelines, feeder, tmp_path, [CAPTURE, DISSECT, TRACK])
    t = time.monotonic()
    p.signal(sig)
    statuses = p.wait(timeout=10)
    assert time.monotonic() - t < 5
    # Handled (not killed by the signal's default action): 143, or 0/3 when EOF came first.
    assert all(s in (0, 3, 143) for s in statuses), statuses
    no_traceback(p)
    # Not damage: a read interrupted by the signal used to be reported as a damaged capture file.
    assert p.stderr(0) == b"", p.stderr(0)
    json_lines(p.output())  # whatever was written is whole lines


def test_upstream_crash_ends_downstream_with_a_clear_message(
    tmp_path: Path, feeder: Feeder, pipelines: list[Pipeline]
) -> None:
    p = start(pipelines, feeder, tmp_path, [CAPTURE, DISSECT, TRACK])
    os.kill(p.procs[0].pid, signal.SIGKILL)
    statuses = p.wait(timeout=15)
    assert statuses[0] == -signal.SIGKILL
    # A cut in the middle of a frame is damage (one line, status 3); a cut between frames is EOF.
    assert statuses[1] in (0, 3) and statuses[2] in (0, 3), statuses
    no_traceback(p)
    if statuses[1] == 3:
        assert p.stderr(1).startswith(b"rn-dissect: stdin: ")
        assert any(r.get("t") == "warn" for r in json_lines(p.output()))
    assert finals(p.output()), "what arrived before the crash is still reported"


def test_downstream_crash_ends_upstream_quietly(
    tmp_path: Path, feeder: Feeder, pipelines: list[Pipeline]
) -> None:
    p = start(pipelines, feeder, tmp_path, [CAPTURE, DISSECT, TRACK])
    os.kill(p.procs[2].pid, signal.SIGKILL)
    statuses = p.wait(timeout=15)
    assert statuses == [0, 0, -signal.SIGKILL], [p.stderr(i) for i in range(3)]
    assert p.stderr(0) == b"" and p.stderr(1) == b""
    feeder.stop()
    assert feeder.broken


def test_stopped_consumer_applies_back_pressure_without_loss(
    tmp_path: Path, feeder: Feeder, pipelines: list[Pipeline]
) -> None:
    p = start(pipelines, feeder, tmp_path, [CAPTURE, DISSECT, TRACK])
    os.kill(p.procs[2].pid, signal.SIGSTOP)
    time.sleep(1.0)  # the pipes fill up
    rss0 = [rss_mb(q.pid) for q in p.procs[:2]]
    fed0 = feeder.packets
    time.sleep(2.5)
    rss1 = [rss_mb(q.pid) for q in p.procs[:2]]
    assert feeder.packets - fed0 <= feeder.block_packets, "the source is held back (no buffering upstream)"
    for a, b in zip(rss0, rss1, strict=True):
        assert b - a < 16, (rss0, rss1)
    os.kill(p.procs[2].pid, signal.SIGCONT)
    time.sleep(0.5)
    feeder.stop()
    assert p.wait(timeout=30) == [0, 0, 0], [p.stderr(i) for i in range(3)]
    out = p.output()
    assert captured(out) == feeder.packets
    assert sum(r["packets"] for r in finals(out)) == feeder.packets
