"""Run the pipeline stages as child processes and make sure none outlives ``rustnet``.

The stages run in one process group of their own, so a single ``killpg`` ends them
all and a Ctrl+C typed at the terminal reaches only ``rustnet``, which decides what
each stage gets (a first SIGINT to the capture stage only, so the others drain).
On Linux every child also asks the kernel for SIGKILL when ``rustnet`` dies
(``PR_SET_PDEATHSIG``), which covers the one case no handler can: ``kill -9``.

Each child's stderr is read by one thread: every line is logged under the stage's
name and the last few are kept, so when a stage dies the viewer and the final
error message can say why.
"""

from __future__ import annotations

import collections
import ctypes
import ctypes.util
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from rustnet import caps
from rustnet.app.logsetup import escape_controls, get_logger
from rustnet.stream.gunzip import Inflater

PR_SET_PDEATHSIG = 1
MAX_LINE = 2000  # longer stderr lines are cut: a hostile stream must not grow our memory
KEEP_LINES = 20
SIGINT_RETRY_SECONDS = 3.0
SSH_SIGNALLED = 255  # ssh's status when a signal ended it (how --remote stops at Ctrl+C)


@dataclass
class StageSpec:
    """One process of the pipeline: its display name and command line."""

    name: str
    argv: list[str]
    stdin_path: str | None = None  # first stage only: a file to read instead of /dev/null
    # first stage only: (fd, head) of a stream whose first bytes were read to sniff it: the
    # stage reads head, then the rest of fd, through a pipe we feed (the fd is ours to close)
    stdin_feed: tuple[int, bytes] | None = None
    feed_gzip: bool = False  # the fed stream is gzip'd: the stage reads it decompressed
    stop_by_eof: bool = False  # first stage only: stopped by closing its stdin, not by SIGINT (ssh)
    run_as: tuple[int, int] | None = None  # (uid, gid) to run as, for stages that need no privileges
    # not the first stage: also hand everything the stage reads to this (feed(chunk), then end())
    input_tap: InputTap | None = None
    # first stage only: chains run side by side before it (rustnet --workers), whose outputs this
    # stage reads: their descriptors are passed on and named as arguments (/dev/fd/N)
    branches: list[list[StageSpec]] | None = None
    # last stage only: it writes to our standard output itself (rustnet --json when nothing needs
    # its records here); start() then returns -1 instead of a pipe to read
    stdout_direct: bool = False


class InputTap(Protocol):
    """Sees a copy of a stage's input: ``feed`` each chunk after the stage got it, ``end`` at its end."""

    def feed(self, chunk: bytes) -> None: ...

    def end(self) -> None: ...


@dataclass
class Child:
    spec: StageSpec
    proc: subprocess.Popen[bytes]
    stderr_fd: int
    lines: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=KEEP_LINES))
    partial: bytearray = field(default_factory=bytearray)
    status: int | None = None
    stderr_closed: bool = False
    stopped_by_us: bool = False  # exited after teardown began: not a failure to report
    interrupted: bool = False  # we sent it SIGINT (the source stage, at Ctrl+C or --duration)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def last_line(self) -> str | None:
        return self.lines[-1] if self.lines else None

    def exit_reason(self) -> str:
        """``exited with status 1``, ``killed by SIGKILL`` or ``still running``."""
        status = self.status
        if status is None:
            return "still running"
        if status < 0:
            return f"killed by {_signal_name(-status)}"
        return f"exited with status {status}"

    @property
    def last_error(self) -> str | None:
        """The stage's last stderr line without its own ``name:`` prefix."""
        line = self.last_line
        return None if line is None else line.removeprefix(self.name + ": ")

    def describe_exit(self) -> str:
        """``rn-capture exited with status 1: <its last stderr line>`` (or was killed by a signal)."""
        reason = self.exit_reason()
        what = f"was {reason}" if reason.startswith("killed") else reason
        detail = self.last_error
        return f"{self.name} {what}" + (f": {detail}" if detail else "")


