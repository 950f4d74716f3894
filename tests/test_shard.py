"""Flow-hash sharding: N workers (rn-capture --shard I/N | rn-track --dissect) merged by rn-merge
give the final records of one unsharded run, as a set, ids aside.

The truth is the unsharded pipeline on the same input: every real capture of the corpus, and a
hand-built capture with what splits flows apart when hashed naively (fragments of a datagram
after its first, VXLAN both ways, GRE, ARP, frames that are not IP). The shards must each get
a real share (not one shard everything), and their clocks must follow the whole capture's
(connections expire and are refreshed at the same packet times, hence the same final rates).
"""

from __future__ import annotations

import collections
import copy
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from rustnet.app.merge import ShardMerge
from rustnet.capture.shard import FlowHasher, ShardWriter, parse_shard
from rustnet.dissect.engine import Dissector
from rustnet.stream.stage import Chain
from rustnet.track.table import Tracker

from tests import dissect_frames as f
from tests.corpus import PCAPS
from tests.corpus_records import packet_records

CORPUS_FILES = sorted(p for p in PCAPS.iterdir() if p.suffix in (".pcap", ".pcapng"))


class Collect:
    """Where a ShardWriter writes: the records, in order (rn-capture's RecordWriter takes them)."""

    max_records = 256
    max_bytes = 64 * 1024

    def __init__(self) -> None:
        self.recs: list[Any] = []

    def write(self, rec: Any) -> None:
        self.recs.append(rec)

    def write_packets(self, recs: list[Any], data_bytes: int) -> None:
        self.recs.extend(recs)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def track(recs: list[Any]) -> list[Any]:
    chain = Chain([Dissector(dpi=True), Tracker()])
    out = chain.process(list(recs))
    return out + chain.finish()


def shard_input(recs: list[Any], index: int, count: int) -> list[Any]:
    """What rn-capture --shard index/count writes for these records (packets in frames of 100)."""
    sink = Collect()
    writer = ShardWriter(sink, index, count)
    writer.write(recs[0])
    for i in range(1, len(recs), 100):
        writer.write_packets(recs[i : i + 100], 0)
    return sink.recs


def final_set(recs: list[Any]) -> collections.Counter[str]:
    out: collections.Counter[str] = collections.Counter()
    for r in recs:
        if isinstance(r, dict) and r.get("t") == "conn" and r.get("final"):
            out[json.dumps({k: v for k, v in r.items() if k != "id"}, sort_keys=True, default=str)] += 1
    return out


def dstats(recs: list[Any]) -> dict[str, Any]:
    last = [r for r in recs if isinstance(r, dict) and r.get("t") == "dstats"][-1]
    return {k: v for k, v in last.items() if k != "ts"}


def sharded(recs: list[Any], count: int) -> tuple[list[Any], list[int]]:
    """The merged output of ``count`` shards, and how many connections each one tracked."""
    merge = ShardMerge(count, "rn-merge test")
    out: list[Any] = []
    per_shard = []
    for i in range(count):
        mine = track(shard_input(recs, i, count))
        per_shard.append(len(final_set(mine)))
        out += merge.take(i, mine)
        out += merge.end(i)
    return out, per_shard


@pytest.mark.parametrize("count", [2, 3])
def test_shards_together_give_the_unsharded_final_records_on_the_corpus(count: int) -> None:
    split = 0
    for pcap in CORPUS_FILES:
        recs = packet_records(pcap)
        whole = track(recs)
        merged, per_shard = sharded(recs, count)
        assert final_set(merged) == final_set(whole), pcap.name
        assert dstats(merged) == dstats(whole), pcap.name
        ids = [r["id"] for r in merged if isinstance(r, dict) and r.get("t") == "conn" and r.get("final")]
        assert len(ids) == len(set(ids)), pcap.name  # unique across the shards
        assert sum(1 for r in merged if isinstance(r, dict) and r.get("t") == "hdr") == 1
        split += sum(1 for n in per_shard if n) > 1
    assert split >= 10  # the shards really share the work out


