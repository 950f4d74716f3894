"""SIGTERM and SIGHUP end every command promptly, wherever in its work they land.

Each command reads an endless input (a real capture of mixed traffic, or the record stream
the real stages make of it, repeated forever through a pipe), so it can only end because of
the signal: a signal that some broad ``except`` swallowed shows as a command still running.
The signal is sent at many different moments of the run, so it lands in the reader, the
dissector, the tracker, the writer, a tick... Every run must end within a couple of seconds
with status 143 (as ``systemctl stop``, ``timeout`` and a closed terminal expect), without a
traceback and without calling its own input damaged. ``rustnet --read - --json`` must also
leave none of its stages running. The first SIGINT still drains and a second one exits 130.
A SIGTERM that lands while a stage is blocked half-way through writing a frame to a slow
next stage finishes the frame first (checked with msgpack's own decoder), so the next stage
does not see a damaged stream; a next stage that never reads again does not hold it up.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import msgpack
import pytest

from tests.robust.util import cmd

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PACKETS = 20_000  # the mixed capture: ~2 MB, made in well under a second
# Moments (after the command is seen reading its input) at which the signal is sent: spread
# over a run so the signal lands in different places of the loops.
DELAYS = (0.0, 0.013, 0.04, 0.11, 0.27, 0.6)
PROMPT = 2.0  # seconds from the signal to the exit


@dataclass
class Inputs:
    pcap_head: bytes
    pcap_body: bytes
    streams: dict[str, tuple[bytes, bytes]]  # stage whose output it is -> (first frame, the rest)


def split_first_frame(stream: bytes) -> tuple[bytes, bytes]:
    """The first frame (the header's) and the rest, which can be repeated after it."""
    up = msgpack.Unpacker(raw=False)
    up.feed(stream)
    up.skip()
    cut = up.tell()
    return stream[:cut], stream[cut:]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Inputs:
    d = tmp_path_factory.mktemp("sigterm")
    pcap = d / "mixed.pcap"
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "make_mixed_pcap.py"), "-n", str(PACKETS), "-o", str(pcap)],
        check=True,
        capture_output=True,
    )
    raw = pcap.read_bytes()
    streams: dict[str, tuple[bytes, bytes]] = {}
    data = subprocess.run([cmd("rn-capture"), "-r", str(pcap)], check=True, capture_output=True).stdout
    streams["rn-capture"] = split_first_frame(data)
    data = subprocess.run([cmd("rn-dissect")], input=data, check=True, capture_output=True).stdout
    streams["rn-dissect"] = split_first_frame(data)
    data = subprocess.run([cmd("rn-track")], input=data, check=True, capture_output=True).stdout
    streams["rn-track"] = split_first_frame(data)
    return Inputs(raw[:24], raw[24:], streams)


class EndlessFeed:
    """Writes ``head`` once, then ``body`` over and over into a pipe until the reader goes away."""

    def __init__(self, head: bytes, body: bytes) -> None:
        self.read_fd, self._write_fd = os.pipe()
        self.head, self.body = head, body
        self.written = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for block in (self.head, *([self.body] * 1_000_000)):
                view = memoryview(block)
                while view:
                    n = os.write(self._write_fd, view)
                    view = view[n:]
                    self.written += n
        except OSError:
            pass  # the command ended: EPIPE
        finally:
            os.close(self._write_fd)

    def handed_over(self) -> None:
        os.close(self.read_fd)

    def join(self) -> None:
        self._thread.join(5)


