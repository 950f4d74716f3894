"""rn-capture as a library function: open the source, drop privileges, write the stream.

Order matters for least privilege: the capture handle and the ``-w`` file are opened
while we are still root, then root is given up before the first packet is parsed.
The stream is a header, ``pkt`` records, ``stats`` records (every second when live,
one final), ``ifstats`` records (every interface's counters every 500 ms, live only), and a
``warn`` record when the file is damaged or the interface vanishes.
"""

from __future__ import annotations

import os
import select
import stat
import sys
import time
from collections.abc import Callable
from typing import IO, Any, BinaryIO, cast

import pcapy

import rustnet.caps  # noqa: F401 - loaded before giving up root: our files may be out of nobody's reach
import rustnet.sandbox  # noqa: F401 - the same
from rustnet import landlock
from rustnet.capture.bpf import combine, ssh_self_clause
from rustnet.capture.ifstats import INTERVAL as IFSTATS_INTERVAL
from rustnet.capture.ifstats import InterfaceSampler
from rustnet.capture.interfaces import (
    NoInterfaceError,
    choose_default,
    exists,
    host_addresses,
    unknown_interface_message,
)
from rustnet.capture.live import (
    DEFAULT_BUFFER,
    DEFAULT_SNAPLEN,
    DRAIN_LIMIT,
    READ_TIMEOUT_MS,
    InterfaceGone,
    LiveCapture,
    LiveOpenError,
)
from rustnet.capture.offline import CaptureFileError, open_capture, pump_file, pump_pcapng
from rustnet.capture.pcapng import SHB_MAGIC as PCAPNG_MAGIC
from rustnet.capture.pcapng import is_libpcap_refusal
from rustnet.capture.pcapwrite import PcapWriter
from rustnet.capture.privdrop import (
    DEFAULT_USER,
    PrivDropError,
    drop_capabilities,
    drop_privileges,
    effective_capabilities,
    is_root,
)
from rustnet.capture.signals import StopControl
from rustnet.capture.wirelen import WholePacketProof
from rustnet.cli.common import (
    EXIT_DAMAGED,
    EXIT_ERROR,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_USAGE,
    StageError,
    warn,
)
from rustnet.cli.privilege import enter_sandbox
from rustnet.stream import RecordWriter
from rustnet.stream.escape import escape_unsafe
from rustnet.stream.gctune import tune_gc
from rustnet.stream.records import CAPTURE_STATS, WARNING, make_header, privileges_entry
from rustnet.stream.sniff import GZIP_MAGIC


class CaptureOptions:
    """Everything rn-capture can be asked to do (the click options, as data). A plain class: a
    dataclass would cost every start ~3 ms."""

    def __init__(
        self,
        interface: str | None = None,
        read_file: str | None = None,
        bpf: str = "",
        snaplen: int = DEFAULT_SNAPLEN,
        promisc: bool = True,
        buffer_size: int = DEFAULT_BUFFER,
        count: int = 0,
        write_pcap: str | None = None,
        drop_user: str | None = DEFAULT_USER,
        include_self: bool = False,
        stats_interval: float = 1.0,
        ifstats: bool = True,
        sandbox_mode: str = "best-effort",
        shard: tuple[int, int] | None = None,
        fanout_group: int | None = None,
        dissect: bool = False,
    ) -> None:
        self.interface = interface
        self.read_file = read_file
        self.bpf = bpf
        self.snaplen = snaplen
        self.promisc = promisc
        self.buffer_size = buffer_size
        self.count = count
        self.write_pcap = write_pcap
        self.drop_user = drop_user  # None: keep root
        self.include_self = include_self
        self.stats_interval = stats_interval
        self.ifstats = ifstats  # ifstats records of every interface, every 500 ms (live only)
        self.sandbox_mode = sandbox_mode  # rustnet.sandbox: best-effort, strict or off
        self.shard = shard  # (I, N): only worker I's share of the flows (rustnet.capture.shard)
        self.fanout_group = fanout_group  # live --shard: the kernel's fanout group (None: the parent's pid)
        self.dissect = dissect  # dissect in this process, write summaries (capture/dissecting.py)


