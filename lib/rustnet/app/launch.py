"""What ``rustnet`` runs: the stage command lines for the options given, and the two ways to end.

    live:    rn-capture -i IF | rn-dissect | rn-track | rn-enrich  -> viewer
             (fewer than 3 idle cores: rn-capture -i IF | rn-track --dissect | rn-enrich)
             (with --ipfix, rn-export after the last stage: ... | rn-export --ipfix HOST:PORT -> viewer)
    --read:  rn-capture -r F --dissect | rn-track --enrich                     -> viewer  (pcap / pcapng)
             rn-dissect F | rn-track --enrich                                   -> viewer  (a recording)
             (rn-track --enrich adds what rn-enrich --no-process would; a separate
             rn-enrich --no-process runs instead where rn-track could not: names_in_track)
    --remote: ssh HOST 'rn-capture | rn-enrich' | rn-dissect | rn-track | rn-enrich --no-process -> viewer
             (several --remote: that pipeline once per host, merged in the viewer: rustnet.app.fleet)

A file comes from elsewhere: this host's sockets say nothing about it, so it only gets
names (services, hostnames from DNS answers in the file), and ``--json`` prints those names
too. The output of ``rustnet --read F --json`` is then the final records of
``rn-capture -r F | rn-dissect | rn-track --format json``, each with the name fields
(:data:`NAME_FIELDS`) rn-enrich found, and otherwise equal.
"""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from rustnet.app.supervise import StageSpec
from rustnet.cli.common import EXIT_DAMAGED, EXIT_ERROR, EXIT_USAGE, StageError
from rustnet.cli.safefile import names_a_descriptor
from rustnet.stream.bounds import DEFAULT_MAX_CONNECTIONS
from rustnet.stream.sniff import (
    CAPTURE,
    EMPTY,
    GZIP_MAGIC,
    HEAD_SIZE,
    MAX_COMPRESSED_HEAD,
    OTHER,
    Sniffed,
    empty_message,
    neither_message,
    sniff_fd,
    sniff_stream_head,
)
from rustnet.view.palette import DEFAULT_PALETTE, Palette

# What rn-enrich --no-process adds to a connection record (rustnet-records(5)).
NAME_FIELDS = (
    "service",
    "hostname_src",
    "hostname_dst",
    "hostname_src_via",
    "hostname_dst_via",
    "geo_country",
    "geo_country_name",
    "geo_city",
    "geo_asn",
    "geo_as_org",
)
# Where the remote side finds the commands; the local user's PATH means nothing there.
REMOTE_PATH_ENV = "RUSTNET_REMOTE_PATH"
SSH_ENV = "RUSTNET_SSH"


@dataclass
class Options:
    """Everything the rustnet command line says, after parsing."""

    interface: str | None = None
    no_localhost: bool = False
    refresh_ms: int = 1000
    no_dpi: bool = False
    log_level: str | None = None
    bpf_filter: str | None = None
    read_path: str | None = None
    json_out: bool = False
    duration: float | None = None
    write_pcap: str | None = None
    record: str | None = None
    remote: str | None = None
    remotes: tuple[str, ...] = ()  # every --remote HOST; several: one pipeline per host (rustnet.app.fleet)
    debug: bool = False
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    buffer_size: int | None = None  # MiB; None: rn-capture's default
    json_log: str | None = None
    pcap_export: str | None = None
    pcapng_export: str | None = None
    resolve_dns: bool | None = None  # None: on live, off for a file
    show_ptr_lookups: bool = False
    geoip_country: str | None = None
    geoip_asn: str | None = None
    geoip_city: str | None = None
    no_geoip: bool = False
    ipfix: str | None = None  # HOST:PORT of an IPFIX collector: rn-export joins the pipeline
    ipfix_tcp: bool = False
    sandbox: str = "best-effort"  # rustnet.sandbox's modes: best-effort, strict, off
    uid_drop: bool = True  # the parsing stages as nobody, rn-capture too once its handle is open
    palette: Palette | None = DEFAULT_PALETTE  # the viewer's colours; None: none (--no-color)
    workers: int | None = None  # flow-hash shards (capture | track chains); None: 1, or default_workers
    auto_workers: bool = False  # workers None: as default_workers says (rustnet without --workers)

    @property
    def live(self) -> bool:
        return self.read_path is None

    @property
    def packet_exports(self) -> list[tuple[str, str]]:
        """(option, path) of the exports that need packets."""
        return [
            (what, path)
            for what, path in (("--pcap-export", self.pcap_export), ("--pcapng-export", self.pcapng_export))
            if path is not None
        ]


