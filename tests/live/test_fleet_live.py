"""rustnet --remote A --remote B: two hosts in one view, over real sshd in two namespaces.

Both namespaces run an sshd (port 2222, key login for root); rustnet runs in namespace a and
reaches host a (itself, through its own sshd) and host b. Both hosts capture the same veth
pair, so one exchange between them is the same 5-tuple seen on two nodes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.netns import TwoHosts, can_make_namespaces
from tests.test_rustnet_live import BIN, RUSTNET, alive, cmdline

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not can_make_namespaces(), reason="needs root and ip netns"),
]


@pytest.fixture
def net() -> Iterator[TwoHosts]:
    with TwoHosts() as hosts:
        yield hosts


def sshd(net: TwoHosts, host: str, addr: str, key: Path, tmp_path: Path) -> subprocess.Popen[bytes]:
    hostkey = tmp_path / f"hostkey-{host}"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(hostkey)], check=True)
    auth = tmp_path / "authorized_keys"
    use_pam = "yes" if Path("/etc/pam.d/sshd").exists() else "no"
    cfg = tmp_path / f"sshd_config-{host}"
    cfg.write_text(
        f"Port 2222\nListenAddress {addr}\nHostKey {hostkey}\nAuthorizedKeysFile {auth}\n"
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\nStrictModes no\n"
        f"PidFile {tmp_path}/sshd-{host}.pid\nUsePAM {use_pam}\nAcceptEnv LANG\n"
    )
    proc = net.spawn_sshd(host, str(cfg))
    net.wait_port(host, 2222)
    return proc


@pytest.fixture
def two_sshd(net: TwoHosts, tmp_path: Path) -> tuple[dict[str, str], dict[str, subprocess.Popen[bytes]]]:
    """An sshd in each namespace; the environment for rustnet --remote, and the sshd processes."""
    if shutil.which("sshd") is None and not Path("/usr/sbin/sshd").exists():
        pytest.skip("no sshd")
    key = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    auth = tmp_path / "authorized_keys"
    auth.write_text(Path(f"{key}.pub").read_text())
    os.chmod(auth, 0o600)
    procs = {h: sshd(net, h, a, key, tmp_path) for h, a in (("a", net.addr_a), ("b", net.addr_b))}
    env = {
        **os.environ,
        "RUSTNET_SSH": f"ssh -i {key} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
        "-o LogLevel=ERROR -o ConnectTimeout=5 -p 2222",
        "RUSTNET_REMOTE_PATH": str(BIN),
    }
    return env, procs


def rn_processes(net: TwoHosts, host: str) -> list[int]:
    pids = subprocess.run(["ip", "netns", "pids", net.ns(host)], capture_output=True, text=True).stdout
    return [int(x) for x in pids.split() if "/rn-" in cmdline(int(x)) and alive(int(x))]


def leftovers(net: TwoHosts, timeout: float = 5.0) -> dict[str, list[str]]:
    """rn- processes still running in either namespace after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        left = {h: [cmdline(p) for p in rn_processes(net, h)] for h in ("a", "b")}
        if not any(left.values()) or time.monotonic() >= deadline:
            return {h: v for h, v in left.items() if v}
        time.sleep(0.1)


