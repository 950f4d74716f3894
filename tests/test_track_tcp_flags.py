"""rn-track's tcp_flags_src and tcp_flags_dst: the union of the TCP flags each side sent, as tshark
reads them from the same captures."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from tests.corpus import PCAPS

BIN = Path(sys.executable).parent
CAPTURES = [
    "dpkt_http.pcap",
    "zeek_communityid_ipv6.pcap",
    "tcpdump_ssh.pcap",
    "zeek_tcp_rst-inject-rae.pcap",
    "zeek_tcp_syn-then-ack-then-rst.pcap",
    "ndpi_chrome.pcap",
]


@pytest.mark.parametrize("name", CAPTURES)
def test_flags_are_tsharks_union_per_direction(name: str) -> None:
    pcap = PCAPS / name
    p = subprocess.run(
        f"{BIN / 'rn-capture'} -r {pcap} | {BIN / 'rn-dissect'} | {BIN / 'rn-track'} --format json",
        shell=True,
        capture_output=True,
        timeout=120,
        executable="/bin/bash",
    )
    assert p.returncode == 0, p.stderr
    ours: dict[tuple[str, int, str, int], int] = defaultdict(int)
    for line in p.stdout.decode().splitlines():
        r = json.loads(line)
        if r.get("t") == "conn" and r.get("final") and r["proto"] == "tcp":
            ours[(r["src"], r["sport"], r["dst"], r["dport"])] |= r["tcp_flags_src"]
            ours[(r["dst"], r["dport"], r["src"], r["sport"])] |= r["tcp_flags_dst"]
    fields = ["ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst", "tcp.dstport", "tcp.flags"]
    t = subprocess.run(
        ["tshark", "-n", "-r", str(pcap), "-Y", "tcp and not icmp and not icmpv6", "-T", "fields"]
        + sum((["-e", f] for f in fields), []),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert t.returncode == 0, t.stderr
    truth: dict[tuple[str, int, str, int], int] = defaultdict(int)
    for line in t.stdout.splitlines():
        src4, src6, sport, dst4, dst6, dport, flags = line.split("\t")
        truth[(src4 or src6, int(sport), dst4 or dst6, int(dport))] |= int(flags, 16) & 0xFF
    assert truth
    # a side that sent nothing has 0 here and no line in tshark's
    assert {k: v for k, v in ours.items() if v or k in truth} == dict(truth)