# name -> (argv, which input: "pcap" or the stage whose output the command reads)
COMMANDS: dict[str, tuple[list[str], str]] = {
    "rn-capture": (["rn-capture", "-r", "-"], "pcap"),
    "rn-dissect": (["rn-dissect"], "rn-capture"),
    "rn-track": (["rn-track"], "rn-dissect"),
    "rn-enrich": (["rn-enrich"], "rn-track"),
    "rn-view": (["rn-view", "--json"], "rn-dissect"),
    "rustnet": (["rustnet", "--read", "-", "--json"], "pcap"),
    # a recording: rustnet's own reader is then busy decoding connection records
    "rustnet-recording": (["rustnet", "--read", "-", "--json"], "rn-track"),
    # the exports' threads (the tap, the pcapng writer with its waiting line) end too
    "rustnet-exports": (
        ["rustnet", "--read", "-", "--json", "--pcapng-export", "/dev/null", "--json-log", "/dev/null"],
        "pcap",
    ),
}


@dataclass
class Run:
    status: int
    seconds: float  # from the signal to the exit
    stderr: bytes
    leftover: list[int]  # processes of the run still alive after it ended


def stage_pids(pid: int) -> list[int]:
    """Children of ``pid`` (rustnet's stages; rn-view's capture), from /proc."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            out.append(int(entry))
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def signal_run(
    inputs: Inputs, name: str, delay: float, sig: int, tmp_path: Path, second: int | None = None
) -> Run:
    """Start ``name`` on an endless input; once it reads, wait ``delay`` and send ``sig``
    (and ``second`` half a second later); return how it ended."""
    argv, source = COMMANDS[name]
    head, body = (inputs.pcap_head, inputs.pcap_body) if source == "pcap" else inputs.streams[source]
    feed = EndlessFeed(head, body)
    err = tmp_path / f"{name}.err"
    with open(err, "wb") as ef:
        proc = subprocess.Popen(
            [cmd(argv[0]), *argv[1:]], stdin=feed.read_fd, stdout=subprocess.DEVNULL, stderr=ef
        )
    feed.handed_over()
    children: list[int] = []
    try:
        # Reading: more than the pipe holds went in (the handlers are installed before input is read).
        deadline = time.monotonic() + 30
        while feed.written < len(head) + (1 << 20) and proc.poll() is None:
            assert time.monotonic() < deadline, "the command never read its input"
            time.sleep(0.005)
        children = stage_pids(proc.pid)
        time.sleep(delay)
        assert proc.poll() is None, f"{name} ended on its own: {err.read_bytes()!r}"
        t = time.monotonic()
        proc.send_signal(sig)
        if second is not None:
            time.sleep(0.5)
            assert proc.poll() is None, "after a first SIGINT the command drains its endless input"
            t = time.monotonic()
            proc.send_signal(second)
        try:
            status = proc.wait(PROMPT + 3)
        except subprocess.TimeoutExpired:
            status = -999  # still running: the signal was swallowed
        seconds = time.monotonic() - t
        time.sleep(0.05)
        leftover = [pid for pid in children if alive(pid)]
        return Run(status, seconds, err.read_bytes(), leftover)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in stage_pids(proc.pid) + children:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        feed.join()


def problems(run: Run, expected: int) -> list[str]:
    found = []
    if run.status != expected:
        found.append(f"status {run.status}" + (" (still running)" if run.status == -999 else ""))
    elif run.seconds > PROMPT:
        found.append(f"took {run.seconds:.2f}s")
    if run.stderr:  # a traceback, "corrupt record stream", "internal error"...
        found.append(f"stderr: {run.stderr[-300:]!r}")
    if run.leftover:
        found.append(f"stages still running: {run.leftover}")
    return found


@pytest.mark.parametrize("name", list(COMMANDS))
def test_sigterm_at_any_moment_ends_with_143(inputs: Inputs, name: str, tmp_path: Path) -> None:
    failures = {}
    for delay in DELAYS:
        found = problems(signal_run(inputs, name, delay, signal.SIGTERM, tmp_path), 143)
        if found:
            failures[delay] = found
    assert not failures, f"{name}: {len(failures)} of {len(DELAYS)} runs went wrong: {failures}"


@pytest.mark.parametrize("name", list(COMMANDS))
def test_sighup_ends_with_143(inputs: Inputs, name: str, tmp_path: Path) -> None:
    found = problems(signal_run(inputs, name, DELAYS[3], signal.SIGHUP, tmp_path), 143)
    assert not found, f"{name}: {found}"


@pytest.mark.parametrize("name", ["rn-dissect", "rn-track", "rn-enrich"])
def test_second_sigint_ends_a_draining_command_with_130(inputs: Inputs, name: str, tmp_path: Path) -> None:
    # The first SIGINT drains: the input is endless, so the command is still reading it.
    run = signal_run(inputs, name, 0.1, signal.SIGINT, tmp_path, second=signal.SIGINT)
    assert not problems(run, 130), problems(run, 130)


def whole_frames(out: bytes) -> bool:
    """True when ``out`` is a sequence of complete MessagePack objects (no frame cut short)."""
    up = msgpack.Unpacker(raw=False, max_buffer_size=len(out) + 1)
    up.feed(out)
    for _ in up:
        pass
    return up.tell() == len(out)


def slow_reader_run(
    inputs: Inputs, name: str, fmt: str, delay: float, resume: float | None
) -> tuple[int, float, bytes, bytes]:
    """Run ``name`` on its endless input, read its output for a while, stop reading (its pipe fills
    and it blocks in the middle of a write), send SIGTERM, and read again ``resume`` seconds later
    (None: never). Returns (status, seconds from the signal to the exit, output, stderr)."""
    argv, source = COMMANDS[name]
    feed = EndlessFeed(*inputs.streams[source])
    proc = subprocess.Popen(
        [cmd(argv[0]), *argv[1:], "--format", fmt],
        stdin=feed.read_fd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    feed.handed_over()
    assert proc.stdout is not None and proc.stderr is not None
    fd = proc.stdout.fileno()
    out = bytearray()
    try:
        deadline = time.monotonic() + 0.3 + delay
        while time.monotonic() < deadline:
            out += os.read(fd, 1 << 16)
        time.sleep(0.3)  # not reading: the pipe fills up
        assert proc.poll() is None
        t = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        if resume is None:
            status = proc.wait(PROMPT + 3)
        else:
            time.sleep(resume)
            while chunk := os.read(fd, 1 << 16):
                out += chunk
            status = proc.wait(PROMPT + 3)
        seconds = time.monotonic() - t
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        feed.join()
    err = proc.stderr.read()
    proc.stdout.close()
    proc.stderr.close()
    return status, seconds, bytes(out), err


STREAM_OUTPUTS = [
    ("rn-dissect", "msgpack"),
    ("rn-track", "msgpack"),
    ("rn-enrich", "msgpack"),
    ("rn-dissect", "json"),
]


@pytest.mark.parametrize(("name", "fmt"), STREAM_OUTPUTS)
def test_sigterm_in_the_middle_of_a_write_finishes_the_frame(inputs: Inputs, name: str, fmt: str) -> None:
    """SIGTERM while the command is blocked half-way through a write (the next stage is slow):
    the frame (line) is finished once the reader reads on, so the next stage does not call the
    stream damaged (exit 3) because of our own shutdown."""
    cut = []
    for delay in (0.0, 0.15):
        status, seconds, out, err = slow_reader_run(inputs, name, fmt, delay, resume=0.2)
        assert status == 143 and seconds < PROMPT and err == b"", (status, seconds, err)
        if not (out.endswith(b"\n") if fmt == "json" else whole_frames(out)):
            cut.append(delay)
    assert not cut, f"{name} --format {fmt}: output cut in the middle of a frame at {cut}"


def test_sigterm_with_a_reader_that_never_reads_on_still_ends_promptly(inputs: Inputs) -> None:
    status, seconds, _, err = slow_reader_run(inputs, "rn-dissect", "msgpack", 0.0, resume=None)
    assert status == 143 and seconds < PROMPT and err == b"", (status, seconds, err)
