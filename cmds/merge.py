"""rn-merge: the record streams of flow-hash shards as one stream."""

from __future__ import annotations

import click
from rustnet.cli.common import (
    CONTEXT_SETTINGS,
    EXIT_USAGE,
    StageError,
    check_output_format,
    debug_option,
    format_option,
    producer,
    run_stage,
    version_option,
)
from rustnet.cli.privilege import confine, enter_sandbox, sandbox_options
from rustnet.stream import RecordWriter

PROG = "rn-merge"


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument(
    "inputs", nargs=-1, required=True, type=click.Path(dir_okay=False, allow_dash=True, readable=False)
)
@format_option
@sandbox_options
@debug_option
@version_option(PROG)
def main(inputs: tuple[str, ...], fmt: str, no_sandbox: bool, sandbox_strict: bool, debug: bool) -> None:
    """Merge the streams of N shards (files or FIFOs, '-' for stdin), read side by side, into one.

    Each INPUT is one worker's share: rn-capture --shard I/N into rn-track --dissect. The
    connection records interleave as they come, with their ids made unique across the shards;
    one header goes out, the capture and dissection counters (stats, dstats) are summed over
    the shards, interface counters (ifstats) come from one of them.

    \b
    Example (a capture file, two workers):
      mkfifo s0 s1
      rn-capture -r t.pcap --shard 0/2 | rn-track --dissect > s0 &
      rn-capture -r t.pcap --shard 1/2 | rn-track --dissect > s1 &
      rn-merge s0 s1 | rn-enrich --no-process | rn-view
    """
    check_output_format(fmt, PROG)

    def body() -> int:
        from rustnet.app.merge import run_merge

        confine()
        if inputs.count("-") > 1:
            raise StageError("standard input ('-') can be given once", EXIT_USAGE)
        writer = RecordWriter(1, fmt)
        return run_merge(
            PROG,
            list(inputs),
            writer,
            producer(PROG),
            lambda: enter_sandbox(PROG, no_sandbox, sandbox_strict),
        )

    run_stage(PROG, body, debug)


if __name__ == "__main__":
    main()