def spoken_as(prog: str, line: str, stdin_name: str | None = None) -> str:
    """A stage's stderr line as ``prog`` says it: ``rn-capture: x`` becomes ``rustnet: x`` (lines from
    ssh keep their ``ssh:``; the stage's name stays in the log). ``stdin_name``: the file the stage
    was given as its standard input, which it can only call ``stdin``."""
    rest = _STAGE_PREFIX.sub("", line, count=1)
    if stdin_name is not None and rest.startswith(("stdin: ", "stdin is ")):
        rest = escape_controls(stdin_name) + rest.removeprefix("stdin")
    return f"{prog}: {rest}"


_STAGE_PREFIX = re.compile(r"^rn-(?:capture|dissect|track|enrich): ")


def _without_capabilities() -> None:
    """A helper thread parsing untrusted data gives up its capabilities (they are per thread, and
    rustnet confines itself only once the stages run)."""
    try:
        caps.limit(0)
    except caps.CapsError:
        pass  # rustnet's own confinement fails the same way, and says so


def _signal_name(num: int) -> str:
    try:
        return signal.Signals(num).name
    except ValueError:
        return f"signal {num}"


def _nonblocking_pipe() -> tuple[int, int]:
    # os.pipe() descriptors are close-on-exec already (PEP 446); pipe2 is Linux-only.
    r, w = os.pipe()
    os.set_blocking(r, False)
    os.set_blocking(w, False)
    return r, w


