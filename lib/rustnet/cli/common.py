"""What every command shares: exit statuses, one-line errors, signals, common options.

Exit statuses (rustnet(1)), the same for every command:
0 success; 1 runtime error (permission, interface, I/O); 2 usage error;
3 damaged input (everything before the damage was still emitted); 130 interrupted;
143 ended by SIGTERM or SIGHUP.

Signals: the first SIGINT asks the stage to drain (stop capturing, or read its
input to the end and write final records); a second exits at once with 130.
SIGTERM and SIGHUP end the stage promptly with 143, after the frame being written
(rustnet.stream.termination).
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from rustnet import __version__
from rustnet.stream import NewerFormatError, PipeClosed
from rustnet.stream.escape import escape_unsafe
from rustnet.stream.termination import Terminated as Terminated  # the commands import it from here
from rustnet.stream.termination import termination as termination
from rustnet.stream.writer import FORMATS

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_DAMAGED = 3
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

F = TypeVar("F", bound=Callable[..., Any])


class StageError(Exception):
    """A failure to report as one line ``prog: message`` with an exit status."""

    def __init__(self, message: str, status: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.status = status


class Interrupts:
    """SIGINT: the first sets :attr:`draining`, the second exits at once. SIGTERM, SIGHUP: see
    :data:`termination`."""

    def __init__(self) -> None:
        self.draining = False
        self.callbacks: list[Callable[[], None]] = []

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._on_sigint)
        signal.signal(signal.SIGTERM, termination.request)
        signal.signal(signal.SIGHUP, termination.request)

    def _on_sigint(self, signum: int, frame: Any) -> None:
        if self.draining:
            raise KeyboardInterrupt
        self.draining = True
        for cb in self.callbacks:
            cb()


interrupts = Interrupts()


def fail(message: str, status: int = EXIT_ERROR) -> NoReturn:
    raise StageError(message, status)


def warn(prog: str, message: str) -> None:
    """One line on stderr, never a traceback, never a raw control or invisible character."""
    message = escape_unsafe(message)  # a file name or stream content with escapes, newlines, bidi
    try:
        sys.stderr.write(f"{prog}: {message}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def run_stage(prog: str, body: Callable[[], int | None], debug: bool = False) -> NoReturn:
    """Run a command body with the shared error, pipe and signal contract, then exit."""
    interrupts.install()
    status = EXIT_OK
    try:
        try:
            status = body() or EXIT_OK
            if termination.requested:  # a body that finished anyway (the raise was lost) still says so
                status = EXIT_TERMINATED
        finally:
            # On the way out: another SIGTERM/SIGHUP (systemd, a terminal closing), or the watchdog
            # of a termination (SIGALRM), must not become a traceback in an except clause below;
            # it ends us at once instead.
            for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGALRM):
                signal.signal(sig, _exit_terminated)
    except PipeClosed:
        status = EXIT_OK
    except BrokenPipeError:
        status = EXIT_OK
    except NewerFormatError as exc:
        warn(prog, str(exc))
        status = EXIT_DAMAGED
    except StageError as exc:
        warn(prog, str(exc))
        status = exc.status
    except KeyboardInterrupt:
        status = EXIT_INTERRUPTED
    except Terminated:
        status = EXIT_TERMINATED
    except MemoryError:
        warn(prog, "out of memory")
        status = EXIT_ERROR
    except OSError as exc:  # an input file that is missing or unreadable: a runtime error, one line
        warn(prog, f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc))
        status = EXIT_ERROR
    except Exception as exc:  # the last line of defence: one line unless --debug
        if debug:
            traceback.print_exc()
        else:
            warn(prog, f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)")
        status = EXIT_ERROR
    _quiet_exit(status)


def _exit_terminated(signum: int, frame: Any) -> None:
    os._exit(EXIT_TERMINATED)


# What a stage leaves for the kernel to take back at exit (leave_to_exit).
_left_to_exit: list[object] = []


def leave_to_exit(table: object) -> None:
    """Keep ``table`` (a stage whose output is all written and whose files and threads are
    closed) until the process ends, and end it without freeing it object by object: for rn-track
    after 26k connections, Python's teardown of its table cost ~15 ms of CPU (2% of its run)."""
    _left_to_exit.append(table)


def _quiet_exit(status: int) -> NoReturn:
    # Whatever Python still buffers for a closed pipe must not become a traceback at exit.
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    if status == EXIT_INTERRUPTED or _left_to_exit:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os._exit(status)
    sys.exit(status)


def check_output_format(fmt: str, prog: str) -> None:
    """Refuse to write binary records to a terminal."""
    if fmt == "msgpack" and os.isatty(1):
        raise click.UsageError(
            "refusing to write binary records to a terminal; pipe into another rn- command, "
            "redirect to a file, or use --format json"
        )


def stdin_hint(prog: str, paths: tuple[str, ...] | list[str]) -> None:
    """Tell a person staring at a silent terminal what the command waits for."""
    if (not paths or "-" in paths) and os.isatty(0):
        warn(prog, "reading records from the terminal; pipe rn-capture into it (Ctrl+D ends input)")


# --- shared click options ---------------------------------------------------
def format_option(f: F) -> F:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default="msgpack",
        show_default=True,
        help="Output encoding: MessagePack frames, or JSON Lines for people and jq.",
    )(f)


def debug_option(f: F) -> F:
    return click.option("--debug", is_flag=True, help="Show Python tracebacks for internal errors.")(f)


def inputs_argument(f: F) -> F:
    return click.argument(
        "inputs", nargs=-1, type=click.Path(dir_okay=False, allow_dash=True), metavar="[FILE]..."
    )(f)


def version_option(prog: str) -> Callable[[F], F]:
    return click.version_option(
        __version__, "-V", "--version", prog_name=prog, message="%(prog)s %(version)s"
    )


CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def producer(prog: str) -> str:
    return f"{prog} {__version__}"
