"""A SYN flood through the real pipeline: the cap holds, evictions are counted, memory is bounded.

30,000 SYNs from distinct (address, port) pairs within 30 ms of packet time (no handshake
timeout can thin them out) go through ``rn-capture -r | rn-dissect | rn-track
--max-connections 5000``. Every connection still gets exactly one final record (evicted
ones say so), the warning counts the evictions, rn-track's peak RSS (wait4) stays far
from what 30k live connections would need, and the half-open connections are visible as
such (SYN_SENT from the originator's side; the filter finds them). The 300k figure is
bench/bench_flood.py's.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import dpkt
import pytest

from tests.robust.util import cmd, json_lines, syn_flood_frames, tcp, write_pcap

N = 30_000
CAP = 5_000


@pytest.fixture(scope="module")
def flood(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("flood") / "flood.pcap"
    write_pcap(path, syn_flood_frames(N), step=1e-6)
    return path


def _pipeline(pcap: Path, *track_args: str) -> tuple[list[int], float, bytes]:
    """Exit statuses, rn-track's peak RSS in MiB, rn-track's output."""
    cap = subprocess.Popen([cmd("rn-capture"), "-r", str(pcap)], stdout=subprocess.PIPE)
    assert cap.stdout is not None
    dis = subprocess.Popen([cmd("rn-dissect")], stdin=cap.stdout, stdout=subprocess.PIPE)
    cap.stdout.close()
    assert dis.stdout is not None
    trk = subprocess.Popen([cmd("rn-track"), *track_args, "--format", "json"], stdin=dis.stdout,
                           stdout=subprocess.PIPE)
    dis.stdout.close()
    assert trk.stdout is not None
    out = trk.stdout.read()
    trk.stdout.close()
    _, status, usage = os.wait4(trk.pid, 0)  # rn-track's own peak RSS
    trk.returncode = os.waitstatus_to_exitcode(status)
    return [cap.wait(30), dis.wait(30), trk.returncode], usage.ru_maxrss / 1024, out


@pytest.mark.slow
def test_flood_at_a_cap_counts_every_eviction(flood: Path) -> None:
    statuses, rss, out = _pipeline(flood, "--max-connections", str(CAP))
    assert statuses == [0, 0, 0]
    recs = json_lines(out)
    finals = [r for r in recs if r.get("t") == "conn" and r.get("final")]
    assert len(finals) == N, "one final record per connection, evicted ones included"
    evicted = sum(r["end"] == "evicted" for r in finals)
    assert evicted >= N - CAP
    warns = [r["msg"] for r in recs if r.get("t") == "warn" and "evicted" in r["msg"]]
    assert warns, "evictions are reported, never silent"
    m = re.search(r"(\d+) connections evicted at the cap of (\d+)", warns[-1])
    assert m and int(m.group(1)) == evicted and int(m.group(2)) == CAP
    assert {r["state"] for r in finals} == {"SYN_SENT"}, "half-open from the originator's side"
    # Measured: ~47 MB at this cap, ~69 MB with all 30k kept: the cap is what bounds it.
    assert rss < 58, rss


@pytest.mark.slow
def test_viewer_filter_finds_half_open_connections(flood: Path) -> None:
    p = subprocess.run([cmd("rn-view"), "--read", str(flood), "--json", "--filter", "state:syn_sent"],
                       capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert len(p.stdout.splitlines()) == N
    none = subprocess.run([cmd("rn-view"), "--read", str(flood), "--json", "--filter", "state:established"],
                          capture_output=True, timeout=120)
    assert none.returncode == 0 and none.stdout == b""


def test_half_open_states_from_a_capture(tmp_path: Path) -> None:
    """What a monitor between the two ends shows for the two kinds of half-open connection."""
    syn, ack = dpkt.tcp.TH_SYN, dpkt.tcp.TH_ACK
    pcap = tmp_path / "half.pcap"
    write_pcap(pcap, [tcp("10.0.0.5", 40000, "10.0.0.1", 443, syn, 100),                  # no answer
                      tcp("10.0.0.6", 40001, "10.0.0.1", 443, syn, 100),                  # answered,
                      tcp("10.0.0.1", 443, "10.0.0.6", 40001, syn | ack, 500, 101)])    # never ACKed
    p = subprocess.run([cmd("rn-view"), "--read", str(pcap), "--json"], capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    state = {r["sport"]: r["state"] for r in json_lines(p.stdout)}
    assert state[40000] == "SYN_SENT"
    # From the originator's side (a capture has no local end) the answered one is ESTABLISHED:
    # the client enters ESTABLISHED on receiving the SYN-ACK. The responder's SYN_RECV shows
    # when the capture is live on the server (rn-track shows the local end's state then).
    assert state[40001] in ("ESTABLISHED", "SYN_RECV")
