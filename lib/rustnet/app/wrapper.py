"""The body of ``rustnet``: start the stages, feed the viewer (or print JSON), end everything.

Two ways to run:

* TUI: the stages run as processes; a relay thread copies their records into a pipe
  the viewer reads in this process. If a stage fails before anything arrives (no
  permission, unknown interface, bad filter) there is no TUI at all: its one-line
  error is printed and rustnet exits with its status.
* ``--json``: no terminal; the final connection record of every connection is written
  as JSON Lines when the input ends (file) or on Ctrl+C / ``--duration`` (live).

Either way every stage is ended and reaped before we exit (see supervise.py).
"""

from __future__ import annotations

import collections
import getpass
import logging
import os
import signal
import sys
import threading
from typing import Any

from rustnet import __version__, caps
from rustnet.app.handoff import Handoff
from rustnet.app.launch import Options, check, plan
from rustnet.app.logsetup import close_logging, get_logger, setup_logging
from rustnet.app.relay import Relay, open_record_file
from rustnet.app.supervise import Child, Pipeline, spoken_as
from rustnet.cli.common import (
    EXIT_DAMAGED,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_USAGE,
    StageError,
    Terminated,
    termination,
    warn,
)
from rustnet.cli.privilege import SUPERVISOR_KEEPS, confine, stays_root_notice
from rustnet.export import ExportOpenError, ExportPaths, Exports
from rustnet.stream import PipeClosed, RecordReader, RecordWriter
from rustnet.stream.bounds import DEFAULT_MAX_CONNECTIONS, bound_record, cut_message
from rustnet.stream.records import CONN

PROG = "rustnet"
# How long the TUI waits for the first record (the stream header arrives in ~0.3 s) or for a
# stage to fail, before it opens anyway. A failure at start-up (no permission, no such
# interface) is then a plain one-line error instead of a TUI showing it; on a loaded
# machine Python start-up alone can take over a second, hence the margin.
START_GATE_SECONDS = 5.0
START_GATE_REMOTE_SECONDS = 15.0


def run(opts: Options) -> int:
    """Run rustnet as ``opts`` says; returns the exit status. Errors are one line on stderr."""
    try:
        log_path = setup_logging(opts.log_level)
    except OSError as exc:
        raise StageError(f"cannot create the log file in logs/: {exc.strerror or exc}") from None
    log = get_logger()
    status = EXIT_ERROR
    try:
        _log_start(opts, log_path)
        if len(opts.remotes) > 1:
            from rustnet.app.fleet import host_plan

            check(opts)
            host_plan(opts, opts.remotes[0])  # refuses what one host would refuse
            _require_terminal(opts)
            status = _run_fleet(opts)
            return status
        specs = plan(opts)
        notice = stays_root_notice()
        if notice is not None:
            log.warning("%s", notice)
            if os.isatty(2):  # for the person at the terminal; a script's stderr keeps one line per error
                warn(PROG, notice)
        _require_terminal(opts)
        exports = open_exports(opts, specs)
        try:
            status = _run_json(opts, specs, exports) if opts.json_out else _run_tui(opts, specs, exports)
        finally:
            if exports is not None:
                for note in exports.close():
                    log.warning("%s", note)
                    warn(PROG, note)
        return status
    except StageError as exc:
        log.error("%s", exc)
        status = exc.status
        raise
    finally:
        log.info("rustnet exiting with status %s", status)
        close_logging()


def _require_terminal(opts: Options) -> None:
    """The TUI draws on standard output: a pipe or file there takes --json."""
    if not opts.json_out and not os.isatty(1):
        raise StageError(
            "the TUI needs a terminal on standard output; use --json to write "
            "connection records to a pipe or file",
            EXIT_USAGE,
        )


