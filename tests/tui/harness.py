"""Run rn-view in a real pseudo-terminal and read its screen with pyte."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path

import pyte

RN_VIEW = str(Path(sys.executable).parent / "rn-view")

KEYS = {
    "up": b"\x1b[A",
    "down": b"\x1b[B",
    "enter": b"\r",
    "esc": b"\x1b",
    "tab": b"\t",
    "btab": b"\x1b[Z",
    "pgdn": b"\x1b[6~",
    "pgup": b"\x1b[5~",
    "home": b"\x1b[H",
    "end": b"\x1b[F",
    "ctrl-c": b"\x03",
}


def set_size(fd: int, cols: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class PtyView:
    """rn-view (or ``program``) on a pty; ``stdin_data`` makes its stdin a pipe carrying those bytes."""

    def __init__(
        self,
        args: list[str],
        cols: int = 100,
        rows: int = 30,
        stdin_data: bytes | None = None,
        env: dict[str, str] | None = None,
        program: str = RN_VIEW,
    ) -> None:
        self.cols, self.rows = cols, rows
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = bytearray()
        self.status: int | None = None
        full_env = {
            k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TMUX", "DISPLAY", "WAYLAND_DISPLAY")
        }
        # Our pty does not answer blessed's start-up queries: do not wait 5 s for them.
        full_env.update(
            {
                "TERM": "xterm-256color",
                "BLESSED_QUERY_TIMEOUT_SECONDS": "0.05",
                "ESCDELAY": "25",
                "LANG": "C.UTF-8",
                "LC_ALL": "C.UTF-8",
            }
        )
        full_env.update(env or {})
        pipe_r = pipe_w = -1
        if stdin_data is not None:
            pipe_r, pipe_w = os.pipe()
        pid, fd = pty.fork()
        if pid == 0:  # the child: the pty is its controlling terminal and 0/1/2
            try:
                set_size(1, cols, rows)
                if pipe_r >= 0:
                    os.close(pipe_w)
                    os.dup2(pipe_r, 0)
                    os.close(pipe_r)
                os.execve(program, [program, *args], full_env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        if pipe_r >= 0:
            os.close(pipe_r)
            assert stdin_data is not None
            os.write(pipe_w, stdin_data)  # small streams: fits the pipe buffer
            os.close(pipe_w)

    # --- reading ------------------------------------------------------------------------
    def pump(self, timeout: float = 0.05) -> bool:
        """Read what the program wrote; False once the pty is closed."""
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return True
        try:
            data = os.read(self.fd, 65536)
        except OSError:
            return False
        if not data:
            return False
        self.raw += data
        self.stream.feed(data)
        return True

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def wait_for(self, pred: Callable[[str], bool] | str, timeout: float = 10.0) -> str:
        check = pred if callable(pred) else (lambda s: pred in s)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check(self.text()):
                return self.text()
            if not self.pump(0.05):
                break
        if check(self.text()):
            return self.text()
        raise AssertionError(f"screen never matched {pred!r}:\n{self.text()}")

    def send(self, *keys: str | bytes, pause: float = 0.05) -> None:
        for k in keys:
            data = k if isinstance(k, bytes) else KEYS.get(k, k.encode())
            os.write(self.fd, data)
            time.sleep(pause)
            self.pump(0)

    def resize(self, cols: int, rows: int) -> None:
        self.screen.resize(rows, cols)
        set_size(self.fd, cols, rows)  # the kernel sends SIGWINCH to the program

    def selected_line(self) -> str:
        for y in range(self.rows):
            if self.screen.buffer[y][0].reverse and y > 0 and y < self.rows - 2:
                return self.screen.display[y]
        return ""

    def wait_exit(self, timeout: float = 10.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                while self.pump(0.01):
                    pass
                self.status = os.waitstatus_to_exitcode(status)
                return self.status
            self.pump(0.05)
        raise AssertionError(f"rn-view did not exit:\n{self.text()}")

    def close(self) -> None:
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        try:
            os.close(self.fd)
        except OSError:
            pass