def _frames() -> list[Any]:
    """A capture whose flows a naive per-packet hash tears apart."""
    recs: list[Any] = [f.hdr(1)]
    t = 1_700_000_000.0
    payload = bytes(range(256)) * 12  # 3072 bytes: three fragments of 1480 + rest
    for n in range(40):
        t += 0.5
        a = bytes([10, 0, n, 1])
        b = bytes([10, 0, n, 2])
        sport = 30000 + n
        # An unfragmented datagram each way, then a fragmented one (first, middle, last).
        recs.append(f.pkt(f.eth(f.ipv4(f.udp(b"q" * 20, sport, 5000), 17, a, b)), t))
        recs.append(f.pkt(f.eth(f.ipv4(f.udp(b"r" * 20, 5000, sport), 17, b, a)), t + 0.01))
        dgram = f.udp(payload, sport, 5000)
        ident = 1000 + n
        for i, off in enumerate(range(0, len(dgram), 1480)):
            part = dgram[off : off + 1480]
            more = off + 1480 < len(dgram)
            word = (off // 8) | (0x2000 if more else 0)
            frame = f.eth(f.ipv4(part, 17, b, a, ident=ident, frag=word, total=20 + len(part)))
            recs.append(f.pkt(frame, t + 0.02 + i * 0.001))
        # TCP both ways, GRE carrying it, VXLAN both ways, ARP, and a frame that is not IP.
        recs.append(f.pkt(f.eth(f.ipv4(f.tcp(b"", 40000 + n, 80, flags=0x02), 6, a, b)), t + 0.03))
        recs.append(f.pkt(f.eth(f.ipv4(f.tcp(b"", 80, 40000 + n, flags=0x12), 6, b, a)), t + 0.031))
        inner = f.ipv4(
            f.tcp(b"x", 50000 + n, 443, flags=0x18), 6, bytes([192, 168, n, 1]), bytes([192, 168, 0, 9])
        )
        recs.append(f.pkt(f.eth(f.ipv4(b"\x00\x00\x08\x00" + inner, 47, a, b)), t + 0.04))
        vx = b"\x08\x00\x00\x00\x00\x00\x2a\x00" + f.eth(inner)
        recs.append(f.pkt(f.eth(f.ipv4(f.udp(vx, 50000 + n, 4789), 17, a, b)), t + 0.05))
        back = f.ipv4(
            f.tcp(b"y", 443, 50000 + n, flags=0x18), 6, bytes([192, 168, 0, 9]), bytes([192, 168, n, 1])
        )
        vx_back = b"\x08\x00\x00\x00\x00\x00\x2a\x00" + f.eth(back)
        recs.append(f.pkt(f.eth(f.ipv4(f.udp(vx_back, 51000 + n, 4789), 17, b, a)), t + 0.06))
        recs.append(f.pkt(f.eth(f.arp(1, spa=a, tpa=b), etype=0x0806), t + 0.07))
        recs.append(f.pkt(f.eth(f.arp(2, spa=b, tpa=a), etype=0x0806), t + 0.08))
        recs.append(f.pkt(f.eth(b"\x00" * 46, etype=0x88CC), t + 0.09))  # LLDP: counted, not tracked
    return recs


@pytest.mark.parametrize("count", [2, 3, 4])
def test_fragments_tunnels_and_arp_stay_with_their_connections(count: int) -> None:
    recs = _frames()
    whole = track(recs)
    merged, per_shard = sharded(recs, count)
    assert final_set(merged) == final_set(whole)
    assert dstats(merged) == dstats(whole)
    assert min(per_shard) > 10


def test_both_directions_and_every_fragment_have_one_key() -> None:
    hasher = FlowHasher()
    hasher.set_linktype(1)
    a, b = f.V4_A, f.V4_B
    there = hasher.key(f.eth(f.ipv4(f.udp(b"x", 1234, 53), 17, a, b)))
    back = hasher.key(f.eth(f.ipv4(f.udp(b"y", 53, 1234), 17, b, a)))
    assert there == back >= 0
    dgram = f.udp(b"z" * 3000, 1234, 53)
    first = hasher.key(f.eth(f.ipv4(dgram[:1480], 17, a, b, ident=7, frag=0x2000)))
    last = hasher.key(f.eth(f.ipv4(dgram[1480:2960], 17, a, b, ident=7, frag=185)))
    assert first == last == there
    assert hasher.key(f.eth(b"\x00" * 46, etype=0x88CC)) < 0  # not IP: no connection


@pytest.mark.parametrize("text", ["1", "2/2", "-1/2", "a/b", "0/0", "0/65"])
def test_shard_spec_is_checked(text: str) -> None:
    with pytest.raises(ValueError):
        parse_shard(text)


def _bin(name: str) -> str:
    return shutil.which(name, path=str(Path(sys.executable).parent)) or name


def test_commands_shard_a_file_and_rn_merge_puts_it_together(tmp_path: Path) -> None:
    """The commands as a user's own pipeline: two shards into files, rn-merge, JSON out."""
    pcap = PCAPS / "ndpi_quic_interop_V.pcapng"
    whole = subprocess.run(
        f"{_bin('rn-capture')} -r {pcap} | {_bin('rn-track')} --dissect --format json",
        shell=True,
        capture_output=True,
        check=True,
    ).stdout
    parts = []
    for i in range(2):
        out = tmp_path / f"s{i}.rn"
        subprocess.run(
            f"{_bin('rn-capture')} -r {pcap} --shard {i}/2 | {_bin('rn-track')} --dissect > {out}",
            shell=True,
            check=True,
        )
        parts.append(str(out))
    merged = subprocess.run(
        [_bin("rn-merge"), "--format", "json", *parts], capture_output=True, check=True
    ).stdout
    whole_recs = [json.loads(line) for line in whole.splitlines()]
    merged_recs = [json.loads(line) for line in merged.splitlines()]
    assert final_set(merged_recs) == final_set(whole_recs)
    assert [r["t"] for r in merged_recs].count("hdr") == 1
    assert not any(r.get("t") == "clock" for r in merged_recs)
    stats = [r for r in merged_recs if r.get("t") == "stats"][-1]
    assert stats["packets"] == [r for r in whole_recs if r.get("t") == "stats"][-1]["packets"]
    conns = [r for r in merged_recs if r.get("t") == "conn" and r.get("final")]
    assert len({r["id"] for r in conns}) == len(conns)
    assert os.path.getsize(parts[0]) and os.path.getsize(parts[1])


def test_rn_merge_as_nobody_reads_the_pipes_root_hands_it_by_name() -> None:
    """rustnet, as root, gives rn-merge (run as nobody) its shards' pipes as /dev/fd/N names: a pipe
    refuses to be opened again through /proc by any user but its maker, so the names must be read
    through the descriptors handed over."""
    if os.geteuid() != 0:
        pytest.skip("needs root: a pipe made by root, read by nobody")
    nobody_python = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", sys.executable, "-c", "pass"],
        capture_output=True,
    )
    if nobody_python.returncode != 0:
        pytest.skip(f"nobody cannot run {sys.executable}")
    pcap = PCAPS / "ndpi_quic_interop_V.pcapng"
    streams = [
        subprocess.run(
            f"{_bin('rn-capture')} -r {pcap} --shard {i}/2 | {_bin('rn-track')} --dissect",
            shell=True,
            capture_output=True,
            check=True,
        ).stdout
        for i in range(2)
    ]
    pipes = [os.pipe() for _ in streams]
    merge = subprocess.Popen(
        [
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            _bin("rn-merge"),
            "--format",
            "json",
        ]
        + [f"/dev/fd/{r}" for r, _ in pipes],
        pass_fds=[r for r, _ in pipes],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    for r, _ in pipes:
        os.close(r)
    writers = [
        threading.Thread(target=_write_and_close, args=(w, data))
        for (_, w), data in zip(pipes, streams, strict=True)
    ]
    for t in writers:
        t.start()
    out, err = merge.communicate(timeout=60)
    for t in writers:
        t.join()
    assert merge.returncode == 0, err.decode(errors="replace")
    recs = [json.loads(line) for line in out.splitlines()]
    finals = [r for r in recs if r.get("t") == "conn" and r.get("final")]
    assert len(finals) > 2 and len({r["id"] for r in finals}) == len(finals)


def _write_and_close(fd: int, data: bytes) -> None:
    with open(fd, "wb") as f:
        f.write(data)


def test_rn_capture_refuses_a_bad_shard() -> None:
    run = subprocess.run(
        [_bin("rn-capture"), "-r", str(CORPUS_FILES[0]), "--shard", "3/2"], capture_output=True, text=True
    )
    assert run.returncode == 2
    assert "--shard" in run.stderr and "Traceback" not in run.stderr


def test_rustnet_workers_give_the_same_connections_as_one(tmp_path: Path) -> None:
    pcap = PCAPS / "ndpi_android.pcap"
    outs = {}
    for n in (1, 3):
        run = subprocess.run(
            [_bin("rustnet"), "--read", str(pcap), "--json", "--workers", str(n)],
            capture_output=True,
            check=True,
        )
        outs[n] = [json.loads(line) for line in run.stdout.splitlines()]
    assert final_set([{**r, "final": True} for r in outs[3]]) == final_set(
        [{**r, "final": True} for r in outs[1]]
    )
    ids = [r["id"] for r in outs[3]]
    assert len(ids) == len(set(ids)) == len(outs[1]) > 20


def test_rustnet_workers_plan(tmp_path: Path) -> None:
    from rustnet.app.launch import Options, plan

    pcap = PCAPS / "zeek_http_get.pcap"
    specs = plan(Options(read_path=str(pcap), json_out=True, workers=2, write_pcap=str(tmp_path / "c.pcap")))
    assert [s.name for s in specs] == ["rn-merge", "rn-enrich"]
    branches = specs[0].branches
    assert branches is not None and len(branches) == 2
    for i, chain in enumerate(branches):
        capture, track = chain
        assert capture.argv[capture.argv.index("--shard") + 1] == f"{i}/2"
        assert ("-w" in capture.argv) == (i == 0)  # each reads the whole file: one copies it
        assert "--dissect" in track.argv and "--final-only" in track.argv
    assert [s.name for s in plan(Options(read_path=str(pcap), json_out=True))][0] == "rn-capture"
    live = plan(Options(interface="lo", workers=4, buffer_size=100))[0].branches
    assert live is not None
    groups = set()
    for chain in live:
        argv = chain[0].argv
        assert argv[argv.index("-B") + 1] == "25"  # the buffer shared out, as the packets are
        groups.add(argv[argv.index("--fanout-group") + 1])
    assert len(groups) == 1


def test_rustnet_workers_refused_where_one_reader_must_see_everything(tmp_path: Path) -> None:
    pcap = PCAPS / "zeek_http_get.pcap"
    with pcap.open("rb") as stdin:
        run = subprocess.run(
            [_bin("rustnet"), "--read", "-", "--json", "--workers", "2"],
            stdin=stdin,
            capture_output=True,
            text=True,
        )
    assert run.returncode == 2
    assert "--workers 2" in run.stderr and "Traceback" not in run.stderr


def test_rn_merge_holds_back_a_bounded_number_of_records() -> None:
    """A stream that says it is a shard but never marks a round cannot make the merge hold
    everything it sends (a hostile or foreign stream): past the bound, records go out as they came."""
    merge = ShardMerge(2, "rn-merge test")
    hdr = {**f.hdr(1), "shard": "0/2"}
    out = merge.take(0, [hdr])
    out += merge.take(1, [{**hdr, "shard": "1/2"}])
    for start in range(0, 60_000, 1000):
        recs = [{"t": "conn", "id": start + k + 1, "first_seen": 1.0} for k in range(1000)]
        out += merge.take(0, recs)
    assert sum(1 for r in out if isinstance(r, dict) and r.get("t") == "conn") >= 50_000


def test_rn_merge_sums_live_counters_and_takes_shared_ones_once() -> None:
    """Live shards: each capture's socket counts its own share (summed); the interface's own
    drop counter and interface counters are the same for every shard (taken once); a warning
    every shard gives goes out once; records pass in arrival order."""
    merge = ShardMerge(2, "rn-merge test")
    live = {**f.hdr(1), "live": True}
    out = merge.take(0, [{**live, "shard": "0/2"}]) + merge.take(1, [{**live, "shard": "1/2"}])
    stats = {"t": "stats", "source": "eth0", "ifdropped": 7}
    ifstats = {"t": "ifstats", "ts": 1.0, "captured": "eth0", "ifaces": []}
    warning = {"t": "warn", "ts": 1.0, "stage": "rn-dissect", "msg": "link type 147 is not supported"}
    out += merge.take(
        0, [{**stats, "ts": 1.0, "packets": 10, "received": 12, "dropped": 2}, ifstats, warning]
    )
    out += merge.take(1, [{**stats, "ts": 2.0, "packets": 5, "received": 5, "dropped": 0}, ifstats, warning])
    out += merge.take(1, [{"t": "conn", "id": 1, "first_seen": 1.0}])
    out += merge.take(0, [{"t": "conn", "id": 1, "first_seen": 1.0}])
    last = [r for r in out if r["t"] == "stats"][-1]
    assert (last["packets"], last["received"], last["dropped"], last["ifdropped"], last["ts"]) == (
        15,
        17,
        2,
        7,
        2.0,
    )
    assert sum(r["t"] == "ifstats" for r in out) == 1
    assert sum(r["t"] == "warn" for r in out) == 1
    assert [r["id"] for r in out if r["t"] == "conn"] == [2, 1]  # shard 1/2's first, then 0/2's
    assert [r["t"] for r in out].count("hdr") == 1 and "shard" not in out[0]


def _conns(out: list[Any]) -> list[tuple[int, float]]:
    return [(r["id"], r["first_seen"]) for r in out if isinstance(r, dict) and r.get("t") == "conn"]


def _merged_in_chunks(streams: list[list[Any]], chunk: int) -> list[Any]:
    """Two shards' streams given to the merge ``chunk`` records at a time, taking turns (the
    order in which their pipes happen to be read)."""
    streams = copy.deepcopy(streams)  # the merge renumbers ids in place
    merge = ShardMerge(len(streams), "rn-merge test")
    out: list[Any] = []
    pos = [0] * len(streams)
    while any(p < len(s) for p, s in zip(pos, streams, strict=True)):
        for i, s in enumerate(streams):
            if pos[i] < len(s) and merge.behind(i):
                out += merge.take(i, s[pos[i] : pos[i] + chunk])
                pos[i] += chunk
            if pos[i] >= len(s) and pos[i] < len(s) + chunk:
                out += merge.end(i)
                pos[i] = len(s) + chunk
    return out


def test_rn_merge_order_does_not_depend_on_how_the_shards_are_read() -> None:
    """The shards' records come out round by round and, within a round, by first_seen, however
    their reads interleave: a round's records need not arrive sorted, and a shard's counters
    may come before its header (both made the order depend on the pipes' timing)."""
    hdr = {**f.hdr(1), "shard": "0/2"}
    counters = {"t": "dstats", "ts": 9.0, "packets": 0}
    shard0 = [counters, hdr, ["clock", 10.0], {"t": "conn", "id": 1, "first_seen": 7.0}]
    shard0 += [
        {"t": "conn", "id": 2, "first_seen": 3.0},
        ["clock", 20.0],
        {"t": "conn", "id": 3, "first_seen": 12.0},
    ]
    shard1 = [
        {**hdr, "shard": "1/2"},
        ["clock", 10.0],
        {"t": "conn", "id": 1, "first_seen": 5.0},
        ["clock", 20.0],
    ]
    shard1 += [{"t": "conn", "id": 2, "first_seen": 15.0}, {"t": "conn", "id": 3, "first_seen": 11.0}]
    # Round 10 (records after the mark at 10), then round 20; merged ids: shard 0 odd, shard 1 even.
    want = [(3, 3.0), (2, 5.0), (1, 7.0), (6, 11.0), (5, 12.0), (4, 15.0)]
    for chunk in (1, 2, 3, 100):
        assert _conns(_merged_in_chunks([shard0, shard1], chunk)) == want, chunk
        assert _conns(_merged_in_chunks([shard1, shard0], chunk)) == want, chunk  # ids by header


def test_a_packet_export_keeps_rn_dissect_where_it_taps(tmp_path: Path) -> None:
    """``--read F`` dissects in rn-capture's process; a packet export reads rn-dissect's input,
    so with one rn-dissect stays (the export was empty when the dissecting moved)."""
    from rustnet.app.launch import Options, plan

    pcap = str(PCAPS / "zeek_http_get.pcap")

    def names(**extra: Any) -> list[str]:
        specs = plan(Options(read_path=pcap, json_out=True, workers=1, **extra))
        return [s.name + (" --dissect" if "--dissect" in s.argv else "") for s in specs]

    assert names()[:2] == ["rn-capture --dissect", "rn-track"]
    for export in ("pcap_export", "pcapng_export"):
        assert names(**{export: str(tmp_path / "out")})[:3] == ["rn-capture", "rn-dissect", "rn-track"]