def printable(text: str) -> str:
    """Unprintable characters (from file names, interface names, libpcap messages) shown escaped."""
    return escape_unsafe(text)


def run_capture(opts: CaptureOptions, writer: RecordWriter, prog: str, producer: str) -> int:
    """Capture as ``opts`` says into ``writer``; returns the exit status (errors raise StageError)."""
    ctl = StopControl()
    ctl.install()
    tune_gc()
    if opts.dissect:
        from rustnet.capture.dissecting import DissectingWriter

        writer = cast(RecordWriter, DissectingWriter(writer))
    if opts.read_file is not None:
        if opts.shard is not None and opts.shard[1] > 1:
            from rustnet.capture.shard import ShardWriter

            writer = cast(RecordWriter, ShardWriter(writer, *opts.shard))
        return _run_file(opts, opts.read_file, writer, prog, producer, ctl)
    return _run_live(opts, writer, prog, producer, ctl)


# --- offline -------------------------------------------------------------------
def _run_file(
    opts: CaptureOptions, path: str, writer: RecordWriter, prog: str, producer: str, ctl: StopControl
) -> int:
    try:
        capture = open_capture(path, _thread_setup(opts))
    except CaptureFileError as exc:
        raise StageError(printable(str(exc)), EXIT_DAMAGED if exc.damaged else EXIT_ERROR) from None
    reader = capture.reader
    if opts.bpf:
        _set_filter(reader, opts.bpf)
    linktype = int(reader.datalink())
    dump = _open_dump(opts, linktype)
    # Opens the file: before the drop. A gzip'd file is read once, through a pipe: nothing to prove.
    proof = None if capture.inflater else WholePacketProof.open(path, opts.bpf, linktype)
    spare = _second_reading(path)  # opened now: the user we become may not open it
    _maybe_drop(opts)
    writer.write(make_header(producer, linktype, path, False, capture.snaplen, time.time()))
    status = EXIT_OK
    try:
        whole = proof.whole_prefix() if proof is not None else 0
        n, damage = pump_file(reader, writer, opts.count, dump, ctl.should_stop, whole)
        if damage is not None and ctl.should_stop():
            damage = None  # our own stop signal interrupted a read (EINTR on a pipe): not damage
        compressed = capture.compressed_damage()
        unwritten = 0
        if damage is not None and compressed is None and spare is not None:
            # libpcap reads one link type, snap length and byte order per pcapng file, and calls
            # the rest damaged: the block reader reads on from where it stopped, and says so
            # itself if the file really is damaged.
            more, blocks_damage, unwritten = _read_blocks(spare, writer, linktype, opts, dump, ctl, n)
            if more or blocks_damage is None or is_libpcap_refusal(damage):
                damage = blocks_damage
            n += more
        if compressed is not None and not ctl.should_stop():
            damage = compressed  # the cause; a packet cut by it is only its echo
            msg = printable(f"{path}: {compressed} after {n} packets")
        else:
            msg = printable(f"{path}: damaged capture file after {n} packets: {damage}")
        if unwritten:
            note = printable(
                f"{opts.write_pcap}: {unwritten} packets of other link types not written "
                "(a pcap file holds one link type)"
            )
            warn(prog, note)
            writer.write({"t": WARNING, "ts": time.time(), "stage": prog, "msg": note})
        if damage is not None:
            warn(prog, msg)
            writer.write({"t": WARNING, "ts": time.time(), "stage": prog, "msg": msg})
            status = EXIT_DAMAGED
        writer.write({"t": CAPTURE_STATS, "ts": time.time(), "source": path, "packets": n})
        writer.close()
    finally:
        if dump is not None:
            dump.close()
        if spare is not None:
            spare.close()
    return EXIT_TERMINATED if ctl.terminated else status


