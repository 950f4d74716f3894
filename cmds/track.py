"""rn-track: fold packet summaries into connections and write connection records."""

from __future__ import annotations

import signal
from typing import Any

import click
from rustnet.cli.common import (
    CONTEXT_SETTINGS,
    EXIT_USAGE,
    StageError,
    check_output_format,
    debug_option,
    format_option,
    inputs_argument,
    producer,
    run_stage,
    stdin_hint,
    version_option,
)
from rustnet.cli.geoipopts import geoip_options
from rustnet.cli.privilege import confine, enter_sandbox, input_files, sandbox_options
from rustnet.cli.pump import run_stream_stage
from rustnet.stream import RecordWriter
from rustnet.stream.records import CONN
from rustnet.stream.stage import Chain, Stage
from rustnet.track.lifecycle import DEFAULT_TIMEOUTS, TimeoutConfigError, Timeouts
from rustnet.track.table import DEFAULT_HISTORY, DEFAULT_MAX_CONNECTIONS, Tracker

PROG = "rn-track"


@click.command(
    context_settings=CONTEXT_SETTINGS,
    epilog=(
        "Timeout names: " + ", ".join(sorted(DEFAULT_TIMEOUTS)) + ". Time is packet time: replaying a "
        "capture gives the same records every time. Send SIGUSR1 for a snapshot of all live connections."
    ),
)
@inputs_argument
@format_option
@click.option(
    "-r",
    "--refresh-interval",
    "refresh_ms",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    metavar="MS",
    help="At most one update per changed connection per this many ms (packet time when "
    "replaying, wall-clock time when live).",
)
@click.option(
    "--timeouts",
    "timeouts_file",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="TOML file overriding lifecycle timeouts (see rustnet.track.lifecycle).",
)
@click.option(
    "--timeout",
    "timeout_items",
    multiple=True,
    metavar="NAME=SECONDS",
    help="Override one timeout, e.g. --timeout tcp.established=600 (repeatable).",
)
@click.option(
    "--max-connections",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_CONNECTIONS,
    show_default=True,
    help="Cap on live connections; those nearest their expiry (idle longest for their state) "
    "are evicted first, counted and written as final records.",
)
@click.option(
    "--history",
    type=click.IntRange(min=0),
    default=DEFAULT_HISTORY,
    show_default=True,
    help="Ended connections kept for snapshots.",
)
@click.option(
    "--snapshot-every",
    type=click.FloatRange(min=0),
    default=0.0,
    metavar="SECONDS",
    help="Also write every live connection (marked snapshot) this often, for viewers joining "
    "a stream; 0 = never.",
)
@click.option(
    "--dissect",
    is_flag=True,
    help="Also dissect packet records (rn-capture's output, with DPI) in this process, as "
    "rn-dissect does: one process instead of two, less CPU, but the two no longer run side by side.",
)
@click.option(
    "--final-only",
    is_flag=True,
    help="Write only each connection's final record (and snapshots), no updates: for a "
    "consumer that keeps only how connections ended. The final records are the same as without it.",
)
@click.option(
    "--conn-only",
    is_flag=True,
    help="With --format json: write connection records only (no header, statistics or other "
    "records), one line per record, for jq and scripts.",
)
@click.option(
    "--enrich",
    is_flag=True,
    help="Also add services, hostnames from DNS answers seen and GeoIP to connection records "
    "in this process, as rn-enrich --no-process --no-resolve-dns does: for a capture file's "
    "records (no process attribution, no reverse lookups), one process fewer.",
)
@geoip_options
@sandbox_options
@debug_option
@version_option(PROG)
def main(
    inputs: tuple[str, ...],
    fmt: str,
    refresh_ms: int,
    timeouts_file: str | None,
    timeout_items: tuple[str, ...],
    max_connections: int,
    history: int,
    snapshot_every: float,
    dissect: bool,
    final_only: bool,
    conn_only: bool,
    enrich: bool,
    geoip_country: str | None,
    geoip_asn: str | None,
    geoip_city: str | None,
    no_geoip: bool,
    no_sandbox: bool,
    sandbox_strict: bool,
    debug: bool,
) -> None:
    """Track connections from packet summaries (rn-dissect's output) in FILEs or stdin.

    Writes connection records: an update for each connection that changed, at most once per
    refresh interval, and one final record per connection (when it expires, or at the end).
    Other records pass through.
    """
    check_output_format(fmt, PROG)
    if conn_only and fmt != "json":
        raise click.UsageError("--conn-only goes with --format json (a record stream needs its header)")
    if not enrich and (no_geoip or geoip_country or geoip_asn or geoip_city):
        raise click.UsageError("the GeoIP options go with --enrich")
    timeouts = Timeouts()
    try:
        if timeouts_file:
            timeouts.apply_file(timeouts_file)
        timeouts.apply_args(timeout_items)
    except TimeoutConfigError as exc:
        raise click.UsageError(str(exc)) from None

    def body() -> int:
        names: Stage | None = None
        if enrich:
            from rustnet.enrich import geoip as geoip_db
            from rustnet.enrich.stage import PROG as ENRICH_PROG
            from rustnet.enrich.stage import Enricher

            geoip = geoip_db.load(PROG, no_geoip, geoip_country, geoip_asn, geoip_city)
            names = Enricher(processes=False, resolve_dns=False, geoip=geoip, producer=producer(ENRICH_PROG))
        confine()  # no capability it does not need (root's, or a setcap interpreter's)
        # No file but the named inputs (and with --enrich the name-service, GeoIP and OUI files)
        # from here on, no TCP (before any thread starts).
        enter_sandbox(PROG, no_sandbox, sandbox_strict, extra_read=input_files(inputs), names=enrich)
        tracker = Tracker(
            producer=producer(PROG),
            refresh=refresh_ms / 1000.0,
            timeouts=timeouts,
            max_connections=max_connections,
            snapshot_every=snapshot_every,
            history=history,
            final_only=final_only,
        )

        def on_usr1(signum: int, frame: Any) -> None:
            tracker.snapshot_requested = True

        signal.signal(signal.SIGUSR1, on_usr1)
        stdin_hint(PROG, inputs)
        try:
            writer = RecordWriter(1, fmt, only_type=CONN if conn_only else None)
        except ValueError as exc:
            raise StageError(str(exc), EXIT_USAGE) from None
        stages: list[Stage] = [tracker]
        if dissect:
            from rustnet.dissect.engine import Dissector

            # segments=True: established flows' segments reach the tracker without a summary built.
            stages.insert(0, Dissector(dpi=True, segments=True))
        if names is not None:
            stages.append(names)
        stage: Stage = stages[0] if len(stages) == 1 else Chain(stages)
        if names is None:
            # Its records go only to the writer, which is done with them at every flush: the
            # tracker may then reuse them instead of keeping copies (Tracker.reuse_records).
            tracker.reuse_records = True
            writer.on_flushed = tracker.released
        # Tick often: a live update is due refresh after the previous one, not at a 1 s tick after that.
        return run_stream_stage(PROG, stage, list(inputs), writer, tick_every=0.1)

    run_stage(PROG, body, debug)


if __name__ == "__main__":
    main()
