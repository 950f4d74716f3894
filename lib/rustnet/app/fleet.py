"""Several ``--remote`` hosts at once: one pipeline per host, each restarted when it drops out.

    for each HOST:  ssh HOST 'rn-capture | rn-enrich' | rn-dissect | rn-track | rn-enrich  -> pipe
    the pipes  -> the viewer (rustnet.view.merge: each pipe a node named HOST)

A host whose stream ends (ssh cannot connect, the host rebooted, its capture died) is said
once on its pipe as a ``warn`` record with ``down: true`` (the viewer shows it as down), and
its pipeline is started again after a pause that doubles from 1 s up to 30 s; the other
hosts go on. Stopping (Ctrl+C, quitting the viewer) closes every ssh's input, so each remote
side stops its capture as one ``--remote`` does, and ends every local stage.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Final

from rustnet.app.launch import Options, plan
from rustnet.app.logsetup import get_logger
from rustnet.app.relay import warn_record
from rustnet.app.supervise import Child, Pipeline, StageSpec
from rustnet.stream import PipeClosed, RecordReader, RecordWriter
from rustnet.stream.records import HEADER

FIRST_RETRY: Final = 1.0  # seconds before a host that dropped out is tried again; doubles...
MAX_RETRY: Final = 30.0  # ...up to this
STEADY: Final = 30.0  # a stream that ran this long starts the pauses over from FIRST_RETRY
STOP_GRACE: Final = 3.0  # seconds a remote side has to stop its capture and drain


def host_plan(opts: Options, host: str) -> list[StageSpec]:
    """The stages of one host: what ``rustnet --remote HOST`` runs."""
    return plan(replace(opts, remote=host, remotes=()))


def why_down(pipeline: Pipeline | None, error: str | None) -> str:
    """Why a host's stream ended, in one line."""
    if error:
        return error
    failed: Child | None = pipeline.first_failure() if pipeline is not None else None
    if failed is None:
        return "its stream ended"
    detail = failed.last_error
    return f"{failed.name} {failed.exit_reason()}" + (f": {detail}" if detail else "")


