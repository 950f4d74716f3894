"""The viewer shows which user and capabilities each stage runs with (the help, under Privileges).

The truth is the kernel's: /proc/PID/status of the running stages and of rustnet itself,
capability names decoded by libcap's ``capsh``.
"""

from __future__ import annotations

import pwd
import shutil
import subprocess

import pytest
from rustnet.landlock import kernel_abi

from tests.netns import TwoHosts, can_make_namespaces
from tests.tui.test_rustnet_tui import RUSTNET, Terminal, stage_pids

pytestmark = [
    pytest.mark.tui,
    pytest.mark.skipif(shutil.which("capsh") is None, reason="needs capsh (Debian package libcap2-bin)"),
]


STAGES = ("rn-capture", "rn-dissect", "rn-track", "rn-enrich")


def truth(pid: int) -> str:
    """``user, cap_a cap_b`` (or ``no capabilities``) for a process, from the kernel."""
    with open(f"/proc/{pid}/status") as fh:
        st = dict(line.rstrip("\n").split(":\t", 1) for line in fh if ":\t" in line)
    user = pwd.getpwuid(int(st["Uid"].split()[1])).pw_name
    decoded = subprocess.run(
        ["capsh", f"--decode={st['CapPrm']}"], capture_output=True, text=True, check=True
    )
    caps = [c for c in decoded.stdout.strip().split("=", 1)[1].split(",") if c]
    return f"{user}, {' '.join(caps) if caps else 'no capabilities'}"


def cmdline(pid: int) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as fh:
        return fh.read().replace(b"\0", b" ").decode(errors="replace")


@pytest.mark.live
@pytest.mark.skipif(not can_make_namespaces(), reason="needs root and ip netns")
def test_help_shows_every_stage_with_its_real_privileges() -> None:
    with TwoHosts() as net:
        t = Terminal(net.cmd("a", [RUSTNET, "-i", net.iface("a")]))
        try:
            t.wait_for("conns")
            stages: dict[str, int] = {}
            for pid in stage_pids(t.proc.pid, timeout=10.0):
                for name in STAGES:
                    if f"/{name} " in cmdline(pid) + " ":
                        stages[name] = pid
            # Where few cores are idle, rn-track dissects itself (rn-track --dissect): the
            # rn-dissect row is then rn-track's process.
            track = stages.get("rn-track")
            if "rn-dissect" not in stages and track and " --dissect " in cmdline(track) + " ":
                stages["rn-dissect"] = stages["rn-track"]
            assert len(stages) == 4, stages
            t.send(b"h")
            t.send(b"G")  # the help, scrolled to its end: the Privileges section
            t.wait_for("Privileges")
            t.wait_for("viewer")
            screen = t.wait_for("┘")  # the help box's last corner: the whole box is drawn
            lines = [ln.split("│")[1] for ln in screen.splitlines() if ln.count("│") >= 2]
            for name, pid in [*stages.items(), ("viewer", t.proc.pid)]:
                row = [ln for ln in lines if ln.split()[:1] == [name]]
                assert len(row) == 1, (name, screen)
                assert row[0].split(None, 1)[1].strip() == truth(pid), (name, row[0])
            if kernel_abi() >= 6:
                # Each one's sandbox on the line below it, as the stage applied it: process
                # attribution (rn-enrich) looks into other processes, which Landlock forbids.
                for name, sandbox in (
                    *dict.fromkeys(STAGES[:3] + ("viewer",), "Fully enforced").items(),
                    ("rn-enrich", "Not applied"),
                ):
                    at = next(i for i, ln in enumerate(lines) if ln.split()[:1] == [name])
                    assert lines[at + 1].strip().startswith(f"Sandbox: {sandbox} · Landlock ABI v"), screen
        finally:
            t.close()
