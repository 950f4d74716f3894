"""A running pipeline of real commands in one process group, fed by an endless capture.

``Feeder`` writes a pcap to a pipe from a thread of the test process (outside the
pipeline's process group, like a capture that keeps going), counting the packets
each write carried. ``Pipeline`` starts the commands joined by pipes, the first one
leading a new process group, so a signal can reach "the whole pipeline" the way
Ctrl+C in a shell does. Everything is killed on close, even when a test fails.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import dpkt

from tests.corpus import PCAPS as CORPUS
from tests.robust.util import cmd


def capture_block(
    names: tuple[str, ...] = ("zeek_http_get.pcap", "tcpdump_dns_tcp.pcap", "dpkt_http.pcap"),
    repeat: int = 20,
) -> tuple[bytes, int]:
    """pcap packet records (no file header) of real frames: (bytes, packet count)."""
    out = bytearray()
    n = 0
    for name in names:
        with open(CORPUS / name, "rb") as f:
            for ts, frame in dpkt.pcap.Reader(f):
                sec, usec = int(ts), int((ts % 1) * 1e6)
                out += (
                    sec.to_bytes(4, "little")
                    + usec.to_bytes(4, "little")
                    + len(frame).to_bytes(4, "little") * 2
                    + frame
                )
                n += 1
    return bytes(out) * repeat, n * repeat


PCAP_HEADER = bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000")


class Feeder:
    """Writes an endless pcap into a pipe until stopped or the reader goes away."""

    def __init__(self, pause: float = 0.002) -> None:
        self.read_fd, self.write_fd = os.pipe()
        self.block, self.block_packets = capture_block()
        self.packets = 0
        self.broken = False
        self.pause = pause
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Feeder:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            os.write(self.write_fd, PCAP_HEADER)
            while not self._stop.is_set():
                view = memoryview(self.block)
                while view:
                    view = view[os.write(self.write_fd, view) :]
                self.packets += self.block_packets
                time.sleep(self.pause)
        except BrokenPipeError:
            self.broken = True
        except OSError:
            self.broken = True
        finally:
            try:
                os.close(self.write_fd)
            except OSError:
                pass

    def stop(self, timeout: float = 10) -> None:
        """Finish the current block and close the pipe (a clean end of the capture)."""
        self._stop.set()
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the feeder is stuck writing: nothing reads the pipe"

    def handed_over(self) -> None:
        """The pipeline holds the read end now: ours goes, so a dead reader means EPIPE here."""
        if self.read_fd >= 0:
            os.close(self.read_fd)
            self.read_fd = -1

    def close(self) -> None:
        self._stop.set()
        if self.read_fd >= 0:
            os.close(self.read_fd)
            self.read_fd = -1


class Pipeline:
    """``argvs`` joined by pipes; stdin of the first is ``stdin_fd``; output and stderr to files."""

    def __init__(
        self, argvs: list[list[str]], stdin_fd: int, workdir: Path, stdout_fd: int | None = None
    ) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.out_path = workdir / "out"
        self.err_paths: list[Path] = []
        self.pgid = 0
        prev: int | object = stdin_fd
        for i, argv in enumerate(argvs):
            last = i == len(argvs) - 1
            err = workdir / f"err{i}"
            self.err_paths.append(err)
            with open(err, "wb") as ef, open(self.out_path, "wb") as of:
                exe = argv[0] if "/" in argv[0] else cmd(argv[0])
                out: int | object = (of if stdout_fd is None else stdout_fd) if last else subprocess.PIPE
                p = subprocess.Popen(
                    [exe, *argv[1:]], stdin=prev, stdout=out, stderr=ef, process_group=self.pgid
                )
            if i == 0:
                self.pgid = p.pid
            if i > 0 and self.procs[-1].stdout is not None:
                self.procs[-1].stdout.close()  # only the two stages hold their pipe
            prev = p.stdout
            self.procs.append(p)

    def signal(self, sig: int) -> None:
        os.killpg(self.pgid, sig)

    def alive(self) -> list[bool]:
        return [p.poll() is None for p in self.procs]

    def wait(self, timeout: float) -> list[int]:
        deadline = time.monotonic() + timeout
        for p in self.procs:
            p.wait(max(0.1, deadline - time.monotonic()))
        return [p.returncode for p in self.procs]

    def stderr(self, i: int) -> bytes:
        return self.err_paths[i].read_bytes()

    def output(self) -> bytes:
        return self.out_path.read_bytes()

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGCONT)
                    p.kill()
                except ProcessLookupError:
                    pass
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass
            if p.stdout is not None:
                p.stdout.close()
