"""rustnet's TUI in a real pseudo-terminal (screen read back with pyte).

``rustnet --read`` a corpus capture: the table appears, ``q q`` ends it with status 0,
the terminal is given back (alternate screen left) and no stage process is left. Live
cases run rustnet inside a test namespace: a stage killed under the TUI is reported on
screen, SIGTERM and Ctrl+C end everything.
"""

from __future__ import annotations

import fcntl
import gzip
import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pyte
import pytest

from tests.corpus import PCAPS as CORPUS
from tests.netns import TwoHosts, can_make_namespaces

pytestmark = pytest.mark.tui

BIN = Path(sys.executable).parent
RUSTNET = str(BIN / "rustnet")
STAGES = ("rn-capture", "rn-dissect", "rn-track", "rn-enrich")
LEAVE_ALT_SCREEN = b"\x1b[?1049l"


class AnsweringScreen(pyte.Screen):
    """A pyte screen that answers the terminal's reports (cursor position) like a real terminal,
    so blessed does not wait a second for each query at start-up."""

    def __init__(self, cols: int, rows: int, fd: int) -> None:
        super().__init__(cols, rows)
        self.fd = fd

    def write_process_input(self, data: str) -> None:
        try:
            os.write(self.fd, data.encode())
        except OSError:
            pass


