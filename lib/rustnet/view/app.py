"""The terminal side of rn-view: the blessed screen, the keyboard, the event loop.

One ``select`` waits on the record input, the keyboard and a signal wake-up pipe with
a timeout of the refresh interval, so an idle viewer sleeps (no busy loop) and a key
is answered at once. Frames are drawn when something changed: at most once per
refresh interval for new data, immediately for a key. A frame is one write.

The keyboard is the controlling terminal even when stdin carries the records
(``rn-capture | rn-view``): :func:`attach_terminal` moves the pipe to another
descriptor and puts ``/dev/tty`` on 0 and 1, as ``less`` and ``fzf`` do, because
blessed reads keys from stdin. The terminal is restored on quit, on an exception
(context managers) and on SIGTERM/SIGHUP (they end the loop); Ctrl+Z restores it
before stopping and takes it back on resume.
"""

from __future__ import annotations

import codecs
import dataclasses
import os
import selectors
import signal
import termios
import time
import tty
from types import FrameType
from typing import Any, Final

from rustnet.cli.common import EXIT_INTERRUPTED, EXIT_OK, EXIT_TERMINATED
from rustnet.view import clipboard, keys, mouse, tabs
from rustnet.view.palette import DEFAULT_PALETTE, Palette, is_light
from rustnet.view.render import Theme, render
from rustnet.view.source import RecordSource
from rustnet.view.state import ViewState

MESSAGE_SECONDS: Final = 5.0
SYNC_BEGIN: Final = "\x1b[?2026h"  # synchronized output: terminals that know it draw a frame at once
SYNC_END: Final = "\x1b[?2026l"
REPORT_WAIT: Final = 0.03  # seconds to wait for the rest of a mouse report cut by a read
BACKGROUND_QUERY_TIMEOUT: Final = 0.15  # seconds for the terminal to tell its background colour


class NoTerminal(Exception):
    """There is no terminal to draw on (use --json or --table)."""


def attach_terminal(records_from_stdin: bool) -> int | None:
    """Make descriptors 0 and 1 the terminal; return the record pipe's new descriptor (if stdin)."""
    pipe_fd = os.dup(0) if records_from_stdin else None
    if os.isatty(0) and os.isatty(1) and not records_from_stdin:
        return pipe_fd
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError as exc:
        if pipe_fd is not None:
            os.close(pipe_fd)
        raise NoTerminal(f"no terminal for the keyboard ({exc.strerror}); use --json or --table") from exc
    if records_from_stdin or not os.isatty(0):
        os.dup2(fd, 0)
    if not os.isatty(1):
        os.dup2(fd, 1)
    os.close(fd)
    return pipe_fd


def key_name(ks: Any) -> str:
    """blessed's name for a special key, ``^X`` for control characters, else the character."""
    s = str(ks)
    if getattr(ks, "is_sequence", False) and ks.name:
        return str(ks.name)
    if len(s) == 1 and ord(s) < 32:
        return "^" + chr(ord(s) + 64)
    return s


