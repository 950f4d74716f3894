"""Optional session log for ``rustnet -l LEVEL``: one timestamped file per run, mode 0600.

Logging is off unless a level is given (RustNet's behaviour). The file lands in
``logs/rustnet_YYYY-MM-DD_HH-MM-SS.log`` under the current directory and is created
0600 before anything is written, because it holds connection data (addresses,
host names, process names). ``logs/`` must be a real directory of ours (kept 0700)
and each run's file is new: never a link, never another run's file (see safefile).
Python has no TRACE level; we add one below DEBUG for per-record detail.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from pathlib import Path
from typing import Final

from rustnet.cli.safefile import create_new_private, private_directory
from rustnet.stream.escape import escape_unsafe

TRACE: Final = 5
logging.addLevelName(TRACE, "TRACE")

# RustNet's level names, mapped onto logging's numbers.
LEVELS: Final = {
    "error": logging.ERROR,
    "warn": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "trace": TRACE,
}
LOG_DIR: Final = "logs"
NAME_ATTEMPTS: Final = 3  # seconds to wait for a free file name
LOGGER_NAME: Final = "rustnet"


def escape_controls(text: str) -> str:
    """``text`` with control, format and other unprintable characters (ESC, bidi controls,
    zero-width characters) as visible escapes: the one rule of :mod:`rustnet.stream.escape`."""
    return escape_unsafe(text)


class _EscapingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return escape_controls(super().format(record))


def log_file_name(now: float | None = None) -> str:
    """``rustnet_YYYY-MM-DD_HH-MM-SS.log`` for ``now`` (local time, like RustNet)."""
    return time.strftime("rustnet_%Y-%m-%d_%H-%M-%S.log", time.localtime(now))


def create_log_file(directory: str | Path) -> tuple[Path, int]:
    """A new session log in ``directory`` (a private directory): its path and descriptor.

    Names go to the second; a run started in the same second as another waits for the
    next one rather than share (or truncate) the other run's file.
    """
    dir_fd = private_directory(directory)
    try:
        for _ in range(NAME_ATTEMPTS):
            name = log_file_name()
            try:
                return Path(directory) / name, create_new_private(name, dir_fd)
            except FileExistsError:
                time.sleep(1.0 - time.time() % 1.0 + 0.01)
        raise FileExistsError(
            errno.EEXIST, "a file with this second's name already exists", os.fspath(directory)
        )
    finally:
        os.close(dir_fd)


def setup_logging(level_name: str | None, log_dir: str | Path = LOG_DIR) -> Path | None:
    """Start the session log at ``level_name`` (None: logging stays off). Returns the file's path.

    Raises OSError when the directory or file cannot be created; the caller turns that
    into a one-line error.
    """
    logger = logging.getLogger(LOGGER_NAME)
    logger.propagate = False
    if level_name is None:
        logger.addHandler(logging.NullHandler())
        logger.setLevel(logging.CRITICAL + 1)
        return None
    level = LEVELS[level_name.lower()]
    path, fd = create_log_file(log_dir)
    stream = os.fdopen(fd, "a", encoding="utf-8", errors="backslashreplace", buffering=1)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        _EscapingFormatter(
            "%(asctime)s.%(msecs)03d %(levelname)-5s %(name)s: %(message)s", datefmt="%Y-%m-%d %H:%M:%S"
        )
    )
    logger.addHandler(handler)
    logger.setLevel(level)
    return path


def get_logger(name: str | None = None) -> logging.Logger:
    """The session logger, or a child of it (``rustnet.rn-capture``) for a stage's lines."""
    return logging.getLogger(LOGGER_NAME if name is None else f"{LOGGER_NAME}.{name}")


def close_logging() -> None:
    """Flush and close the session log's handlers (end of run)."""
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        handler.flush()
        handler.close()
        logger.removeHandler(handler)
