"""rn-capture on a real interface: two network namespaces, real servers and clients.

Each test builds its own hosts (tests/netns.py) and checks what rn-capture saw against
what the peers know independently: curl's byte counts, a tcpdump running alongside,
the kernel's view of the process (/proc/<pid>/status).
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.netns import TwoHosts, can_make_namespaces

RN_CAPTURE = str(Path(sys.executable).with_name("rn-capture"))

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not can_make_namespaces(), reason="needs root and ip netns"),
]


class Capture:
    """A running rn-capture (JSON output) whose records are collected as they arrive."""

    def __init__(self, net: TwoHosts, host: str, args: list[str], env: dict[str, str] | None = None) -> None:
        full_env = dict(os.environ)
        full_env.pop("SSH_CONNECTION", None)
        full_env.update(env or {})
        # stderr goes to a file: nothing to leak, nothing that can block the capture.
        err_fd, self._err_path = tempfile.mkstemp(prefix="rncap-err-")
        weakref.finalize(self, os.unlink, self._err_path)
        try:
            self.proc = net.spawn(
                host,
                [RN_CAPTURE, "--format", "json", *args],
                stdout=subprocess.PIPE,
                stderr=err_fd,
                env=full_env,
            )
        finally:
            os.close(err_fd)
        self.records: list[dict[str, Any]] = []
        self.arrival: list[float] = []  # wall-clock time each record was read
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with self.proc.stdout:
            for line in self.proc.stdout:
                rec = json.loads(line)
                self.arrival.append(time.time())
                self.records.append(rec)

    def wait_for(self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(list(self.records)):
                return
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.02)
        raise AssertionError(
            f"timed out; records so far: {[r['t'] for r in self.records][-20:]}; "
            f"stderr: {self.stderr() if self.proc.poll() is not None else '(running)'}"
        )

    def started(self) -> None:
        self.wait_for(lambda recs: bool(recs) and recs[0]["t"] == "hdr")

    def finish(self, timeout: float = 10.0) -> int:
        rc = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return rc

    def stderr(self) -> str:
        return Path(self._err_path).read_text()

    def packets(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r["t"] == "pkt"]


def tcp_of(pkt: dict[str, Any]) -> tuple[int, int, int] | None:
    """(sport, dport, payload length) of an Ethernet/IPv4/TCP frame, parsed here."""
    frame = bytes.fromhex(pkt["data"])
    if len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
        return None
    ihl = (frame[14] & 0x0F) * 4
    (total,) = struct.unpack_from("!H", frame, 16)
    sport, dport = struct.unpack_from("!HH", frame, 14 + ihl)
    doff = (frame[14 + ihl + 12] >> 4) * 4
    return sport, dport, total - ihl - doff


def tcp_seq(pkt: dict[str, Any]) -> int:
    """The sequence number of an Ethernet/IPv4/TCP frame (tcp_of has checked it is one)."""
    frame = bytes.fromhex(pkt["data"])
    ihl = (frame[14] & 0x0F) * 4
    return int(struct.unpack_from("!I", frame, 14 + ihl + 4)[0])


def pcap_wirelens(path: Path) -> list[tuple[int, int]]:
    data = path.read_bytes()
    out, pos = [], 24
    while pos + 16 <= len(data):
        _s, _u, caplen, wirelen = struct.unpack_from("=IIII", data, pos)
        if pos + 16 + caplen > len(data):
            break
        out.append((caplen, wirelen))
        pos += 16 + caplen
    return out


def proc_status(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as fh:
        return dict(line.rstrip("\n").split(":\t", 1) for line in fh if ":\t" in line)


def start_tcpdump(net: TwoHosts, out: Path, bpf: str) -> subprocess.Popen[bytes]:
    """A reference capture by tcpdump, ready when it says it listens."""
    log = out.with_suffix(".log")
    with open(log, "wb") as err:
        ref = net.spawn(
            "a", ["tcpdump", "-U", "--immediate-mode", "-n", "-i", net.if_a, "-w", str(out), bpf], stderr=err
        )
    deadline = time.monotonic() + 10
    while b"listening on" not in log.read_bytes():
        assert time.monotonic() < deadline and ref.poll() is None, log.read_text()
        time.sleep(0.02)
    return ref


def test_http_download_seen_with_exact_bytes(tmp_path: Path) -> None:
    www = tmp_path / "www"
    www.mkdir()
    (www / "blob.bin").write_bytes(os.urandom(300_000))
    with TwoHosts() as net:
        net.spawn("b", ["python3", "-m", "http.server", "8000", "--bind", net.addr_b], cwd=str(www))
        net.wait_port("b", 8000)
        ref_file = tmp_path / "ref.pcap"
        ref = start_tcpdump(net, ref_file, "tcp port 8000")
        dump = tmp_path / "live.pcap"
        cap = Capture(net, "a", ["-i", net.if_a, "-w", str(dump), "tcp", "port", "8000"])
        cap.started()
        hdr = cap.records[0]
        assert hdr["live"] is True and hdr["source"] == net.if_a and hdr["linktype"] == 1
        res = net.run(
            "a",
            [
                "curl",
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{size_request} %{size_header} %{size_download}",
                f"http://{net.addr_b}:8000/blob.bin",
            ],
        )
        sent, header, body = map(int, res.stdout.split())
        assert body == 300_000

        def payload(recs: list[dict[str, Any]], dport: int | None = None, sport: int | None = None) -> int:
            # Bytes of the stream the segments cover: on a loaded machine TCP may send data twice
            # (a loss probe, or a retransmission cut at other boundaries), and the capture rightly
            # shows every copy. Sequence numbers relative to the first, so a wrap past 2**32 is fine.
            spans: list[tuple[int, int]] = []
            first: int | None = None
            for r in recs:
                t = tcp_of(r) if r["t"] == "pkt" else None
                if t and t[2] and (dport is None or t[1] == dport) and (sport is None or t[0] == sport):
                    seq = tcp_seq(r)
                    first = seq if first is None else first
                    start = (seq - first + 2**31) % 2**32
                    spans.append((start, start + t[2]))
            covered, end = 0, -1
            for start, stop in sorted(spans):
                if stop > end:
                    covered += stop - max(start, end)
                    end = stop
            return covered

        # Everything arrives while the capture still runs (nothing held back in a buffer).
        cap.wait_for(
            lambda recs: payload(recs, sport=8000) == header + body and payload(recs, dport=8000) == sent,
            timeout=5,
        )
        time.sleep(0.5)  # the connection's last ACKs
        os.kill(ref.pid, signal.SIGINT)
        ref.wait(timeout=5)
        os.kill(cap.proc.pid, signal.SIGINT)
        assert cap.finish() == 0
        assert cap.stderr() == ""
        pkts = cap.packets()
        final = cap.records[-1]
        assert final["t"] == "stats" and final["packets"] == len(pkts) and final["received"] >= len(pkts)
        assert final["dropped"] == 0
        # Same frames, same lengths as tcpdump saw; -w wrote exactly what we streamed.
        ours = [(len(p["data"]) // 2, p["wirelen"]) for p in pkts]
        # Two packet sockets may see a TX and an RX frame in different orders: compare as multisets.
        assert sorted(ours) == sorted(pcap_wirelens(ref_file))
        assert ours == pcap_wirelens(dump)
        for p in pkts:
            frame = bytes.fromhex(p["data"])
            assert p["wirelen"] == len(frame) == 14 + struct.unpack_from("!H", frame, 16)[0]


def test_privileges_dropped_and_sigterm_ends_cleanly() -> None:
    nobody = pwd.getpwnam("nobody")
    with TwoHosts() as net:
        cap = Capture(net, "a", ["-i", net.if_a])
        keep = Capture(net, "a", ["-i", net.if_a, "--no-drop"])
        cap.started()
        keep.started()
        status = proc_status(cap.proc.pid)
        assert status["Uid"].split() == [str(nobody.pw_uid)] * 4
        assert status["Gid"].split() == [str(nobody.pw_gid)] * 4
        assert status["Groups"].strip() == ""
        assert int(status["CapEff"], 16) == 0 and int(status["CapPrm"], 16) == 0
        assert proc_status(keep.proc.pid)["Uid"].split() == ["0"] * 4
        net.run("a", ["ping", "-c", "2", "-i", "0.2", net.addr_b])
        cap.wait_for(lambda recs: sum(r["t"] == "pkt" for r in recs) >= 4)  # still capturing as nobody
        t0 = time.monotonic()
        cap.proc.send_signal(signal.SIGTERM)
        keep.proc.send_signal(signal.SIGHUP)
        assert cap.finish() == 143 and keep.finish() == 143
        assert time.monotonic() - t0 < 2
        for c in (cap, keep):
            assert c.stderr() == ""
            assert c.records[-1]["t"] == "stats" and c.records[-1]["packets"] == len(c.packets())


def test_interface_deleted_mid_capture() -> None:
    with TwoHosts() as net:
        cap = Capture(net, "a", ["-i", net.if_a])
        cap.started()
        net.run("a", ["ping", "-c", "1", net.addr_b])
        cap.wait_for(lambda recs: any(r["t"] == "pkt" for r in recs))
        subprocess.run(["ip", "-n", net.ns_a, "link", "del", net.if_a], check=True)
        assert cap.finish(timeout=5) == 1
        lines = cap.stderr().splitlines()
        assert len(lines) == 1 and net.if_a in lines[0] and "went down or disappeared" in lines[0]
        assert [r["t"] for r in cap.records[-2:]] == ["warn", "stats"]
        assert cap.records[-2]["stage"] == "rn-capture"


def test_default_interface_and_ssh_self_exclusion() -> None:
    with TwoHosts() as net:
        net.spawn("b", ["python3", "-m", "http.server", "8000", "--bind", net.addr_b])
        net.wait_port("b", 8000)
        subprocess.run(["ip", "-n", net.ns_a, "route", "add", "default", "via", net.addr_b], check=True)
        ssh = {"SSH_CONNECTION": f"{net.addr_a} 40123 {net.addr_b} 8000"}
        excl = Capture(net, "a", ["tcp"], env=ssh)  # no -i: the default route's interface
        incl = Capture(net, "a", ["-i", net.if_a, "--include-self", "tcp"], env=ssh)
        excl.started()
        incl.started()
        assert excl.records[0]["source"] == net.if_a
        for port in (40123, 40124):
            net.run(
                "a",
                ["curl", "-sS", "-o", "/dev/null", "--local-port", str(port), f"http://{net.addr_b}:8000/"],
            )

        def ports(c: Capture) -> set[int]:
            return {p for r in c.packets() if (t := tcp_of(r)) for p in t[:2]}

        incl.wait_for(lambda recs: {40123, 40124} <= ports(incl))
        excl.wait_for(lambda recs: 40124 in ports(excl))
        time.sleep(0.3)
        for c in (excl, incl):
            c.proc.send_signal(signal.SIGINT)
            assert c.finish() == 0
        assert 40123 not in ports(excl)


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) not installed")
def test_no_permission_says_how_to_fix() -> None:
    p = subprocess.run(
        [
            "setpriv",
            "--bounding-set",
            "-net_raw,-net_admin",
            "--",
            RN_CAPTURE,
            "-i",
            "lo",
            "--format",
            "json",
        ],
        capture_output=True,
        timeout=30,
    )
    assert p.returncode == 1 and p.stdout == b""
    lines = p.stderr.decode().splitlines()
    assert len(lines) == 1
    assert "run as root" in lines[0] and "setcap cap_net_raw,cap_net_admin=eip" in lines[0]
    # Never setcap on an interpreter shared with every other Python program of the machine.
    assert os.path.realpath(sys.executable) not in lines[0] and "venv --copies" in lines[0]


def test_any_interface_with_small_snaplen_keeps_wire_length() -> None:
    with TwoHosts() as net:
        cap = Capture(net, "a", ["-i", "any", "-s", "100", "-c", "4", "icmp"])
        cap.started()
        net.run("a", ["ping", "-c", "2", "-i", "0.2", "-s", "1000", net.addr_b])
        assert cap.finish() == 0
        hdr, pkts = cap.records[0], cap.packets()
        assert hdr["linktype"] in (113, 276) and hdr["snaplen"] == 100
        link_header = 16 if hdr["linktype"] == 113 else 20
        assert len(pkts) == 4
        for p in pkts:
            assert len(p["data"]) // 2 == 100
            assert p["wirelen"] == link_header + 20 + 8 + 1000
        assert cap.records[-1]["t"] == "stats" and cap.records[-1]["packets"] == 4


def test_no_interface_to_capture_on() -> None:
    with TwoHosts() as net:
        subprocess.run(["ip", "-n", net.ns_a, "link", "del", net.if_a], check=True)  # only lo is left
        p = net.run("a", [RN_CAPTURE, "--format", "json"], check=False)
        assert p.returncode == 1 and p.stdout == b""
        assert p.stderr.decode().splitlines() == ["rn-capture: No suitable capture interfaces found"]


def test_packets_reach_the_stream_quickly() -> None:
    """A quiet interface is not held back: each packet is out within the ring's 100 ms timeout."""
    with TwoHosts() as net:
        cap = Capture(net, "a", ["-i", net.if_a, "icmp"])
        cap.started()
        net.run("a", ["ping", "-c", "5", "-i", "0.2", net.addr_b])
        cap.wait_for(lambda recs: sum(r["t"] == "pkt" for r in recs) >= 10)
        pkts = [(r, t) for r, t in zip(cap.records, cap.arrival, strict=True) if r["t"] == "pkt"]
        delays = [t - r["ts"] for r, t in pkts]
        assert max(delays) < 0.3, delays
        cap.proc.send_signal(signal.SIGINT)
        assert cap.finish() == 0
