"""Interface counter records (``ifstats``): the sampler, every stage, and what the viewer makes of them.

The sampler is checked against this host's kernel (netlink via ``ip -s -j link``); the
viewer's rates and series against values worked out by hand from records built here,
hostile ones included.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import msgpack
import pytest
from rustnet.capture.ifstats import InterfaceSampler
from rustnet.stream import fields
from rustnet.stream.bounds import MAX_INT
from rustnet.stream.records import make_header
from rustnet.view.model import ConnTable
from rustnet.view.state import ViewState
from rustnet.view.traffic import KEEP, InterfaceTable, TrafficHistory

from tests.corpus import PCAPS

BIN = Path(sys.executable).parent
COUNTERS = fields.IFACE_COUNTERS


def iface(name: str, rx: int, tx: int, **more: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {c: 0 for c in COUNTERS}
    entry.update(name=name, rx_bytes=rx, tx_bytes=tx, **more)
    return entry


def ifstats(ts: float, *ifaces: dict[str, Any], captured: str | None = "eth0") -> dict[str, Any]:
    return {"t": "ifstats", "ts": ts, "captured": captured, "ifaces": list(ifaces)}


# --- the sampler ------------------------------------------------------------------------------
def test_the_sampler_reads_the_kernels_counters_and_writes_declared_fields() -> None:
    sampler = InterfaceSampler("lo")
    before = sampler.record()
    links = json.loads(
        subprocess.run(["ip", "-s", "-j", "link", "show"], capture_output=True, check=True).stdout
    )
    after = sampler.record()
    sampler.close()
    assert {e["name"] for e in after["ifaces"]} == {link["ifname"] for link in links}
    for link in links:
        (lo,) = [e for e in before["ifaces"] if e["name"] == link["ifname"]]
        (hi,) = [e for e in after["ifaces"] if e["name"] == link["ifname"]]
        for counter in COUNTERS:
            d, f = ("tx", "collisions") if counter == "collisions" else counter.split("_")
            assert lo[counter] <= link["stats64"][d][f] <= hi[counter], (link["ifname"], counter)
    # Every field it writes is declared in the field table.
    # (node: only a viewer merging several hosts' streams writes it)
    assert set(after) == set(fields.names(fields.IFSTATS)) - {"node"}
    assert set(after["ifaces"][0]) == set(fields.names(fields.IFACE))
    assert after["captured"] == "lo" and after["ts"] >= before["ts"]


def test_a_capture_file_gives_no_ifstats() -> None:
    pcap = PCAPS / "dpkt_http.pcap"
    p = subprocess.run(
        [str(BIN / "rn-capture"), "-r", str(pcap), "--format", "json"], capture_output=True, timeout=60
    )
    assert p.returncode == 0, p.stderr
    types = {json.loads(line)["t"] for line in p.stdout.splitlines()}
    assert "pkt" in types and "ifstats" not in types


@pytest.mark.parametrize("cmd", ["rn-dissect", "rn-track", "rn-enrich"])
def test_every_stage_passes_them_on_unchanged_and_in_order(cmd: str) -> None:
    hdr = make_header("rn-capture 0.1.0", 1, "eth0", True, 262144, 1700000000.0)
    rec = ifstats(1700000000.5, iface("eth0", 123456789, 42), iface("lo", 2**63, 0, collisions=3))
    warn = {"t": "warn", "ts": 1700000000.6, "stage": "rn-capture", "msg": "after"}
    data = b"".join(msgpack.packb(f, use_bin_type=True) for f in ([hdr], [rec], [warn]))
    p = subprocess.run([str(BIN / cmd), "--format", "json"], input=data, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    out = [json.loads(line) for line in p.stdout.splitlines()]
    types = [r["t"] for r in out]
    assert rec in out
    assert types.index("hdr") < types.index("ifstats") < types.index("warn")


# --- rates and series -------------------------------------------------------------------------
def test_rates_are_byte_differences_over_time_and_the_captured_interface_comes_first() -> None:
    table = InterfaceTable()
    assert (
        table.ingest(ifstats(100.0, iface("wlan0", 1000, 500), iface("eth0", 0, 0), iface("docker0", 7, 7)))
        is None
    )
    sums = table.ingest(
        ifstats(100.5, iface("wlan0", 3000, 1500), iface("eth0", 500, 250), iface("docker0", 7, 7))
    )
    assert sums == (5000.0, 2500.0)  # (2000 + 500) / 0.5, (1000 + 250) / 0.5
    assert [r.name for r in table.rows()] == ["eth0", "docker0", "wlan0"]
    eth = table.get("eth0")
    assert eth is not None and (eth.rx_rate, eth.tx_rate) == (1000.0, 500.0)
    # 60 s of bytes of the captured interface: newest minus oldest.
    assert table.window_bytes() == (500, 250, False)
    # Capturing on "any": every interface's sum, an approximation.
    table.ingest(ifstats(101.0, iface("wlan0", 3000, 1500), iface("eth0", 500, 250), captured="any"))
    assert table.window_bytes() == (2500, 1250, True)
    assert [r.name for r in table.rows()] == ["eth0", "wlan0"]  # docker0 went away


def test_a_counter_that_goes_down_gives_no_rate_and_time_going_back_starts_over() -> None:
    table = InterfaceTable()
    table.ingest(ifstats(10.0, iface("eth0", 1000, 1000)))
    assert table.ingest(ifstats(10.5, iface("eth0", 10, 2000))) == (0.0, 2000.0)
    assert table.ingest(ifstats(5.0, iface("eth0", 50, 50))) is None  # a new recording
    assert table.ingest(ifstats(5.5, iface("eth0", 100, 100))) == (100.0, 100.0)


def test_traffic_history_keeps_120_samples_of_the_summed_rates() -> None:
    t = ConnTable()
    for i in range(KEEP + 11):
        t.ingest([ifstats(1000 + i * 0.5, iface("eth0", i * 1000, i * 10), iface("lo", i * 500, i * 500))])
    s = ViewState(t)
    assert s.traffic is t.traffic and s.interfaces is t.interfaces
    assert t.traffic.source == "interfaces"
    assert list(t.traffic.series("rx")) == [3000.0] * KEEP  # (1000 + 500) / 0.5
    assert list(t.traffic.series("tx")) == [1020.0] * KEEP  # (10 + 500) / 0.5
    t.clear_traffic()
    assert list(t.traffic.series("rx")) == [] and len(t.interfaces) == 0


def conn(cid: int, first: float, last: float, bsrc: int, bdst: int, local: str = "src") -> dict[str, Any]:
    return {
        "t": "conn",
        "id": cid,
        "proto": "tcp",
        "src": "10.0.0.1",
        "sport": 40000 + cid,
        "dst": "10.0.0.2",
        "dport": 443,
        "first_seen": first,
        "last_seen": last,
        "bytes_src": bsrc,
        "bytes_dst": bdst,
        "local_side": local,
    }


def test_without_ifstats_the_series_is_captured_bytes_over_capture_time() -> None:
    t = ConnTable()
    # Connection 1 (local end: src) sends 1000 bytes in [100.0, 100.5) and receives 4000.
    t.ingest([conn(1, 100.0, 100.25, 1000, 4000)])
    # Then 2000 more sent over [100.25, 101.25]: spread evenly, 500 in [100.25, 100.5),
    # 1000 in [100.5, 101.0), 500 in [101.0, 101.5).
    t.ingest([conn(1, 100.0, 101.25, 3000, 4000)])
    # Connection 2's local end is dst: its bytes_dst is what the host sent.
    t.ingest([conn(2, 101.5, 101.6, 100, 300, local="dst")])
    assert t.traffic.source == "captured"
    assert list(t.traffic.series("tx")) == [3000.0, 2000.0, 1000.0, 600.0]
    assert list(t.traffic.series("rx")) == [8000.0, 0.0, 0.0, 200.0]
    assert t.traffic.captured_window() == (4100.0, 3300.0)
    # Once interface counters come, they are the series.
    t.ingest([ifstats(102.0, iface("eth0", 0, 0))])
    t.ingest([ifstats(102.5, iface("eth0", 50, 100))])
    assert t.traffic.source == "interfaces" and list(t.traffic.series("rx")) == [100.0]


# --- hostile streams ------------------------------------------------------------------------
def test_hostile_byte_counters_add_nothing_below_zero_or_beyond_64_bits() -> None:
    t = ConnTable()
    t.ingest([conn(1, 100.0, 100.25, -5000, 4000)])  # a negative counter: nothing sent
    assert t.traffic.captured_window() == (4000.0, 0.0)
    t.ingest([conn(2, 100.0, 100.25, 1 << 70, 0)])  # past 64 bits: counted as MAX_INT
    assert t.traffic.captured_window() == (4000.0, float(MAX_INT))


def test_hostile_ifstats_are_bounded_and_counted() -> None:
    t = ConnTable()
    huge = [iface(f"if{i}", i, i) for i in range(70_000)]
    t.ingest([ifstats(1.0, *huge)])
    t.ingest([ifstats(1.5, *huge)])
    assert len(t.interfaces) == 256
    bad: list[Any] = [
        iface("x" * 100_000, 1, 1),
        {"name": 7},
        "not a map",
        iface("neg", -1, 2**64),
        iface("float", 1.5, math.nan),
        iface("bool", True, False),
        iface("eth0", 2**64 - 1, 2**64 - 1),
    ]
    for ts in (2.0, 2.5, math.nan, math.inf, -5.0, "soon"):
        t.ingest([ifstats(ts, *bad)])  # type: ignore[arg-type]
    t.ingest([{"t": "ifstats", "ts": 3.0, "ifaces": {"eth0": 1}}, {"t": "ifstats"}])
    assert all(len(r.name) <= 64 for r in t.interfaces.rows())
    assert t.interfaces.damaged > 0
    neg = t.interfaces.get("neg")
    assert neg is not None and "rx_bytes" not in neg.counters and "tx_bytes" not in neg.counters
    # The Interface Statistics say what was left out.
    from rustnet.view.activity_view import interface_table
    from rustnet.view.theme import Theme

    shown = interface_table(ViewState(t), 120, 30, Theme())
    assert "interfaces beyond 256 not kept" in shown[-1]
    assert f"{t.interfaces.damaged:,} damaged counters" in shown[-1]
    # Names that change every record do not pile up: gone interfaces are forgotten.
    start = time.monotonic()
    for i in range(200):
        t.ingest([ifstats(10.0 + i, *(iface(f"n{i}-{j}", i, i) for j in range(300)))])
    assert len(t.interfaces) <= 256
    assert time.monotonic() - start < 20
    assert len(t.traffic.series("rx")) <= KEEP


def test_hostile_conn_byte_counters_do_not_break_the_captured_series() -> None:
    t = ConnTable()
    t.ingest([conn(1, 1e300, 1e300, 2**64, 2**64)])
    t.ingest([conn(2, math.nan, math.inf, 5, 5), conn(3, -1.0, -2.0, -7, 10**30)])
    t.ingest([conn(4, 0.0, 1e9, 10**9, 10**9)])  # a billion seconds long: only the last 60 s
    h = TrafficHistory()
    h.add_captured(0.0, 1e9, 1e9, 1e9)
    assert len(h.series("rx")) <= KEEP
    assert all(math.isfinite(v) for v in t.traffic.series("rx"))


def test_a_replay_paces_them_by_their_timestamps(tmp_path: Path) -> None:
    from tests.tui.records import write_stream

    path = str(tmp_path / "paced.rn")
    write_stream(path, [ifstats(1700000000.0 + i * 0.5, iface("eth0", i * 100, 0)) for i in range(7)])
    start = time.monotonic()
    p = subprocess.run(
        [str(BIN / "rn-view"), "--table", "--speed", "1", path], capture_output=True, timeout=60
    )
    assert p.returncode == 0, p.stderr
    assert time.monotonic() - start >= 2.9  # 3 s of samples at their own pace


def test_rn_view_survives_a_hostile_ifstats_stream(tmp_path: Path) -> None:
    from tests.tui.records import write_stream

    odd: list[Any] = [{"name": "\x1b[31mred", "rx_bytes": "1e999", "tx_bytes": 1.5}, None, 7, {"name": ["x"]}]
    odd += [iface("n" * 200 + str(i), 2**64 - 1 - i, -i) for i in range(60_000)]
    recs = [ifstats(ts, *odd) for ts in (1.0, 1.5, math.nan)]
    recs += [{"t": "ifstats", "ts": 2.0, "captured": {"x": 1}, "ifaces": "eth0"}]
    path = str(tmp_path / "hostile.rn")
    write_stream(path, recs)
    p = subprocess.run([str(BIN / "rn-view"), "--table", path], capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert b"Traceback" not in p.stderr
