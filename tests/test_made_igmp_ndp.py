"""IGMP and NDP read as tshark reads them (tests/data/made/igmp-ndp.pcap, crafted).

IGMP: the message type and every group it names (v3: each group record). NDP: the target of
a neighbour solicitation or advertisement and its link-layer address option, only at hop
limit 255 (RFC 4861 §7.1.1): the forwarded advertisement (hop limit 64) teaches nothing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BIN = Path(sys.executable).parent
CAPTURE = Path(__file__).parent / "data" / "made" / "igmp-ndp.pcap"
IGMP_TYPES = {"0x11": "query", "0x12": "v1 report", "0x16": "v2 report", "0x17": "leave", "0x22": "v3 report"}
NDP_TYPES = {"135": "solicitation", "136": "advertisement"}
FIELDS = ["ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "ipv6.hlim", "igmp.type", "igmp.maddr", "icmpv6.type"]
FIELDS += ["icmpv6.nd.ns.target_address", "icmpv6.nd.na.target_address", "icmpv6.opt.linkaddr"]

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


def tshark_truth() -> dict[tuple[str, str], dict[str, Any]]:
    cmd = ["tshark", "-r", str(CAPTURE), "-T", "fields", "-E", "occurrence=a"]
    for field in FIELDS:
        cmd += ["-e", field]
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for line in subprocess.run(cmd, capture_output=True, timeout=60, check=True).stdout.decode().splitlines():
        src4, src6, dst4, dst6, hlim, igmp, groups, icmp6, ns, na, lladdr = line.split("\t")
        truth: dict[str, Any] = {}
        if igmp:
            truth["igmp_type"] = IGMP_TYPES[igmp]
            named = [g for g in groups.split(",") if g != "0.0.0.0"]
            if named:
                truth["igmp_groups"] = named
        elif icmp6 in NDP_TYPES and hlim == "255":
            truth = {"ndp_type": NDP_TYPES[icmp6], "ndp_target": ns or na, "ndp_lladdr": lladdr}
        out[(src4 or src6, dst4 or dst6)] = truth
    return out


def finals() -> dict[tuple[str, str], dict[str, Any]]:
    cap = subprocess.run(
        [str(BIN / "rn-capture"), "-r", str(CAPTURE)], capture_output=True, timeout=60, check=True
    )
    dis = subprocess.run(
        [str(BIN / "rn-dissect")], input=cap.stdout, capture_output=True, timeout=60, check=True
    )
    out = subprocess.run(
        [str(BIN / "rn-track"), "--format", "json"],
        input=dis.stdout,
        capture_output=True,
        timeout=60,
        check=True,
    )
    conns: dict[tuple[str, str], dict[str, Any]] = {}
    for line in out.stdout.decode().splitlines():
        rec = json.loads(line)
        if rec.get("t") == "conn" and rec.get("final"):
            conns[(rec["src"], rec["dst"])] = rec
    return conns


def test_igmp_and_ndp_fields_are_tsharks() -> None:
    truth = tshark_truth()
    assert len(truth) == 8
    got = finals()
    assert set(got) == set(truth)
    for pair, expected in truth.items():
        ours = {k: v for k, v in got[pair].items() if k.startswith(("igmp_", "ndp_"))}
        assert ours == expected, pair
    assert got[("10.9.3.1", "224.0.0.22")]["igmp_groups"] == ["239.10.0.1", "232.1.1.1", "239.255.255.250"]
    assert truth[("2001:db8::99", "2001:db8::1")] == {}  # forwarded: tshark reads it, we must not believe it
