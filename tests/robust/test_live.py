"""Live robustness in network namespaces: drops are counted, and the tool sends nothing.

* A stopped consumer during a flood: rn-capture blocks on its output, the kernel ring
  overflows, and the drops show up in rn-capture's statistics records, which reach the
  end of the pipeline (never silent); rn-capture's memory stays bounded meanwhile.
* Least privilege on the wire: host "a" gets a default route through host "b", so any
  packet the tool emitted (a DNS lookup, a telemetry call, anything) would cross the
  veth pair, where tcpdump in "b" records every frame. The whole tool (``rustnet -i``,
  and the explicit pipeline through rn-enrich) watches real traffic replayed from "b"
  (DNS answers, HTTP, TLS) and must send nothing once reverse DNS, its one way out, is off
  (``--no-resolve-dns``); the same pipeline with reverse DNS on, as it is by default for
  a live capture, is the positive control (it does send: the test can fail).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import dpkt
import pytest

from tests.corpus import PCAPS as CORPUS
from tests.netns import TwoHosts, can_make_namespaces
from tests.robust.pipeline import Pipeline
from tests.robust.util import cmd, json_lines, rss_mb, syn_flood_frames, write_pcap

pytestmark = [
    pytest.mark.live,
    pytest.mark.slow,
    pytest.mark.skipif(not can_make_namespaces(), reason="needs root and ip netns"),
]
IP = shutil.which("ip") or "/usr/sbin/ip"


@pytest.fixture
def net() -> Iterator[TwoHosts]:
    with TwoHosts() as hosts:
        yield hosts


def in_ns(net: TwoHosts, host: str, argv: list[str]) -> list[str]:
    return [IP, "netns", "exec", net.ns(host), cmd(argv[0]), *argv[1:]]


def test_stopped_consumer_during_a_flood_counts_drops(net: TwoHosts, tmp_path: Path) -> None:
    flood = tmp_path / "flood.pcap"
    write_pcap(flood, syn_flood_frames(20_000))
    capture = in_ns(net, "a", ["rn-capture", "-i", net.if_a, "-B", "1", "--stats-interval", "0.2"])
    p = Pipeline([capture, ["rn-dissect"], ["rn-track", "--format", "json"]], subprocess.DEVNULL, tmp_path)
    try:
        time.sleep(1.5)
        assert all(p.alive()), [p.stderr(i) for i in range(3)]
        os.kill(p.procs[2].pid, signal.SIGSTOP)
        replay = net.run(
            "b", ["tcpreplay", "-q", "-i", net.if_b, "--topspeed", "--loop", "10", str(flood)], timeout=120
        )
        assert replay.returncode == 0
        rss_stopped = rss_mb(p.procs[0].pid)
        assert rss_stopped < 150, rss_stopped  # blocked on the pipe, not buffering the flood
        os.kill(p.procs[2].pid, signal.SIGCONT)
        time.sleep(1.0)
        p.signal(signal.SIGINT)
        statuses = p.wait(timeout=60)
    finally:
        p.close()
    assert statuses == [0, 0, 0], [p.stderr(i) for i in range(3)]
    out = json_lines(p.output())
    stats = [r for r in out if r.get("t") == "stats"]
    assert stats, "capture statistics reach the end of the pipeline"
    last = stats[-1]
    print("capture statistics after the flood:", last)
    assert last["dropped"] > 0, last
    # What was written plus what the kernel dropped accounts for the flood (200k SYNs).
    assert last["received"] >= 200_000
    assert abs(last["packets"] + last["dropped"] - last["received"]) <= 64, last
    conns = [r for r in out if r.get("t") == "conn" and r.get("final")]
    assert sum(r["packets"] for r in conns) == last["packets"], "every written packet was tracked"


def _replay_traffic(net: TwoHosts, tmp_path: Path) -> None:
    frames: list[bytes] = []
    for name in ("tcpdump_dns_udp.pcap", "zeek_http_get.pcap", "dpkt_http.pcap", "tcpdump_dns_tcp.pcap"):
        with open(CORPUS / name, "rb") as f:
            frames += [bytes(fr) for _, fr in dpkt.pcap.Reader(f)]
    mix = tmp_path / "mix.pcap"
    write_pcap(mix, frames)
    for _ in range(3):
        net.run("b", ["tcpreplay", "-q", "-i", net.if_b, "--pps", "400", str(mix)], timeout=60)


def _frames_sent_by_a(net: TwoHosts, tmp_path: Path, tool: list[list[str]], seconds: float = 1.0) -> int:
    """Run ``tool`` (a pipeline, first stage inside host a) while traffic flows; frames a sent."""
    mac_a = net.run("a", ["cat", f"/sys/class/net/{net.if_a}/address"]).stdout.decode().strip()
    pcap = tmp_path / "wire.pcap"
    dump = net.spawn("b", ["tcpdump", "-U", "-n", "-i", net.if_b, "-w", str(pcap)], stderr=subprocess.PIPE)
    assert dump.stderr is not None
    assert b"listening on" in dump.stderr.readline()
    p = Pipeline(tool, subprocess.DEVNULL, tmp_path)
    try:
        time.sleep(1.5)
        assert all(p.alive()), [p.stderr(i) for i in range(len(tool))]
        _replay_traffic(net, tmp_path)
        time.sleep(seconds)
        p.signal(signal.SIGINT)
        p.wait(timeout=30)
    finally:
        p.close()
    time.sleep(0.3)
    dump.send_signal(signal.SIGINT)
    dump.wait(10)
    dump.stderr.close()
    conns = [r for r in json_lines(p.output()) if r.get("t") == "conn"]
    assert conns, "the tool saw the replayed traffic"
    with open(pcap, "rb") as f:
        frames = [fr for _, fr in dpkt.pcap.Reader(f)]
    sent = sum(1 for fr in frames if fr[6:12].hex(":") == mac_a)
    print(f"{len(frames)} frames on the wire, {sent} sent by host a")
    return sent


def _quiet_host_a(net: TwoHosts) -> None:
    # A default route through b: whatever a sends crosses the veth. No IPv6: the kernel's own
    # router solicitations and MLD reports would be traffic we did not cause.
    net.run("a", ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])
    net.run("a", ["sysctl", "-qw", f"net.ipv6.conf.{net.if_a}.disable_ipv6=1"])
    net.run("a", [IP, "route", "add", "default", "via", net.addr_b])


def test_the_tool_sends_nothing_to_the_network(net: TwoHosts, tmp_path: Path) -> None:
    _quiet_host_a(net)
    whole = [[IP, "netns", "exec", net.ns_a, cmd("rustnet"), "-i", net.if_a, "--json", "--no-resolve-dns"]]
    assert _frames_sent_by_a(net, tmp_path, whole) == 0
    staged = [
        in_ns(net, "a", ["rn-capture", "-i", net.if_a]),
        ["rn-dissect"],
        ["rn-track"],
        in_ns(net, "a", ["rn-enrich", "--no-resolve-dns", "--format", "json"]),
    ]
    assert _frames_sent_by_a(net, tmp_path, staged) == 0


def test_reverse_dns_is_the_only_way_out(net: TwoHosts, tmp_path: Path) -> None:
    """Positive control: with reverse DNS on (the default live), PTR lookups do leave host a (so
    the test above can fail)."""
    _quiet_host_a(net)
    staged = [
        in_ns(net, "a", ["rn-capture", "-i", net.if_a]),
        ["rn-dissect"],
        ["rn-track"],
        in_ns(net, "a", ["rn-enrich", "--format", "json"]),
    ]
    assert _frames_sent_by_a(net, tmp_path, staged, seconds=2.0) > 0


def test_half_open_connections_on_a_server_show_syn_recv(net: TwoHosts, tmp_path: Path) -> None:
    """SYNs from an address that never answers reach a real listener in host a (the SYN-ACKs go
    to b's MAC, whose kernel drops them: not its address, so no RST). Captured live on the
    server, the local end is the responder: its state, SYN_RECV, is what the records show and
    what ``state:syn_recv`` finds."""
    n_syn = 40
    net.spawn("a", ["python3", "-m", "http.server", "8080", "--bind", net.addr_a])
    net.wait_port("a", 8080)
    ghost = net.addr_a.rsplit(".", 1)[0] + ".99"
    mac_a = net.run("a", ["cat", f"/sys/class/net/{net.if_a}/address"]).stdout.decode().strip()
    mac_b = net.run("b", ["cat", f"/sys/class/net/{net.if_b}/address"]).stdout.decode().strip()
    net.run("a", [IP, "neigh", "replace", ghost, "lladdr", mac_b, "dev", net.if_a, "nud", "permanent"])
    frames = []
    for i in range(n_syn):
        seg = dpkt.tcp.TCP(sport=41000 + i, dport=8080, seq=1000 + i, flags=dpkt.tcp.TH_SYN, win=64240)
        ip = dpkt.ip.IP(
            src=bytes(map(int, ghost.split("."))),
            dst=bytes(map(int, net.addr_a.split("."))),
            p=dpkt.ip.IP_PROTO_TCP,
            ttl=64,
            data=seg,
        )
        ip.len = 20 + len(bytes(seg))
        frames.append(
            bytes(
                dpkt.ethernet.Ethernet(
                    src=bytes.fromhex(mac_b.replace(":", "")),
                    dst=bytes.fromhex(mac_a.replace(":", "")),
                    type=dpkt.ethernet.ETH_TYPE_IP,
                    data=ip,
                )
            )
        )
    syns = tmp_path / "syns.pcap"
    write_pcap(syns, frames)
    # rn-track learns which end is local from this host's addresses: it runs in host a too.
    tool = [
        in_ns(net, "a", ["rn-capture", "-i", net.if_a]),
        ["rn-dissect"],
        in_ns(net, "a", ["rn-track"]),
        ["rn-view", "--json", "--filter", "state:syn_recv"],
    ]
    p = Pipeline(tool, subprocess.DEVNULL, tmp_path)
    try:
        time.sleep(1.5)
        assert all(p.alive()), [p.stderr(i) for i in range(len(tool))]
        net.run("b", ["tcpreplay", "-q", "-i", net.if_b, str(syns)], timeout=60)
        time.sleep(1.5)  # the server's SYN-ACKs (and a retransmission) are seen
        p.signal(signal.SIGINT)
        assert p.wait(timeout=30) == [0, 0, 0, 0], [p.stderr(i) for i in range(len(tool))]
    finally:
        p.close()
    conns = json_lines(p.output())
    assert len(conns) == n_syn, [(r["proto"], r["src"], r["state"], r.get("local_side")) for r in conns]
    for r in conns:
        assert r["state"] == "SYN_RECV" and r["src"] == ghost and r["dport"] == 8080
        assert r["local_side"] == "dst" and r["packets_dst"] >= 1  # the server's SYN-ACK was seen


@pytest.mark.tui
def test_interface_gone_under_a_running_pipeline_the_viewer_says_so(net: TwoHosts, tmp_path: Path) -> None:
    """rn-capture -i IF | rn-dissect | rn-track | rn-view (TUI on a pty); IF is deleted mid-capture."""
    import pty

    import pyte

    from tests.tui.harness import RN_VIEW, PtyView, set_size

    read_fd, write_fd = os.pipe()
    pid, fd = pty.fork()
    if pid == 0:  # the viewer: records on stdin, keys and screen on the pty
        try:
            set_size(1, 160, 20)
            os.dup2(read_fd, 0)
            env = dict(
                os.environ,
                TERM="xterm-256color",
                BLESSED_QUERY_TIMEOUT_SECONDS="0.05",
                LANG="C.UTF-8",
                LC_ALL="C.UTF-8",
            )
            os.execve(RN_VIEW, [RN_VIEW], env)
        finally:
            os._exit(127)
    os.close(read_fd)
    view = PtyView.__new__(PtyView)  # the harness's reading side over our own fork
    view.cols, view.rows, view.raw, view.status, view.pid, view.fd = 160, 20, bytearray(), None, pid, fd
    view.screen = pyte.Screen(160, 20)
    view.stream = pyte.ByteStream(view.screen)
    tool = [in_ns(net, "a", ["rn-capture", "-i", net.if_a]), ["rn-dissect"], ["rn-track"]]
    p = Pipeline(tool, subprocess.DEVNULL, tmp_path, stdout_fd=write_fd)
    os.close(write_fd)
    try:
        time.sleep(1.5)
        net.run("b", ["ping", "-c", "3", "-i", "0.2", net.addr_a])
        # The ping's row, whichever end the Remote column names (rn-track runs outside the
        # namespace, and the System panel leaves no room for Local at 160 columns).
        view.wait_for(
            lambda s: any("ICMP " in ln and (net.addr_a in ln or net.addr_b in ln) for ln in s.splitlines()),
            timeout=15,
        )
        net.run("a", [IP, "link", "del", net.if_a])
        screen = view.wait_for("capture ended: the interface went down", timeout=15)
        assert net.if_a in screen
        statuses = p.wait(timeout=15)
        assert statuses == [1, 0, 0], statuses  # rn-capture: a runtime error, one line
        assert len(p.stderr(0).splitlines()) == 1
        view.send("q", "q")
        assert view.wait_exit() in (0, 1)
    finally:
        view.close()
        p.close()
    assert b"Traceback" not in bytes(view.raw)