def _log_start(opts: Options, log_path: Any) -> None:
    log = get_logger()
    if not log.isEnabledFor(20):
        return
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    log.info(
        "rustnet %s starting: pid %d, user %s (uid %d), python %s, argv %s",
        __version__,
        os.getpid(),
        user,
        os.geteuid(),
        sys.version.split()[0],
        sys.argv[1:],
    )
    log.info("log file %s", log_path)
    from rustnet.cli.privilege import unprivileged_stage_user

    log.info("privileges: %s", unprivileged_stage_user()[1])
    if opts.read_path is not None:
        log.info("reading %s", opts.read_path)
        return
    if opts.remote is not None or opts.remotes:
        hosts = ", ".join(opts.remotes) or opts.remote
        log.info("remote capture on %s, interface %s", hosts, opts.interface or "(its default)")
        return
    iface = opts.interface
    try:
        from rustnet.capture.interfaces import default_route_interface

        iface = iface or default_route_interface()
    except Exception as exc:  # the capture stage reports real problems; this is only for the log
        log.debug("default interface lookup failed: %s", exc)
    log.info("interface %s%s", iface or "(none found)", "" if opts.interface else " (default route)")
    try:
        import psutil

        for addr in psutil.net_if_addrs().get(iface or "", []):
            log.info("interface %s address %s", iface, addr.address)
        st = psutil.net_if_stats().get(iface or "")
        if st is not None:
            log.info("interface %s up=%s mtu=%s speed=%sMb/s", iface, st.isup, st.mtu, st.speed)
    except Exception as exc:
        log.debug("interface details unavailable: %s", exc)


def open_exports(opts: Options, specs: list[Any]) -> Exports | None:
    """The export files, opened now (before the stages start and rustnet gives up its
    capabilities); the packet exports tap rn-dissect's input."""
    paths = ExportPaths(opts.json_log, opts.pcap_export, opts.pcapng_export)
    if not paths.any:
        return None
    try:
        exports = Exports(paths, opts.max_connections, local_ids=opts.live and opts.remote is None)
    except ExportOpenError as exc:
        raise StageError(f"{exc.what} {exc.filename}: {exc.strerror}") from None
    if exports.packets is not None:
        for spec in specs:
            if spec.name == "rn-dissect":
                spec.input_tap = exports.packets
    return exports


# --- headless -------------------------------------------------------------------------
def _run_json(opts: Options, specs: list[Any], exports: Exports | None = None) -> int:
    # Stage errors are echoed as ours (the stage's name is in the log, and with --debug).
    pipeline = Pipeline(specs, echo_stderr=True, echo_as=None if opts.debug else PROG)
    record_fd = _open_record(opts.record)
    # The relay (a decoding copy) is only needed to tee, log or export the records: without it
    # the last stage's output is read here directly, which saves a good third of our CPU time.
    use_relay = record_fd is not None or exports is not None or get_logger().isEnabledFor(logging.CRITICAL)
    view_r, view_w = os.pipe() if use_relay else (-1, -1)
    _install_signals(pipeline)
    timer: threading.Timer | None = None
    relay: Relay | None = None
    damage: str | None = None
    status: int | None = None  # set when a signal ends the run
    try:
        last = _start(pipeline)
        if use_relay:
            relay = Relay(last, view_w, pipeline, record_fd, exports)
            record_fd = None
            view_w = -1
            relay.start()
        else:
            view_r = last
        if opts.duration is not None:
            timer = threading.Timer(opts.duration, pipeline.interrupt_source)
            timer.daemon = True
            timer.start()
        notes: list[str] = []
        if view_r < 0:  # the last stage writes the lines itself (launch.json_from_track)
            while not pipeline.wait_all(0.5):
                termination.check()
        else:
            from rustnet.stream.gctune import tune_gc

            tune_gc()  # the open connections' records are many long-lived containers: rare full passes
            damage = write_final_records(
                view_r,
                RecordWriter(1, "json"),
                opts.no_localhost,
                opts.max_connections,
                notes,
                show_ptr_lookups=opts.show_ptr_lookups,
            )
        pipeline.wait_all(5.0)
        if relay is not None:
            relay.join(2.0)
        if not pipeline.failures():  # a failed stage has said its one line
            for note in notes:
                warn(PROG, note)
    except PipeClosed:
        pass  # `| head`: a quiet end
    except KeyboardInterrupt:
        status = EXIT_INTERRUPTED
    except Terminated:
        status = EXIT_TERMINATED
    finally:
        _hold_termination(pipeline)
        if timer is not None:
            timer.cancel()
        pipeline.teardown(grace=1.0 if status is None else 0.5)
        _restore_signals()
        for fd in (view_r, view_w, -1 if record_fd is None else record_fd):
            if fd >= 0:
                _close(fd)
    if status is not None:
        return status
    return _final_status(pipeline, relay, damage, _feed_damage(opts, pipeline))