def _second_reading(path: str) -> BinaryIO | IO[bytes] | None:
    """The capture file opened again for the block reader, when it is a pcapng file (gzip'd or
    not) that can be read from its start again (a regular file); None otherwise."""
    try:
        fd = os.dup(0) if path == "-" else os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            return None
        head = os.pread(fd, 4, 0)
    except OSError:
        os.close(fd)
        return None
    raw = os.fdopen(fd, "rb")
    if head == PCAPNG_MAGIC:
        return raw
    if head[:2] == GZIP_MAGIC:
        import gzip  # only here: every start would pay for it

        packed = gzip.GzipFile(fileobj=raw, mode="rb")
        try:
            if packed.read(4) == PCAPNG_MAGIC:
                return cast(IO[bytes], packed)
        except (OSError, EOFError):
            pass
        packed.close()
    raw.close()
    return None


def _read_blocks(
    fh: BinaryIO | IO[bytes],
    writer: RecordWriter,
    linktype: int,
    opts: CaptureOptions,
    dump: PcapWriter | None,
    ctl: StopControl,
    written: int,
) -> tuple[int, str | None, int]:
    """The rest of a pcapng file libpcap gave up on after ``written`` packets, by its blocks."""
    import zlib

    count = opts.count - written if opts.count > 0 else 0
    try:
        fh.seek(0)
        return pump_pcapng(fh, writer, linktype, count, dump, ctl.should_stop, opts.bpf, skip=written)
    except (OSError, EOFError, zlib.error) as exc:  # gzip data damaged past what libpcap read
        return 0, str(exc) or type(exc).__name__, 0


def _thread_setup(opts: CaptureOptions) -> Callable[[], None] | None:
    """What a helper thread (a gzip'd file's inflater) runs first: giving up the capabilities a
    setcap'd Python starts with (capabilities are per thread; root's setuid() in the main
    thread reaches every thread), and the capture's sandbox: Landlock restricts the thread that
    asks, and this one starts before the main thread restricts itself."""
    drop_caps = opts.drop_user is not None and not is_root()
    confine = opts.sandbox_mode != "off"
    if not drop_caps and not confine:
        return None

    def setup() -> None:
        if drop_caps:
            try:
                drop_capabilities()
            except PrivDropError:
                pass  # the main thread's own drop fails the same way, and says so
        if confine:
            try:
                landlock.restrict(rustnet.sandbox.rules_for("rn-capture"))
            except (landlock.LandlockError, OSError):
                pass  # the main thread's sandbox fails the same way, and says so

    return setup


# --- live ------------------------------------------------------------------------
def _run_live(opts: CaptureOptions, writer: RecordWriter, prog: str, producer: str, ctl: StopControl) -> int:
    iface = opts.interface
    if not iface:
        try:
            iface = choose_default()
        except NoInterfaceError as exc:
            raise StageError(str(exc)) from None
    if not exists(iface):
        raise StageError(unknown_interface_message(printable(iface)))
    try:
        cap = LiveCapture(iface, opts.snaplen, opts.promisc, opts.buffer_size)
    except LiveOpenError as exc:
        raise StageError(_open_error_message(iface, exc)) from None
    _set_live_filter(cap, opts, prog)
    if opts.shard is not None and opts.shard[1] > 1:
        _join_fanout(cap, opts, iface)
    cap.start()
    dump = _open_dump(opts, cap.linktype)
    header = make_header(producer, cap.linktype, iface, True, opts.snaplen, time.time())
    header["host"] = os.uname().nodename  # names this stream's node when a viewer merges several
    header["addrs"] = host_addresses()  # which end is this host's, for a tracker on another host
    if opts.shard is not None and opts.shard[1] > 1:
        header["shard"] = f"{opts.shard[0]}/{opts.shard[1]}"
    netns = _own_netns_inode()  # read while still privileged: a dropped process may not see its /proc
    if netns is not None:
        header["netns"] = netns
    _maybe_drop(opts)
    header["privs"] = [privileges_entry(prog)]  # what we kept, not what we started with
    writer.write(header)
    writer.flush()
    try:
        return _live_loop(cap, opts, writer, dump, prog, iface, ctl)
    finally:
        if dump is not None:
            dump.close()
        cap.close()


