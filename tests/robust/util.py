"""Helpers for the robustness tests: run the real commands, build capture files and streams.

Everything here drives the installed commands (``.venv/bin/rn-*``) as subprocesses, the
way people use them; captures are written with dpkt's pcap writer from frames built here.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import dpkt
import msgpack

BIN = Path(sys.executable).parent
T0 = 1_700_000_000.0
MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")


def cmd(name: str) -> str:
    return str(BIN / name)


def run(argv: list[str], data: bytes = b"", timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    """One real command over ``data`` on stdin."""
    return subprocess.run([cmd(argv[0]), *argv[1:]], input=data, capture_output=True, timeout=timeout)


def pack(*frames: Any) -> bytes:
    return b"".join(msgpack.packb(f, use_bin_type=True) for f in frames)


def json_lines(out: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.decode().splitlines() if line.strip()]


def assert_one_line_no_traceback(stderr: bytes) -> None:
    assert b"Traceback" not in stderr, stderr
    assert len(stderr.strip().splitlines()) <= 1, stderr


# --- frames ----------------------------------------------------------------------------
def eth_ipv4(
    src: str, dst: str, l4: dpkt.Packet, proto: int, smac: bytes = MAC_A, dmac: bytes = MAC_B
) -> bytes:
    ip = dpkt.ip.IP(
        src=bytes(map(int, src.split("."))), dst=bytes(map(int, dst.split("."))), p=proto, ttl=64, data=l4
    )
    ip.len = 20 + len(bytes(l4))
    return bytes(dpkt.ethernet.Ethernet(src=smac, dst=dmac, type=dpkt.ethernet.ETH_TYPE_IP, data=ip))


def tcp(
    src: str, sport: int, dst: str, dport: int, flags: int, seq: int, ack: int = 0, payload: bytes = b""
) -> bytes:
    seg = dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq, ack=ack, flags=flags, win=64240, data=payload)
    return eth_ipv4(src, dst, seg, dpkt.ip.IP_PROTO_TCP)


def udp(src: str, sport: int, dst: str, dport: int, payload: bytes) -> bytes:
    dg = dpkt.udp.UDP(sport=sport, dport=dport, data=payload)
    dg.ulen = 8 + len(payload)
    return eth_ipv4(src, dst, dg, dpkt.ip.IP_PROTO_UDP)


def tcp_session(
    client: str, cport: int, server: str, sport: int, request: bytes, reply: bytes = b""
) -> list[bytes]:
    """Handshake, one request segment (and a reply segment when given)."""
    c, s = 1000, 5000
    out = [
        tcp(client, cport, server, sport, dpkt.tcp.TH_SYN, c),
        tcp(server, sport, client, cport, dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK, s, c + 1),
        tcp(client, cport, server, sport, dpkt.tcp.TH_ACK, c + 1, s + 1),
        tcp(client, cport, server, sport, dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH, c + 1, s + 1, request),
    ]
    if reply:
        out.append(
            tcp(
                server,
                sport,
                client,
                cport,
                dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH,
                s + 1,
                c + 1 + len(request),
                reply,
            )
        )
    return out


def write_pcap(path: Path | str, frames: Iterable[bytes], t0: float = T0, step: float = 0.001) -> int:
    """A classic pcap (Ethernet) of ``frames``; returns how many were written."""
    n = 0
    with open(path, "wb") as f:
        w = dpkt.pcap.Writer(f, linktype=dpkt.pcap.DLT_EN10MB, snaplen=262144)
        for i, fr in enumerate(frames):
            w.writepkt(fr, ts=t0 + i * step)
            n += 1
    return n


def syn_flood_frames(n: int, server: str = "10.0.0.1", dport: int = 443) -> Iterable[bytes]:
    """``n`` SYNs from distinct (address, port) pairs: every one a new half-open connection."""
    template = tcp("11.0.0.1", 1024, server, dport, dpkt.tcp.TH_SYN, 1)
    # Patch source address and port into one template (checksums are not checked by anyone here).
    for i in range(n):
        src = struct.pack("!I", 0x0B000000 + (i // 50000) * 65536 + (i % 50000) // 2 + 1)
        port = struct.pack("!H", 1024 + (i % 60000))
        yield (
            template[:26]
            + src
            + template[30:34]
            + port
            + template[36:38]
            + struct.pack("!I", (i * 2654435761) & 0xFFFFFFFF)
            + template[42:]
        )


def peak_rss_mb(pid: int) -> float:
    """VmHWM of a running process, in MiB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def env_without_color() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    return env


def wait_with_peak_rss(
    procs: list[subprocess.Popen[bytes]], timeout: float = 120, every: float = 0.005
) -> list[float]:
    """Wait for ``procs``; each one's peak RSS in MiB (VmHWM, sampled until it exits).

    Not wait4()'s ru_maxrss: a child forked from a big parent inherits the parent's RSS as its
    high-water mark across exec, so small children would read as large as the test process.
    """
    import time

    peaks = [0.0] * len(procs)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = False
        for i, p in enumerate(procs):
            if p.poll() is None:
                running = True
                peaks[i] = max(peaks[i], peak_rss_mb(p.pid))
        if not running:
            return peaks
        time.sleep(every)
    raise TimeoutError("processes still running")
