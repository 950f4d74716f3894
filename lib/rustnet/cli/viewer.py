"""The in-process viewer of ``rustnet``: hands the relay's pipe to rustnet.view.app."""

from __future__ import annotations

import signal

from rustnet.cli.common import EXIT_ERROR, StageError
from rustnet.cli.launch import Options


def run_viewer(fd: int, opts: Options, source: str) -> int:
    """Show the records arriving on ``fd`` until the user quits; returns the exit status."""
    try:
        from rustnet.view import app
    except ImportError as exc:
        raise StageError(f"the viewer is not available: {exc}", EXIT_ERROR) from None
    # Ctrl+C quits the TUI at once (the seed's key): a plain KeyboardInterrupt, not the stages' drain.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    status: int = app.run_tui(fd, refresh_ms=opts.refresh_ms, no_localhost=opts.no_localhost, source=source)
    return status