def _live_loop(
    cap: LiveCapture,
    opts: CaptureOptions,
    writer: RecordWriter,
    dump: PcapWriter | None,
    prog: str,
    iface: str,
    ctl: StopControl,
) -> int:
    fd, wake = cap.fileno(), ctl.wake_fd
    interval = opts.stats_interval
    next_stats = time.monotonic() + interval
    sampler: InterfaceSampler | None = InterfaceSampler(iface)
    if not (opts.ifstats and sampler is not None and sampler.available()):
        sampler = None
    next_ifstats = time.monotonic()  # the first sample at once: rates need two
    n = 0
    status = EXIT_OK
    try:
        while not ctl.should_stop():
            if sampler is not None and time.monotonic() >= next_ifstats:
                writer.write(sampler.record())
                # On the 500 ms grid, so a slow sample does not drift the series.
                next_ifstats = max(next_ifstats + IFSTATS_INTERVAL, time.monotonic())
            writer.flush()  # never hold packets back while we wait
            due = next_stats if sampler is None else min(next_stats, next_ifstats)
            ready, _, _ = select.select([fd, wake], [], [], max(0.0, due - time.monotonic()))
            if wake in ready:
                ctl.clear()
            limit = DRAIN_LIMIT if opts.count <= 0 else min(DRAIN_LIMIT, opts.count - n)
            n += cap.drain(writer, dump, limit)
            if 0 < opts.count <= n:
                break
            now = time.monotonic()
            if now >= next_stats:
                writer.write(_live_stats(cap, iface, n))
                if dump is not None:
                    dump.flush()
                next_stats = now + interval
        if not ctl.terminated and (opts.count <= 0 or n < opts.count):
            n += _final_drain(cap, writer, dump, opts.count - n if opts.count > 0 else 0)
    except InterfaceGone as exc:
        n += exc.packets
        msg = printable(f"{iface}: capture ended: the interface went down or disappeared ({exc})")
        warn(prog, msg)
        writer.write({"t": WARNING, "ts": time.time(), "stage": prog, "msg": msg})
        status = EXIT_ERROR
    finally:
        if sampler is not None:
            sampler.close()
    writer.write(_live_stats(cap, iface, n))
    writer.close()
    return EXIT_TERMINATED if ctl.terminated else status


def _join_fanout(cap: LiveCapture, opts: CaptureOptions, iface: str) -> None:
    """--shard I/N live: this capture joins the others in the kernel's fanout group, which hands
    each flow's packets to one of them."""
    from rustnet.capture.shard import FanoutError, join_fanout

    group = opts.fanout_group if opts.fanout_group is not None else os.getppid()
    try:
        join_fanout(cap.fileno(), group)
    except FanoutError as exc:
        raise StageError(
            printable(f"{iface}: cannot join fanout group {group & 0xFFFF} for --shard: {exc.strerror}")
        ) from None


def _final_drain(cap: LiveCapture, writer: RecordWriter, dump: PcapWriter | None, count: int) -> int:
    """Collect what arrived before the stop: the kernel hands a ring block over only after the
    read timeout, so wait that long once more."""
    deadline = time.monotonic() + READ_TIMEOUT_MS / 1000 + 0.05
    n = 0
    while True:
        n += cap.drain(writer, dump, DRAIN_LIMIT if count <= 0 else count - n)
        left = deadline - time.monotonic()
        if left <= 0 or (count > 0 and n >= count):
            return n
        writer.flush()
        select.select([cap.fileno()], [], [], left)


def _live_stats(cap: LiveCapture, iface: str, n: int) -> dict[str, Any]:
    received, dropped, ifdropped = cap.stats()
    return {
        "t": CAPTURE_STATS,
        "ts": time.time(),
        "source": iface,
        "packets": n,
        "received": received,
        "dropped": dropped,
        "ifdropped": ifdropped,
    }