def _feed_damage(opts: Options, pipeline: Pipeline) -> str | None:
    """Why a gzip'd ``--read`` stream (standard input, a FIFO) ended early, if it did."""
    reason = pipeline.feed_damage()
    if reason is None:
        return None
    return f"{'standard input' if opts.read_path == '-' else opts.read_path}: {reason}"


def write_final_records(
    fd: int,
    out: RecordWriter,
    no_localhost: bool,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    notes: list[str] | None = None,
    show_ptr_lookups: bool = False,
) -> str | None:
    """Every connection's final record, as rn-track marks them (``final: true``), as they come.

    A connection whose final record never arrives (a recording cut short) is written at
    the end in its last known state, so each id appears exactly once. Memory holds only
    the connections still open, at most ``max_connections`` of them: over that, the least
    recently updated one is written then (in its last known state) and forgotten, and the
    count is reported. rn-enrich's own reverse lookups (``ptr_lookup_own``) are left out unless
    ``show_ptr_lookups``. Records are cut to the limits of rustnet.stream.bounds. The reports
    go to ``notes`` when given (else to stderr), or join the damage line that is returned.
    """

    def hidden(rec: dict[str, Any]) -> bool:
        own_ptr = not show_ptr_lookups and rec.get("ptr_lookup_own") is True
        return own_ptr or (no_localhost and is_localhost(rec))

    pending: collections.OrderedDict[Any, dict[str, Any]] = collections.OrderedDict()
    reader = RecordReader(fd, PROG)
    anonymous = early = cut = 0
    while not reader.done:
        termination.check()
        for rec in reader.poll(None):
            if not isinstance(rec, dict) or rec.get("t") != CONN:
                continue
            rec, n = bound_record(rec)
            cut += n
            key = rec.get("id")
            if not isinstance(key, (int, str)):
                anonymous += 1  # no usable id: every such record stands alone
                key = ("anonymous", anonymous)
            if rec.get("final") is True:
                pending.pop(key, None)
                if not hidden(rec):
                    out.write(rec)
            else:
                pending[key] = rec
                pending.move_to_end(key)
                if len(pending) > max_connections:
                    early += 1
                    old = pending.popitem(last=False)[1]
                    if not hidden(old):
                        out.write(old)
        out.flush()
    for rec in pending.values():
        if not hidden(rec):
            out.write(rec)
    out.close()
    said = [f"{early:,} open connections written early at the cap of {max_connections:,}"] if early else []
    if cut:
        said.append(cut_message(cut))
    if reader.damage:
        return "; ".join([reader.damage, *said])  # damaged input still gets one line
    if notes is None:
        for note in said:
            warn(PROG, note)
    else:
        notes.extend(said)
    return None


def is_localhost(rec: dict[str, Any]) -> bool:
    """Both ends on loopback: what ``--no-localhost`` hides."""
    return _loopback(rec.get("src")) and _loopback(rec.get("dst"))


def _loopback(addr: Any) -> bool:
    if not isinstance(addr, str):
        return False
    import ipaddress

    try:
        return ipaddress.ip_address(addr).is_loopback
    except ValueError:
        return False


