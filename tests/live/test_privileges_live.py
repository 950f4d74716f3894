"""Which user and capabilities each process of a live ``rustnet`` really has.

The truth is the kernel's: ``/proc/PID/status`` of the running stages (Uid, CapPrm, CapEff,
CapBnd, NoNewPrivs), with capability names decoded by libcap's ``capsh``. Traffic runs
between two test namespaces (tests/netns.py).
"""

from __future__ import annotations

import json
import os
import pty
import pwd
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import nobody_install
from tests.netns import TwoHosts, can_make_namespaces
from tests.test_rustnet_live import RUSTNET, children, cmdline, stage_pids

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not can_make_namespaces(), reason="needs root and ip netns"),
    pytest.mark.skipif(shutil.which("capsh") is None, reason="needs capsh (Debian package libcap2-bin)"),
]

NOBODY = pwd.getpwnam("nobody")
# What rn-enrich needs as root (its README entry): list and read other users' /proc/PID/fd,
# open their network namespaces, enter them for sock_diag, hear of new programs.
ENRICH_NEEDS = {"cap_dac_read_search", "cap_sys_ptrace", "cap_sys_admin", "cap_net_admin"}


def status(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as fh:
        return dict(line.rstrip("\n").split(":\t", 1) for line in fh if ":\t" in line)


def cap_names(hex_mask: str) -> set[str]:
    """libcap's names for a /proc capability mask (``capsh --decode``)."""
    out = subprocess.run(["capsh", f"--decode={hex_mask}"], capture_output=True, text=True, check=True).stdout
    names = out.strip().split("=", 1)[1]
    return {n for n in names.split(",") if n}


def caps(pid: int, field: str = "CapPrm") -> set[str]:
    return cap_names(status(pid)[field])


def nobody_can_run(python: str) -> bool:
    """Can the user nobody start this interpreter and import our package with it?"""
    probe = subprocess.run(
        ["runuser", "-u", "nobody", "--", python, "-c", "import rustnet.cli.common"],
        capture_output=True,
        cwd="/",
    )
    return probe.returncode == 0


def read_all(fd: int) -> str:
    """Everything written to a pty whose other end has closed."""
    data = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: every writer is gone
            break
        if not chunk:
            break
        data += chunk
    os.close(fd)
    return data.decode(errors="replace").replace("\r\n", "\n")


def wait_until(check: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)


def test_root_rustnet_stages_keep_only_what_they_need(tmp_path: Path) -> None:
    with TwoHosts() as net:
        net.spawn("b", [sys.executable, "-m", "http.server", "8000", "--bind", net.addr_b], cwd="/")
        net.wait_port("b", 8000)
        # stderr on a terminal, as for a person (the notice is not for scripts' stderr).
        err_master, err_slave = pty.openpty()
        p = subprocess.Popen(
            net.cmd("a", [RUSTNET, "-i", net.iface("a"), "--json", "-r", "200"]),
            text=True,
            stdout=subprocess.PIPE,
            stderr=err_slave,
            stdin=subprocess.DEVNULL,
        )
        os.close(err_slave)
        client: subprocess.Popen[bytes] | None = None
        try:
            pids = stage_pids(p.pid)
            # rustnet gives up its own capabilities right after starting the stages.
            wait_until(lambda: caps(p.pid) == {"cap_kill"})
            assert caps(p.pid) == {"cap_kill"} and caps(p.pid, "CapBnd") == {"cap_kill"}
            assert status(p.pid)["NoNewPrivs"] == "1"

            wait_until(lambda: status(pids["rn-capture"])["Uid"].split()[0] != "0")
            capture = status(pids["rn-capture"])
            assert capture["Uid"].split() == [str(NOBODY.pw_uid)] * 4
            assert caps(pids["rn-capture"]) == set() and capture["NoNewPrivs"] == "1"

            parsers_as_nobody = nobody_can_run(sys.executable)
            # rn-dissect: its own process, or rn-track's (rn-track --dissect on few idle cores).
            for name in [n for n in ("rn-dissect", "rn-track") if n in pids]:
                st = status(pids[name])
                if parsers_as_nobody:
                    assert st["Uid"].split() == [str(NOBODY.pw_uid)] * 4, name
                else:  # root, but with nothing root's capabilities allow
                    assert st["Uid"].split() == ["0"] * 4, name
                    assert st["Groups"].strip() == "0" or st["Groups"].strip() == "", name
                for field in ("CapPrm", "CapEff", "CapBnd", "CapInh", "CapAmb"):
                    wait_until(lambda: caps(pids[name], field) == set())  # noqa: B023
                    assert caps(pids[name], field) == set(), (name, field)
                assert status(pids[name])["NoNewPrivs"] == "1", name

            enrich = pids["rn-enrich"]
            wait_until(lambda: caps(enrich) == ENRICH_NEEDS)
            assert status(enrich)["Uid"].split() == ["0"] * 4
            assert caps(enrich) == caps(enrich, "CapEff") == caps(enrich, "CapBnd") == ENRICH_NEEDS
            assert status(enrich)["NoNewPrivs"] == "1"

            # What rn-enrich kept is enough to name another user's process: a client run as nobody.
            client_code = (
                "import socket, sys, time\n"
                f"s = socket.create_connection(({net.addr_b!r}, 8000))\n"
                "s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n')\n"
                "time.sleep(3)\n"
            )
            client = subprocess.Popen(
                net.cmd("a", ["runuser", "-u", "nobody", "--", "/usr/bin/python3", "-c", client_code]),
                cwd="/",
            )
            client.wait(timeout=30)
            time.sleep(0.5)
        finally:
            if client is not None and client.poll() is None:
                client.kill()
            p.send_signal(signal.SIGINT)
            out, _ = p.communicate(timeout=30)
            err = read_all(err_master)
        conns = [json.loads(line) for line in out.splitlines()]
        ours = [c for c in conns if c.get("dport") == 8000 and c.get("dst") == net.addr_b]
        assert ours, conns
        assert ours[0].get("user") == "nobody" and ours[0].get("process") == "python3", ours[0]
        notice = [line for line in err.splitlines() if "rn-dissect and rn-track run as root" in line]
        if parsers_as_nobody:
            assert notice == [], err
        else:  # said once, on stderr, without -l: and it names what nobody cannot reach
            assert len(notice) == 1 and "nobody cannot" in notice[0], err


@pytest.fixture
def setcap_venv() -> Iterator[Path]:
    """A venv with an interpreter of its own given cap_net_raw,cap_net_admin, as the README says."""
    base, why = nobody_install.base_python()
    if base is None:
        pytest.skip(why)
    if shutil.which("setcap") is None:
        pytest.skip("needs setcap (Debian package libcap2-bin)")
    venv = nobody_install.build(copies=True)
    try:
        python = venv / "bin" / "python3"
        subprocess.run(["setcap", "cap_net_raw,cap_net_admin=eip", str(python)], check=True)
        got = subprocess.run(["getcap", str(python)], capture_output=True, text=True).stdout
        if "cap_net_admin,cap_net_raw=eip" not in got:
            pytest.skip(f"this filesystem does not keep file capabilities ({got.strip()!r})")
        yield venv
    finally:
        nobody_install.remove(venv)


def test_setcap_interpreter_capabilities_stay_in_the_capture(setcap_venv: Path) -> None:
    with TwoHosts() as net:
        rustnet = str(setcap_venv / "bin" / "rustnet")
        err_master, err_slave = pty.openpty()
        p = subprocess.Popen(
            net.cmd("a", ["runuser", "-u", "nobody", "--", rustnet, "-i", net.iface("a"), "--json"]),
            text=True,
            stdout=subprocess.PIPE,
            stderr=err_slave,
            stdin=subprocess.DEVNULL,
            cwd="/",
        )
        os.close(err_slave)
        top = p.pid
        try:
            # runuser stays as the parent of rustnet: find rustnet below it.
            wait_until(lambda: any("/rustnet " in cmdline(c) + " " for c in children(p.pid)), 15)
            top = next(c for c in children(p.pid) if "/rustnet " in cmdline(c) + " ")
            pids = stage_pids(top)
            pids["rustnet"] = top
            wait_until(lambda: all(caps(pid) == set() for pid in pids.values()))
            for name, pid in pids.items():
                st = status(pid)
                assert st["Uid"].split() == [str(NOBODY.pw_uid)] * 4, name
                assert caps(pid) == caps(pid, "CapEff") == set(), (name, st["CapPrm"])
                assert st["NoNewPrivs"] == "1", name
            # The capture itself still works: it opened its handle before giving the capabilities up.
            net.run("a", ["ping", "-c", "3", "-i", "0.2", net.addr_b])
            time.sleep(0.5)
        finally:
            if top == p.pid:  # rustnet never showed up
                p.kill()
            else:
                os.kill(top, signal.SIGINT)
            out, _ = p.communicate(timeout=30)
            err = read_all(err_master)
        conns = [json.loads(line) for line in out.splitlines()]
        assert any(c.get("proto") == "icmp" and c.get("dst") == net.addr_b for c in conns), (conns, err)
        assert "Traceback" not in err and "run as root" not in err, err