class Terminal:
    """A child process on a pseudo-terminal of its own (its controlling terminal), read by pyte."""

    def __init__(self, argv: list[str], cols: int = 140, rows: int = 30) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(cols), "LINES": str(rows)}
        env.pop("NO_COLOR", None)
        self.proc = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
        os.close(slave)
        self.master = master
        self.screen = AnsweringScreen(cols, rows, master)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = bytearray()

    def pump(self, timeout: float) -> bool:
        """Read what the child wrote within ``timeout``; False once the terminal is closed."""
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.master, 65536)
        except OSError:
            return False
        if not data:
            return False
        self.raw += data
        self.stream.feed(data)
        return True

    @property
    def text(self) -> str:
        return "\n".join(self.screen.display)

    def wait_for(self, needle: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.text:
                return self.text
            if not self.pump(0.1) and needle not in self.text:
                break
        raise AssertionError(f"{needle!r} never appeared; screen:\n{self.text}")

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def finish(self, timeout: float = 15.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            self.pump(0.05)
        if self.proc.poll() is None:
            raise AssertionError(f"still running after {timeout} s; screen:\n{self.text}")
        end = time.monotonic() + 2.0
        while time.monotonic() < end and self.pump(0.05):  # what it wrote on the way out
            pass
        return self.proc.wait(timeout=1)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


@pytest.fixture
def terminals() -> Iterator[list[Terminal]]:
    made: list[Terminal] = []
    yield made
    for t in made:
        t.close()


def stage_pids(pid: int, timeout: float = 10.0, count: int = 3) -> list[int]:
    """rustnet's child processes, once there are ``count`` of them (live: rn-capture, rn-dissect,
    rn-track and rn-enrich)."""
    deadline = time.monotonic() + timeout
    pids: list[int] = []
    while time.monotonic() < deadline:
        pids = []
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    pids += [int(x) for x in f.read().split()]
            except OSError:
                pass
        if len(pids) >= count:
            return pids
        time.sleep(0.05)
    return pids


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def none_left(pids: list[int], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(alive(p) for p in pids):
            return True
        time.sleep(0.05)
    return False


def test_read_capture_shows_table_and_q_q_quits(terminals: list[Terminal]) -> None:
    t = Terminal([RUSTNET, "--read", str(CORPUS / "zeek_http_get.pcap")])
    terminals.append(t)
    pids = stage_pids(t.proc.pid, timeout=3.0, count=2)  # rn-capture --dissect, rn-track --enrich
    screen = t.wait_for("192.150.187.43")
    assert "Overview" in screen and "TIME_WAIT" in screen
    t.send(b"q")
    t.wait_for("Press 'q' again")
    t.send(b"q")
    assert t.finish() == 0
    assert LEAVE_ALT_SCREEN in t.raw  # the terminal was given back
    assert pids and none_left(pids)


def test_read_gzip_capture_shows_table(terminals: list[Terminal], tmp_path: Path) -> None:
    packed = tmp_path / "zeek_http_get.pcap.gz"
    packed.write_bytes(gzip.compress((CORPUS / "zeek_http_get.pcap").read_bytes()))
    t = Terminal([RUSTNET, "--read", str(packed)])
    terminals.append(t)
    screen = t.wait_for("192.150.187.43")
    assert "TIME_WAIT" in screen
    t.send(b"qq")
    assert t.finish() == 0


def test_empty_file_is_one_line_and_no_tui(terminals: list[Terminal], tmp_path: Path) -> None:
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(b"")
    t = Terminal([RUSTNET, "--read", str(empty)])
    terminals.append(t)
    assert t.finish() == 3
    out = t.raw.decode(errors="replace")
    assert [ln for ln in out.splitlines() if ln.strip()] == [f"rustnet: {empty} is empty"]


@pytest.mark.skipif(os.geteuid() != 0, reason="drops capabilities root has")
def test_no_permission_prints_the_fix_and_no_tui(terminals: list[Terminal]) -> None:
    t = Terminal(["setpriv", "--bounding-set", "-net_raw,-net_admin", "--", RUSTNET, "-i", "lo"])
    terminals.append(t)
    status = t.finish()
    assert status == 1
    out = t.raw.decode(errors="replace")
    assert "setcap cap_net_raw,cap_net_admin=eip" in out
    assert "\x1b[?1049h" not in out  # no TUI was drawn for an error at start-up
    assert "Traceback" not in out


live = pytest.mark.skipif(not can_make_namespaces(), reason="needs root and ip netns")


@pytest.mark.live
@live
def test_killed_stage_is_shown_in_the_viewer(terminals: list[Terminal]) -> None:
    with TwoHosts() as net:
        t = Terminal(net.cmd("a", [RUSTNET, "-i", net.iface("a")]))
        terminals.append(t)
        t.wait_for("Overview")
        pids = stage_pids(t.proc.pid)
        track = [p for p in pids if b"rn-track" in Path(f"/proc/{p}/cmdline").read_bytes()]
        assert track
        os.kill(track[0], signal.SIGKILL)
        t.wait_for("rn-track: killed by SIGKILL")
        assert t.proc.poll() is None  # the viewer stays, showing why
        t.send(b"qq")
        status = t.finish()
        assert status == 1  # a stage failed during the session
        assert LEAVE_ALT_SCREEN in t.raw
        after = t.raw.rsplit(LEAVE_ALT_SCREEN, 1)[1].decode(errors="replace")
        assert after.count("rustnet: rn-track was killed by SIGKILL") == 1, after  # said again, once
        assert none_left(pids)


@pytest.mark.live
@live
@pytest.mark.parametrize("how", ["ctrl-c", "sigterm", "sighup"])
def test_ctrl_c_sigterm_and_sighup_restore_the_terminal(terminals: list[Terminal], how: str) -> None:
    with TwoHosts() as net:
        t = Terminal(net.cmd("a", [RUSTNET, "-i", net.iface("a")]))
        terminals.append(t)
        t.wait_for("Overview")
        pids = stage_pids(t.proc.pid)
        if how == "ctrl-c":
            t.send(b"\x03")
        else:
            t.proc.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGHUP)
        status = t.finish()
        assert status == (130 if how == "ctrl-c" else 143)
        assert LEAVE_ALT_SCREEN in t.raw
        assert none_left(pids)


def test_no_localhost_reaches_the_viewer(terminals: list[Terminal], tmp_path: Path) -> None:
    rec = tmp_path / "mixed.jsonl"
    base = '{"t": "conn", "proto": "tcp", "state": "ESTABLISHED", "final": true, '
    rec.write_text(
        base
        + '"id": 1, "src": "127.0.0.1", "sport": 5000, "dst": "127.0.0.1", "dport": 6001}\n'
        + base
        + '"id": 2, "src": "10.9.8.7", "sport": 5001, "dst": "10.9.8.6", "dport": 6002}\n'
    )
    shown = Terminal([RUSTNET, "--read", str(rec), "-r", "200"])
    terminals.append(shown)
    screen = shown.wait_for("10.9.8.6")
    assert "127.0.0.1" in screen
    shown.send(b"qq")
    assert shown.finish() == 0
    hidden = Terminal([RUSTNET, "--read", str(rec), "--no-localhost"])
    terminals.append(hidden)
    screen = hidden.wait_for("10.9.8.6")
    assert "127.0.0.1" not in screen
    hidden.send(b"qq")
    assert hidden.finish() == 0


def test_capture_piped_into_the_tui(terminals: list[Terminal]) -> None:
    pcap = CORPUS / "zeek_http_get.pcap"
    t = Terminal(["bash", "-c", f"cat '{pcap}' | '{RUSTNET}' --read -"])
    terminals.append(t)
    t.wait_for("192.150.187.43")  # the records came from the pipe, the keys from the terminal
    t.send(b"qq")
    assert t.finish() == 0


def test_record_while_viewing(terminals: list[Terminal], tmp_path: Path) -> None:
    pcap, rec = CORPUS / "zeek_http_get.pcap", tmp_path / "session.rn"
    t = Terminal([RUSTNET, "--read", str(pcap), "--record", str(rec)])
    terminals.append(t)
    t.wait_for("192.150.187.43")
    t.send(b"qq")
    assert t.finish() == 0
    replay = subprocess.run(
        [RUSTNET, "--read", str(rec), "--json"], capture_output=True, text=True, timeout=30
    )
    direct = subprocess.run(
        [RUSTNET, "--read", str(pcap), "--json"], capture_output=True, text=True, timeout=30
    )
    assert replay.returncode == 0 and direct.stdout
    recorded = [json.loads(ln) for ln in replay.stdout.splitlines()]
    assert all(r["service"] == "http" for r in recorded)  # named in the TUI's pipeline (rn-enrich)
    assert recorded == [json.loads(ln) for ln in direct.stdout.splitlines()]


def test_exports_are_written_while_the_tui_runs(terminals: list[Terminal], tmp_path: Path) -> None:
    capture = CORPUS / "ndpi_android.pcap"
    log, pcap, pcapng = tmp_path / "events.jsonl", tmp_path / "out.pcap", tmp_path / "out.pcapng"
    argv = [RUSTNET, "--read", str(capture), "--json-log", str(log)]
    t = Terminal([*argv, "--pcap-export", str(pcap), "--pcapng-export", str(pcapng)])
    terminals.append(t)
    t.wait_for("Overview")
    packets = len(
        subprocess.run(["tshark", "-r", str(capture)], capture_output=True, text=True).stdout.splitlines()
    )

    def exported(path: Path) -> int:
        p = subprocess.run(["tshark", "-r", str(path)], capture_output=True, text=True)
        return len(p.stdout.splitlines())

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (exported(pcap) == exported(pcapng) == packets):
        t.pump(0.2)
    # The TUI is still up, and everything is on disk: packets, comments, events.
    assert t.proc.poll() is None
    got = (exported(pcap), exported(pcapng))
    if got != (packets, packets):
        # Seen once in a loaded CI run (both files without a packet after 20 s), never again
        # in 30 runs here: say what the files held and what rustnet says on its way out.
        sizes = [p.stat().st_size if p.exists() else None for p in (pcap, pcapng)]
        screen = t.text
        t.send(b"qq")
        status = t.finish()
        said = bytes(t.raw[-4000:]).decode("utf-8", "replace")
        raise AssertionError(
            f"exported {got} of {packets} packets; sizes {sizes}; exit {status}; "
            f"screen:\n{screen}\nlast output:\n{said}"
        )
    comments = subprocess.run(
        [
            "tshark",
            "-r",
            str(pcapng),
            "-Y",
            'frame.comment contains "sni="',
            "-T",
            "fields",
            "-e",
            "frame.number",
        ],
        capture_output=True,
        text=True,
    ).stdout.split()
    assert len(comments) > 100
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert events and {e["event"] for e in events} == {"new_connection", "connection_closed"}
    t.send(b"qq")
    assert t.finish() == 0
    assert len(Path(f"{pcap}.connections.jsonl").read_text().splitlines()) == len(
        [e for e in events if e["event"] == "new_connection"]
    )
