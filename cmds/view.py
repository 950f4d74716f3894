"""rn-view: the terminal viewer (or a JSON / plain-table dump) over any record stream."""

from __future__ import annotations

import errno
import math
import os
import shutil
import stat
import sys
from typing import Any

import click
from rustnet.cli.common import (
    CONTEXT_SETTINGS,
    EXIT_DAMAGED,
    EXIT_ERROR,
    EXIT_OK,
    debug_option,
    fail,
    inputs_argument,
    interrupts,
    leave_to_exit,
    run_stage,
    stdin_hint,
    termination,
    version_option,
    warn,
)
from rustnet.cli.privilege import confine, enter_sandbox, sandbox_options
from rustnet.cli.themeopts import theme_options
from rustnet.stream import RecordWriter
from rustnet.stream.bounds import cut_message
from rustnet.stream.gctune import tune_gc
from rustnet.view.filter import Filter
from rustnet.view.merge import MergedSource, merged
from rustnet.view.model import HISTORY_SECONDS, MAX_ROWS, ConnTable, Row
from rustnet.view.nodes import NodeJoiner
from rustnet.view.palette import Palette
from rustnet.view.sort import SORT_CODES
from rustnet.view.source import Source
from rustnet.view.state import ViewState
from rustnet.view.table import table_lines
from rustnet.view.themeconfig import resolve_palette

PROG = "rn-view"


def _table(names: bool = True, **bounds: Any) -> ConnTable:
    """A connection table that joins sock records and (``names``) names services and hosts
    when it can; ``bounds`` are ConnTable's limits (cap, history)."""
    try:
        from rustnet.enrich.names import HostNames
        from rustnet.enrich.services import ServiceNames
        from rustnet.track.join import SocketJoiner
    except ImportError:
        return ConnTable(**bounds)
    if not names:
        return ConnTable(NodeJoiner(SocketJoiner), **bounds)
    return ConnTable(NodeJoiner(SocketJoiner), ServiceNames(), HostNames(), **bounds)


