"""The read loop shared by the stages that consume a record stream."""

from __future__ import annotations

import time
from collections.abc import Callable

from rustnet.cli.common import EXIT_DAMAGED, EXIT_OK, leave_to_exit, termination, warn
from rustnet.stream import Record, RecordWriter, open_inputs
from rustnet.stream.gctune import tune_gc
from rustnet.stream.records import WARNING
from rustnet.stream.stage import Stage, takes_packet_batches

_SLICE = 2048  # records handed to a stage at once


def pump(
    prog: str,
    paths: list[str],
    on_records: Callable[[list[Record]], None],
    writer: RecordWriter,
    on_tick: Callable[[float], None] | None = None,
    tick_every: float = 1.0,
    keep_packet_batches: bool = False,
) -> int:
    """Feed every input's records, in batches, to ``on_records`` until each input ends.

    ``on_tick(now)`` runs about every ``tick_every`` seconds of wall-clock time while
    records flow or the input is quiet (live streams). Output is flushed before every
    wait, so a quiet stream is never held back. A damaged input is reported on stderr
    and downstream as a ``warn`` record, and the status is then 3; the next input is
    still read. ``keep_packet_batches``: ``pkb`` records reach ``on_records`` as they are, not
    as ``pkt`` records (for a stage that reads them itself).
    """
    status = EXIT_OK
    next_tick = time.monotonic() + tick_every
    check_terminated = termination.check
    for reader in open_inputs(paths):
        reader.keep_packet_batches = keep_packet_batches
        while not reader.done:
            check_terminated()
            timeout = None
            if on_tick is not None:
                timeout = max(0.0, next_tick - time.monotonic())
            writer.flush()
            recs = reader.poll(timeout)
            if len(recs) <= _SLICE:
                if recs:
                    on_records(recs)
            else:
                # A 1 MiB pipe can hand over ~20k records at once; a stage's output for them (a
                # flood's final records) is built before any is written, so keep it in slices.
                for i in range(0, len(recs), _SLICE):
                    on_records(recs[i : i + _SLICE])
            if on_tick is not None:
                now = time.monotonic()
                if now >= next_tick:
                    on_tick(time.time())
                    next_tick = now + tick_every
        if reader.damage:
            warn(prog, reader.damage)
            writer.write({"t": WARNING, "ts": time.time(), "stage": prog, "msg": reader.damage})
            status = EXIT_DAMAGED
    return status


def run_stream_stage(
    prog: str, stage: Stage, paths: list[str], writer: RecordWriter, tick_every: float = 1.0
) -> int:
    """Run ``stage`` over the inputs into ``writer``: the body of rn-dissect, rn-track, rn-enrich."""
    tune_gc()
    status = pump(
        prog,
        paths,
        lambda recs: writer.write_many(stage.process(recs)),
        writer,
        on_tick=lambda now: writer.write_many(stage.tick(now)),
        tick_every=tick_every,
        keep_packet_batches=takes_packet_batches(stage),
    )
    writer.write_many(stage.finish())
    writer.close()
    leave_to_exit(stage)
    return status
