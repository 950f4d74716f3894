"""Interface counter records (``ifstats``) on live interfaces, checked against the kernel.

rn-capture runs in a test namespace (``ip netns exec`` gives it that namespace's sysfs);
the truth is ``ip -s -j link`` (netlink, not sysfs) read in the same namespace while the
capture samples, and the pings sent here. A recording made by ``rustnet --record`` keeps the
records, and ``rustnet --remote`` carries the remote host's interfaces.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest

from tests.live.test_capture_live import Capture
from tests.netns import TwoHosts, can_make_namespaces
from tests.test_rustnet_live import remote_leftovers, ssh_env, wait_capturing

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not can_make_namespaces(), reason="needs root and ip netns"),
]

BIN = Path(sys.executable).parent
RUSTNET = str(BIN / "rustnet")
COUNTERS = {
    "rx_bytes": ("rx", "bytes"),
    "tx_bytes": ("tx", "bytes"),
    "rx_packets": ("rx", "packets"),
    "tx_packets": ("tx", "packets"),
    "rx_errors": ("rx", "errors"),
    "tx_errors": ("tx", "errors"),
    "rx_dropped": ("rx", "dropped"),
    "tx_dropped": ("tx", "dropped"),
    "collisions": ("tx", "collisions"),
}
PINGS = 20
PAYLOAD = 1000  # ICMP data bytes: each echo request is 14 + 20 + 8 + 1000 bytes on the wire

__all__ = ["ssh_env"]  # the fixture, used by name below


@pytest.fixture
def net() -> Iterator[TwoHosts]:
    with TwoHosts() as hosts:
        yield hosts


def kernel_links(net: TwoHosts, host: str) -> dict[str, dict[str, int]]:
    """Every interface of ``host`` with its counters, as netlink reports them (ip -s -j link)."""
    out = net.run(host, ["ip", "-s", "-j", "link", "show"]).stdout
    links: dict[str, dict[str, int]] = {}
    for link in json.loads(out):
        stats = link["stats64"]
        links[link["ifname"]] = {k: stats[d][f] for k, (d, f) in COUNTERS.items()}
    return links


def ifstats_of(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("t") == "ifstats"]


def counters_of(rec: dict[str, Any], name: str) -> dict[str, int]:
    (entry,) = [e for e in rec["ifaces"] if e["name"] == name]
    return {k: entry[k] for k in COUNTERS}


def test_ifstats_records_hold_the_kernels_counters(net: TwoHosts) -> None:
    cap = Capture(net, "a", ["-i", net.iface("a")])
    cap.started()
    cap.wait_for(lambda recs: len(ifstats_of(recs)) >= 2)
    net.run("a", ["ping", "-q", "-c", str(PINGS), "-i", "0.05", "-s", str(PAYLOAD), net.addr_b])
    time.sleep(1.2)  # a quiet moment: samples on both sides of the kernel's reading agree
    before = time.time()
    truth = kernel_links(net, "a")
    after = time.time()
    time.sleep(1.2)
    cap.proc.send_signal(signal.SIGTERM)
    cap.finish()
    recs = ifstats_of(cap.records)
    # The namespace's own interfaces, each record; the captured one named.
    assert all(sorted(e["name"] for e in r["ifaces"]) == sorted(truth) for r in recs), recs[-1]
    assert {r["captured"] for r in recs} == {net.iface("a")}
    # Every 500 ms.
    gaps = sorted(b["ts"] - a["ts"] for a, b in zip(recs, recs[1:], strict=False))
    assert 0.45 <= gaps[len(gaps) // 2] <= 0.55, gaps
    # The samples just before and just after netlink's reading hold its counters exactly.
    last_before = [r for r in recs if r["ts"] < before][-1]
    first_after = [r for r in recs if r["ts"] > after][0]
    for name in truth:
        lo, hi = counters_of(last_before, name), counters_of(first_after, name)
        for k, v in truth[name].items():
            assert lo[k] <= v <= hi[k], (name, k, lo[k], v, hi[k])
    # And they counted the pings sent.
    first = counters_of(recs[0], net.iface("a"))
    last = counters_of(recs[-1], net.iface("a"))
    assert last["tx_packets"] - first["tx_packets"] >= PINGS
    assert last["tx_bytes"] - first["tx_bytes"] >= PINGS * (14 + 20 + 8 + PAYLOAD)
    assert last["rx_packets"] - first["rx_packets"] >= PINGS  # the replies


def records_of(path: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    with path.open("rb") as f:
        for frame in msgpack.Unpacker(f, raw=False):
            out += frame if isinstance(frame, list) and frame and not isinstance(frame[0], str) else [frame]
    return [r for r in out if isinstance(r, dict)]


def test_a_recording_keeps_them_through_every_stage(net: TwoHosts, tmp_path: Path) -> None:
    rec = tmp_path / "rec.rns"
    p = subprocess.run(
        net.cmd("a", [RUSTNET, "-i", net.iface("a"), "--json", "--duration", "3", "--record", str(rec)]),
        capture_output=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert p.returncode == 0, p.stderr
    recs = records_of(rec)
    header = [r for r in recs if r.get("t") == "hdr"][-1]
    assert header["stages"] == ["rn-capture", "rn-dissect", "rn-track", "rn-enrich"]
    stats = ifstats_of(recs)
    assert len(stats) >= 4, [r.get("t") for r in recs]
    assert {e["name"] for e in stats[-1]["ifaces"]} == set(kernel_links(net, "a"))


def test_remote_shows_the_remote_hosts_interfaces(
    net: TwoHosts, ssh_env: dict[str, str], tmp_path: Path
) -> None:
    rec = tmp_path / "remote.rns"
    p = subprocess.Popen(
        net.cmd(
            "a",
            [RUSTNET, "--remote", f"root@{net.addr_b}", "-i", net.iface("b"), "--json", "--record", str(rec)],
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=ssh_env,
    )
    try:
        wait_capturing(net, "b")
        time.sleep(1.5)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    stats = ifstats_of(records_of(rec))
    assert len(stats) >= 2
    # Host b's interfaces (its veth end), not host a's where rustnet runs.
    assert {e["name"] for e in stats[-1]["ifaces"]} == set(kernel_links(net, "b"))
    assert stats[-1]["captured"] == net.iface("b")
    assert remote_leftovers(net) == []
    assert os.stat(rec).st_mode & 0o777 == 0o600