# --- TUI ------------------------------------------------------------------------------
def _run_tui(opts: Options, specs: list[Any], exports: Exports | None = None) -> int:
    pipeline = Pipeline(specs, echo_stderr=False)
    record_fd = _open_record(opts.record)
    # The relay hands the viewer its decoded records, unless exports keep records the viewer
    # would change (rustnet.app.handoff): then they go through a pipe, encoded.
    handoff = Handoff() if exports is None else None
    view_r, view_w = os.pipe() if handoff is None else (-1, -1)
    timer: threading.Timer | None = None
    relay: Relay | None = None
    status = EXIT_OK
    old = _install_term_signals()
    try:
        last = _start(pipeline)
        relay = Relay(last, view_w if handoff is None else handoff, pipeline, record_fd, exports)
        record_fd = None
        view_w = -1
        relay.start()
        gate = START_GATE_REMOTE_SECONDS if opts.remote else START_GATE_SECONDS
        failed = pipeline.wait_exit_or(relay.ready.is_set, gate)
        if failed is not None and failed.status == EXIT_DAMAGED and relay.ready.wait(gate):
            # Damaged input after its stream began (a capture cut mid-record): what came before
            # the damage is shown, with the warning; the status is 3 once the user quits.
            failed = None if relay.saw_header else failed
        if failed is None and relay.ready.is_set() and not relay.saw_header:
            # The stream ended before it began: a stage failed (its exit may still be on its way).
            pipeline.wait_all(2.0)
            failed = pipeline.first_failure()
        if failed is not None:
            return _startup_failure(pipeline, failed, opts.debug)
        if opts.duration is not None:
            timer = threading.Timer(opts.duration, pipeline.interrupt_source)
            timer.daemon = True
            timer.start()
        from rustnet.app.viewer import run_viewer

        _sandbox_viewer(opts)
        status = run_viewer(view_r if handoff is None else handoff, opts)
    except KeyboardInterrupt:
        status = EXIT_INTERRUPTED
    except Terminated:
        status = EXIT_TERMINATED
    finally:
        _hold_termination(pipeline)
        if timer is not None:
            timer.cancel()
        pipeline.teardown()
        if handoff is not None:
            handoff.shut()  # a relay waiting to hand more over gives up
        for fd in (view_r, view_w, -1 if record_fd is None else record_fd):
            if fd >= 0:
                _close(fd)
        if relay is not None:
            relay.join(2.0)
        if handoff is not None and (relay is None or relay.join(0)):
            handoff.close_fds()
        _restore(old)
    # The screen is gone: say again (once) what went wrong while it was up.
    failures = pipeline.failures()
    for child in failures:
        _say_failure(child, opts.debug)
    feed_damage = None if failures or status != EXIT_OK else _feed_damage(opts, pipeline)
    if feed_damage:
        warn(PROG, feed_damage)
    if relay is not None and relay.record_error:
        warn(PROG, relay.record_error)
    if relay is not None and relay.damage:
        warn(PROG, relay.damage)
    if status != EXIT_OK:
        return status
    if failures:
        return documented_status(failures[0].status)
    if relay is not None and relay.record_error:
        return EXIT_ERROR
    return EXIT_DAMAGED if feed_damage or (relay is not None and relay.damage) else EXIT_OK


# --- several --remote hosts --------------------------------------------------------------
def _run_fleet(opts: Options) -> int:
    """Every host's pipeline at once (rustnet.app.fleet), merged into one view or one JSON output."""
    from rustnet.app.fleet import Fleet, node_names

    def said_down(host: str, msg: str) -> None:
        warn(PROG, f"{host}: {msg}")

    fleet = Fleet(opts, said_down if opts.json_out else None)
    timer: threading.Timer | None = None
    status: int | None = None
    old = _install_fleet_signals(fleet) if opts.json_out else _install_term_signals()
    try:
        fleet.start()
        # Restarts run ssh and the stages as their user later on: those two stay (with kill).
        confine(SUPERVISOR_KEEPS | caps.mask(caps.NAMES.index("setuid"), caps.NAMES.index("setgid")))
        if not fleet.wait_started(START_GATE_REMOTE_SECONDS):
            fleet.stop()
            failures = fleet.failures()
            for host, why, _ in failures:
                warn(PROG, f"{host}: {why}")
            return documented_status(failures[0][2]) if failures else EXIT_ERROR
        if opts.duration is not None:
            timer = threading.Timer(opts.duration, fleet.interrupt)
            timer.daemon = True
            timer.start()
        if opts.json_out:
            _fleet_json(fleet, opts)
        else:
            from rustnet.app.viewer import run_fleet_viewer

            _sandbox_viewer(opts)
            status = run_fleet_viewer(fleet.read_fds, node_names(fleet.hosts), opts)
    except PipeClosed:
        pass
    except KeyboardInterrupt:
        status = EXIT_INTERRUPTED
    except Terminated:
        status = EXIT_TERMINATED
    finally:
        for sig in (signal.SIGTERM, signal.SIGHUP):  # while stopping: a second one kills at once
            signal.signal(sig, lambda signum, frame: fleet.kill_all())
        if timer is not None:
            timer.cancel()
        fleet.stop()
        fleet.close_reads()
        _restore(old)
    if termination.requested and status is None:
        return EXIT_TERMINATED
    return EXIT_OK if status is None else status


