"""rn-view with several streams: merged side by side, each a node (host) with its own clock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from rustnet.view.model import ConnTable

RN_VIEW = str(Path(sys.executable).parent / "rn-view")


def conn(cid: int, ts: float, **kw: Any) -> dict[str, Any]:
    rec = {
        "t": "conn",
        "id": cid,
        "proto": "tcp",
        "src": "10.0.0.1",
        "sport": 40000,
        "dst": "10.0.0.2",
        "dport": 443,
        "state": "ESTABLISHED",
        "first_seen": ts,
        "last_seen": ts,
        "packets": 1,
        "bytes": 100,
        "bytes_src": 60,
        "bytes_dst": 40,
    }
    rec.update(kw)
    return rec


def stream(path: Path, t0: float, host: str | None = None, n: int = 9, step: float = 0.5) -> Path:
    """A recording of one connection updated every ``step`` s of stream time from ``t0``."""
    head: dict[str, Any] = {"t": "hdr", "v": 1, "producer": "test", "live": False, "stages": ["test"]}
    if host is not None:
        head["host"] = host
    recs = [head, *(conn(1, t0 + i * step, packets=i + 1, bytes=100 * (i + 1)) for i in range(n))]
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return path


def view(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([RN_VIEW, *args], capture_output=True, text=True, timeout=timeout)


def test_streams_with_different_clocks_are_paced_each_by_its_own(tmp_path: Path) -> None:
    # Yesterday's recording and one from years later, 4 s of stream time each, replayed at 4x:
    # side by side they take about a second; one clock for both would wait years for the second.
    a = stream(tmp_path / "a.jsonl", 1_000.0, host="alpha")
    b = stream(tmp_path / "b.jsonl", 1_700_000_000.0)
    started = time.monotonic()
    out = view("--json", "--speed", "4", str(a), str(b), timeout=40)
    took = time.monotonic() - started
    assert out.returncode == 0, out.stderr
    recs = [json.loads(line) for line in out.stdout.splitlines()]
    # Named by the header's host, else by the file's name.
    assert sorted((r["node"], r["packets"]) for r in recs) == [("alpha", 9), ("b", 9)]
    assert 0.8 <= took < 20, took  # paced (not all at once), and not one after the other's clock


def test_equal_five_tuples_on_two_nodes_stay_two_rows(tmp_path: Path) -> None:
    # Two hosts behind NAT see the very same 5-tuple, and their rn-track both call it id 1.
    a = stream(tmp_path / "web1.jsonl", 1_000.0)
    b = stream(tmp_path / "web2.jsonl", 1_000.0, n=3)
    out = view("--json", str(a), str(b))
    assert out.returncode == 0, out.stderr
    recs = sorted((json.loads(line) for line in out.stdout.splitlines()), key=lambda r: r["node"])
    assert [(r["node"], r["id"], r["packets"]) for r in recs] == [("web1", 1, 9), ("web2", 1, 3)]
    table = view("--table", str(a), str(b))
    lines = table.stdout.splitlines()
    assert lines[0].split()[0] == "Host"
    assert sorted(line.split()[0] for line in lines[1:]) == ["web1", "web2"]
    # One host: no Host column.
    assert "Host" not in view("--table", str(a)).stdout.splitlines()[0]


def test_node_filter_keyword(tmp_path: Path) -> None:
    a = stream(tmp_path / "a.jsonl", 1_000.0, host="alpha")
    b = stream(tmp_path / "b.jsonl", 1_000.0, host="beta")
    only = view("--json", "--filter", "node:alp", str(a), str(b))
    assert [json.loads(line)["node"] for line in only.stdout.splitlines()] == ["alpha"]
    others = view("--json", "--filter", "!node:alpha", str(a), str(b))
    assert [json.loads(line)["node"] for line in others.stdout.splitlines()] == ["beta"]


def test_same_host_name_twice_gets_two_nodes(tmp_path: Path) -> None:
    a = stream(tmp_path / "a.jsonl", 1_000.0, host="box")
    b = stream(tmp_path / "b.jsonl", 1_000.0, host="box")
    out = view("--json", str(a), str(b))
    assert sorted(json.loads(line)["node"] for line in out.stdout.splitlines()) == ["box", "box#2"]


def ifstats(node: str, ts: float, rx: int, tx: int) -> dict[str, Any]:
    entry = {"name": "eth0", "rx_bytes": rx, "tx_bytes": tx, "rx_packets": 0, "tx_packets": 0}
    return {"t": "ifstats", "ts": ts, "captured": "eth0", "ifaces": [entry], "node": node}


def test_each_nodes_interfaces_are_rated_apart() -> None:
    # Both hosts have an eth0; their counters are unrelated. Interleaved, a shared eth0 would
    # read one host's counter against the other's.
    table = ConnTable()
    table.ingest([ifstats("a", 100.0, 1_000, 0), ifstats("b", 100.2, 9_000_000, 0)])
    table.ingest([ifstats("a", 101.0, 3_000, 500), ifstats("b", 101.2, 9_100_000, 0)])
    rows = {r.name: r for r in table.interfaces.rows()}
    assert set(rows) == {"a/eth0", "b/eth0"}
    assert rows["a/eth0"].rx_rate == 2_000.0 and rows["a/eth0"].tx_rate == 500.0
    assert rows["b/eth0"].rx_rate == 100_000.0


def test_capture_counters_of_several_hosts_add_up() -> None:
    # Each host's counters are cumulative on its own: interleaved, one table's counters would
    # jump between the two hosts' readings.
    table = ConnTable()
    for ts, a, b in ((100.0, 1_000, 50), (101.0, 1_500, 60)):
        table.ingest(
            [
                {"t": "stats", "ts": ts, "packets": a, "received": a, "dropped": 2, "node": "a"},
                {"t": "stats", "ts": ts + 0.3, "packets": b, "received": b, "dropped": 1, "node": "b"},
            ]
        )
    assert (table.received, table.dropped) == (1_560, 3)
    assert table.packets_per_s == 500.0 + 10.0


def test_fifos_from_several_pipelines_are_merged(tmp_path: Path) -> None:
    # mkfifo a b; ssh web1 '...' > a & ssh web2 '...' > b & rn-view a b
    fifos = [tmp_path / "web1", tmp_path / "web2"]
    for fifo in fifos:
        os.mkfifo(fifo, 0o600)
    p = subprocess.Popen(
        [RN_VIEW, "--json", *map(str, fifos)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )

    def write(fifo: Path, n: int) -> None:
        data = stream(tmp_path / f"{fifo.name}.jsonl", 1_000.0, host=None, n=n).read_bytes()
        with open(fifo, "wb") as w:  # (waits for rn-view to open it)
            w.write(data)

    writers = [
        threading.Thread(target=write, args=(f, n), daemon=True) for f, n in zip(fifos, (5, 3), strict=True)
    ]
    try:
        for t in reversed(writers):  # the second host's pipeline is the first to start
            t.start()
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    got = sorted((json.loads(line)["node"], json.loads(line)["packets"]) for line in out.splitlines())
    assert got == [("web1", 5), ("web2", 3)]


def test_a_node_down_is_in_the_status_bar_and_the_system_panel_until_it_is_back() -> None:
    from rustnet.view import system
    from rustnet.view.render import status_text
    from rustnet.view.state import ViewState

    table = ConnTable()
    state = ViewState(table)
    table.ingest([{**conn(1, 100.0), "node": "web1"}, {**conn(1, 100.0), "node": "web2"}])
    assert status_text(state).startswith("2 hosts") and "down" not in status_text(state)
    down = {"t": "warn", "ts": 101.0, "stage": "web2 rustnet", "msg": "down (ssh exited with status 255)"}
    table.ingest([{**down, "down": True, "node": "web2"}])
    assert "down: web2!" in status_text(state)
    panel = [text for text, _ in system.lines(state, 60)]
    assert "Hosts: web1, web2" in panel and any(t.startswith("Down: web2: down (ssh") for t in panel)
    table.ingest([{"t": "hdr", "v": 1, "producer": "rn-enrich", "live": True, "node": "web2"}])  # back
    assert "down:" not in status_text(state)


def test_a_fifo_is_not_opened_to_guess_its_kind(tmp_path: Path) -> None:
    """Opening a FIFO to look into it waits for its writer, and closing it again throws away what
    the writer wrote: the real open after it then waits for a writer that has left (rn-view hung
    on two pipelines' FIFOs). A FIFO with no writer yet: the question must not wait for one."""
    fifo = tmp_path / "web1"
    os.mkfifo(fifo, 0o600)
    code = "import sys; from rustnet.view.source import is_capture_file; print(is_capture_file(sys.argv[1]))"
    try:
        out = subprocess.run(
            [sys.executable, "-c", code, str(fifo)], capture_output=True, text=True, timeout=30
        )
    except subprocess.TimeoutExpired:
        pytest.fail("is_capture_file opened the FIFO and waited for a writer")
    assert out.stdout.strip() == "False"
