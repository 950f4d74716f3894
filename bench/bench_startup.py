"""Start-up: ``--help`` of every command, and the time to the first frame of the TUI.

    .venv/bin/python bench/bench_startup.py [--runs 10]

* ``rustnet --help`` (target < 300 ms) and every ``rn-*`` command's ``--help``: wall time
  from spawn to exit, median and best of ``--runs``.
* First frame (target < 1 s): ``rustnet --read F`` on a small capture in a real pseudo
  terminal (80x24), and live ``rustnet -i IF`` in a fresh network namespace (root only):
  the time from spawn until the first screenful has been written. The harness answers the
  terminal queries a real emulator answers (cursor position, XTVERSION, XTGETTCAP), so no
  reply timeout is counted. Then ``q q`` ends it.
* A stage's whole run on a header-only stream (start, sandbox, end), with its Landlock
  sandbox and with ``--no-sandbox``: what the sandbox adds to every start.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from benchlib import ROOT, median, rn, table  # noqa: E402
from netns import TwoHosts, can_make_namespaces  # noqa: E402

COMMANDS = ("rustnet", "rn-capture", "rn-dissect", "rn-track", "rn-enrich", "rn-view")
SMALL_PCAP = ROOT / "tests" / "data" / "corpus" / "pcaps" / "dpkt_http.pcap"
# Bytes of output after which the first frame counts as drawn (a full 80x24 screen is larger).
FRAME_BYTES = 600


def time_help(cmd: str, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([rn(cmd), "--help"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        out.append(time.perf_counter() - t0)
    return out


def time_stage(cmd: str, runs: int, *extra: str) -> list[float]:
    """Wall time of ``cmd`` run to its end on a stream holding only a header."""
    header = subprocess.run(
        [rn("rn-capture"), "-r", str(SMALL_PCAP), "-c", "1"], capture_output=True, check=True
    ).stdout
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([rn(cmd), *extra], input=header, stdout=subprocess.DEVNULL, check=True)
        out.append(time.perf_counter() - t0)
    return out


def _answer_queries(master: int, chunk: bytes) -> None:
    """Reply like a terminal emulator to the queries a TUI library sends at start-up (cursor
    position, XTVERSION, XTGETTCAP): unanswered, each costs the program its reply timeout."""
    if b"\x1b[6n" in chunk:
        os.write(master, b"\x1b[1;1R")
    if b"\x1b[>q" in chunk:
        os.write(master, b"\x1bP>|bench-pty\x1b\\")
    if b"\x1bP+q" in chunk:
        os.write(master, b"\x1bP0+r\x1b\\")


def read_pty(master: int) -> bytes:
    """Everything a TUI has written to its pty so far (queries answered), without waiting, so it
    never blocks on a full pty."""
    out = b""
    while select.select([master], [], [], 0)[0]:
        try:
            chunk = os.read(master, 1 << 16)
        except OSError:
            break
        if not chunk:
            break
        _answer_queries(master, chunk)
        out += chunk
    return out


def first_frame(argv: list[str], timeout: float = 10.0) -> float:
    """Seconds from spawn until the TUI has written its first screenful to a pty."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = dict(os.environ, TERM="xterm-256color", LINES="24", COLUMNS="80")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True, close_fds=True
    )
    os.close(slave)
    got = 0
    took = float("inf")
    try:
        while time.perf_counter() - t0 < timeout:
            r, _, _ = select.select([master], [], [], 0.05)
            if not r:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            _answer_queries(master, chunk)
            got += len(chunk)
            if got >= FRAME_BYTES:
                took = time.perf_counter() - t0
                break
        os.write(master, b"qq")
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=5)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(master)
    return took


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10)
    a = ap.parse_args()
    rows = []
    for cmd in COMMANDS:
        ts = time_help(cmd, a.runs)
        rows.append(
            [f"{cmd} --help", median(ts) * 1000, min(ts) * 1000, "< 300 ms" if cmd == "rustnet" else ""]
        )
    for cmd in ("rn-dissect", "rn-track", "rn-enrich"):
        extra = ["--no-process"] if cmd == "rn-enrich" else []  # else Landlock is not applied
        for label, flags in (("sandbox", []), ("--no-sandbox", ["--no-sandbox"])):
            ts = time_stage(cmd, a.runs, *extra, *flags)
            rows.append(
                [f"{cmd} {' '.join(extra)} on a header ({label})", median(ts) * 1000, min(ts) * 1000, ""]
            )
    frames = [first_frame([rn("rustnet"), "--read", str(SMALL_PCAP)]) for _ in range(max(3, a.runs // 3))]
    rows.append(
        [
            f"rustnet --read {SMALL_PCAP.name}: first frame",
            median(frames) * 1000,
            min(frames) * 1000,
            "< 1000 ms",
        ]
    )
    if can_make_namespaces():
        with TwoHosts() as net:
            live = [
                first_frame(net.cmd("b", [rn("rustnet"), "-i", net.iface("b")]))
                for _ in range(max(3, a.runs // 3))
            ]
        rows.append(
            [
                "rustnet -i IF (live, namespace): first frame",
                median(live) * 1000,
                min(live) * 1000,
                "< 1000 ms",
            ]
        )
    print(table(["what", "median ms", "best ms", "target"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