def _fleet_json(fleet: Any, opts: Options) -> None:
    """--json with several hosts: every connection's final record, each naming its node."""
    from rustnet.app.fleet import node_names
    from rustnet.view.merge import MergedSource
    from rustnet.view.source import Source

    names = node_names(fleet.hosts)
    source = MergedSource([Source([], fd) for fd in fleet.read_fds], list(names), names)
    fleet.read_fds = []  # the sources close them
    out = RecordWriter(1, "json")

    def shown(rec: dict[str, Any]) -> bool:
        own_ptr = not opts.show_ptr_lookups and rec.get("ptr_lookup_own") is True
        return not own_ptr and not (opts.no_localhost and is_localhost(rec))

    pending: collections.OrderedDict[Any, dict[str, Any]] = collections.OrderedDict()
    for batch in source.batches():
        termination.check()
        for rec in batch:
            if type(rec) is not dict or rec.get("t", CONN) != CONN:
                continue
            rec, _ = bound_record(rec)
            try:
                key = (rec.get("node"), rec.get("id"))
                hash(key)
            except TypeError:
                continue
            if rec.get("final") is True:
                pending.pop(key, None)
                if shown(rec):
                    out.write(rec)
            else:
                pending[key] = rec
                pending.move_to_end(key)
                if len(pending) > opts.max_connections:
                    early = pending.popitem(last=False)[1]
                    if shown(early):
                        out.write(early)
        out.flush()
    for rec in pending.values():
        if shown(rec):
            out.write(rec)
    out.close()
    source.close()


def _install_fleet_signals(fleet: Any) -> dict[int, Any]:
    """Headless, several hosts: the first Ctrl+C stops every host (their streams drain), the second
    ends at once; SIGTERM/SIGHUP end at once."""
    count = [0]

    def on_int(signum: int, frame: Any) -> None:
        count[0] += 1
        if count[0] == 1:
            fleet.interrupt()
        else:
            raise KeyboardInterrupt

    term = termination.request
    return {
        sig: signal.signal(sig, handler)
        for sig, handler in ((signal.SIGINT, on_int), (signal.SIGTERM, term), (signal.SIGHUP, term))
    }


def _open_record(path: str | None) -> int | None:
    if path is None:
        return None
    try:
        return open_record_file(path)
    except OSError as exc:
        raise StageError(f"{path}: cannot write the recording: {exc.strerror or exc}") from None


def _start(pipeline: Pipeline) -> int:
    try:
        last = pipeline.start()
    except OSError as exc:
        raise StageError(
            f"cannot start the pipeline: {exc.strerror or exc}"
            + (f" ({exc.filename})" if exc.filename else "")
            + _refusal_cause(pipeline, exc)
        ) from None
    # Every stage has its privileges now: the viewer and supervisor need none but to stop them.
    confine(SUPERVISOR_KEEPS)
    return last


def _sandbox_viewer(opts: Options) -> None:
    """The viewer (this thread) keeps the terminal and nothing else: the stages are started, the
    recording is open, the relay thread writes it. Signals to the stages stay allowed."""
    from rustnet.cli.privilege import enter_sandbox

    enter_sandbox("rn-view", opts.sandbox == "off", opts.sandbox == "strict", children=True)