class HostFeed:
    """One host's pipeline, copied into ``out_fd`` and restarted with backoff when it ends."""

    def __init__(
        self,
        host: str,
        specs: Callable[[], list[StageSpec]],
        out_fd: int,
        on_down: Callable[[str, str], None] | None = None,
    ) -> None:
        self.host = host
        self.specs = specs
        self.out_fd = out_fd  # ours to close
        self.on_down = on_down  # (host, why): headless mode says it on stderr
        self.log = get_logger()
        self.saw_header = threading.Event()
        self.ended = threading.Event()  # the feed is over (stopped, or the viewer is gone)
        self.first_failure: tuple[str, int] | None = None  # (why, status) of a first run that never began
        self.attempts = 0
        self.downs = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._pipeline: Pipeline | None = None
        self._thread = threading.Thread(target=self._run, name=f"rustnet-host-{host}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def interrupt(self) -> None:
        """Stop: no more retries; the current remote side stops its capture and the stream drains."""
        self._stopping.set()
        with self._lock:
            pipeline = self._pipeline
        if pipeline is not None:
            pipeline.interrupt_source()

    def kill(self) -> None:
        self._stopping.set()
        with self._lock:
            pipeline = self._pipeline
        if pipeline is not None:
            pipeline.kill_all()

    # --- the thread ------------------------------------------------------------------------
    def _run(self) -> None:
        out = RecordWriter(self.out_fd)
        pause = FIRST_RETRY
        try:
            while not self._stopping.is_set():
                started = time.monotonic()
                why = self._once(out)
                if self._stopping.is_set():
                    break
                self.downs += 1
                if time.monotonic() - started >= STEADY:
                    pause = FIRST_RETRY
                msg = f"down ({why}); trying again in {pause:.0f} s"
                self.log.warning("%s: %s", self.host, msg)
                if self.on_down is not None:
                    self.on_down(self.host, msg)
                rec = warn_record("rustnet", msg)
                rec["down"] = True
                out.write(rec)
                out.flush()
                self._stopping.wait(pause)
                pause = min(pause * 2, MAX_RETRY)
            out.close()
        except (PipeClosed, OSError):
            pass  # the viewer is gone
        except Exception:  # never die silently: the log says why
            self.log.exception("%s: feed failed", self.host)
        finally:
            self.ended.set()
            try:
                os.close(self.out_fd)
            except OSError:
                pass

    def _once(self, out: RecordWriter) -> str:
        """Run the host's pipeline once, its records into ``out``; why it ended."""
        self.attempts += 1
        pipeline = Pipeline(self.specs(), echo_stderr=False)
        error: str | None = None
        began = False
        try:
            with self._lock:
                self._pipeline = pipeline
            if self._stopping.is_set():
                return "stopped"
            last = pipeline.start()
        except OSError as exc:
            error = f"cannot start: {exc.strerror or exc}"
        else:
            reader = RecordReader(last, self.host)
            try:
                while not reader.done:
                    recs = reader.poll(0.2)
                    if not recs:
                        continue
                    if not began and any(type(r) is dict and r.get("t") == HEADER for r in recs):
                        began = True
                        self.saw_header.set()
                    out.write_many(recs)
                    out.flush()
            except PipeClosed:
                self._stopping.set()
                raise
            except Exception as exc:  # a broken stream is this host's problem, not the others'
                error = f"damaged stream: {exc}"
            finally:
                os.close(last)
            if reader.damage and error is None:
                error = reader.damage
            pipeline.wait_all(STOP_GRACE)
        finally:
            with self._lock:
                self._pipeline = None
            pipeline.teardown(0.5)
        why = why_down(pipeline, error)
        if not began and self.attempts == 1 and not self._stopping.is_set():
            failed = pipeline.first_failure()
            self.first_failure = (why, failed.status if failed is not None and failed.status else 1)
        return why


class Fleet:
    """The hosts' feeds, each into its own pipe; the read ends are the viewer's inputs."""

    def __init__(self, opts: Options, on_down: Callable[[str, str], None] | None = None) -> None:
        self.hosts = list(opts.remotes)
        self.feeds: list[HostFeed] = []
        self.read_fds: list[int] = []
        self._on_down = on_down
        self._lock = threading.Lock()
        self._opened = False  # until then a host's first failure is held: said once, at the end
        self._held: list[tuple[str, str]] = []
        for host in self.hosts:
            r, w = os.pipe()
            self.read_fds.append(r)
            self.feeds.append(HostFeed(host, _planner(opts, host), w, self._down))

    def _down(self, host: str, msg: str) -> None:
        if self._on_down is None:
            return
        with self._lock:
            if not self._opened:
                self._held.append((host, msg))
                return
        self._on_down(host, msg)

    def _open(self) -> None:
        """One host's stream began: the hosts that failed meanwhile are said down now."""
        with self._lock:
            self._opened = True
            held, self._held = self._held, []
        if self._on_down is not None:
            for host, msg in held:
                self._on_down(host, msg)

    def start(self) -> None:
        for feed in self.feeds:
            feed.start()

    def wait_started(self, timeout: float) -> bool:
        """Wait until one host's stream began, or every host failed its first try; True: one began."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(f.saw_header.is_set() for f in self.feeds):
                self._open()
                return True
            if all(f.first_failure is not None or f.ended.is_set() for f in self.feeds):
                return False
            time.sleep(0.05)
        self._open()
        return True  # slow hosts: the viewer opens anyway and shows them as they come

    def failures(self) -> list[tuple[str, str, int]]:
        """(host, why, status) of the hosts whose first try failed."""
        return [(f.host, *f.first_failure) for f in self.feeds if f.first_failure is not None]

    def interrupt(self) -> None:
        for feed in self.feeds:
            feed.interrupt()

    def kill_all(self) -> None:
        for feed in self.feeds:
            feed.kill()

    def stop(self) -> None:
        """Stop every host (remote sides included) and wait for the feeds to end."""
        self.interrupt()
        deadline = time.monotonic() + STOP_GRACE + 2.0
        for feed in self.feeds:
            feed.join(max(deadline - time.monotonic(), 0.1))
        for feed in self.feeds:
            if not feed.ended.is_set():
                feed.kill()
                feed.join(2.0)

    def close_reads(self) -> None:
        for fd in self.read_fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.read_fds = []


def node_names(hosts: list[str]) -> list[str]:
    """The nodes' names: each HOST without its USER@ (unless that makes two alike)."""
    short = [h.rsplit("@", 1)[-1] for h in hosts]
    return short if len(set(short)) == len(short) else list(hosts)


def _planner(opts: Options, host: str) -> Callable[[], list[StageSpec]]:
    return lambda: host_plan(opts, host)


__all__ = ["Fleet", "HostFeed", "host_plan", "node_names"]
