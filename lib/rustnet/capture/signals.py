"""How a capture is told to stop, and how its waits are woken for that.

SIGINT is the shared contract (:data:`rustnet.cli.common.interrupts`): the first one
sets ``draining`` and we stop capturing and finish cleanly; a second exits at once.
SIGTERM and SIGHUP must end us promptly, but raising out of the middle of a frame
write would cut the stream, so they set a flag and wake the loop like SIGINT does; a
watchdog still ends the process if the clean finish is stuck (a downstream that no
longer reads), and a second SIGTERM/SIGHUP ends it at once.
"""

from __future__ import annotations

import os
import signal
from typing import Any

from rustnet.cli.common import Terminated, interrupts

# Seconds a SIGTERM'd capture may spend flushing before it is ended anyway.
TERM_GRACE = 2.0


class StopControl:
    """Stop requests (SIGINT, SIGTERM, SIGHUP) as flags plus a wake-up descriptor for select()."""

    def __init__(self) -> None:
        self.wake_fd, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.terminated = False

    def install(self) -> None:
        """Hook the signals; call after run_stage installed the shared SIGINT handler."""
        interrupts.callbacks.append(self.wake)
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGHUP, self._on_term)
        signal.signal(signal.SIGALRM, self._on_alarm)

    def should_stop(self) -> bool:
        return interrupts.draining or self.terminated

    def wake(self) -> None:
        try:
            os.write(self._wake_w, b"!")
        except OSError:
            pass  # the pipe is full: select wakes anyway

    def clear(self) -> None:
        """Empty the wake-up pipe after select() reported it."""
        try:
            while os.read(self.wake_fd, 512):
                pass
        except OSError:
            pass

    def _on_term(self, signum: int, frame: Any) -> None:
        if self.terminated:
            raise Terminated
        self.terminated = True
        signal.setitimer(signal.ITIMER_REAL, TERM_GRACE)
        self.wake()

    def _on_alarm(self, signum: int, frame: Any) -> None:
        raise Terminated
