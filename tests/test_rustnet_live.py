"""rustnet on live interfaces inside test namespaces: capture, signals, supervision, ssh.

Every test makes its own pair of namespaces (tests/netns.py); the traffic is between
them, and rustnet runs inside one of them with ``ip netns exec`` (which execs, so the
Popen's pid is rustnet's own).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.netns import TwoHosts, can_make_namespaces

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not can_make_namespaces(), reason="needs root and ip netns"),
]

BIN = Path(sys.executable).parent
RUSTNET = str(BIN / "rustnet")
STAGES = ("rn-capture", "rn-dissect", "rn-track", "rn-enrich")


@pytest.fixture
def net() -> Iterator[TwoHosts]:
    with TwoHosts() as hosts:
        yield hosts


def children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def stage_pids(pid: int, timeout: float = 10.0) -> dict[str, int]:
    """Wait until rustnet ``pid`` runs all its stages; their pids by name. Where few cores are idle
    rn-track dissects itself (``rn-track --dissect``, rustnet.app.launch.dissect_in_track): then
    there is no rn-dissect."""
    deadline = time.monotonic() + timeout
    found: dict[str, int] = {}
    while time.monotonic() < deadline:
        found = {}
        for child in children(pid):
            line = cmdline(child)
            for name in STAGES:
                if f"/{name} " in line + " ":
                    found[name] = child
        want = set(STAGES)
        if "rn-track" in found and " --dissect " in cmdline(found["rn-track"]) + " ":
            want.discard("rn-dissect")
        if set(found) == want:
            return found
        time.sleep(0.05)
    raise AssertionError(f"stages never all started: {found}")


def alive(pid: int) -> bool:
    """Running (not a zombie waiting for its parent) and still one of our stages."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z" and "rn-" in cmdline(pid)


def wait_gone(pids: list[int], timeout: float = 5.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [p for p in pids if alive(p)]
        if not left:
            return []
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


def wait_capturing(net: TwoHosts, host: str = "a", timeout: float = 15.0) -> None:
    """Wait until a packet socket is open in ``host`` (rn-capture's: nothing else there opens one)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(net.cmd(host, ["cat", "/proc/net/packet"]), capture_output=True, text=True)
        if len(out.stdout.splitlines()) > 1:
            time.sleep(0.3)  # the filter and ring are set up right after the socket
            return
        time.sleep(0.05)
    raise AssertionError("the capture never opened")


def start_rustnet(net: TwoHosts, *args: str, cwd: str | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        net.cmd("a", [RUSTNET, "-i", net.iface("a"), "--json", *args]),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
    )


def http_exchange(net: TwoHosts, port: int = 8000) -> None:
    net.spawn("b", [sys.executable, "-m", "http.server", str(port), "--bind", net.addr_b], cwd="/")
    net.wait_port("b", port)
    net.run("a", ["curl", "-s", "-o", "/dev/null", f"http://{net.addr_b}:{port}/"])


def finals(stdout: str) -> list[dict[str, object]]:
    return [json.loads(ln) for ln in stdout.splitlines()]


# --- capture, Ctrl+C and --duration ------------------------------------------------------
def test_interface_and_ctrl_c_give_final_records(net: TwoHosts) -> None:
    p = start_rustnet(net)
    try:
        stage_pids(p.pid)
        wait_capturing(net)
        http_exchange(net)
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)  # the first Ctrl+C: stop capturing, the rest drain
        out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    conns = [c for c in finals(out) if c.get("proto") == "tcp" and c.get("dport") == 8000]
    assert len(conns) == 1, out
    c = conns[0]
    assert c["src"] == net.addr_a and c["dst"] == net.addr_b and c["final"] is True
    assert c["packets"] >= 6  # handshake, request, response, teardown


def test_duration_and_log_with_capture_statistics(net: TwoHosts, tmp_path: Path) -> None:
    p = start_rustnet(net, "--duration", "3", "-l", "info", cwd=str(tmp_path))
    try:
        stage_pids(p.pid)
        wait_capturing(net)
        http_exchange(net)
        out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert any(c.get("dport") == 8000 for c in finals(out))
    log = next((tmp_path / "logs").iterdir()).read_text()
    assert f"interface {net.iface('a')}" in log
    assert re.search(r"capture statistics: source=\S+ packets=\d+ received=\d+ dropped=0", log)
    assert "stopping rn-capture (SIGINT)" in log


def test_no_localhost_live(net: TwoHosts) -> None:
    net.spawn("a", [sys.executable, "-m", "http.server", "8001", "--bind", "127.0.0.1"], cwd="/")
    net.wait_port("a", 8001)
    results = {}
    for flag in ([], ["--no-localhost"]):
        p = subprocess.Popen(
            net.cmd("a", [RUSTNET, "-i", "lo", "--json", "--duration", "3", *flag]),
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        stage_pids(p.pid)
        wait_capturing(net)
        net.run("a", ["curl", "-s", "-o", "/dev/null", "http://127.0.0.1:8001/"])
        out, err = p.communicate(timeout=20)
        assert p.returncode == 0, err
        results[bool(flag)] = [c for c in finals(out) if c.get("dport") == 8001]
    assert len(results[False]) == 1 and results[False][0]["src"] == "127.0.0.1"
    assert results[True] == []


# --- supervision: nothing outlives rustnet ---------------------------------------------------
def test_a_killed_stage_ends_everything(net: TwoHosts) -> None:
    p = start_rustnet(net)
    try:
        pids = stage_pids(p.pid)
        time.sleep(0.5)
        os.kill(pids["rn-track"], signal.SIGKILL)
        out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 1
    assert "rn-track was killed by SIGKILL" in err
    assert "Traceback" not in err
    assert wait_gone(list(pids.values())) == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_end_every_stage(net: TwoHosts, sig: signal.Signals) -> None:
    p = start_rustnet(net)
    try:
        pids = stage_pids(p.pid)
        time.sleep(0.3)
        p.send_signal(sig)
        _, err = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 143
    assert "Traceback" not in err
    assert wait_gone(list(pids.values())) == []


def test_second_ctrl_c_ends_at_once(net: TwoHosts) -> None:
    p = start_rustnet(net)
    try:
        pids = stage_pids(p.pid)
        time.sleep(0.3)
        p.send_signal(signal.SIGINT)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode in (0, 130)  # 0 when the drain won the race with the second signal
    assert "Traceback" not in err
    assert wait_gone(list(pids.values())) == []


def test_kill_9_of_rustnet_leaves_no_stage(net: TwoHosts) -> None:
    p = start_rustnet(net)
    try:
        pids = stage_pids(p.pid)
        time.sleep(0.5)
        p.kill()  # SIGKILL: no handler runs; the kernel's parent-death signal must do it
        p.communicate(timeout=10)
        # rn-capture has switched to nobody, which clears its parent-death signal; it ends at
        # its next write (statistics, every second) into the pipe of the dead rn-dissect (or
        # rn-track --dissect).
        assert wait_gone(list(pids.values()), timeout=6.0) == []
    finally:
        if p.poll() is None:
            p.kill()


# --- --remote over a real ssh ------------------------------------------------------------------
def remote_leftovers(net: TwoHosts, timeout: float = 5.0) -> list[str]:
    """rn- processes still running in host b (the "remote" host) after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        pids = subprocess.run(["ip", "netns", "pids", net.ns("b")], capture_output=True, text=True).stdout
        remote = [int(x) for x in pids.split() if "/rn-" in cmdline(int(x)) and alive(int(x))]
        if not remote or time.monotonic() >= deadline:
            return [cmdline(x) for x in remote]
        time.sleep(0.1)


@pytest.fixture
def ssh_env(net: TwoHosts, tmp_path: Path) -> dict[str, str]:
    """A real sshd in host b (port 2222, key login for root); the environment for rustnet --remote."""
    if shutil.which("sshd") is None and not Path("/usr/sbin/sshd").exists():
        pytest.skip("no sshd")
    key, hostkey = tmp_path / "id", tmp_path / "hostkey"
    for k in (key, hostkey):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(k)], check=True)
    auth = tmp_path / "authorized_keys"
    auth.write_text(Path(f"{key}.pub").read_text())
    os.chmod(auth, 0o600)
    # Without PAM, sshd refuses a root account whose password is locked ("!"), as on many
    # installs; with PAM (when sshd has a PAM service) key logins work either way.
    use_pam = "yes" if Path("/etc/pam.d/sshd").exists() else "no"
    cfg = tmp_path / "sshd_config"
    cfg.write_text(
        f"Port 2222\nListenAddress {net.addr_b}\nHostKey {hostkey}\nAuthorizedKeysFile {auth}\n"
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\nStrictModes no\n"
        f"PidFile {tmp_path}/sshd.pid\nUsePAM {use_pam}\nAcceptEnv LANG\n"
    )
    net.spawn_sshd("b", str(cfg))
    net.wait_port("b", 2222)
    return {
        **os.environ,
        "RUSTNET_SSH": f"ssh -i {key} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
        "-o LogLevel=ERROR -p 2222",
        "RUSTNET_REMOTE_PATH": str(BIN),
    }