def sniff_input(path: str) -> str:
    """``"pcap"`` for a capture file, ``"records"`` for a recorded stream (gzip'd or not).

    Raises StageError before any process starts: status 1 when the file cannot be opened,
    3 when it is empty or neither a capture nor a record stream.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except IsADirectoryError:
        raise StageError(f"{path}: is a directory", EXIT_ERROR) from None
    except OSError as exc:
        raise StageError(f"{path}: {exc.strerror or exc}", EXIT_ERROR) from None
    try:
        sniffed = sniff_fd(fd)
    except OSError as exc:
        raise StageError(f"{path}: {exc.strerror or exc}", EXIT_ERROR) from None
    finally:
        os.close(fd)
    if sniffed is None:  # not a regular file, and not a stream either
        raise StageError(f"{path}: is a directory", EXIT_ERROR)
    return kind_for(path, sniffed)


def kind_for(name: str, sniffed: Sniffed) -> str:
    """What to run for ``sniffed`` content (``"pcap"`` or ``"records"``), or the one-line refusal."""
    if sniffed.damage is not None:
        raise StageError(f"{name}: {sniffed.damage}", EXIT_DAMAGED)
    if sniffed.kind == EMPTY:
        raise StageError(empty_message(name), EXIT_DAMAGED)
    if sniffed.kind == OTHER:
        raise StageError(neither_message(name), EXIT_DAMAGED)
    return "pcap" if sniffed.kind == CAPTURE else "records"


@dataclass
class StreamInput:
    """``--read -`` or a FIFO: read once, so its first bytes are kept to be fed on (not re-read)."""

    fd: int
    head: bytes
    kind: str
    gzip: bool = False


def is_stream(path: str) -> bool:
    """Standard input or anything that is not a regular file (a pipe, ``<(ssh host tcpdump -w -)``)."""
    if path == "-":
        return True
    try:
        return not stat.S_ISREG(os.stat(path).st_mode) and not stat.S_ISDIR(os.stat(path).st_mode)
    except OSError:
        return False


def open_stream(path: str) -> StreamInput:
    """Open a stream input and read just enough to tell a capture from a record stream
    (gzip'd: enough to see the start of what it holds)."""
    try:
        # A private copy of stdin: the viewer later puts the terminal on descriptor 0.
        fd = os.dup(0) if path == "-" else os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise StageError(f"{path}: {exc.strerror or exc}", EXIT_ERROR) from None
    name = "standard input" if path == "-" else path
    head = b""
    try:
        ended = False
        # One read after the first 4 bytes would do for plain data; gzip'd data is read until
        # it yields a few bytes of content (a live stream sends its header at once).
        while not ended and len(head) < MAX_COMPRESSED_HEAD:
            if len(head) >= 4:
                sniffed = sniff_stream_head(head, complete=False)
                if not sniffed.gzip or len(sniffed.head) >= 4 or sniffed.damage:
                    break
            chunk = os.read(fd, HEAD_SIZE)
            ended = not chunk
            head += chunk
        sniffed = sniff_stream_head(head, complete=ended)
        # An empty stream is a valid, empty record stream (as ``true | rn-track`` is).
        kind = "records" if sniffed.kind == EMPTY and not sniffed.gzip else kind_for(name, sniffed)
    except OSError as exc:
        os.close(fd)
        raise StageError(f"{path}: {exc.strerror or exc}", EXIT_ERROR) from None
    except StageError:
        os.close(fd)
        raise
    return StreamInput(fd, head, kind, head[:2] == GZIP_MAGIC)


def command(name: str, scripts_dir: Path | None = None) -> list[str]:
    """How to start stage ``name``: the script in ``scripts_dir`` (default: beside our
    interpreter), else PATH, else ``python -P -m``.

    ``-P``: ``-m`` would otherwise put the working directory first on ``sys.path``, and a
    ``rustnet_cmds`` or ``rustnet`` planted there would run (as root, for rn-capture).
    """
    beside = (Path(sys.executable).parent if scripts_dir is None else scripts_dir) / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = shutil.which(name)
    if found:
        return [found]
    return [sys.executable, "-P", "-m", f"rustnet_cmds.{name.removeprefix('rn-')}"]


def check(opts: Options) -> None:
    """Refuse option combinations that cannot mean anything (usage errors, status 2)."""
    if opts.read_path is not None and (opts.interface or opts.remote or opts.remotes):
        raise StageError("--read cannot be combined with -i/--interface or --remote", EXIT_USAGE)
    if (opts.remote is not None or opts.remotes) and opts.write_pcap is not None:
        raise StageError(
            "--write-pcap is not available with --remote (the packets stay on the remote "
            "host); run 'ssh HOST rn-capture -w FILE' there instead",
            EXIT_USAGE,
        )
    if opts.write_pcap is not None and names_a_descriptor(opts.write_pcap):
        raise StageError(
            f"--write-pcap {opts.write_pcap}: rn-capture, which writes it, runs as another process "
            "and has no such descriptor; give a file name or a FIFO (mkfifo)",
            EXIT_USAGE,
        )
    for host in (*opts.remotes, *([opts.remote] if opts.remote is not None else [])):
        if not host or host.startswith("-"):
            raise StageError(f"--remote needs [USER@]HOST, not {host!r}", EXIT_USAGE)
    if len(opts.remotes) > 1:
        if len(set(opts.remotes)) < len(opts.remotes):
            raise StageError("--remote names the same host twice", EXIT_USAGE)
        alone = [
            what
            for what, value in (
                ("--record", opts.record),
                ("--json-log", opts.json_log),
                ("--pcap-export", opts.pcap_export),
                ("--pcapng-export", opts.pcapng_export),
                ("--ipfix", opts.ipfix),
            )
            if value is not None
        ]
        if alone:
            raise StageError(
                f"{', '.join(alone)}: not available with several --remote hosts (one host at a time)",
                EXIT_USAGE,
            )
    if opts.ipfix is not None:
        from rustnet.export.ipfix.transport import ExportAddressError, parse_address

        try:
            parse_address(opts.ipfix)
        except ExportAddressError as exc:
            raise StageError(f"--ipfix: {exc}", EXIT_USAGE) from None
    elif opts.ipfix_tcp:
        raise StageError("--ipfix-tcp needs --ipfix HOST:PORT", EXIT_USAGE)
    if opts.buffer_size is not None and opts.read_path is not None:
        raise StageError("-B/--buffer-size applies to a live capture, not to --read", EXIT_USAGE)
    outputs = [
        ("--write-pcap", opts.write_pcap),
        ("--record", opts.record),
        ("--json-log", opts.json_log),
        *opts.packet_exports,
    ]
    if opts.pcap_export is not None:
        from rustnet.export import SIDECAR_SUFFIX

        outputs.append(("--pcap-export", opts.pcap_export + SIDECAR_SUFFIX))
    for what, path in outputs:
        if path is not None and opts.read_path is not None and _same_file(path, opts.read_path):
            raise StageError(f"{what} would overwrite the --read file {opts.read_path}", EXIT_USAGE)
    named = [path for _, path in outputs if path and path != os.devnull and not names_a_descriptor(path)]
    if len(set(named)) < len(named):
        raise StageError("two outputs name the same file", EXIT_USAGE)


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def plan(opts: Options) -> list[StageSpec]:
    """The stages to start for ``opts``, first to last (the viewer is not among them)."""
    check(opts)
    from rustnet.cli.privilege import unprivileged_stage_user

    user, _ = unprivileged_stage_user()
    # As RustNet: --no-sandbox also keeps root (--no-uid-drop keeps it alone).
    uid_drop = opts.uid_drop and opts.sandbox != "off"
    run_as = None if user is None or not uid_drop else (user.uid, user.gid)
    debug = ["--debug"] if opts.debug else []  # tracebacks from the stages, too (logged)
    debug += sandbox_args(opts.sandbox)  # every local stage takes the same
    dissect = [*command("rn-dissect"), *(["--no-dpi"] if opts.no_dpi else []), *debug]
    track = [*command("rn-track"), "-r", str(opts.refresh_ms), *debug]
    if opts.max_connections != DEFAULT_MAX_CONNECTIONS:
        track += ["--max-connections", str(opts.max_connections)]
    if finals_suffice(opts):
        track.append("--final-only")
    # A file's connections are not this host's: names only, no socket lookups.
    enrich = [*command("rn-enrich"), *(["--no-process"] if opts.read_path is not None else [])]
    enrich += [*enrich_name_options(opts), *debug]
    stages: list[StageSpec] = []
    if opts.remote is not None:
        stages.append(StageSpec("ssh", remote_command(opts), stop_by_eof=True))
        stages.append(StageSpec("rn-dissect", dissect, run_as=run_as))
        stages.append(StageSpec("rn-track", track, run_as=run_as))
        # Names here (services, names from DNS answers seen, GeoIP): the remote rn-enrich only
        # sees packets. No reverse lookups unless asked: the addresses are the remote network's.
        remote_names = enrich_name_options(opts, resolve_default=False)
        stages.append(StageSpec("rn-enrich", [*command("rn-enrich"), "--no-process", *remote_names, *debug]))
        return stages + export_stage(opts, run_as)
    stream = open_stream(opts.read_path) if opts.read_path is not None and is_stream(opts.read_path) else None
    feed = None if stream is None else (stream.fd, stream.head)
    feed_gzip = stream is not None and stream.gzip
    kind = None if opts.read_path is None else stream.kind if stream else sniff_input(opts.read_path)
    if kind == "records" and opts.read_path is not None:
        if opts.bpf_filter or opts.write_pcap or opts.packet_exports:
            if stream is not None:
                os.close(stream.fd)
            raise StageError(
                f"{opts.read_path} is a recorded record stream, not a capture: -f/--bpf-filter, "
                "--write-pcap, --pcap-export and --pcapng-export need packets from a pcap file or "
                "an interface",
                EXIT_USAGE,
            )
        if feed is not None:
            spec = StageSpec("rn-dissect", dissect, stdin_feed=feed, feed_gzip=feed_gzip, run_as=run_as)
            stages.append(spec)
        elif run_as is not None or os.geteuid() == 0:
            # Opened here and handed over as stdin: the stage runs as a user who may not open it
            # (or as root without capabilities, which cannot open another user's private file).
            stages.append(StageSpec("rn-dissect", dissect, stdin_path=opts.read_path, run_as=run_as))
        else:  # by name, so its messages name the file
            stages.append(StageSpec("rn-dissect", [*dissect, opts.read_path]))
    else:
        capture = [*command("rn-capture"), *debug, *([] if uid_drop else ["--no-uid-drop"])]
        if opts.read_path is not None:
            capture += ["-r", "-" if feed else opts.read_path]
        elif opts.interface:
            capture += ["-i", opts.interface]
        if opts.bpf_filter:
            capture += ["-f", opts.bpf_filter]
        if opts.buffer_size is not None:
            capture += ["-B", str(opts.buffer_size)]
        workers = worker_count(opts, shardable=feed is None)
        if workers > 1:
            stages.append(sharded(opts, capture, workers, track, run_as, debug))
            stages.append(StageSpec("rn-enrich", enrich))
            return stages + export_stage(opts, run_as)
        if opts.write_pcap:
            capture += ["-w", opts.write_pcap]
        in_capture = dissect_in_capture(opts)
        if in_capture:
            capture.append("--dissect")
        stages.append(StageSpec("rn-capture", capture, stdin_feed=feed, feed_gzip=feed_gzip))
        if dissect_in_track(opts):
            track.append("--dissect")
        elif not in_capture:
            stages.append(StageSpec("rn-dissect", dissect, run_as=run_as))
    names_here = names_in_track(opts, run_as)
    if names_here:
        # A file's names in rn-track's process: one stage (decoding and encoding every record)
        # fewer; the records are the same (tests/test_track_enrich.py).
        track += ["--enrich", *(a for a in enrich_name_options(opts) if a != "--no-resolve-dns")]
    direct = names_here and kind != "records" and json_from_track(opts)
    if direct:
        track += ["--format", "json", "--conn-only"]
    stages.append(StageSpec("rn-track", track, run_as=run_as, stdout_direct=direct))
    if not names_here:
        stages.append(StageSpec("rn-enrich", enrich))
    return stages + export_stage(opts, run_as)


def json_from_track(opts: Options) -> bool:
    """Whether rn-track writes ``--json``'s lines to our standard output itself (``--format json
    --conn-only``), rather than rustnet decoding its records and encoding them again: when it
    writes final records only (:func:`finals_suffice`) and none is to be hidden (``--no-localhost``).
    Only behind rn-track's own records from a capture file (the caller's part): a recorded stream's
    records may need cutting to size first (rustnet.stream.bounds). On 200k packets of short flows
    (26k connections) rustnet's own CPU went from 0.31 to 0.16 s, the whole run's from 2.78 to
    2.39 s (`perf stat`, 9 interleaved rounds)."""
    return finals_suffice(opts) and not opts.no_localhost


def names_in_track(opts: Options, run_as: tuple[int, int] | None) -> bool:
    """Whether rn-track adds a file's names itself (``--enrich``) instead of an rn-enrich after it.
    Not with reverse DNS (rn-track may not reach the network) and not when GeoIP databases are in
    play and rn-track gives up root: it might not read them (root's home). Only for a file: live,
    rn-enrich attributes processes, which needs privileges rn-track gives up."""
    if opts.read_path is None or opts.resolve_dns:
        return False
    if opts.no_geoip or run_as is None:
        return True
    from rustnet.enrich import geoip

    given = (opts.geoip_country, opts.geoip_asn, opts.geoip_city)
    return all(p is None for p in given) and all(geoip.find(kind) is None for kind in geoip.KINDS)


MAX_DEFAULT_WORKERS = 8
DEFAULT_BUFFER_MIB = 64  # rn-capture's -B default (rustnet.capture.live.DEFAULT_BUFFER)


def worker_count(opts: Options, shardable: bool) -> int:
    """How many flow-hash shards to run: ``--workers``, else :func:`default_workers`. One when the
    input cannot be read N times (a pipe) or something needs every packet in one place (the
    packet exports, a live --write-pcap); asked for explicitly, that is a usage error."""
    why = None
    if not shardable:
        why = "a capture read from standard input or a pipe can be read only once"
    elif opts.packet_exports:
        why = f"{opts.packet_exports[0][0]} needs every packet in one place"
    elif opts.write_pcap is not None and opts.live:
        why = "--write-pcap of a live capture needs every packet in one place"
    if why is not None:
        if opts.workers is not None and opts.workers > 1:
            raise StageError(f"--workers {opts.workers}: {why}; use --workers 1", EXIT_USAGE)
        return 1
    if opts.workers is not None:
        return opts.workers
    return default_workers() if opts.auto_workers else 1


def idle_cores() -> float:
    """The cores this process may run on, less the 1-minute load average (1 when unknown)."""
    try:
        return len(os.sched_getaffinity(0)) - os.getloadavg()[0]
    except (OSError, AttributeError):
        return 1.0


def default_workers() -> int:
    """Half the cores this process may run on that are idle (by the 1-minute load average), at
    most MAX_DEFAULT_WORKERS, at least 1. One chain's stages already run side by side on about
    two cores, and each worker reads the whole file (offline) and adds two processes: on two
    cores, two workers took 1.5x the CPU and finished later than one (bench/bench_shard.py)."""
    return max(1, min(MAX_DEFAULT_WORKERS, int(idle_cores() + 0.5) // 2))


# Live, rn-track dissects in its own process when fewer cores than this are idle.
DISSECT_IN_TRACK_BELOW: Final = 3.0


def sharded(
    opts: Options,
    capture: list[str],
    workers: int,
    track: list[str],
    run_as: tuple[int, int] | None,
    debug: list[str],
) -> StageSpec:
    """rn-merge over ``workers`` chains ``rn-capture --shard I/N | rn-track --dissect``: each
    captures its share of the flows (a file: reads it whole and keeps its share; live: the
    kernel's fanout shares the packets out) and tracks them; rn-merge makes one stream of them."""
    per_worker = -(-opts.max_connections // workers)  # the cap shared out (eviction is per shard)
    track = [a for a in track if a != "--final-only"]
    if "--max-connections" in track:
        at = track.index("--max-connections")
        del track[at : at + 2]
    if per_worker != DEFAULT_MAX_CONNECTIONS:
        track += ["--max-connections", str(per_worker)]
    if finals_suffice(opts):
        track.append("--final-only")
    branches: list[list[StageSpec]] = []
    if opts.live:  # the kernel buffer shared out too: each capture gets a share of the packets
        if "-B" in capture:
            at = capture.index("-B")
            capture = capture[:at] + capture[at + 2 :]
        total = opts.buffer_size if opts.buffer_size is not None else DEFAULT_BUFFER_MIB
        capture = [*capture, "-B", str(max(1, total // workers))]
    for i in range(workers):
        mine = [*capture, "--shard", f"{i}/{workers}"]
        if opts.live:
            mine += ["--fanout-group", str(os.getpid() & 0xFFFF)]
        elif i == 0 and opts.write_pcap:
            mine += ["-w", opts.write_pcap]  # every worker reads the whole file: one copies it
        chain = [StageSpec("rn-capture", mine)]
        if opts.no_dpi:
            chain.append(StageSpec("rn-dissect", [*command("rn-dissect"), "--no-dpi", *debug], run_as=run_as))
            chain.append(StageSpec("rn-track", track, run_as=run_as))
        else:
            chain.append(StageSpec("rn-track", [*track, "--dissect"], run_as=run_as))
        branches.append(chain)
    return StageSpec("rn-merge", [*command("rn-merge"), *debug], run_as=run_as, branches=branches)


def finals_suffice(opts: Options) -> bool:
    """Whether nothing downstream of rn-track needs its updates: ``--read F --json`` prints final
    records only, and no recording, log, export or collector sees the stream. rn-track then writes
    only final records (the same ones), sparing every stage after it their updates."""
    return (
        opts.json_out
        and opts.read_path is not None
        and opts.record is None
        and opts.log_level is None
        and opts.json_log is None
        and opts.pcap_export is None
        and opts.pcapng_export is None
        and opts.ipfix is None
    )


def dissect_in_capture(opts: Options) -> bool:
    """Whether rn-capture dissects the capture file it reads itself (``--dissect``) instead of an
    rn-dissect after it: the packets' bytes then never cross a pipe. On 200k packets of short
    flows that took 12% less CPU and 10% less time than the two side by side, on full-size
    frames 30% less of both (bench/bench_cpu_report.py). A file is read after rn-capture gives up
    root, so the dissecting runs unprivileged as before. Not live (there it saved 4% of a core
    and no drops: bench/bench_live.py --capture-dissect), not without DPI (rn-dissect
    --no-dpi), and not with a packet export: it taps rn-dissect's input. Not in rn-track's process
    instead (``rn-capture -r F | rn-track --dissect``, as live on few idle cores): on 2 cores that
    took 12-15% less CPU on short flows and the same on long transfers, but 11-23% and 28-42% more
    time (9 interleaved rounds of ``rustnet --read F --json``), and a file is read for its answer."""
    return opts.read_path is not None and not opts.no_dpi and not opts.packet_exports


def dissect_in_track(opts: Options) -> bool:
    """Whether a live rn-track dissects the packets itself (``rn-track --dissect``) instead of an
    rn-dissect before it: one process fewer, and no summary encoded and decoded, for about 8% less
    CPU a packet; but the two no longer run side by side, which one process bounds at about 180k
    packets a second. So only where the CPU is what runs short: fewer than
    :data:`DISSECT_IN_TRACK_BELOW` idle cores. On 2 cores with the replayer on one of them
    (bench/bench_live.py, against its --separate), drops at 125k packets a second fell from 12% to
    none (3% in another run), and at 150k from 20% to 13%. Not with --no-dpi (rn-dissect --no-dpi)
    or a packet export (it taps rn-dissect's input)."""
    if not opts.live or opts.remote is not None or opts.no_dpi or opts.packet_exports:
        return False
    return idle_cores() < DISSECT_IN_TRACK_BELOW


def export_stage(opts: Options, run_as: tuple[int, int] | None) -> list[StageSpec]:
    """rn-export last, with --ipfix: the viewer gets every record it passes on."""
    if opts.ipfix is None:
        return []
    export = [*command("rn-export"), "--ipfix", opts.ipfix, *(["--tcp"] if opts.ipfix_tcp else [])]
    export += sandbox_args(opts.sandbox)
    return [StageSpec("rn-export", [*export, *(["--debug"] if opts.debug else [])], run_as=run_as)]


def enrich_name_options(opts: Options, resolve_default: bool | None = None) -> list[str]:
    """rn-enrich's options for names and GeoIP. Reverse DNS as ``--[no-]resolve-dns`` said, else
    ``resolve_default``; None leaves rn-enrich's own default, which is rustnet's: on live, off
    for a file."""
    out: list[str] = []
    resolve = resolve_default if opts.resolve_dns is None else opts.resolve_dns
    if resolve is not None:
        out.append("--resolve-dns" if resolve else "--no-resolve-dns")
    if opts.no_geoip:
        return [*out, "--no-geoip"]
    for flag, path in (
        ("--geoip-country", opts.geoip_country),
        ("--geoip-asn", opts.geoip_asn),
        ("--geoip-city", opts.geoip_city),
    ):
        if path is not None:
            out += [flag, os.path.abspath(path)]
    return out


def sandbox_args(mode: str) -> list[str]:
    """The stage options for sandbox ``mode``."""
    return {"off": ["--no-sandbox"], "strict": ["--sandbox-strict"]}.get(mode, [])


def remote_command(opts: Options) -> list[str]:
    """``ssh [options] HOST 'rn-capture ... | rn-enrich'``; the remote capture skips its own ssh."""
    assert opts.remote is not None
    ssh = shlex.split(os.environ.get(SSH_ENV, "ssh"))
    capture = ["rn-capture"]
    if opts.interface:
        capture += ["-i", opts.interface]
    if opts.bpf_filter:
        capture += ["-f", opts.bpf_filter]
    if opts.buffer_size is not None:
        capture += ["-B", str(opts.buffer_size)]
    script = remote_script(shlex.join(capture))
    remote_path = os.environ.get(REMOTE_PATH_ENV)
    if remote_path:
        script = f'PATH={shlex.quote(remote_path)}:"$PATH"; export PATH; {script}'
    script = f"sh -c {shlex.quote(script)}"  # whatever the remote login shell is
    # -T: no terminal (binary stream); BatchMode: a password prompt would fight the TUI for the tty.
    return [*ssh, "-T", "-o", "BatchMode=yes", "--", opts.remote, script]


def remote_script(capture: str) -> str:
    """The POSIX sh program run on the remote host: ``CAPTURE | rn-enrich``, stoppable from here.

    * Closing ssh's standard input (our way to say Ctrl+C) makes the watcher send SIGINT to
      the remote rn-capture, so the remote stream ends cleanly and everything drains; killing
      ssh instead would cut the stream in the middle of a frame.
    * The exit status is rn-capture's (a plain pipeline would report rn-enrich's), so a remote
      permission error ends the local run like a local one.
    """
    return (
        "exec 3>&1 5<&0; "
        "s=$({ { " + capture + " </dev/null 3>&- 4>&- 5<&- & c=$!; "
        "{ cat <&5; kill -INT $c; } >/dev/null 2>&1 3>&- 4>&- & "
        "wait $c; echo $? >&4; } | rn-enrich 4>&- 5<&- >&3; } 4>&1); "
        'exit "${s:-1}"'
    )


def list_interfaces() -> int:
    """``rustnet --list-interfaces``: rn-capture's own list (what it can really capture on)."""
    import subprocess

    return subprocess.run([*command("rn-capture"), "--list-interfaces"], stdin=subprocess.DEVNULL).returncode