def _open_error_message(iface: str, exc: LiveOpenError) -> str:
    if exc.no_device:
        return unknown_interface_message(printable(iface))
    if exc.permission:
        return (
            f"no permission to capture on {printable(iface)}: run as root (sudo), or {_setcap_advice()} "
            "(every script that interpreter runs can then capture), or run only rn-capture "
            "privileged: 'sudo rn-capture | rn-view'"
        )
    return printable(f"{iface}: cannot capture: {exc.reason}")


_CAPS = "cap_net_raw,cap_net_admin"


def _setcap_advice() -> str:
    """Capabilities for an interpreter of rustnet's own, never the system's shared one."""
    python = os.path.realpath(sys.executable)
    venv = os.path.realpath(sys.prefix)
    if sys.prefix != sys.base_prefix and python.startswith(venv + os.sep):  # a venv made with --copies
        return f"give this venv's own interpreter the capabilities: 'sudo setcap {_CAPS}=eip {python}'"
    return (
        "make a venv with an interpreter of its own ('python3 -m venv --copies DIR', then install "
        "rustnet there) and give that one the capabilities: "
        f"'sudo setcap {_CAPS}=eip DIR/bin/python3'"
    )


# --- shared steps ------------------------------------------------------------------
def _set_filter(handle: Any, expr: str) -> None:
    try:
        handle.setfilter(expr)
    except pcapy.PcapError as exc:
        raise StageError(printable(f"bad filter {expr!r}: {exc}"), EXIT_USAGE) from None


def _set_live_filter(cap: LiveCapture, opts: CaptureOptions, prog: str) -> None:
    exclusion = None if opts.include_self else ssh_self_clause(os.environ.get("SSH_CONNECTION"))
    if exclusion is None:
        if opts.bpf:
            _set_filter(cap, opts.bpf)
        return
    try:
        cap.setfilter(combine(opts.bpf, exclusion))
    except pcapy.PcapError:
        # The user's expression is at fault (reported as such), or this link type cannot
        # express the exclusion: then capture anyway and say so.
        if opts.bpf:
            _set_filter(cap, opts.bpf)
        warn(prog, "cannot exclude this ssh session from the capture on this link type")


def _open_dump(opts: CaptureOptions, linktype: int) -> PcapWriter | None:
    if not opts.write_pcap:
        return None
    try:
        return PcapWriter(opts.write_pcap, linktype, opts.snaplen)
    except OSError as exc:
        raise StageError(printable(f"{opts.write_pcap}: cannot write: {exc.strerror}")) from None


_SWITCH_USER = 1 << 6 | 1 << 7  # CAP_SETGID, CAP_SETUID


def _maybe_drop(opts: CaptureOptions) -> None:
    """Give up root (or a setcap'd Python's capabilities), then enter the sandbox: the handle
    and every file are open, only the interface counters are read from here on."""
    dropped = False
    rustnet.sandbox.python_library_dirs()  # found while we may still read them all
    if opts.dissect:
        # DPI loads QUIC's decryption at the first QUIC packet. Its standard-library modules
        # (hmac) may lie where the user we become cannot read (a Python installed under /root):
        # load them now, or QUIC Initials would go undecrypted.
        from rustnet.dissect import quic  # noqa: F401
    if opts.drop_user is not None:
        try:
            if is_root() and effective_capabilities() & _SWITCH_USER == _SWITCH_USER:
                drop_privileges(opts.drop_user)
                dropped = True
            elif effective_capabilities():  # also root without setuid/setgid: a parent confined us
                drop_capabilities()  # capture allowed by setcap: the handle is open, nothing else needs it
        except PrivDropError as exc:
            raise StageError(str(exc)) from None
    enter_sandbox(
        "rn-capture", opts.sandbox_mode == "off", opts.sandbox_mode == "strict", uid_dropped=dropped
    )


def _own_netns_inode() -> int | None:
    """The inode of the network namespace we capture in (rn-enrich prefers its sockets)."""
    try:
        return os.stat("/proc/self/ns/net").st_ino
    except OSError:
        return None