def test_remote_capture_over_ssh(net: TwoHosts, ssh_env: dict[str, str]) -> None:
    p = subprocess.Popen(
        net.cmd("a", [RUSTNET, "--remote", f"root@{net.addr_b}", "-i", net.iface("b"), "--json"]),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=ssh_env,
    )
    try:
        wait_capturing(net, "b")  # ssh logged in and the remote rn-capture is open
        http_exchange(net, 8002)
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)  # Ctrl+C: the remote capture stops, everything drains
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    conns = finals(out)
    http = [c for c in conns if c.get("dport") == 8002 and c.get("src") == net.addr_a]
    assert len(http) == 1, out
    # The remote rn-enrich named the remote server's process; rn-track joined it here.
    assert "python" in str(http[0].get("process", "")), http[0]
    # The remote capture excluded its own ssh connection (SSH_CONNECTION).
    assert not any(2222 in (c.get("sport"), c.get("dport")) for c in conns), out
    # Nothing is left running on the remote side either.
    assert remote_leftovers(net) == []


def test_remote_sigterm_stops_the_remote_side(net: TwoHosts, ssh_env: dict[str, str]) -> None:
    p = subprocess.Popen(
        net.cmd("a", [RUSTNET, "--remote", f"root@{net.addr_b}", "-i", net.iface("b"), "--json"]),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=ssh_env,
    )
    try:
        wait_capturing(net, "b")
        assert remote_leftovers(net, timeout=0), "the remote capture is not running"
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=15)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 143, err
    assert remote_leftovers(net) == []


def test_no_suitable_interface_in_an_empty_namespace() -> None:
    ns = f"rnempty{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        p = subprocess.run(
            ["ip", "netns", "exec", ns, RUSTNET, "--json", "--duration", "1"],
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    assert p.returncode == 1
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert lines == ["rustnet: No suitable capture interfaces found"], p.stderr
