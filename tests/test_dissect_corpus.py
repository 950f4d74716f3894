"""The dissector over the real captures of the corpus, checked against tshark's ground truth.

In-process over every capture: per-conversation packet and byte totals of the TCP/UDP
summaries equal tshark's conversation tables; ICMP echo and ARP messages, VLAN stacks and
snaplen-truncated frames are all there. Then the command itself over a few captures:
``rn-dissect`` on a recorded packet stream, and ``rn-capture -r | rn-dissect`` for real.
"""

from __future__ import annotations

import collections
import ipaddress
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rustnet.dissect.engine import Dissector
from rustnet.stream import RecordWriter
from rustnet.stream.records import ip_text, to_json_obj

from tests.corpus import CORPUS
from tests.corpus_records import packet_records

BIN = Path(sys.executable).parent
PCAPS = sorted((CORPUS / "pcaps").iterdir()) if (CORPUS / "pcaps").is_dir() else []
NAMES = {"tcp": 6, "udp": 17}

pytestmark = pytest.mark.skipif(not PCAPS, reason="corpus not present")


def truth(pcap: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CORPUS / "truth" / (pcap.name + ".json")).read_text())
    return data


def norm(addr: str) -> str:
    return str(ipaddress.ip_address(addr))


def key(proto: str, a: str, ap: int, b: str, bp: int) -> tuple[Any, ...]:
    return (proto, *sorted([(a, ap), (b, bp)]))


def dissect(pcap: Path) -> tuple[list[Any], dict[str, Any]]:
    d = Dissector(dpi=False)
    out = d.process(packet_records(pcap)) + d.finish()
    return [r for r in out if isinstance(r, list) and r[0] == "sum"], out[-1]


@pytest.mark.parametrize("pcap", PCAPS, ids=[p.name for p in PCAPS])
def test_capture_matches_tshark(pcap: Path) -> None:
    t = truth(pcap)
    sums, stats = dissect(pcap)

    # TCP/UDP conversations: exact packets and bytes. A malformed or non-completing fragment
    # summary belongs to no conversation (rustnet.dissect.info).
    got: dict[tuple[Any, ...], list[int]] = collections.defaultdict(lambda: [0, 0])
    for s in sums:
        info = s[14] or {}
        if s[3] in (6, 17) and "malformed" not in info and info.get("frag") != "part":
            k = key("tcp" if s[3] == 6 else "udp", ip_text(s[4]), s[5], ip_text(s[6]), s[7])
            got[k][0] += 1
            got[k][1] += s[2]
    want: dict[tuple[Any, ...], list[int]] = collections.defaultdict(lambda: [0, 0])
    for proto in NAMES:
        for c in t[f"{proto}_conversations"]:
            k = key(proto, norm(c["a"]), c["a_port"], norm(c["b"]), c["b_port"])
            want[k][0] += c["frames"]
            want[k][1] += c["bytes"]
    assert dict(got) == dict(want)

    # ICMP echo: every message with its identifier and sequence.
    echoes = sorted(
        (ip_text(s[4]), ip_text(s[6]), s[5], s[9], s[10])
        for s in sums
        if s[3] in (1, 58) and s[5] in (0, 8, 128, 129)
    )
    echo_types = {
        ("ipv4", "request"): 8,
        ("ipv4", "reply"): 0,
        ("ipv6", "request"): 128,
        ("ipv6", "reply"): 129,
    }
    assert echoes == sorted(
        (norm(e["src"]), norm(e["dst"]), echo_types[e["family"], e["type"]], e["id"], e["seq"])
        for e in t["icmp_echo"]
    )

    # ARP: opcode, addresses and VLAN of each message.
    arps = sorted(
        (s[5], ip_text(s[4]), s[14]["sha"], ip_text(s[6]), s[14]["tha"], s[13] or None)
        for s in sums
        if s[3] == 2054
    )
    assert arps == sorted(
        (p["opcode"], p["sender_ip"], p["sender_mac"], p["target_ip"], p["target_mac"], p["vlan"])
        for p in t["arp"]["packets"]
    )

    # VLAN stacks, outer first, as tshark lists them.
    stacks = collections.Counter(",".join(map(str, s[13])) for s in sums if s[13])
    assert dict(stacks) == t["vlan"]["id_stacks"]

    # Frames cut by snaplen are counted, and nothing in the corpus is damaged below L4.
    assert stats["truncated"] == t["frames_truncated_by_snaplen"]
    assert stats["malformed"] == 0
    assert stats["packets"] == t["capture"]["packets"]


def write_stream(recs: list[Any], path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        w = RecordWriter(fd)
        w.write_many(recs)
        w.close()
    finally:
        os.close(fd)


SAMPLES = [
    "zeek_vlan-qinqinq.pcap",
    "zeek_linux_dlt_sll2.pcap",
    "xargs_illustrated-tls13.pcap",
    "tcpdump_quic_handshake_truncated.pcap",
]


@pytest.mark.parametrize("name", SAMPLES)
def test_command_equals_the_stage(name: str, tmp_path: Path) -> None:
    pcap = CORPUS / "pcaps" / name
    recs = packet_records(pcap)
    write_stream(recs, tmp_path / "in.rn")
    p = subprocess.run(
        [str(BIN / "rn-dissect"), "--no-dpi", "--format", "json", str(tmp_path / "in.rn")],
        capture_output=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    lines = [json.loads(x) for x in p.stdout.decode().splitlines()]
    d = Dissector(dpi=False)
    expected = [json.loads(json.dumps(to_json_obj(r))) for r in d.process(recs)]
    assert [x for x in lines if x["t"] == "sum"] == [x for x in expected if x["t"] == "sum"]
    assert lines[0]["t"] == "hdr" and lines[0]["producer"].startswith("rn-dissect")
    assert lines[-1]["t"] == "dstats" and lines[-1]["packets"] == len(recs) - 1


@pytest.mark.skipif(not (BIN / "rn-capture").exists(), reason="rn-capture not installed")
def test_real_pipeline_from_rn_capture() -> None:
    pcap = CORPUS / "pcaps" / "zeek_icmp_dot1q.pcap"
    p = subprocess.run(
        f"'{BIN}/rn-capture' -r '{pcap}' | '{BIN}/rn-dissect' --format json",
        shell=True,
        capture_output=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    recs = [json.loads(x) for x in p.stdout.decode().splitlines()]
    sums = [r for r in recs if r["t"] == "sum"]
    assert len(sums) == 15 and all(s["vlan"] == [123] for s in sums)
    assert {s["proto"] for s in sums} == {1, 2054}
    stats = [r for r in recs if r["t"] == "dstats"][-1]
    assert stats["packets"] == 15 and stats["non_ip"] == 0


def test_damaged_stream_keeps_what_came_before(tmp_path: Path) -> None:
    recs = packet_records(CORPUS / "pcaps" / "zeek_http_get.pcap")
    write_stream(recs, tmp_path / "in.rn")
    data = (tmp_path / "in.rn").read_bytes()
    (tmp_path / "cut.rn").write_bytes(data[: len(data) * 2 // 3])
    p = subprocess.run(
        [str(BIN / "rn-dissect"), "--format", "json", str(tmp_path / "cut.rn")],
        capture_output=True,
        timeout=60,
    )
    assert p.returncode == 3 and p.stderr.count(b"\n") == 1, p.stderr
    assert b"Traceback" not in p.stderr
    sums = [json.loads(x) for x in p.stdout.decode().splitlines() if '"sum"' in x]
    assert 0 < len(sums) < len(recs) - 1
