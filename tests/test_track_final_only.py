"""rn-track --final-only: each connection's final record and nothing else, the same final record;
rn-track --dissect: the packets dissected in rn-track's own process.

Hand-built packet summaries at known times: connections that open and end between two
refreshes, one that lives across many with a changing rate (whose final rate is smoothed over
the refreshes, so the unwritten updates must still be sampled), DNS answered, one expired
by timeout while the input goes on. `rustnet --read F --json` asks for it (it prints final
records only) unless something downstream sees the whole stream, and has rn-track dissect.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rustnet.app import launch
from rustnet.app.launch import Options, plan
from rustnet.track.rates import TAU
from rustnet.track.table import Tracker

from tests.test_track_cli import msgpack_frames, parse, track
from tests.track_util import ACK, FIN, PSH, A, B, C, conns, finals, handshake, header, tcp, udp

CORPUS_PCAP = Path(__file__).parent / "data" / "corpus" / "pcaps" / "zeek_http_get.pcap"


def _bin(name: str) -> str:
    return shutil.which(name, path=str(Path(sys.executable).parent)) or name


def _short_tcp(t: float, cp: int) -> list[list[Any]]:
    """Handshake, 300 bytes each way, FIN both ways: 7 packets within 60 ms."""
    return [
        *handshake(t, cp=cp),
        tcp(t + 0.03, A, cp, B, 80, PSH | ACK, 1001, 5001, paylen=300),
        tcp(t + 0.04, B, 80, A, cp, PSH | ACK, 5001, 1301, paylen=300),
        tcp(t + 0.05, A, cp, B, 80, FIN | ACK, 1301, 5301),
        tcp(t + 0.06, B, 80, A, cp, FIN | ACK, 5301, 1302),
    ]


def _stream() -> list[Any]:
    recs: list[Any] = [header()]
    recs += _short_tcp(100.2, 41000)  # over before the first refresh (101.0), expires at ~105
    recs += [udp(100.3, C, 33000, B, 53), udp(100.31, B, 53, C, 33000, paylen=80)]  # DNS answered
    # 1 kB/s from A:50000 for 10 s, then 11 kB/s to the end of input: its final rate is the
    # step followed with time constant TAU over the refreshes (rustnet.track.rates).
    for s in range(1, 14):
        recs.append(udp(100.0 + s, A, 50000, B, 9000, wirelen=1_000 if s <= 10 else 11_000))
    recs += _short_tcp(112.2, 42000)  # opens and ends between the last two refreshes
    return recs


def _run(final_only: bool) -> list[Any]:
    t = Tracker(refresh=1.0, final_only=final_only)
    out: list[Any] = []
    for rec in _stream():  # one at a time: the clock passes every refresh
        out += t.process([rec])
    return out + t.finish()


def test_only_final_records_one_per_connection() -> None:
    recs = conns(_run(final_only=True))
    assert all(r.get("final") is True for r in recs)
    by_port = {r["sport"]: r for r in recs}
    assert len(recs) == len(by_port) == 4
    early, late = by_port[41000], by_port[42000]
    for r in (early, late):
        assert (r["packets_src"], r["packets_dst"], r["bytes_src"], r["bytes_dst"]) == (4, 3, 516, 462)
        assert r["state"] in ("TIME_WAIT", "CLOSED")
    assert early["end"] == "timeout"  # tcp.closed (5 s) passed while the input went on
    assert late["end"] == "eof"
    dns = by_port[33000]
    assert (dns["state"], dns["packets"], dns["end"]) == ("DNS_RESPONSE", 2, "eof")
    # The 11 kB/s step (from 111.0) is sampled at the refresh at 112 and by the final record at
    # 113: two steps of the smoothing, as the updates were sampled though none was written.
    want = 1_000 + 10_000 * (1 - math.exp(-2 / TAU))
    assert by_port[50000]["rate_src"] == pytest.approx(want, rel=0.02)


def test_the_final_records_are_those_of_the_full_stream() -> None:
    full = _run(final_only=False)
    assert len(conns(full)) > len(finals(full))  # the full stream has updates to leave out
    assert finals(_run(final_only=True)) == finals(full)


def test_snapshots_are_still_written() -> None:
    t = Tracker(refresh=1.0, final_only=True)
    t.process([header(), *_short_tcp(100.0, 41000)])
    t.snapshot_requested = True
    snap = conns(t.process([udp(100.5, C, 33000, B, 53)]))
    assert {r["sport"] for r in snap if r.get("snapshot")} == {41000, 33000}


def test_the_command_takes_the_option() -> None:
    p = track(msgpack_frames(_stream()), "--final-only")
    assert p.returncode == 0, p.stderr
    recs = [r for r in parse(p.stdout) if r.get("t") == "conn"]
    assert len(recs) == 4 and all(r["final"] is True for r in recs)


def test_conn_only_writes_the_connection_lines_alone() -> None:
    whole = track(msgpack_frames(_stream()), "--final-only")  # JSON Lines (track's --format json)
    alone = track(msgpack_frames(_stream()), "--final-only", "--conn-only")
    assert whole.returncode == alone.returncode == 0, alone.stderr
    lines = whole.stdout.splitlines()
    assert {json.loads(ln)["t"] for ln in lines} > {"conn"}  # a header and statistics besides
    assert alone.stdout.splitlines() == [ln for ln in lines if json.loads(ln)["t"] == "conn"]
    assert len(alone.stdout.splitlines()) == 4
    refused = track(msgpack_frames(_stream()), "--conn-only", "--format", "msgpack")  # no header
    assert refused.returncode == 2 and "--format json" in refused.stderr.decode()


def test_rustnet_json_lines_come_from_rn_track_when_it_writes_them_all(tmp_path: Path) -> None:
    """rustnet --read F --json hands its standard output to rn-track when the lines are exactly
    rn-track's final connection records; otherwise it reads them (to hide, cut or tee them)."""

    def last(**kw: Any) -> Any:
        return plan(Options(**kw))[-1]

    f = str(CORPUS_PCAP)
    spec = last(read_path=f, json_out=True)
    assert spec.name == "rn-track" and spec.stdout_direct
    assert spec.argv[-3:] == ["--format", "json", "--conn-only"] and "--final-only" in spec.argv
    rec = tmp_path / "r.rn"
    rec.write_bytes(b"\x91\x81\xa1t\xa3hdr")
    for kw in (
        {"read_path": f, "json_out": True, "no_localhost": True},  # some are hidden
        {"read_path": str(rec), "json_out": True},  # a recording's records are cut to size first
        {"read_path": f, "json_out": True, "log_level": "debug"},  # the log sees the stream
        {"read_path": f, "json_out": True, "resolve_dns": True},  # rn-enrich comes last
        {"read_path": f},  # the viewer
        {"json_out": True},  # live
    ):
        spec = last(**kw)
        assert not spec.stdout_direct and "--conn-only" not in spec.argv, kw