class App:
    """Runs the viewer until the user quits; returns the exit status."""

    def __init__(
        self,
        source: RecordSource,
        state: ViewState,
        refresh: float,
        palette: Palette | None = DEFAULT_PALETTE,
    ) -> None:
        self.source = source
        self.state = state
        self.refresh = max(refresh, 0.02)
        self.palette = palette  # None: no colour at all (--no-color)
        self._signal: int | None = None
        self._resized = False
        self._suspend = False
        self._message_at = 0.0
        self._last_message = ""
        self.frames = 0
        self._empty_frame = True
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""  # the start of a mouse report, its end not read yet

    # --- signals --------------------------------------------------------------------------
    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGWINCH:
            self._resized = True
        elif signum == signal.SIGTSTP:
            self._suspend = True
        else:
            self._signal = signum
            self.state.quit = True

    def _install_signals(self) -> tuple[int, int, dict[int, Any]]:
        r, w = os.pipe()
        os.set_blocking(r, False)
        os.set_blocking(w, False)
        old: dict[int, Any] = {}
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGWINCH, signal.SIGTSTP):
            old[sig] = signal.signal(sig, self._on_signal)
        old[-1] = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
        return r, w, old

    @staticmethod
    def _restore_signals(old: dict[int, Any]) -> None:
        signal.set_wakeup_fd(old.pop(-1))
        for sig, handler in old.items():
            signal.signal(sig, handler)

    @staticmethod
    def _with_background(term: Any, palette: Palette | None) -> Palette | None:
        """The palette for the terminal's background, asked with OSC 11 (blessed's query, which a
        cursor report bounds: a terminal that does not know OSC 11 costs no wait)."""
        if palette is None:
            return None
        try:
            bg = term.get_bgcolor(timeout=BACKGROUND_QUERY_TIMEOUT, bits=8)
        except (OSError, ValueError):
            return palette
        if min(bg) < 0 or not is_light(bg):
            return palette
        return dataclasses.replace(palette, light_background=True)

    # --- the loop ---------------------------------------------------------------------------
    def run(self) -> int:
        saved_env = os.environ.pop("NO_COLOR", None)
        os.environ.setdefault("BLESSED_QUERY_TIMEOUT_SECONDS", "1")
        try:
            import blessed

            # Cursor addressing is needed even without colour: colour is dropped in the Theme.
            term = blessed.Terminal()
        finally:
            if saved_env is not None:
                os.environ["NO_COLOR"] = saved_env
        self.term = term
        # NO_COLOR counts only when non-empty (no-color.org).
        color = self.palette is not None and not saved_env
        palette = self._with_background(term, self.palette) if color else self.palette
        self.theme = Theme.from_terminal(term, color=color, palette=palette)
        wake_r, wake_w, old = self._install_signals()
        try:
            self._orig_attrs = termios.tcgetattr(0)
            with term.fullscreen(), term.cbreak(), term.hidden_cursor():
                self._write(mouse.ENABLE)
                try:
                    self._loop(wake_r)
                finally:
                    self._write(mouse.DISABLE)  # on any way out: the shell must not get reports
        finally:
            self._restore_signals(old)
            os.close(wake_r)
            os.close(wake_w)
            self.source.close()
        if self._signal == signal.SIGINT:
            return EXIT_INTERRUPTED
        if self._signal is not None:
            return EXIT_TERMINATED
        return EXIT_OK

    def _loop(self, wake_r: int) -> None:
        state, source, table = self.state, self.source, self.state.table
        sel = selectors.PollSelector()  # epoll refuses regular files; poll takes recordings too
        sel.register(0, selectors.EVENT_READ, "key")
        sel.register(wake_r, selectors.EVENT_READ, "signal")
        src_fds: set[int] = set()
        dirty = True
        draw_now = True
        data_now = True  # a frame with the newest data at once (start, first rows, end of input)
        next_frame = 0.0
        next_tick = time.monotonic() + 1.0
        while not state.quit:
            fds = set(source.filenos())  # several when streams are merged (several hosts)
            if fds != src_fds:
                for fd in src_fds - fds:
                    sel.unregister(fd)
                for fd in fds - src_fds:
                    sel.register(fd, selectors.EVENT_READ, "src")
                src_fds = fds
            now = time.monotonic()
            due = dirty and (data_now or now >= next_frame)
            if draw_now or due:
                # A frame for a key shows the list as last sorted (new data waits for its
                # frame): keys stay quick however fast records come.
                state.hold = dirty and not due
                try:
                    self.draw()
                finally:
                    state.hold = False
                draw_now = data_now = False
                if due:
                    dirty = False
                    next_frame = now + self.refresh
            # Wake only for something due: an idle viewer sleeps in select until input comes.
            deadlines = [next_frame] if dirty else []
            if source.ticking:
                deadlines.append(next_tick)
            nd = source.next_due()
            if nd is not None:
                deadlines.append(nd)
            if state.message and not state.quit_pending:  # "q again to quit" stays: no deadline
                deadlines.append(self._message_at + MESSAGE_SECONDS)
            timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
            events = sel.select(timeout)
            events.sort(key=lambda ev: ev[0].data != "key")  # keys before records: responsiveness
            for key, _ in events:
                if key.data == "src":
                    if key.fd not in set(source.filenos()):
                        continue  # its input ended while another was read
                    recs = source.read(key.fd)
                    if recs:
                        table.ingest(recs)
                        dirty = True
                elif key.data == "key":
                    self._keys()
                    draw_now = True
                else:
                    try:
                        os.read(wake_r, 4096)
                    except BlockingIOError:
                        pass
            recs = source.due()
            if recs:
                table.ingest(recs)
                dirty = True
            now = time.monotonic()
            if source.ticking and now >= next_tick:
                recs = source.tick(time.time())
                if recs:
                    table.ingest(recs)
                    dirty = True
                next_tick = now + 1.0
            if source.drained and not table.input_done:
                table.input_done = True
                problems = source.damage + source.errors
                if problems:
                    table.damage = "; ".join(problems)
                draw_now = data_now = dirty = True
            if dirty and self._empty_frame and len(table):
                data_now = True  # the first connections show at once, not a refresh interval later
            if self._resized:
                self._resized = False
                draw_now = True
            if self._suspend:
                self._suspend = False
                self._stop_and_resume()
                draw_now = True
            if state.copy_request is not None:
                text, state.copy_request = state.copy_request, None
                label, state.copy_label = state.copy_label, None
                state.say(clipboard.copy(text, self._write, label))
                draw_now = True
            if state.message != self._last_message:
                self._last_message = state.message
                self._message_at = now
            elif state.message and not state.quit_pending and now - self._message_at >= MESSAGE_SECONDS:
                state.message = self._last_message = ""
                dirty = True
        sel.close()

    def _keys(self) -> None:
        """Read what the terminal sent: mouse reports go to the pointer handler, the rest to
        blessed's key decoder, in the order they came."""
        text = self._pending + self._read_input()
        pieces, self._pending = mouse.split(text)
        deadline = time.monotonic() + REPORT_WAIT
        while self._pending and time.monotonic() < deadline:
            more = self._read_input(max(deadline - time.monotonic(), 0.0))
            if more:
                got, self._pending = mouse.split(self._pending + more)
                pieces += got
        if self._pending:
            # Nothing more came: an Esc key (or keys blessed makes sense of), not a report.
            pieces.append(self._pending)
            self._pending = ""
        for piece in pieces:
            if self.state.quit:
                return
            if isinstance(piece, mouse.MouseEvent):
                tabs.pointer_event(self.state, piece, self.term.width, self.term.height, time.monotonic())
                continue
            self.term.ungetch(piece)
            while not self.state.quit:
                # No Esc delay here: an unfinished sequence was waited for above.
                ks = self.term.inkey(timeout=0, esc_delay=0)
                if not ks:
                    break
                keys.handle(self.state, key_name(ks))

    def _read_input(self, wait: float = 0.0) -> str:
        """What the keyboard has sent so far (after up to ``wait`` seconds), decoded."""
        data = b""
        sel = selectors.DefaultSelector()
        sel.register(0, selectors.EVENT_READ)
        try:
            timeout = wait
            while len(data) < 1 << 16 and sel.select(timeout):
                chunk = os.read(0, 4096)
                if not chunk:
                    break
                data += chunk
                timeout = 0.0
        except OSError:
            pass
        finally:
            sel.close()
        return self._decoder.decode(data)

    def _write(self, data: str) -> None:
        view = memoryview(data.encode("utf-8", "replace"))
        while view:
            try:
                n = os.write(1, view)
            except BlockingIOError:
                selectors.DefaultSelector().select(0.05)
                continue
            except InterruptedError:
                continue
            view = view[n:]

    def draw(self) -> None:
        term = self.term
        frame = render(self.state, term.width, term.height, self.theme)
        self._empty_frame = not len(self.state.table)
        self._write(SYNC_BEGIN + frame + SYNC_END)
        self.frames += 1

    def _stop_and_resume(self) -> None:
        """Ctrl+Z: give the terminal back, stop, and take it again when continued."""
        term = self.term
        self._write(mouse.DISABLE + str(term.exit_fullscreen) + str(term.normal_cursor))
        termios.tcsetattr(0, termios.TCSADRAIN, self._orig_attrs)
        old = signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTSTP)
        signal.signal(signal.SIGTSTP, old)
        tty.setcbreak(0)
        self._write(str(term.enter_fullscreen) + str(term.hide_cursor) + mouse.ENABLE)