def _check_filter(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """A bad /regex/ in --filter is a usage error (exit 2), said in one line."""
    error = Filter(value).error
    if error:
        raise click.BadParameter(error, ctx, param)
    return value


def _print_json(
    source: Source | MergedSource,
    no_localhost: bool,
    filter_text: str,
    max_connections: int,
    show_ptr: bool = False,
) -> ConnTable:
    """``--json``: every connection's last record, each printed once and held only until then.

    A connection whose final record says it ended mid-stream is printed as it ends (as
    ``rustnet --json`` does), so memory holds only the open ones; the rest follow at the end
    of input, in first-seen order. Over the cap, the least recently updated open ones are
    printed then, in their last state, and dropped (counted): a recording of a million open
    connections holds at most ``max_connections`` of them.
    """
    query = Filter(filter_text)
    writer = RecordWriter(1, "json")

    def hidden(row: Row) -> bool:
        return (no_localhost and row.loopback()) or (not show_ptr and row.rec.get("ptr_lookup_own") is True)

    def shown(row: Row) -> bool:
        return not hidden(row) and (not query or query.score(row) >= 0)

    def ended(row: Row) -> None:
        if shown(row):
            writer.write(row.rec)

    table = _table(
        bool(query),  # names worked out by the viewer are never printed: only a filter needs them
        max_rows=max_connections,
        history_seconds=0.0,
        max_history=0,
        on_drop=ended,
        track_changes=False,
        finite=False,  # printed as they end: nothing is kept for a screen
    )
    for batch in source.batches():
        table.ingest(batch)
        termination.check()
        if interrupts.draining:
            break
    rest = query.apply(r for r in table.rows.values() if not hidden(r))
    for row in rest:
        writer.write(row.rec)
    writer.close()
    return table


def _state(
    table: ConnTable,
    no_localhost: bool,
    filter_text: str,
    sort: str | None,
    reverse: bool,
    show_ptr: bool = False,
) -> ViewState:
    state = ViewState(table, hide_localhost=no_localhost, show_ptr_lookups=show_ptr)
    if filter_text:
        state.set_filter(filter_text)
    if sort:
        state.sort_code = sort
    state.sort_reverse = reverse
    return state


def open_source(
    paths: list[str],
    stdin_fd: int | None,
    read_file: str | None,
    speed: float | None,
    dpi: bool,
    refresh: float,
) -> Source | MergedSource:
    """One input as it is; several merged side by side, each a node with its own clock."""
    inputs = ([read_file] if read_file is not None else []) + paths
    if len(inputs) > 1:
        return merged(inputs, stdin_fd, speed, dpi, refresh)
    return Source(paths, stdin_fd, read_file, speed, dpi=dpi, refresh=refresh)


def _status(source: Source | MergedSource) -> int:
    if source.damage:
        return EXIT_DAMAGED
    return EXIT_ERROR if source.errors else EXIT_OK


def _palette(theme: str | None, no_color: bool) -> Palette | None:
    """The colours to draw with (None: none), after printing the config file's problems."""
    palette, messages = resolve_palette(theme, no_color)
    for msg in messages:
        warn(PROG, msg)
    return palette


def _is_fifo(path: str) -> bool:
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except OSError:
        return False


def _not_a_file(path: str) -> str:
    """Why ``path`` cannot be read as a recording, in the words the other stages use."""
    # (A directory is refused earlier, by click, as the other stages do.)
    return os.strerror(errno.ENOENT) if not os.path.lexists(path) else "not a regular file"


@click.command(context_settings=CONTEXT_SETTINGS)
@inputs_argument
@click.option(
    "-r",
    "--refresh-interval",
    "refresh",
    type=click.IntRange(20, 3_600_000),
    default=1000,
    show_default=True,
    metavar="MS",
    help="Redraw period in milliseconds (keys redraw at once).",
)
@click.option(
    "--read",
    "read_file",
    type=click.Path(dir_okay=False, exists=True),
    metavar="FILE",
    help="Read a capture file (pcap/pcapng, via rn-capture -r) or a recorded stream; gzip'd too.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="No TUI: print the final connection records as JSON Lines at the end of input.",
)
@click.option(
    "--table",
    "as_table",
    is_flag=True,
    help="No TUI: print one plain-text table of the connections at the end of input.",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="X",
    help="Replay at X times the recorded pace (packet timestamps); default: as fast as possible.",
)
@click.option("--no-localhost", is_flag=True, help="Hide connections whose both ends are loopback.")
@click.option("--no-dpi", is_flag=True, help="When completing the pipeline from packets: skip DPI.")
@click.option(
    "--show-ptr-lookups",
    is_flag=True,
    help="Also show the PTR lookups rn-enrich's reverse DNS made (ptr_lookup_own; hidden by default).",
)
@click.option(
    "--filter",
    "filter_text",
    default="",
    metavar="QUERY",
    callback=_check_filter,
    help="Start with this filter (the / language: words, port:443, sni:/^www\\./, !state:closed ...).",
)
@click.option("--sort", type=click.Choice(SORT_CODES), default=None, help="Start sorted by this column.")
@click.option("--reverse", is_flag=True, help="Reverse the sort order.")
@click.option("--show-closed", is_flag=True, help="Start with closed connections from history shown (t).")
@click.option(
    "--max-connections",
    type=click.IntRange(min=1),
    default=MAX_ROWS,
    show_default=True,
    metavar="N",
    help="Cap on connections held; over it the longest-closed, then the least recently updated "
    "ones are dropped and counted (status bar). Closed ones leave history after "
    f"{HISTORY_SECONDS:.0f} s of stream time when the input is live (FILEs keep and show them all). "
    "--json prints every connection before dropping it.",
)
@theme_options
@sandbox_options
@debug_option
@version_option(PROG)
def main(
    inputs: tuple[str, ...],
    refresh: int,
    read_file: str | None,
    as_json: bool,
    as_table: bool,
    speed: float | None,
    no_localhost: bool,
    no_dpi: bool,
    show_ptr_lookups: bool,
    filter_text: str,
    sort: str | None,
    reverse: bool,
    show_closed: bool,
    max_connections: int,
    theme: str | None,
    no_color: bool,
    no_sandbox: bool,
    sandbox_strict: bool,
    debug: bool,
) -> None:
    """Show connections from a record stream (stdin or FILEs) in a terminal UI.

    Reads any stage's output: connection records from rn-track, or packet records and
    summaries, which it completes in-process (so `rn-capture | rn-view` works); a FILE may
    also be a pcap/pcapng capture, and any FILE may be gzip'd. Several FILEs (or fifos from
    several hosts) are merged side by side, each a node named after its host (or file) with
    its own clock: a Host column, the node: filter keyword. Keys come
    from the terminal even when stdin is the pipe. Press h in the viewer for the keys and
    the filter language. A finished recording stays on screen until you quit (q q).
    When standard output is not a terminal, --table is implied.
    """
    paths = list(inputs)
    uses_stdin = (not paths and read_file is None) or "-" in paths
    headless = as_json or as_table or not os.isatty(1)

    def sandbox(source: Source | MergedSource) -> None:
        """The terminal, the named files and nothing else from here on (no program to start:
        the clipboard tools neither)."""
        later = "capture files still to read through rn-capture" if source.programs_to_start() else ""
        named = tuple(p for p in [*paths, *([read_file] if read_file else [])] if p != "-")
        enter_sandbox(
            PROG, no_sandbox, sandbox_strict, extra_read=named, children=source.has_child(), impossible=later
        )

    def body() -> int:
        for p in paths:  # before the terminal is taken over; an I/O error, as in every stage
            # A FIFO too: one per host (mkfifo a b; ssh HOST 'rn-capture | rn-enrich' > a & ...).
            if p != "-" and not os.path.isfile(p) and not _is_fifo(p):
                fail(f"{p}: {_not_a_file(p)}")
        confine()  # no capability it does not need (root's, or a setcap interpreter's)
        if headless:
            stdin_hint(PROG, paths if read_file is None else ["x"])
            source = open_source(paths, 0, read_file, speed, not no_dpi, refresh / 1000.0)
            sandbox(source)
            tune_gc()  # the table is many long-lived containers: no full passes every few thousand
            if as_json:
                table = _print_json(source, no_localhost, filter_text, max_connections, show_ptr_lookups)
            else:
                # A snapshot at the end: closed connections are kept (to the cap) only if shown.
                keep = math.inf if show_closed else 0.0
                table = _table(
                    max_rows=max_connections,
                    history_seconds=keep,
                    max_history=max_connections if show_closed else 0,
                    track_changes=False,
                    finite=False,  # a snapshot: --show-closed says whether closed ones are in it
                )
                for batch in source.batches():
                    table.ingest(batch)
                    termination.check()
                    if interrupts.draining:
                        break
                state = _state(table, no_localhost, filter_text, sort, reverse, show_ptr_lookups)
                state.show_closed = show_closed
                width = shutil.get_terminal_size((0, 0)).columns if os.isatty(1) else None
                sys.stdout.write("\n".join(table_lines(state, width or None)) + "\n")
                sys.stdout.flush()
            if table.evicted:
                click.echo(
                    f"{PROG}: {table.evicted:,} connections evicted at the cap of {max_connections:,} "
                    "(--max-connections)",
                    err=True,
                )
            messages = source.damage + source.errors
            if table.cut:
                # Damaged input still gets one line: the count joins it.
                note = cut_message(table.cut)
                messages = [f"{messages[0]}; {note}", *messages[1:]] if messages else [note]
            for msg in messages:
                warn(PROG, msg)
            if source.drained:  # every input read, a capture child reaped: nothing left to close
                leave_to_exit(table)  # 5% of a --json run went to freeing the table row by row
            return _status(source)
        if uses_stdin and os.isatty(0):
            raise click.UsageError(
                "no records to show: pipe rn-capture (or any rn- stage) into rn-view, "
                "or give a recording or --read FILE"
            )
        from rustnet.view.app import App, NoTerminal, attach_terminal

        try:
            pipe_fd = attach_terminal(uses_stdin)
        except NoTerminal as exc:
            fail(str(exc))
        palette = _palette(theme, no_color)  # the config file is read before the sandbox closes it
        source = open_source(paths, pipe_fd, read_file, speed, not no_dpi, refresh / 1000.0)
        sandbox(source)
        # Recordings and captures named as FILEs are finite: all their connections are shown.
        files_only = read_file is not None or (paths and "-" not in paths)
        table = _table(max_rows=max_connections, finite=True if files_only else None)
        tune_gc()
        state = _state(table, no_localhost, filter_text, sort, reverse, show_ptr_lookups)
        state.show_closed = show_closed
        status = App(source, state, refresh / 1000.0, palette).run()
        if status == EXIT_OK and source.damage:
            status = EXIT_DAMAGED
        return status

    run_stage(PROG, body, debug)


if __name__ == "__main__":
    main()
