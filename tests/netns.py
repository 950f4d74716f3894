"""Test hosts in network namespaces joined by a veth pair (live tests only).

    with TwoHosts() as net:
        server = net.spawn("b", ["python3", "-m", "http.server", "8000"])
        net.run("a", ["curl", f"http://{net.addr_b}:8000/"])

Host "a" holds ``veth-a`` with 10.77.<n>.1/24 and fd77:<n>::1/64, host "b" holds
``veth-b`` with .2 / ::2. Names carry a per-instance suffix so parallel tests do not
collide. Everything (processes started with :meth:`spawn`, both namespaces) is
removed on exit, even when the test fails. Traffic stays inside these namespaces.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import time
from types import TracebackType
from typing import Any

_counter = itertools.count(1)


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGINT, timeout: float = 20.0) -> None:
    """Ask ``proc`` to stop with ``sig``; kill it if it has not ended within ``timeout`` seconds."""
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def can_make_namespaces() -> bool:
    """True when running as root with ``ip netns`` available."""
    return os.geteuid() == 0 and shutil.which("ip") is not None


class TwoHosts:
    def __init__(self) -> None:
        n = (os.getpid() * 7 + next(_counter)) % 250 + 1
        tag = f"{os.getpid() % 100000}x{n}"
        self.ns_a = f"rnta{tag}"
        self.ns_b = f"rntb{tag}"
        self.if_a = f"rna{tag}"[:15]
        self.if_b = f"rnb{tag}"[:15]
        self.addr_a = f"10.77.{n}.1"
        self.addr_b = f"10.77.{n}.2"
        self.addr6_a = f"fd77:{n:x}::1"
        self.addr6_b = f"fd77:{n:x}::2"
        self._procs: list[subprocess.Popen[bytes]] = []

    # --- set-up and tear-down ------------------------------------------------
    def __enter__(self) -> TwoHosts:
        try:
            self._ip("netns", "add", self.ns_a)
            self._ip("netns", "add", self.ns_b)
            self._ip("link", "add", self.if_a, "type", "veth", "peer", "name", self.if_b)
            self._ip("link", "set", self.if_a, "netns", self.ns_a)
            self._ip("link", "set", self.if_b, "netns", self.ns_b)
            for ns, ifname, v4, v6 in (
                (self.ns_a, self.if_a, self.addr_a, self.addr6_a),
                (self.ns_b, self.if_b, self.addr_b, self.addr6_b),
            ):
                self._ip("-n", ns, "addr", "add", f"{v4}/24", "dev", ifname)
                self._ip("-n", ns, "addr", "add", f"{v6}/64", "dev", ifname, "nodad")
                self._ip("-n", ns, "link", "set", ifname, "up")
                self._ip("-n", ns, "link", "set", "lo", "up")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        for p in reversed(self._procs):
            _kill_group(p)
        self._procs.clear()
        for ns in (self.ns_a, self.ns_b):
            # Anything still running in the namespace (started outside spawn) goes too.
            out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
            for pid in out.stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)

    # --- running things in a host ----------------------------------------------
    def ns(self, host: str) -> str:
        return {"a": self.ns_a, "b": self.ns_b}[host]

    def iface(self, host: str) -> str:
        return {"a": self.if_a, "b": self.if_b}[host]

    def cmd(self, host: str, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.ns(host), *argv]

    def run(
        self, host: str, argv: list[str], timeout: float = 30, check: bool = True, **kw: Any
    ) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(self.cmd(host, argv), timeout=timeout, check=check, capture_output=True, **kw)

    def spawn(self, host: str, argv: list[str], **kw: Any) -> subprocess.Popen[bytes]:
        """Start a long-running process in ``host``; it is killed (with its group) on exit."""
        kw.setdefault("stdout", subprocess.DEVNULL)
        kw.setdefault("stderr", subprocess.DEVNULL)
        p = subprocess.Popen(self.cmd(host, argv), start_new_session=True, **kw)
        self._procs.append(p)
        return p

    def spawn_sshd(self, host: str, config: str) -> subprocess.Popen[bytes]:
        """Start a real sshd in ``host`` with ``config``, its stderr kept for the test's message.

        sshd refuses to start without its privilege-separation directory ``/run/sshd``, which
        only the ssh service creates at boot; a fresh machine that never ran it has none.
        """
        sshd = shutil.which("sshd") or "/usr/sbin/sshd"
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        return self.spawn(host, [sshd, "-D", "-e", "-f", config])

    def wait_port(self, host: str, port: int, timeout: float = 10.0, udp: bool = False) -> None:
        """Wait until something listens on ``port`` in ``host``."""
        deadline = time.monotonic() + timeout
        flag = "-uln" if udp else "-tln"
        while time.monotonic() < deadline:
            out = subprocess.run(self.cmd(host, ["ss", "-H", flag]), capture_output=True, text=True)
            if any(
                line.split()[3].rsplit(":", 1)[-1] == str(port)
                for line in out.stdout.splitlines()
                if len(line.split()) > 3
            ):
                return
            time.sleep(0.05)
        raise TimeoutError(f"nothing listens on port {port} in {self.ns(host)}")

    def _ip(self, *args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True)


def _kill_group(p: subprocess.Popen[bytes]) -> None:
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            p.wait(timeout=3)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(timeout=3)
