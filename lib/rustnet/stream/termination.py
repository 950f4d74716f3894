"""SIGTERM and SIGHUP as every stage takes them: end at once with 143, never in half a frame.

The handler (:meth:`Termination.request`) raises :class:`Terminated`, a BaseException like
KeyboardInterrupt: stages catch Exception to survive hostile input and must not catch this
by accident. It also sets a flag the read loops check, for a raise Python drops (one from a
C library's callback, or a ``__del__``).

While a :class:`~rustnet.stream.writer.RecordWriter` writes (:meth:`Termination.hold`), the
raise waits until the frames being written are out, so the next stage never sees a record
cut in half and calls the stream damaged; a watchdog still raises after ``WRITE_GRACE``
seconds when the next stage does not read.
"""

from __future__ import annotations

import signal
import threading
from typing import Any, Final

# Seconds a write may still take after SIGTERM before it is abandoned (a stalled reader).
WRITE_GRACE: Final = 1.0


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: leave now with 143."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated


class Termination:
    """The SIGTERM/SIGHUP request: a flag, an exception, held back while a frame is written."""

    def __init__(self) -> None:
        self.requested = False
        self._holding = 0
        self._main = threading.main_thread().ident  # handlers run there; other threads never hold

    def request(self, signum: int, frame: Any) -> None:
        """The signal handler (a second signal raises at once)."""
        again, self.requested = self.requested, True
        if self._holding and not again:
            signal.signal(signal.SIGALRM, _raise_terminated)
            signal.setitimer(signal.ITIMER_REAL, WRITE_GRACE)
            return
        raise Terminated

    def check(self) -> None:
        """Raise Terminated if a SIGTERM/SIGHUP came (its raise may have been lost)."""
        if self.requested:
            raise Terminated

    def hold(self) -> None:
        """A write begins: a request now raises when it ends (:meth:`release`)."""
        if threading.get_ident() == self._main:
            self._holding += 1

    def release(self) -> None:
        if threading.get_ident() != self._main:
            return
        self._holding -= 1
        if self.requested and not self._holding:
            signal.setitimer(signal.ITIMER_REAL, 0)
            raise Terminated


termination = Termination()
