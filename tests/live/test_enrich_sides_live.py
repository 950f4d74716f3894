"""Which end's process a connection names, with real curl and a real server in two namespaces.

Namespace a runs the capture on its veth and real ``curl``; namespace b runs a real HTTP
server (a copy of Python named ``rn-web-server``). Both ends are sockets of this host, so
rn-enrich sees the server's accepted socket (the far end) long after each short-lived curl
has gone: the connection's own process must be curl or unknown, never the server, and the
server is named as the peer. The short-lived clients are counted under CPU load (a busy
process on every core): at least 80% of the curls must be named.

Placements: the whole pipeline in namespace a (as ``ip netns exec a rustnet -i veth`` runs
it: at least 80% named), the capture in a with rn-enrich in the root namespace, and
``rn-capture | rn-enrich`` in a as over ssh (the far end never named as the owner).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.live.test_enrich_live import CAPTURE, DISSECT, ENRICH, SERVER_NAME, TRACK, Records, started
from tests.netns import TwoHosts, can_make_namespaces

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not can_make_namespaces(), reason="needs root and ip netns"),
    pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl"),
]
CURLS = 48  # enough that one scheduling stall of the machine does not decide the share
PORT = 8000


@pytest.fixture
def net() -> Iterator[TwoHosts]:
    with TwoHosts() as hosts:
        yield hosts


@pytest.fixture
def server_exe(tmp_path: Path) -> Path:
    exe = tmp_path / SERVER_NAME
    shutil.copy2(os.path.realpath(sys.executable), exe)
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "index.html").write_text("hello\n")
    os.chmod(tmp_path, 0o755)
    return exe


@pytest.fixture
def cpu_load() -> Iterator[None]:
    """A busy process per core for the duration of the test (ours, ended by pid)."""
    burners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
        for _ in range(os.cpu_count() or 1)
    ]
    try:
        yield
    finally:
        for p in burners:
            p.kill()
            p.wait(timeout=5)


def run_curls(net: TwoHosts, count: int) -> set[int]:
    """``count`` real curls from a to b, one after another; their pids (ip netns exec execs curl)."""
    pids = set()
    for _ in range(count):
        p = subprocess.Popen(
            net.cmd("a", ["curl", "-s", "-o", "/dev/null", f"http://{net.addr_b}:{PORT}/index.html"])
        )
        assert p.wait(timeout=20) == 0
        pids.add(p.pid)
        time.sleep(0.05)
    return pids


def http_conns(recs: list[dict[str, Any]]) -> dict[Any, list[dict[str, Any]]]:
    out: dict[Any, list[dict[str, Any]]] = {}
    for r in recs:
        if r.get("t") == "conn" and r.get("proto") == "tcp" and r.get("dport") == PORT:
            out.setdefault(r.get("id"), []).append(r)
    return out


def check_sides(net: TwoHosts, recs: list[dict[str, Any]], curl_pids: set[int], server_pid: int) -> int:
    """Asserts the far end is never the connection's own process; returns how many curls were named."""
    by_id = http_conns(recs)
    assert len(by_id) == CURLS, f"{len(by_id)} connections to port {PORT}"
    named = 0
    for rs in by_id.values():
        for r in rs:
            assert r.get("process") != SERVER_NAME and r.get("pid") != server_pid, repr(r)
            assert r["src"] == net.addr_a
            if r.get("pid") is not None:
                assert r["pid"] in curl_pids and r.get("process") == "curl", r
                assert r.get("owner_via"), r  # how the owner was found is always said
            if r.get("peer_pid") is not None:
                assert r["peer_pid"] == server_pid and r["peer_process"] == SERVER_NAME, r
                assert r["peer_netns"] == net.ns_b, r
        if any(r.get("process") == "curl" for r in rs):
            named += 1
    peers = sum(1 for rs in by_id.values() if any(r.get("peer_pid") == server_pid for r in rs))
    assert peers >= CURLS * 0.8, f"the server named as peer on {peers} of {CURLS}"
    return named


def curls_named(net: TwoHosts, server_exe: Path, pipeline: list[str], layout: str) -> int:
    """Start the server in b and ``pipeline``, run the curls from a, check every record's sides;
    returns how many curls were named."""
    srv = net.spawn(
        "b",
        [
            str(server_exe),
            "-m",
            "http.server",
            str(PORT),
            "--bind",
            net.addr_b,
            "--directory",
            str(server_exe.parent / "www"),
        ],
    )
    net.wait_port("b", PORT)
    pipe = Records(pipeline)
    try:
        pipe.wait_for(started)
        time.sleep(0.5)
        pids = run_curls(net, CURLS)
        time.sleep(1.5)
        pipe.interrupt_and_drain()
        named = check_sides(net, pipe.records, pids, srv.pid)
        print(f"short-lived curls named ({layout}): {named}/{CURLS}")
        return named
    finally:
        pipe.close()


def test_short_curls_named_never_the_far_end_pipeline_in_the_capture_namespace(
    net: TwoHosts, server_exe: Path, cpu_load: None
) -> None:
    stages = f"{CAPTURE} -i {net.if_a} tcp | {DISSECT} | {TRACK} -r 200 | {ENRICH} --format json"
    named = curls_named(net, server_exe, net.cmd("a", ["sh", "-c", stages]), "capture namespace")
    assert named >= CURLS * 0.8, f"curl named on {named} of {CURLS} connections"


def test_far_end_never_own_with_rn_enrich_in_the_root_namespace(
    net: TwoHosts, server_exe: Path, cpu_load: None
) -> None:
    inner = " ".join(
        net.cmd("a", ["sh", "-c", f"'{CAPTURE} -i {net.if_a} tcp | {DISSECT} | {TRACK} -r 200'"])
    )
    named = curls_named(
        net, server_exe, ["sh", "-c", f"{inner} | {ENRICH} --format json"], "rn-enrich in the root namespace"
    )
    assert named >= CURLS * 0.5, f"curl named on {named} of {CURLS} connections"  # 0 before


def test_far_end_never_own_in_the_remote_layout(net: TwoHosts, server_exe: Path, cpu_load: None) -> None:
    """``rn-capture | rn-enrich`` where the processes are (as over ssh): the far end's socket goes
    downstream marked peer, and rn-track names it as the peer only."""
    remote = " ".join(net.cmd("a", ["sh", "-c", f"'{CAPTURE} -i {net.if_a} tcp | {ENRICH}'"]))
    curls_named(
        net,
        server_exe,
        ["sh", "-c", f"{remote} | {DISSECT} | {TRACK} -r 200 --format json"],
        "rn-capture | rn-enrich",
    )
