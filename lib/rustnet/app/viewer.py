"""The in-process viewer of ``rustnet``: rn-view's App reading what the relay hands over."""

from __future__ import annotations

from typing import Any

from rustnet.app.handoff import Handoff, HandoffSource
from rustnet.app.launch import Options
from rustnet.cli.common import StageError


def _joiner() -> Any:
    # --remote streams carry "sock" records from the remote rn-enrich: the table joins them.
    try:
        from rustnet.track.join import SocketJoiner
    except ImportError:
        return None
    return SocketJoiner()


def run_viewer(fd: int | Handoff, opts: Options) -> int:
    """Show the records arriving on ``fd`` (or handed over by the relay) until the user quits;
    returns the exit status.

    The viewer restores the terminal on every way out (quit, exception, SIGTERM/SIGHUP)
    and answers Ctrl+C itself (status 130), as ``rn-view`` does.
    """
    from rustnet.view.app import App, NoTerminal, attach_terminal
    from rustnet.view.model import ConnTable
    from rustnet.view.source import RecordSource, Source
    from rustnet.view.state import ViewState

    try:
        attach_terminal(False)  # the keyboard: /dev/tty on 0 when stdin is not the terminal
    except NoTerminal as exc:
        raise StageError(str(exc)) from None
    from rustnet.stream.gctune import tune_gc

    source: RecordSource = Source([], fd) if isinstance(fd, int) else HandoffSource(fd)
    # --read: a finite input, every connection kept and shown (live: the header says live).
    finite = True if opts.read_path is not None else None
    table = ConnTable(_joiner(), max_rows=opts.max_connections, finite=finite)
    state = ViewState(table, hide_localhost=opts.no_localhost, show_ptr_lookups=opts.show_ptr_lookups)
    tune_gc()  # the connection table is many long-lived containers: rare full passes
    return App(source, state, opts.refresh_ms / 1000.0, opts.palette).run()


def run_fleet_viewer(fds: list[int], hosts: list[str], opts: Options) -> int:
    """The viewer over several hosts' streams (``fds``, one per host in ``hosts``), merged."""
    from rustnet.view.app import App, NoTerminal, attach_terminal
    from rustnet.view.merge import MergedSource
    from rustnet.view.model import ConnTable
    from rustnet.view.nodes import NodeJoiner
    from rustnet.view.source import Source
    from rustnet.view.state import ViewState

    try:
        attach_terminal(False)
    except NoTerminal as exc:
        raise StageError(str(exc)) from None
    from rustnet.stream.gctune import tune_gc

    source = MergedSource([Source([], fd) for fd in fds], list[str | None](hosts), list(hosts))
    fds.clear()  # the sources close them
    joiner = _joiner()
    table = ConnTable(NodeJoiner(type(joiner)) if joiner is not None else None, max_rows=opts.max_connections)
    state = ViewState(table, hide_localhost=opts.no_localhost, show_ptr_lookups=opts.show_ptr_lookups)
    tune_gc()
    return App(source, state, opts.refresh_ms / 1000.0, opts.palette).run()