def _refusal_cause(pipeline: Pipeline, exc: OSError) -> str:
    """``: <why>`` when the kernel refused to run a stage's program (EACCES), else nothing."""
    if not isinstance(exc, PermissionError) or not isinstance(exc.filename, str):
        return ""
    from rustnet.cli.privilege import User, exec_refused

    user = None
    for spec in pipeline.specs:
        if spec.argv and spec.argv[0] == exc.filename and spec.run_as is not None:
            import pwd

            try:
                user = User(pwd.getpwuid(spec.run_as[0]).pw_name, *spec.run_as)
            except KeyError:
                user = User(str(spec.run_as[0]), *spec.run_as)
    why = exec_refused(exc.filename, user)
    return f": {why}" if why else ""


def _startup_failure(pipeline: Pipeline, failed: Child, debug: bool) -> int:
    """A stage failed before the first record: its own message, once, then its status."""
    pipeline.teardown()
    lines = list(failed.lines)
    if lines:
        for line in lines[-3:]:
            try:
                sys.stderr.write((line if debug else spoken_as(PROG, line, failed.spec.stdin_path)) + "\n")
            except (OSError, ValueError):
                pass
    else:
        warn(PROG, failed.describe_exit())
    return documented_status(failed.status)


def _say_failure(child: Child, debug: bool) -> None:
    """After the TUI: why a stage failed, in its own words as ours (``--debug``: its name and status)."""
    line = child.last_line
    if debug or line is None:
        warn(PROG, child.describe_exit())
        return
    try:
        sys.stderr.write(spoken_as(PROG, line, child.spec.stdin_path) + "\n")
    except (OSError, ValueError):
        pass


# --- endings ---------------------------------------------------------------------------
def _final_status(
    pipeline: Pipeline, relay: Relay | None, damage: str | None = None, feed_damage: str | None = None
) -> int:
    failures = pipeline.failures()
    if failures:
        first = failures[0]
        if not first.lines:  # killed without a word: say what happened
            warn(PROG, first.describe_exit())
        return documented_status(first.status)
    if feed_damage:  # the stages saw a clean end: the compressed input was cut at a record's end
        warn(PROG, feed_damage)
        return EXIT_DAMAGED
    damage = relay.damage if relay is not None and relay.damage else damage
    if damage:
        warn(PROG, damage)
        return EXIT_DAMAGED
    if relay is not None and relay.record_error:
        warn(PROG, relay.record_error)
        return EXIT_ERROR
    return EXIT_OK


def documented_status(status: int | None) -> int:
    """A failed stage's status as one of ours: 1, 2 or 3 pass through; anything else (ssh's 255,
    death by a signal) is a runtime error."""
    return status if status in (EXIT_ERROR, EXIT_USAGE, EXIT_DAMAGED) else EXIT_ERROR


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


# --- signals ---------------------------------------------------------------------------
_SAVED: dict[int, Any] = {}


def _install_signals(pipeline: Pipeline) -> None:
    """Headless: the first Ctrl+C stops the capture (the rest drain), the second ends at once."""
    count = [0]

    def on_int(signum: int, frame: Any) -> None:
        count[0] += 1
        if count[0] == 1:
            pipeline.interrupt_source()
        else:
            raise KeyboardInterrupt

    term = termination.request
    for sig, handler in ((signal.SIGINT, on_int), (signal.SIGTERM, term), (signal.SIGHUP, term)):
        _SAVED[sig] = signal.signal(sig, handler)


def _hold_termination(pipeline: Pipeline) -> None:
    """While the stages are being ended: a SIGTERM/SIGHUP must not unwind out of the teardown
    (stages would be left running); it kills them at once instead, and we still exit 143."""

    def on_term(signum: int, frame: Any) -> None:
        termination.requested = True
        pipeline.kill_all()

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_term)


def _restore_signals() -> None:
    for sig, handler in _SAVED.items():
        signal.signal(sig, handler)
    _SAVED.clear()


def _install_term_signals() -> dict[int, Any]:
    """TUI: SIGTERM and SIGHUP unwind like an exception, so the terminal is restored on the way out;
    Ctrl+C before the viewer takes over ends at once (the viewer then handles it itself)."""

    term = termination.request
    old: dict[int, Any] = {sig: signal.signal(sig, term) for sig in (signal.SIGTERM, signal.SIGHUP)}
    old[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)
    return old


def _restore(old: dict[int, Any]) -> None:
    for sig, handler in old.items():
        signal.signal(sig, handler)