def _track_argv(**kw: Any) -> list[str]:
    return next(s.argv for s in plan(Options(**kw)) if s.name == "rn-track")


def _capture_argv(**kw: Any) -> list[str]:
    return next(s.argv for s in plan(Options(**kw)) if s.name == "rn-capture")


def test_rustnet_asks_for_final_records_only_when_nothing_else_reads_the_stream(tmp_path: Path) -> None:
    f = str(CORPUS_PCAP)
    assert "--final-only" in _track_argv(read_path=f, json_out=True)
    assert "--final-only" not in _track_argv(read_path=f)  # the viewer shows updates
    assert "--final-only" not in _track_argv(json_out=True)  # live: --json's cap writes updates
    for extra in (
        {"record": str(tmp_path / "r.rn")},
        {"json_log": str(tmp_path / "log.json")},
        {"pcap_export": str(tmp_path / "x.pcap")},
        {"log_level": "debug"},
    ):
        assert "--final-only" not in _track_argv(read_path=f, json_out=True, **extra), extra


def test_rn_track_dissects_packet_records_itself_with_dissect() -> None:
    # rn-capture's packet records straight into rn-track --dissect: the connection as tshark
    # counts it (the corpus truth), with its HTTP request found by DPI.
    pcap = CORPUS_PCAP
    truth = json.loads((CORPUS_PCAP.parent.parent / "truth" / f"{pcap.name}.json").read_text())
    conv = truth["tcp_conversations"][0]
    request = truth["http"]["requests"][0]
    cap = subprocess.run([_bin("rn-capture"), "-r", str(pcap)], capture_output=True, timeout=60, check=True)
    p = track(cap.stdout, "--dissect")
    assert p.returncode == 0, p.stderr
    recs = [r for r in parse(p.stdout) if r.get("t") == "conn" and r.get("final")]
    assert len(recs) == 1
    r = recs[0]
    assert (r["src"], r["sport"], r["dst"], r["dport"]) == (
        conv["a"],
        conv["a_port"],
        conv["b"],
        conv["b_port"],
    )
    assert (r["packets_src"], r["bytes_src"]) == (conv["frames_a_to_b"], conv["bytes_a_to_b"])
    assert (r["packets_dst"], r["bytes_dst"]) == (conv["frames_b_to_a"], conv["bytes_b_to_a"])
    assert (r["http_host"], r["http_method"], r["http_status"]) == ("bro.org", request["method"], 200)
    assert any(d.get("t") == "dstats" for d in parse(p.stdout))  # the dissector's counters pass on


def _names(**kw: Any) -> list[str]:
    return [s.name for s in plan(Options(**kw))]


def test_rustnet_read_dissects_in_rn_captures_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(launch, "idle_cores", lambda: 8.0)  # live: rn-dissect of its own
    f = str(CORPUS_PCAP)
    for kw in ({"read_path": f, "json_out": True}, {"read_path": f}):
        assert _names(**kw) == ["rn-capture", "rn-track"], kw  # names too in rn-track (--enrich)
        assert "--dissect" in _capture_argv(**kw) and "--dissect" not in _track_argv(**kw), kw
    # Live, and without DPI: rn-dissect in its own process, as before.
    assert _names(json_out=True) == ["rn-capture", "rn-dissect", "rn-track", "rn-enrich"]
    assert _names(read_path=f, json_out=True, no_dpi=True) == ["rn-capture", "rn-dissect", "rn-track"]
    for kw in ({"json_out": True}, {"read_path": f, "json_out": True, "no_dpi": True}):
        assert "--dissect" not in _capture_argv(**kw), kw
