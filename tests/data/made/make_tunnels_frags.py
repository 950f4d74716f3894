"""Record real VXLAN/Geneve and fragmented-DNS traffic between two network namespaces (root).

    python tests/data/made/make_tunnels_frags.py

Writes, next to this script:

* ``vxlan.pcap``: the underlay veth of host a while, over a VXLAN device (id 42, port 4789),
  host a pings host b (ARP, ICMP), fetches a page from ``python3 -m http.server`` (HTTP
  over TCP) and asks dnsmasq for a name (DNS over UDP), over IPv4 and IPv6 (NDP, ICMPv6,
  HTTP) inside the tunnel. (This kernel has no Geneve module: make_crafted.py wraps these
  inner frames in Geneve.)
* ``dns-frag.pcap``: the veth (MTU 1280) of host a while it asks dnsmasq on host b for a TXT
  record of 3000 bytes over IPv4 and IPv6 (EDNS buffer 4096): the answers come back
  in fragments.

Timestamps and random ports differ from run to run; the stored files are one run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # tests/, for netns

from netns import TwoHosts  # noqa: E402

BIG_TXT = ",".join(f'"{chr(97 + i % 26) * 250}"' for i in range(12))  # 12 strings of 250 bytes


def record(net: TwoHosts, out: Path) -> subprocess.Popen[bytes]:
    p = net.spawn("a", ["tcpdump", "-i", net.iface("a"), "-s", "0", "-U", "-w", str(out)])
    time.sleep(1.5)
    return p


def stop(p: subprocess.Popen[bytes]) -> None:
    time.sleep(1.5)
    os.killpg(p.pid, signal.SIGINT)
    p.wait(timeout=10)


def dnsmasq(net: TwoHosts, addrs: list[str]) -> None:
    args = [
        "dnsmasq",
        "-k",
        "--no-resolv",
        "--no-hosts",
        "--bind-interfaces",
        "-u",
        "root",
        "--edns-packet-max=4096",
    ]
    args += [f"--listen-address={a}" for a in addrs]
    args += ["--address=/www.tunnel.test/192.0.2.80", f"--txt-record=big.frag.test,{BIG_TXT}"]
    net.spawn("b", args)
    net.wait_port("b", 53, udp=True)


def tunnels(out: Path) -> None:
    with TwoHosts() as net:
        for host, me, peer, last in (("a", net.addr_a, net.addr_b, 1), ("b", net.addr_b, net.addr_a, 2)):
            dev = net.iface(host)
            net.run(
                host,
                [
                    "ip",
                    "link",
                    "add",
                    "vx0",
                    "type",
                    "vxlan",
                    "id",
                    "42",
                    "remote",
                    peer,
                    "local",
                    me,
                    "dstport",
                    "4789",
                    "dev",
                    dev,
                ],
            )
            net.run(host, ["ip", "addr", "add", f"192.168.42.{last}/24", "dev", "vx0"])
            net.run(host, ["ip", "addr", "add", f"fd42::{last}/64", "dev", "vx0", "nodad"])
            net.run(host, ["ip", "link", "set", "vx0", "up"])
        net.spawn("b", ["python3", "-m", "http.server", "8080", "--bind", "::"], cwd=str(HERE))
        net.wait_port("b", 8080)
        dnsmasq(net, ["192.168.42.2"])
        p = record(net, out)
        try:
            inner = "192.168.42.2"
            net.run("a", ["ping", "-c", "2", "-i", "0.2", inner])
            net.run("a", ["curl", "-s", "-o", "/dev/null", f"http://{inner}:8080/README.md"])
            net.run("a", ["dig", f"@{inner}", "+tries=1", "+time=2", "www.tunnel.test", "A"])
            net.run("a", ["ping", "-6", "-c", "2", "-i", "0.2", "fd42::2"])
            net.run("a", ["curl", "-s", "-o", "/dev/null", "http://[fd42::2]:8080/README.md"])
        finally:
            stop(p)


def fragments(out: Path) -> None:
    with TwoHosts() as net:
        for host in ("a", "b"):
            net.run(host, ["ip", "link", "set", net.iface(host), "mtu", "1280"])
        dnsmasq(net, [net.addr_b, net.addr6_b])
        p = record(net, out)
        try:
            for server in (net.addr_b, net.addr6_b):
                net.run(
                    "a",
                    [
                        "dig",
                        f"@{server}",
                        "+bufsize=4096",
                        "+ignore",
                        "+tries=1",
                        "+time=2",
                        "big.frag.test",
                        "TXT",
                    ],
                )
        finally:
            stop(p)


if __name__ == "__main__":
    os.umask(0o022)
    tunnels(HERE / "vxlan.pcap")
    fragments(HERE / "dns-frag.pcap")