def _load_prctl() -> Callable[[int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        prctl: Callable[[int, int], int] = libc.prctl
        return prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()


def _child_setup(parent_pid: int) -> Callable[[], None]:
    """Runs in the child between fork and exec: die with the parent, default signal dispositions."""
    prctl = _PRCTL

    def setup() -> None:
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != parent_pid:  # the parent died before prctl took effect
                os._exit(1)
        # Python ignores SIGPIPE; a stage must see EPIPE or die of it like any Unix filter.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        # Ignored until the stage installs its own handler: a Ctrl+C that lands while the stage
        # is still importing must not become a KeyboardInterrupt traceback (we send SIGINT again).
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    return setup


def _as_user(setup: Callable[[], None], run_as: tuple[int, int]) -> Callable[[], None]:
    """``setup``, then the child becomes user and group ``run_as`` with an empty capability
    bounding set: emptied while the child is still root, since afterwards only CAP_SETPCAP could,
    which the user lacks (Popen's own user= switches before any preexec_fn runs)."""
    prctl = _PRCTL
    last = caps.last_cap()
    uid, gid = run_as

    def become() -> None:
        setup()
        if prctl is not None:
            for cap in range(last + 1):
                prctl(caps.PR_CAPBSET_DROP, cap)
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)

    return become


class Pipeline:
    """``stage0 | stage1 | ... ``: started, watched and torn down together."""

    def __init__(
        self,
        specs: list[StageSpec],
        echo_stderr: bool = False,
        on_exit: Callable[[Child], None] | None = None,
        echo_as: str | None = None,
    ) -> None:
        if not specs:
            raise ValueError("a pipeline needs at least one stage")
        self.specs = specs
        self.children: list[Child] = []
        self.sources: list[Child] = []  # the first stage of each chain: what interrupt_source stops
        self.pgid: int | None = None
        self.echo_stderr = echo_stderr  # copy stages' stderr to ours (headless mode)
        self.echo_as = echo_as  # echo lines as this program's (None: as the stages wrote them)
        self.on_exit = on_exit
        self.log = get_logger()
        self._cond = threading.Condition()
        self._watcher: threading.Thread | None = None
        self._stop = False
        self._tearing = False
        self._stop_fd: int | None = None  # write end of the first stage's stdin (stop_by_eof)
        self._wake_r, self._wake_w = _nonblocking_pipe()
        self._inflater: Inflater | None = None

    # --- start ---------------------------------------------------------------
    def start(self) -> int:
        """Spawn every stage; returns the read end of the last stage's stdout (ours to close), or
        -1 when that stage writes to our standard output (``stdout_direct``)."""
        setup = _child_setup(os.getpid())
        try:
            out = self._start_chain(self.specs, setup)
        except BaseException:
            self.teardown()
            raise
        self._watcher = threading.Thread(target=self._watch, name="rustnet-supervise", daemon=True)
        self._watcher.start()
        return out

    def _start_chain(self, specs: list[StageSpec], setup: Callable[[], None]) -> int:
        """Spawn ``specs`` as one chain; the read end of its last stage's stdout."""
        prev_out: int | None = None
        try:
            for i, spec in enumerate(specs):
                pass_fds: list[int] = []
                argv = spec.argv
                if i == 0 and spec.branches:
                    # The chains first, each to a pipe of its own that this stage reads by name.
                    for branch in spec.branches:
                        pass_fds.append(self._start_chain(branch, setup))
                    argv = [*argv, *(fd_path(fd) for fd in pass_fds)]
                    stdin = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
                elif i == 0 and spec.stop_by_eof:
                    stdin, self._stop_fd = os.pipe()
                elif i == 0 and spec.stdin_feed is not None:
                    stdin = self._feed(*spec.stdin_feed, gzip=spec.feed_gzip)
                    spec.stdin_feed = None
                elif i == 0:
                    stdin = (
                        os.open(spec.stdin_path, os.O_RDONLY | os.O_CLOEXEC)
                        if spec.stdin_path
                        else os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
                    )
                else:
                    assert prev_out is not None
                    stdin = prev_out if spec.input_tap is None else self._tap(prev_out, spec.input_tap)
                out_r, out_w = (-1, os.dup(1)) if spec.stdout_direct else os.pipe()
                err_r, err_w = os.pipe()
                try:
                    proc = subprocess.Popen(
                        argv,
                        stdin=stdin,
                        stdout=out_w,
                        stderr=err_w,
                        close_fds=True,
                        pass_fds=pass_fds,
                        process_group=0 if self.pgid is None else self.pgid,
                        preexec_fn=setup if spec.run_as is None else _as_user(setup, spec.run_as),
                    )
                except OSError:
                    if out_r >= 0:
                        os.close(out_r)
                    os.close(err_r)
                    raise
                finally:
                    os.close(stdin)
                    os.close(out_w)
                    os.close(err_w)
                    for fd in pass_fds:
                        os.close(fd)
                    prev_out = None
                if self.pgid is None:
                    self.pgid = proc.pid
                self.log.info("started %s (pid %d): %s", spec.name, proc.pid, " ".join(argv))
                child = Child(spec, proc, err_r)
                self.children.append(child)
                if i == 0 and not spec.branches:
                    self.sources.append(child)
                prev_out = out_r
        except BaseException:
            if prev_out is not None and prev_out >= 0:
                os.close(prev_out)
            raise
        assert prev_out is not None
        return prev_out

    def _feed(self, src: int, head: bytes, gzip: bool = False) -> int:
        """A pipe that yields ``head`` and then everything from ``src`` (a thread copies;
        ``gzip``: a thread decompresses, and :meth:`feed_damage` says if the data was damaged)."""
        if gzip:
            self._inflater = Inflater(src, head, close_src=True, setup=_without_capabilities)
            fd, self._inflater.fd = self._inflater.fd, -1  # the stage's stdin: start() closes it
            return fd
        r, w = os.pipe()

        def copy() -> None:
            try:
                data = head
                while data:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(w, view) :]
                    data = os.read(src, 1 << 16)
            except OSError:
                pass  # the stage is gone (EPIPE) or the input failed: the stage sees the end
            finally:
                os.close(w)
                os.close(src)

        threading.Thread(target=copy, name="rustnet-feed", daemon=True).start()
        return r

    def _tap(self, src: int, tap: InputTap) -> int:
        """A pipe that yields everything from ``src``, each chunk also handed to ``tap`` once the
        stage has it (a thread copies; the stage never waits for the tap beyond what it asks)."""
        r, w = os.pipe()

        def copy() -> None:
            _without_capabilities()  # the tap parses packets
            tapping = True
            try:
                while True:
                    data = os.read(src, 1 << 20)
                    if not data:
                        break
                    view = memoryview(data)
                    while view:
                        view = view[os.write(w, view) :]
                    if tapping:
                        try:
                            tap.feed(data)
                        except Exception:  # a bug in the tap must not cut the stage's input
                            self.log.exception("input tap failed")
                            tapping = False
            except OSError:
                pass  # the stage is gone (EPIPE) or the input failed: the stage sees the end
            finally:
                os.close(w)
                os.close(src)
                tap.end()

        threading.Thread(target=copy, name="rustnet-tap", daemon=True).start()
        return r

    def feed_damage(self) -> str | None:
        """Why the gzip'd input fed to the first stage ended early, if it did."""
        inflater = self._inflater
        return None if inflater is None else inflater.wait(1.0)

    # --- watching ------------------------------------------------------------
    def _watch(self) -> None:
        """Read every stage's stderr and notice exits, until all have exited and said everything."""
        open_fds = {c.stderr_fd: c for c in self.children}
        while True:
            if open_fds:
                try:
                    ready, _, _ = select.select([*open_fds, self._wake_r], [], [], 0.1)
                except (OSError, ValueError):
                    ready = []
                for fd in ready:
                    if fd == self._wake_r:
                        try:
                            os.read(self._wake_r, 4096)
                        except OSError:
                            pass
                        continue
                    child = open_fds[fd]
                    if not self._read_stderr(child):
                        del open_fds[fd]
                        os.close(fd)
                        with self._cond:
                            child.stderr_closed = True
                            self._cond.notify_all()
            else:
                time.sleep(0.05)
            if not self._tearing:
                self._reap()
            with self._cond:
                if all(c.status is not None for c in self.children) and not open_fds:
                    self._cond.notify_all()
                    return
                if self._stop and not open_fds:
                    return

    def _read_stderr(self, child: Child) -> bool:
        try:
            chunk = os.read(child.stderr_fd, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            if child.partial:
                self._line(child, bytes(child.partial))
                child.partial.clear()
            return False
        child.partial += chunk
        while True:
            nl = child.partial.find(b"\n")
            if nl < 0:
                break
            self._line(child, bytes(child.partial[:nl]))
            del child.partial[: nl + 1]
        if len(child.partial) > MAX_LINE:
            self._line(child, bytes(child.partial[:MAX_LINE]))
            child.partial.clear()
        return True

    def _line(self, child: Child, raw: bytes) -> None:
        text = escape_controls(raw[:MAX_LINE].decode("utf-8", "backslashreplace").rstrip("\r"))
        if not text.strip():
            return
        with self._cond:
            child.lines.append(text)
        get_logger(child.name).warning("%s", text)
        if self.echo_stderr:
            try:
                shown = text if self.echo_as is None else spoken_as(self.echo_as, text, child.spec.stdin_path)
                sys.stderr.write(shown + "\n")
                sys.stderr.flush()
            except (OSError, ValueError):
                pass

    def _reap(self) -> None:
        for child in self.children:
            if child.status is None:
                status = child.proc.poll()
                if status is not None:
                    with self._cond:
                        if child.status is not None:  # the other thread got there first
                            continue
                        child.status = status
                        child.stopped_by_us = self._tearing
                        self._cond.notify_all()
                    level = 20 if status in (0, -signal.SIGTERM, -signal.SIGPIPE, 130, 143) else 40
                    self.log.log(
                        level,
                        "%s (pid %d) %s",
                        child.name,
                        child.proc.pid,
                        child.describe_exit().removeprefix(child.name + " "),
                    )
                    if self.on_exit is not None:
                        self.on_exit(child)

    # --- queries -------------------------------------------------------------
    def wait_all(self, timeout: float | None = None) -> bool:
        """Wait until every stage has exited and its stderr is read; True if they all did."""
        deadline = None if timeout is None else time.monotonic() + timeout
        watcher = self._watcher
        if watcher is None:
            return True
        with self._cond:
            while watcher.is_alive():
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(0.1 if remaining is None else min(remaining, 0.1))
        return True

    def wait_exit_or(self, ready: Callable[[], bool], timeout: float) -> Child | None:
        """Wait until ``ready()`` or a stage fails (returned), for at most ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            failed = self.first_failure()
            if failed is not None:
                # Its last stderr line may still be in the pipe: give it a moment to arrive.
                end = time.monotonic() + 0.5
                with self._cond:
                    while not failed.stderr_closed and time.monotonic() < end:
                        self._cond.wait(0.02)
                return failed
            if ready():
                return None
            with self._cond:
                self._cond.wait(0.02)
        return None

    def first_failure(self) -> Child | None:
        """The most upstream stage that exited abnormally (the cause, not the echoes downstream)."""
        failures = self.failures()
        return failures[0] if failures else None

    def failures(self) -> list[Child]:
        """Stages that exited abnormally on their own (not because we stopped them), upstream first."""
        return [
            c
            for c in self.children
            if c.status is not None
            and not c.stopped_by_us
            and is_failure(c.status)
            and not (c.interrupted and (c.status < 0 or c.status == SSH_SIGNALLED))
        ]

    @property
    def first(self) -> Child:
        return self.children[0]

    # --- control ---------------------------------------------------------------
    def interrupt_source(self) -> None:
        """Ask the first stage of every chain to stop (SIGINT); the rest drain its output and finish."""
        for child in self.sources:
            self._interrupt(child)

    def _interrupt(self, child: Child) -> None:
        if child.status is None:
            child.interrupted = True
            if self._stop_fd is not None:
                self.log.info("stopping %s (closing its input)", child.name)
                fd, self._stop_fd = self._stop_fd, None
                os.close(fd)
                return
            self.log.info("stopping %s (SIGINT)", child.name)
            self._sigint(child)
            # A stage still starting up ignores SIGINT (see _child_setup): ask again later.
            retry = threading.Timer(SIGINT_RETRY_SECONDS, self._sigint_again, (child,))
            retry.daemon = True
            retry.start()

    def _sigint(self, child: Child) -> None:
        if child.status is None and not self._tearing:
            try:
                child.proc.send_signal(signal.SIGINT)
            except (ProcessLookupError, OSError):
                pass

    def _sigint_again(self, child: Child) -> None:
        if child.proc.poll() is None and not self._tearing:
            self.log.info("%s still running: SIGINT again", child.name)
            self._sigint(child)

    def teardown(self, grace: float = 1.0) -> None:
        """End every stage: SIGTERM to the group, SIGKILL after ``grace`` seconds; reap all."""
        self._reap()  # exits that happened before now are the stages' own
        self._tearing = True
        if self.pgid is not None and any(c.proc.poll() is None for c in self.children):
            self.log.info("stopping all stages (SIGTERM)")
            self._killpg(signal.SIGTERM)
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and any(c.proc.poll() is None for c in self.children):
                time.sleep(0.01)
            if any(c.proc.poll() is None for c in self.children):
                self.log.warning("stages still running after %.1fs: SIGKILL", grace)
                self._killpg(signal.SIGKILL)
        for child in self.children:
            try:
                child.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:  # pragma: no cover - only when the kernel is stuck
                pass
        self._reap()
        if self._stop_fd is not None:
            os.close(self._stop_fd)
            self._stop_fd = None
        self._stop = True
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass
        if self._watcher is not None:
            self._watcher.join(2.0)

    def kill_all(self) -> None:
        """SIGKILL every stage now (a second SIGTERM during teardown); teardown still reaps them."""
        self._tearing = True
        if self.pgid is not None:
            self._killpg(signal.SIGKILL)

    def _killpg(self, sig: int) -> None:
        assert self.pgid is not None
        try:
            os.killpg(self.pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def fd_path(fd: int) -> str:
    """How a stage started with descriptor ``fd`` open names it as a file argument."""
    return f"/dev/fd/{fd}"


def is_failure(status: int) -> bool:
    """A stage's exit status that means something went wrong (not a normal end or our own stop)."""
    return status not in (0, 130, 143, -signal.SIGTERM, -signal.SIGINT, -signal.SIGPIPE, 141)
