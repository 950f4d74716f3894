"""Reverse DNS against a real DNS server, in network namespaces.

Host "b" runs a small authoritative DNS server (tests/live/ptr_server.py: answers built by
hand from RFC 1035, every query logged); host "a" resolves through it: its own
resolv.conf and nsswitch.conf in /etc/netns/NS/, which ``ip netns exec`` mounts over
/etc. rn-enrich runs in host "a" and asks the system resolver, as it does on any host.

* A record goes out at once and the name follows later, in a ``name`` record, then on
  the connection's later records; the PTR query rn-enrich caused is marked as its own
  and rn-view hides it unless ``--show-ptr-lookups``.
* Off: ``--no-resolve-dns``, and by default for a file (a stream that is not live); the
  server then sees no query at all.
* A flood of distinct addresses: at most RATE lookups a second and WORKERS at once reach
  the server, the cache and the queue stay within their caps, and no batch of records
  waits for a lookup.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rustnet.enrich import rdns

from tests.netns import TwoHosts, can_make_namespaces

BIN = Path(sys.executable).parent
CAPTURE, DISSECT, TRACK, ENRICH, VIEW = (
    str(BIN / n) for n in ("rn-capture", "rn-dissect", "rn-track", "rn-enrich", "rn-view")
)
SERVER = Path(__file__).with_name("ptr_server.py")
ROOT = Path(__file__).resolve().parents[2]
NAME_B = "peer-b.rustnet.test"
NAME_A = "host-a.rustnet.test"
DELAY = 1.5  # the server's answer time for the names above: long enough to see the order

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not can_make_namespaces(), reason="needs root and ip netns"),
]


class DnsNet:
    """Two hosts; b serves DNS (its query log at ``log``), a resolves through it."""

    def __init__(self, net: TwoHosts, log: Path) -> None:
        self.net = net
        self.log = log

    def queries(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def ptr_queries(self, suffix: str = "") -> list[dict[str, Any]]:
        return [q for q in self.queries() if q["type"] == 12 and q["q"].endswith(suffix)]


@pytest.fixture
def dns(tmp_path: Path) -> Iterator[DnsNet]:
    with TwoHosts() as net:
        etc = Path("/etc/netns") / net.ns_a
        etc.mkdir(parents=True, exist_ok=True)
        try:
            (etc / "resolv.conf").write_text(f"nameserver {net.addr_b}\noptions timeout:3 attempts:1\n")
            (etc / "nsswitch.conf").write_text("hosts: files dns\n")
            (etc / "hosts").write_text("127.0.0.1 localhost\n")
            log = tmp_path / "queries.jsonl"
            server = net.spawn(
                "b",
                [
                    sys.executable,
                    str(SERVER),
                    net.addr_b,
                    str(log),
                    str(DELAY),
                    f"{net.addr_b}={NAME_B}",
                    f"{net.addr_a}={NAME_A}",
                ],
                stdout=subprocess.PIPE,
            )
            assert server.stdout is not None
            assert server.stdout.readline().strip() == b"ready"
            server.stdout.close()
            # The namespace's resolver really is the server (else every test below means nothing).
            got = net.run("a", ["getent", "hosts", net.addr_b], check=False).stdout.decode()
            assert NAME_B in got, got
            os.truncate(log, 0)  # (the server appends to it: never replace the file)
            yield DnsNet(net, log)
        finally:
            shutil.rmtree(etc, ignore_errors=True)
            try:
                etc.parent.rmdir()  # only when no other test's namespace is in there
            except OSError:
                pass


class Lines:
    """The JSON lines a process writes, each stamped with when it arrived."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.items: list[tuple[float, dict[str, Any]]] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            self.items.append((time.monotonic(), rec))

    def wait_for(self, pred: Any, timeout: float = 20.0) -> tuple[float, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for item in list(self.items):
                if pred(item[1]):
                    return item
            time.sleep(0.05)
        raise AssertionError(f"not seen in {timeout} s; got {[r for _, r in self.items][-20:]}")

    def stop(self) -> list[dict[str, Any]]:
        try:
            os.killpg(self.proc.pid, signal.SIGINT)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        self._thread.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return [r for _, r in self.items]


def _pipeline(dns: DnsNet, *enrich_args: str) -> Lines:
    net = dns.net
    script = f"{CAPTURE} -i {net.if_a} | {DISSECT} | {TRACK} -r 200 | {ENRICH} --format json " + " ".join(
        enrich_args
    )
    proc = subprocess.Popen(
        net.cmd("a", ["sh", "-c", script]),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    lines = Lines(proc)
    lines.wait_for(lambda r: r.get("t") == "hdr")
    time.sleep(0.5)  # the capture is open once its header is out; a moment for the rest
    return lines


def _to_b(net: TwoHosts, port: int) -> Any:
    def pred(r: dict[str, Any]) -> bool:
        return r.get("t") == "conn" and r.get("dst") == net.addr_b and r.get("dport") == port

    return pred


def _http(net: TwoHosts) -> None:
    net.spawn("b", [sys.executable, "-m", "http.server", "8000", "--bind", net.addr_b])
    net.wait_port("b", 8000)
    net.run("a", ["curl", "-s", "-o", "/dev/null", f"http://{net.addr_b}:8000/"])


def test_a_record_goes_out_at_once_and_its_name_follows(dns: DnsNet, tmp_path: Path) -> None:
    net = dns.net
    # No process attribution: the lookups are recognised by their query names alone (a local
    # caching resolver would send them from its own socket, not rn-enrich's).
    lines = _pipeline(dns, "--no-process")
    try:
        _http(net)
        t_conn, first = lines.wait_for(_to_b(net, 8000))
        t_name, named = lines.wait_for(lambda r: r.get("t") == "name" and r.get("addr") == net.addr_b)
        lines.wait_for(lambda r: _to_b(net, 8000)(r) and r.get("final") is True, timeout=30)
    finally:
        recs = lines.stop()
    # The connection's first record did not wait for the server's 1.5 s answer.
    assert first.get("hostname_dst") is None, first
    assert t_name - t_conn >= DELAY - 0.5, (t_name - t_conn, first)
    assert named["name"] == NAME_B and named["via"] == "ptr"
    final = [r for r in recs if _to_b(net, 8000)(r) and r.get("final") is True][-1]
    assert (final.get("hostname_dst"), final.get("hostname_dst_via")) == (NAME_B, "ptr")
    # The lookup itself went over the wire, as a PTR query of rn-enrich's: marked as its own.
    reverse_b = ".".join(reversed(net.addr_b.split("."))) + ".in-addr.arpa"
    assert any(q["q"] == reverse_b for q in dns.ptr_queries())
    ptr = [r for r in recs if r.get("t") == "conn" and r.get("dns_query") == reverse_b]
    assert ptr and all(r.get("ptr_lookup_own") is True for r in ptr), ptr
    assert not any(r.get("ptr_lookup_own") for r in recs if _to_b(net, 8000)(r))
    # rn-view hides rn-enrich's own lookups, unless asked to show them.
    stream = tmp_path / "out.jsonl"
    stream.write_text("".join(json.dumps(r) + "\n" for r in recs))
    hidden = subprocess.run([VIEW, "--json", str(stream)], capture_output=True, check=True).stdout
    shown = subprocess.run(
        [VIEW, "--json", "--show-ptr-lookups", str(stream)], capture_output=True, check=True
    ).stdout
    assert reverse_b not in hidden.decode() and reverse_b in shown.decode()
    assert NAME_B in hidden.decode()


def test_no_resolve_dns_and_files_ask_nothing(dns: DnsNet, tmp_path: Path) -> None:
    net = dns.net
    lines = _pipeline(dns, "--no-resolve-dns")
    try:
        _http(net)
        lines.wait_for(lambda r: _to_b(net, 8000)(r) and r.get("final") is True, timeout=30)
        time.sleep(DELAY + 0.5)
    finally:
        recs = lines.stop()
    assert dns.queries() == []
    assert not any(r.get("t") == "name" or r.get("hostname_dst_via") == "ptr" for r in recs)
    # The same records as a file (not live): rn-enrich asks nothing by default...
    stream = tmp_path / "file.jsonl"
    stream.write_text(
        "".join(json.dumps({**r, "live": False} if r.get("t") == "hdr" else r) + "\n" for r in recs)
    )
    off = net.run("a", [ENRICH, "--no-process", "--format", "json", str(stream)]).stdout.decode()
    assert dns.queries() == [] and not any(r.get("t") == "name" for r in _json_lines(off))
    # ...and --resolve-dns asks (so the check above can fail): the end of a file waits for it.
    on = net.run("a", [ENRICH, "--no-process", "--resolve-dns", "--format", "json", str(stream)])
    names = [r for r in _json_lines(on.stdout.decode()) if r.get("t") == "name"]
    assert any(r.get("name") == NAME_B for r in names), on.stdout[-2000:]
    assert dns.ptr_queries()


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in text.splitlines() if x.strip()]


FLOOD_SCRIPT = """
import json, sys, time
from rustnet.enrich import rdns
from rustnet.enrich.stage import Enricher

second_octet, seconds, max_entries = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
enr = Enricher(processes=False, resolve_dns=True)
enr.names.resolver = rdns.ReverseResolver(max_entries=max_entries)
enr.process([{"t": "hdr", "v": 1, "producer": "test", "live": True, "stages": []}])
worst, names, n, start = 0.0, 0, 0, time.monotonic()
while time.monotonic() - start < seconds:
    batch = []
    for _ in range(500):
        n += 1
        batch.append({"t": "conn", "id": n, "proto": "tcp", "src": "10.9.9.9", "sport": 40000,
                      "dst": f"10.{second_octet}.{(n >> 8) & 255}.{n & 255}", "dport": 443})
    t0 = time.perf_counter()
    out = enr.process(batch) + enr.tick(time.time())
    worst = max(worst, time.perf_counter() - t0)
    names += sum(1 for r in out if r.get("t") == "name")
    time.sleep(0.01)
r = enr.names.resolver
print(json.dumps({"records": n, "elapsed": time.monotonic() - start, "worst_batch": worst,
                  "queries": r.queries, "refused": r.refused, "cached": len(r), "pending": r.pending,
                  "names": names}))
"""


def _flood(dns: DnsNet, second_octet: int, seconds: float, max_entries: int) -> dict[str, Any]:
    env = ["env", f"PYTHONPATH={ROOT / 'lib'}"]
    out = dns.net.run(
        "a",
        [*env, sys.executable, "-c", FLOOD_SCRIPT, str(second_octet), str(seconds), str(max_entries)],
        timeout=seconds + 60,
    )
    return dict(json.loads(out.stdout.decode().strip().splitlines()[-1]))


def _most_at_once(queries: list[dict[str, Any]]) -> int:
    events = sorted([(q["in"], 1) for q in queries] + [(q["out"], -1) for q in queries])
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


def test_a_flood_of_addresses_is_bounded_in_rate_concurrency_and_memory(dns: DnsNet) -> None:
    # Fast answers (10 ms): the workers could ask ~400 a second; the rate allows RATE.
    fast = _flood(dns, 200, 3.0, max_entries=40)
    asked = dns.ptr_queries(".200.10.in-addr.arpa")
    print("fast flood", fast, "queries at the server", len(asked))
    assert fast["records"] >= 20_000  # records kept flowing
    assert fast["worst_batch"] < 0.5  # no batch waited for a lookup
    assert len(asked) <= rdns.RATE * fast["elapsed"] + rdns.BURST + 2, (len(asked), fast)
    assert len(asked) >= rdns.BURST  # it did ask (the bound above can fail)
    assert fast["refused"] > 0 and fast["pending"] <= rdns.QUEUE_SIZE + rdns.WORKERS
    assert fast["cached"] <= 40 and fast["names"] > 40  # more answers than the cache holds
    # Slow answers (0.5 s): lookups pile up; at most WORKERS are at the server at once.
    slow = _flood(dns, 201, 3.0, max_entries=rdns.MAX_ENTRIES)
    piled = dns.ptr_queries(".201.10.in-addr.arpa")
    print("slow flood", slow, "queries at the server", len(piled), "at once", _most_at_once(piled))
    assert slow["worst_batch"] < 0.5
    assert 2 <= _most_at_once(piled) <= rdns.WORKERS, piled
