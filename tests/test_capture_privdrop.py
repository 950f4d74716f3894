"""rn-capture gives up root and still dies with its parent (``rustnet`` killed with ``kill -9``).

Changing the uid clears the kernel's parent-death signal; rn-capture arms it again after the
switch. Checked with a real parent process that arms the signal the way ``rustnet`` does,
and a capture that would otherwise wait forever (its input and output stay open).
"""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

RN_CAPTURE = str(Path(sys.executable).with_name("rn-capture"))

# A parent like rustnet: its child gets SIGKILL when it dies (PR_SET_PDEATHSIG).
PARENT = """
import ctypes, signal, subprocess, sys
libc = ctypes.CDLL(None)
child = subprocess.Popen([sys.argv[1], "-r", "-"], stdin=int(sys.argv[2]), stdout=int(sys.argv[3]),
                         pass_fds=(int(sys.argv[2]), int(sys.argv[3])),
                         preexec_fn=lambda: libc.prctl(1, signal.SIGKILL, 0, 0, 0))
print(child.pid, flush=True)
child.wait()
"""


def state(pid: int) -> tuple[str, int] | None:
    """(state letter, real uid) of a process, None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            fields = dict(line.split(":", 1) for line in fh if ":" in line)
    except FileNotFoundError:
        return None
    return fields["State"].split()[0], int(fields["Uid"].split()[0])


def gone(pid: int) -> bool:
    st = state(pid)
    return st is None or st[0] in ("Z", "X")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the privilege drop is what is tested")
def test_capture_dies_with_its_parent_after_dropping_root() -> None:
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, RN_CAPTURE, str(in_r), str(out_w)],
        stdout=subprocess.PIPE,
        pass_fds=(in_r, out_w),
    )
    child = 0
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        # A pcap header and no packet: rn-capture opens the "file", drops root, then waits to read.
        os.write(in_w, struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            st = state(child)
            if st is not None and st[1] != 0:
                break
            time.sleep(0.02)
        else:
            pytest.fail(f"rn-capture did not switch user: {state(child)}")
        time.sleep(0.2)  # past the drop and the re-arming, reading its input
        assert not gone(child)
        parent.kill()
        parent.wait(timeout=5)
        deadline = time.monotonic() + 3
        while not gone(child) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert gone(child), "rn-capture outlived its killed parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()
        if child and not gone(child):
            os.kill(child, signal.SIGKILL)
        for fd in (in_r, in_w, out_r, out_w):
            os.close(fd)


def test_rearming_after_the_parent_died_ends_the_process() -> None:
    # The parent died while the signal was cleared: rn-capture must not go on alone.
    code = (
        "import os, signal\n"
        "from rustnet.capture.privdrop import _rearm_parent_death_signal\n"
        "_rearm_parent_death_signal(signal.SIGTERM, os.getppid() + 1)\n"
        "print('survived')\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30)
    assert p.returncode == -signal.SIGTERM
    assert b"survived" not in p.stdout


def test_rearming_with_the_parent_alive_keeps_the_process() -> None:
    code = (
        "import os, signal\n"
        "from rustnet.capture.privdrop import _rearm_parent_death_signal, parent_death_signal\n"
        "_rearm_parent_death_signal(signal.SIGTERM, os.getppid())\n"
        "print(parent_death_signal())\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30)
    assert p.returncode == 0
    assert int(p.stdout) == signal.SIGTERM
