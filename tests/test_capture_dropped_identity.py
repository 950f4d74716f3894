"""The identity rn-capture runs under once it has dropped root, as the kernel reports it.

Started as root with supplementary groups of its own (as under sudo or a root shell in many
groups), rn-capture must end up with none of them: a group can grant files or devices that
the user it drops to could not otherwise reach. Read from /proc/PID/status of the real,
still-running process: every uid and gid (real, effective, saved, filesystem), the groups,
the capabilities and no_new_privs.
"""

from __future__ import annotations

import os
import pwd
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

RN_CAPTURE = str(Path(sys.executable).with_name("rn-capture"))
# Groups root holds for the test's process only (set in the child before exec): gids no
# account uses, so finding them after the drop can only mean they were kept.
EXTRA_GROUPS = [54321, 54322]
PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)


def _status(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as fh:
        return {k: v.strip() for k, v in (line.split(":", 1) for line in fh if ":" in line)}


def _dropped(user: str) -> dict[str, str]:
    """/proc status of an rn-capture started as root in EXTRA_GROUPS, once it runs as ``user``."""
    in_r, in_w = os.pipe()
    proc = subprocess.Popen(
        [RN_CAPTURE, "-r", "-", "-Z", user],
        stdin=in_r,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: os.setgroups(EXTRA_GROUPS),
    )
    os.close(in_r)
    try:
        # A pcap header and no packet: it opens the "file", drops root, then waits to read.
        os.write(in_w, PCAP_HEADER)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            st = _status(proc.pid)
            if st["Uid"].split()[0] != "0" and st.get("NoNewPrivs") == "1":
                return st  # past the whole drop (no_new_privs is its last step)
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
            time.sleep(0.02)
        pytest.fail(f"rn-capture did not drop to {user}: {_status(proc.pid)}")
    finally:
        os.close(in_w)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the privilege drop is what is tested")
def test_dropped_capture_keeps_no_group_and_no_capability_of_root() -> None:
    nobody = pwd.getpwnam("nobody")
    st = _dropped("nobody")
    assert st["Uid"].split() == [str(nobody.pw_uid)] * 4  # real, effective, saved, filesystem
    assert st["Gid"].split() == [str(nobody.pw_gid)] * 4
    assert st["Groups"] == ""  # neither root's own groups nor any other
    assert int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0
    assert st["NoNewPrivs"] == "1"
