"""rn-enrich's cheap paths in quiet network namespaces: nothing polled while idle, armed by a
program starting in its namespace, and the local address set following namespaces and addresses.

Each check runs a small Python program inside namespace a (``ip netns exec``), so the
namespace is as quiet as a host can be and the figures are the watcher's own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.netns import TwoHosts, can_make_namespaces

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not can_make_namespaces(), reason="needs root and ip netns"),
]

IDLE = """
import json, resource, subprocess, sys, time
from rustnet.enrich.watch import ShortLivedWatcher
w = ShortLivedWatcher(idle_check=0.2)
time.sleep(0.3)
r0 = resource.getrusage(resource.RUSAGE_SELF); t0 = time.monotonic()
time.sleep(2.0)
r1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) / (time.monotonic() - t0)
idle = {"cpu": cpu, "checks": w.checks, "armed": w.armed, "arms": w.arms}
# A program starts in this namespace. It lives 1 s: while other namespaces start many programs
# (another test worker), their events are read in batches 0.25 s apart, and a program that is
# gone by then cannot be placed in a namespace any more.
prog = subprocess.Popen(["sleep", "1"])
deadline = time.monotonic() + 2
while not w.armed and time.monotonic() < deadline:
    time.sleep(0.005)
prog.wait()
started = {"armed": w.armed, "reasons": w.reasons, "exec_events": w.exec_events}
w.close()
print(json.dumps({"idle": idle, "started": started}))
"""

LOCALITY = """
import json, subprocess, sys, time
from rustnet.enrich.owners import SocketOwners
a, b, extra = sys.argv[1:4]
o = SocketOwners(watch_interval=0)
o.refresh()
before = {"own": o.locality(a, "198.18.0.1"), "other": o.locality("198.18.0.1", b),
          "none": o.locality("198.18.0.1", "198.18.0.2"), "extra": o.locality(extra, "198.18.0.1")}
subprocess.run(["ip", "addr", "add", extra + "/32", "dev", "lo"], check=True)
time.sleep(1.1)                              # older than a second: read again before saying no
after = o.locality(extra, "198.18.0.1")
o.close()
print(json.dumps({"before": before, "after": after}))
"""


@pytest.fixture
def net() -> Iterator[TwoHosts]:
    with TwoHosts() as hosts:
        yield hosts


def run_in_a(net: TwoHosts, code: str, *args: str) -> dict[str, object]:
    res = net.run("a", [sys.executable, "-c", code, *args], timeout=60, check=False)
    assert res.returncode == 0, res.stderr.decode()
    out: dict[str, object] = json.loads(res.stdout)
    return out


def test_the_watcher_sleeps_while_idle_and_wakes_for_a_program_start(net: TwoHosts) -> None:
    out = run_in_a(net, IDLE)
    idle, started = out["idle"], out["started"]
    assert isinstance(idle, dict) and isinstance(started, dict)
    assert idle["checks"] == 0 and idle["arms"] == 0 and not idle["armed"]
    # No busy loop (one would take a whole core): well under 5% of one (~0.01% on an idle machine,
    # up to ~0.7% measured under load, where each wake-up costs more).
    assert idle["cpu"] < 0.05
    if started["exec_events"]:
        assert started["armed"] and started["reasons"]["exec"] >= 1


def test_local_addresses_follow_namespaces_and_new_addresses(net: TwoHosts) -> None:
    net.spawn("b", ["sleep", "60"])  # a process keeps namespace b findable
    out = run_in_a(net, LOCALITY, net.addr_a, net.addr_b, "10.123.45.67")
    before = out["before"]
    assert isinstance(before, dict)
    assert before == {"own": 2, "other": 1, "none": 0, "extra": 0}
    assert out["after"] == 2


def test_rn_enrich_attributes_a_local_flow_and_skips_a_foreign_one(net: TwoHosts) -> None:
    """The command end to end on a live header: the foreign flow gets no process, the local
    one (a listener of namespace a) gets its owner."""
    srv = net.spawn(
        "a",
        [
            sys.executable,
            "-c",
            "import socket,time; s=socket.socket(); s.bind(('0.0.0.0', 8081)); s.listen(); time.sleep(60)",
        ],
    )
    net.wait_port("a", 8081)
    recs = [
        {
            "t": "hdr",
            "v": 1,
            "producer": "rn-track 0.1.0",
            "linktype": 1,
            "source": "x",
            "live": True,
            "snaplen": 262144,
            "start": 1.0,
            "stages": ["rn-capture", "rn-dissect", "rn-track"],
        },
        {
            "t": "conn",
            "id": 1,
            "proto": "tcp",
            "src": "198.18.0.1",
            "sport": 40000,
            "dst": "198.18.0.2",
            "dport": 8081,
        },
        {
            "t": "conn",
            "id": 2,
            "proto": "tcp",
            "src": "198.18.0.1",
            "sport": 40001,
            "dst": net.addr_a,
            "dport": 8081,
        },
    ]
    enrich = str(Path(sys.executable).parent / "rn-enrich")
    res = subprocess.run(
        net.cmd("a", [enrich, "--format", "json"]),
        capture_output=True,
        timeout=30,
        input="".join(json.dumps(r) + "\n" for r in recs).encode(),
    )
    assert res.returncode == 0, res.stderr
    out = [json.loads(x) for x in res.stdout.decode().splitlines()]
    conns = {r["id"]: r for r in out if r.get("t") == "conn"}
    assert "pid" not in conns[1]  # no local end: a listener on the port is not it
    assert conns[2]["pid"] == srv.pid  # ip netns exec runs the program in its own place