def wait_capturing_both(net: TwoHosts, timeout: float = 40.0) -> None:
    """Both hosts' remote rn-capture have their packet socket open."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        opened = [
            len(
                subprocess.run(
                    net.cmd(h, ["cat", "/proc/net/packet"]), capture_output=True, text=True
                ).stdout.splitlines()
            )
            > 1
            for h in ("a", "b")
        ]
        if all(opened):
            time.sleep(0.5)
            return
        time.sleep(0.1)
    raise AssertionError("the captures never opened on both hosts")


def exchange(net: TwoHosts, port: int) -> None:
    net.spawn("b", [sys.executable, "-m", "http.server", str(port), "--bind", net.addr_b], cwd="/")
    net.wait_port("b", port)
    net.run("a", ["curl", "-s", "-o", "/dev/null", f"http://{net.addr_b}:{port}/"])


def start(net: TwoHosts, env: dict[str, str]) -> subprocess.Popen[str]:
    argv = [RUSTNET, "--remote", f"root@{net.addr_a}", "--remote", f"root@{net.addr_b}", "--json"]
    return subprocess.Popen(
        net.cmd("a", argv),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
    )


def test_two_hosts_in_one_view_and_ctrl_c_stops_both(
    net: TwoHosts, two_sshd: tuple[dict[str, str], dict[str, subprocess.Popen[bytes]]]
) -> None:
    env, _ = two_sshd
    p = start(net, env)
    try:
        wait_capturing_both(net)
        exchange(net, 8002)
        time.sleep(1.0)
        p.send_signal(signal.SIGINT)  # Ctrl+C: both remote captures stop, everything drains
        out, err = p.communicate(timeout=40)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    conns = [json.loads(line) for line in out.splitlines()]
    http = [c for c in conns if c.get("dport") == 8002 and c.get("src") == net.addr_a]
    # The same 5-tuple seen on both hosts: two connections, each naming its node.
    assert sorted(str(c["node"]) for c in http) == sorted([net.addr_a, net.addr_b]), out
    on_b = next(c for c in http if c["node"] == net.addr_b)
    assert "python" in str(on_b.get("process", "")), on_b  # host b's own process names
    # Each host's own end is its local end: rn-track here takes the capturing host's addresses
    # from its stream header, not this host's (b serves: its end is the responder).
    on_a = next(c for c in http if c["node"] == net.addr_a)
    assert (on_a.get("local_side"), on_b.get("local_side")) == ("src", "dst"), http
    assert leftovers(net) == {}


def test_a_host_that_drops_out_is_said_down_and_the_other_goes_on(
    net: TwoHosts, two_sshd: tuple[dict[str, str], dict[str, subprocess.Popen[bytes]]]
) -> None:
    env, procs = two_sshd
    p = start(net, env)
    try:
        wait_capturing_both(net)
        # Host b goes away: its sshd and its capture die (no way back in while it is down).
        procs["b"].kill()
        procs["b"].wait()
        for pid in rn_processes(net, "b"):
            os.kill(pid, signal.SIGKILL)
        time.sleep(2.0)
        exchange(net, 8003)  # seen by host a's capture only
        time.sleep(1.0)
        assert p.poll() is None, "rustnet ended with one host down"
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=40)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert f"{net.addr_b}: down (" in err, err
    assert "trying again" in err
    conns = [json.loads(line) for line in out.splitlines()]
    later = [c for c in conns if c.get("dport") == 8003 and c.get("src") == net.addr_a]
    assert [c["node"] for c in later] == [net.addr_a], out
    assert leftovers(net) == {}


def test_the_tui_shows_each_host_and_a_host_down(
    net: TwoHosts,
    two_sshd: tuple[dict[str, str], dict[str, subprocess.Popen[bytes]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.tui.test_rustnet_tui import Terminal

    env, procs = two_sshd
    for k in ("RUSTNET_SSH", "RUSTNET_REMOTE_PATH"):
        monkeypatch.setenv(k, env[k])
    argv = [RUSTNET, "--remote", f"root@{net.addr_a}", "--remote", f"root@{net.addr_b}"]
    t = Terminal(net.cmd("a", argv), cols=160, rows=30)
    try:
        wait_capturing_both(net)
        exchange(net, 8004)
        # A Host column, with the exchange on both hosts (the same 5-tuple: two rows).
        t.wait_for("Host ")
        t.send(b"t")  # closed ones too: the exchange is over by now
        t.send(b"/port:8004\r")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            hosts = [ln.split()[0] for ln in t.text.splitlines()[3:-2] if ln.split()]
            if sorted(h for h in hosts if h.startswith("10.77.")) == sorted([net.addr_a, net.addr_b]):
                break
            t.pump(0.2)
        else:
            raise AssertionError(t.text)
        t.wait_for("2 hosts")  # the status bar counts the hosts
        procs["b"].kill()
        procs["b"].wait()
        for pid in rn_processes(net, "b"):
            os.kill(pid, signal.SIGKILL)
        t.wait_for(f"down: {net.addr_b}!", timeout=20)  # the status bar says which host is down
        t.send(b"\x03")  # Ctrl+C
        assert t.finish(30) == 130
    finally:
        t.close()
    assert leftovers(net) == {}
