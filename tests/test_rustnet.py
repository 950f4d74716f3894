"""rustnet, the wrapper: options reach their stages, --json equals the pipe, errors, logs.

Everything here runs the real commands on real corpus captures; the live cases
(interfaces, signals, ssh) are in test_rustnet_live.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from rustnet.app import launch
from rustnet.app.launch import Options, names_in_track, plan, remote_command, sniff_input
from rustnet.app.logsetup import TRACE, escape_controls, log_file_name
from rustnet.stream import RecordReader

from tests.corpus import PCAPS as CORPUS

BIN = Path(sys.executable).parent
RUSTNET = str(BIN / "rustnet")
ROOT = Path(__file__).resolve().parents[1]


EQUAL_CASES = [
    "zeek_http_get.pcap",
    "ndpi_dns.pcap",
    "zeek_vlan-qinqinq.pcap",
    "ndpi_http.pcapng",
    "zeek_linux_dlt_sll2.pcap",
    "zeek_quic_quicv2-echo-443.pcap",
    "zeek_icmp_5-pings.pcap",
    "zeek_communityid_arp.pcap",
    "tcpdump_ssh.pcap",
]
DAMAGED = "derived_zeek_http_get_cut-mid-record.pcap"


def rustnet(
    *args: str, cwd: Path | None = None, timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RUSTNET, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        env=env,
    )


def pipe_finals(pcap: Path) -> tuple[list[str], int]:
    """Final records of ``rn-capture -r F | rn-dissect | rn-track --format json`` (a real shell pipe)."""
    sh = f"set -o pipefail; {BIN}/rn-capture -r '{pcap}' | {BIN}/rn-dissect | {BIN}/rn-track --format json"
    p = subprocess.run(["bash", "-c", sh], capture_output=True, text=True, timeout=60)
    lines = [ln for ln in p.stdout.splitlines() if json.loads(ln).get("final") is True]
    return lines, p.returncode


# What rustnet adds to the pipe's final records for a file: names (rn-enrich --no-process).
NAME_FIELDS = (
    "service",
    "hostname_src",
    "hostname_dst",
    "hostname_src_via",
    "hostname_dst_via",
    "mac_src",
    "vendor_src",
    # GeoIP, on a machine with databases in the usual places
    "geo_country",
    "geo_country_name",
    "geo_city",
    "geo_asn",
    "geo_as_org",
)


def as_records(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(ln) for ln in lines]


def without_names(stdout: str) -> list[dict[str, Any]]:
    """``rustnet --read F --json``'s records with the name fields taken out: the relation is that
    these equal the pipe's final records, in the same order (test_read_json_is_the_pipe_plus_names)."""
    return [{k: v for k, v in rec.items() if k not in NAME_FIELDS} for rec in as_records(stdout.splitlines())]


def one_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got: {stderr!r}"
    assert "Traceback" not in stderr
    return lines[0]


# --- the command line --------------------------------------------------------------------
SEED_AND_ISSUE_OPTIONS = [
    "-i, --interface",
    "--no-localhost",
    "-r, --refresh-interval",
    "--no-dpi",
    "-l, --log-level",
    "-h, --help",
    "-V, --version",
    "-f, --bpf-filter",
    "--read",
    "--json",
    "--duration",
    "--write-pcap",
    "--record",
    "--list-interfaces",
    "--remote",
    "--show-localhost",
    "-B, --buffer-size",
    "--max-connections",
    "--json-log",
    "--pcap-export",
    "--pcapng-export",
]


def test_help_lists_every_option_and_loads_nothing_heavy() -> None:
    """``rustnet --help`` answers at once: it loads none of the modules that capturing,
    dissecting or drawing need (bench/bench_startup.py times it; no clock here)."""
    p = subprocess.run(
        [sys.executable, "-X", "importtime", RUSTNET, "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert p.returncode == 0
    out = p.stdout
    for opt in SEED_AND_ISSUE_OPTIONS:
        assert opt in out, opt
    for level in ("error", "warn", "info", "debug", "trace"):
        assert level in out
    assert "[default: 1000" in out
    imported = {line.split("|")[-1].strip() for line in p.stderr.splitlines() if "|" in line}
    heavy = {"pcapy", "dpkt", "blessed", "cryptography", "psutil", "wcwidth"}
    assert not {m for m in imported if m.split(".")[0] in heavy}, sorted(imported)
    assert not {m for m in imported if m.startswith(("rustnet.view", "rustnet.dissect", "rustnet.capture"))}


def test_version() -> None:
    p = rustnet("-V")
    assert p.returncode == 0 and p.stdout.strip() == "rustnet 0.1.0"


def test_usage_errors_exit_2() -> None:
    for args in (["-r", "abc"], ["-l", "loud"], ["--bogus"], ["--duration", "0"]):
        p = rustnet(*args)
        assert p.returncode == 2, args
        assert "Traceback" not in p.stderr


def _stage(specs: list, name: str) -> list[str]:  # type: ignore[type-arg]
    found = [s.argv for s in specs if s.name == name]
    assert found, f"no {name} in {[s.name for s in specs]}"
    return found[0]


def test_every_option_reaches_its_stage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(launch, "idle_cores", lambda: 8.0)  # cores to spare: rn-dissect of its own
    pcap = tmp_path / "t.pcap"
    pcap.write_bytes(b"\xd4\xc3\xb2\xa1" + bytes(20))
    specs = plan(Options())
    assert [s.name for s in specs] == ["rn-capture", "rn-dissect", "rn-track", "rn-enrich"]
    assert "-i" not in _stage(specs, "rn-capture")  # rn-capture picks the default route's interface
    assert "--no-dpi" not in _stage(specs, "rn-dissect")
    specs = plan(
        Options(
            interface="eth7", no_dpi=True, refresh_ms=500, bpf_filter="tcp port 443", write_pcap="/tmp/x.pcap"
        )
    )
    cap = _stage(specs, "rn-capture")
    assert cap[-6:] == ["-i", "eth7", "-f", "tcp port 443", "-w", "/tmp/x.pcap"]
    assert _stage(specs, "rn-dissect")[-1] == "--no-dpi"
    assert _stage(specs, "rn-track")[-2:] == ["-r", "500"]
    assert all("--debug" in s.argv for s in plan(Options(debug=True)))
    # --read of a capture: rn-capture -r, dissecting in its process; names only (a file is not
    # this host's sockets), added in rn-track's process (--enrich).
    specs = plan(Options(read_path=str(pcap), json_out=True))
    assert _stage(specs, "rn-capture")[-3:] == ["-r", str(pcap), "--dissect"]
    assert [s.name for s in specs] == ["rn-capture", "rn-track"]
    assert "--enrich" in _stage(specs, "rn-track")
    assert "--no-process" not in _stage(plan(Options()), "rn-enrich")
    # Reverse DNS needs the network, which rn-track's sandbox shuts: an rn-enrich --no-process.
    specs = plan(Options(read_path=str(pcap), resolve_dns=True))
    assert [s.name for s in specs] == ["rn-capture", "rn-track", "rn-enrich"]
    assert "--enrich" not in _stage(specs, "rn-track")
    assert "--no-process" in _stage(specs, "rn-enrich") and "--resolve-dns" in _stage(specs, "rn-enrich")
    # GeoIP options go along; --no-geoip too.
    specs = plan(Options(read_path=str(pcap), no_geoip=True))
    assert _stage(specs, "rn-track")[-2:] == ["--enrich", "--no-geoip"]
    # --read of a recording: rn-dissect reads it (it passes through what it does not consume).
    rec = tmp_path / "r.rn"
    rec.write_bytes(b"\x91\x81\xa1t\xa3hdr")
    assert sniff_input(str(rec)) == "records" and sniff_input(str(pcap)) == "pcap"
    specs = plan(Options(read_path=str(rec)))
    assert [s.name for s in specs] == ["rn-dissect", "rn-track"]
    assert "--enrich" in _stage(specs, "rn-track")
    # A root rustnet opens it itself: the stage runs as nobody, or as root without capabilities.
    by_rustnet = specs[0].run_as is not None or os.geteuid() == 0
    assert specs[0].stdin_path == str(rec) if by_rustnet else specs[0].argv[-1] == str(rec)


def test_live_rn_track_dissects_itself_where_few_cores_are_idle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(launch, "idle_cores", lambda: 1.6)
    specs = plan(Options())
    assert [s.name for s in specs] == ["rn-capture", "rn-track", "rn-enrich"]
    assert "--dissect" in _stage(specs, "rn-track") and "--dissect" not in _stage(specs, "rn-capture")
    # rn-dissect of its own without DPI (rn-dissect --no-dpi) and for a packet export (it taps
    # rn-dissect's input).
    for opts in (Options(no_dpi=True), Options(pcap_export="/tmp/x.pcap")):
        assert [s.name for s in plan(opts)] == ["rn-capture", "rn-dissect", "rn-track", "rn-enrich"]
    monkeypatch.setattr(launch, "idle_cores", lambda: 3.0)
    assert [s.name for s in plan(Options())] == ["rn-capture", "rn-dissect", "rn-track", "rn-enrich"]


def test_names_in_track_only_where_rn_track_can_read_the_geoip_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rustnet.enrich import geoip

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    if any(geoip.find(kind) is not None for kind in geoip.KINDS):
        pytest.skip("this machine has GeoIP databases in the system directories")
    pcap = str(tmp_path / "t.pcap")
    nobody = (65534, 65534)
    assert names_in_track(Options(read_path=pcap), nobody)  # no database anywhere
    assert not names_in_track(Options(), None)  # live: rn-enrich attributes processes
    assert not names_in_track(Options(read_path=pcap, resolve_dns=True), None)
    # A database rustnet's user has (in its home, say): rn-track as nobody might not read it.
    given = Options(read_path=pcap, geoip_city=str(tmp_path / "c.mmdb"))
    assert not names_in_track(given, nobody) and names_in_track(given, None)
    (tmp_path / "xdg" / "GeoIP").mkdir(parents=True)
    (tmp_path / "xdg" / "GeoIP" / "GeoLite2-ASN.mmdb").write_bytes(b"")
    assert not names_in_track(Options(read_path=pcap), nobody)
    assert names_in_track(Options(read_path=pcap, no_geoip=True), nobody)


def test_remote_command_is_ssh_to_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUSTNET_SSH", "ssh -p 2222 -i /k")
    argv = remote_command(Options(remote="root@h", interface="eth1"))
    assert argv[:4] == ["ssh", "-p", "2222", "-i"]
    assert argv[-2] == "root@h" and "BatchMode=yes" in argv and "-T" in argv
    specs = plan(Options(remote="root@h"))
    assert [s.name for s in specs] == ["ssh", "rn-dissect", "rn-track", "rn-enrich"]


def _remote_script(monkeypatch: pytest.MonkeyPatch, opts: Options) -> str:
    """The command ssh hands to the remote host, with the stages found by RUSTNET_REMOTE_PATH."""
    monkeypatch.setenv("RUSTNET_SSH", "ssh")
    monkeypatch.setenv("RUSTNET_REMOTE_PATH", str(BIN))
    return remote_command(opts)[-1]


def _run_remote_side(
    script: str, tmp: Path, traffic_port: int | None = None, ends_by_itself: bool = False
) -> tuple[int, list[object], str]:
    """``script`` run as sshd runs a command (the login shell with -c), with a PATH that has no
    rn- command: its exit status, its records and its stderr. Closing its standard input, as
    rustnet does on Ctrl+C, is what stops it; ``ends_by_itself``: it is left to end first (a
    Ctrl+C before rn-capture has failed would end it with 130, as it should)."""
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    out_path = tmp / "remote.rn"
    with out_path.open("wb") as out:
        p = subprocess.Popen(
            ["sh", "-c", script], stdin=subprocess.PIPE, stdout=out, stderr=subprocess.PIPE, env=env
        )
    try:
        if traffic_port is not None:
            deadline = time.monotonic() + 10
            while not any("rn-capture" in _cmdline(c) and _dropped(c) for c in _descendants(p.pid)):
                assert p.poll() is None and time.monotonic() < deadline, "rn-capture never started"
                time.sleep(0.05)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                for i in range(3):
                    s.sendto(b"probe %d" % i, ("127.0.0.1", traffic_port))
                s.sendto(b"filtered out", ("127.0.0.1", traffic_port + 1))
            time.sleep(0.3)
        if ends_by_itself:
            p.wait(timeout=60)
        _, err = p.communicate(input=b"", timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    fd = os.open(out_path, os.O_RDONLY)
    try:
        recs = list(RecordReader(fd, out_path.name)) if out_path.stat().st_size else []
    finally:
        os.close(fd)
    return p.returncode, recs, err.decode()


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            with open(f"/proc/{parent}/task/{parent}/children") as f:
                kids = [int(x) for x in f.read().split()]
        except OSError:
            kids = []
        out += kids
        todo += kids
    return out


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _dropped(pid: int) -> bool:
    """Past its privilege drop: the capture handle is open (rn-capture drops right after)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return any(line.startswith("Uid:") and line.split()[1] != "0" for line in f)
    except OSError:
        return False


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: captures on lo")
def test_remote_side_captures_with_the_filter_and_stops_when_stdin_closes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    port = 45000 + os.getpid() % 1000
    script = _remote_script(
        monkeypatch, Options(remote="h", interface="lo", bpf_filter=f"udp dst port {port}")
    )
    status, recs, err = _run_remote_side(script, tmp_path, traffic_port=port)
    assert status == 0 and err == "", err
    header = recs[0]
    assert isinstance(header, dict) and header["stages"] == ["rn-capture", "rn-enrich"]
    payloads = [r[3] for r in recs if isinstance(r, list) and r[0] == "pkt"]
    assert [p[-7:] for p in payloads] == [b"probe 0", b"probe 1", b"probe 2"]  # not the other port


def test_remote_side_exits_with_rn_captures_status(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # A plain `rn-capture | rn-enrich` would exit 0 here (rn-enrich's status).
    script = _remote_script(monkeypatch, Options(remote="h", interface="rn-no-such0"))
    status, recs, err = _run_remote_side(script, tmp_path, ends_by_itself=True)
    assert status == 1 and recs == []
    assert err.startswith("rn-capture: no such interface: 'rn-no-such0'")


def test_conflicting_options_are_usage_errors(tmp_path: Path) -> None:
    pcap = CORPUS / "zeek_http_get.pcap"
    for args in (
        ["--read", str(pcap), "-i", "lo"],
        ["--remote", "h", "--write-pcap", str(tmp_path / "x")],
        ["--read", str(pcap), "--remote", "h"],
    ):
        p = rustnet(*args, "--json")
        assert p.returncode == 2, (args, p.stderr)
        assert one_line(p.stderr).startswith("rustnet: ")


def test_tui_needs_a_terminal() -> None:
    p = rustnet("--read", str(CORPUS / "zeek_http_get.pcap"))
    assert p.returncode == 2
    assert "--json" in one_line(p.stderr)


# --- --read ... --json is the pipe ----------------------------------------------------------
@pytest.mark.parametrize("name", EQUAL_CASES)
def test_read_json_equals_the_pipe(name: str) -> None:
    pcap = CORPUS / name
    expected, status = pipe_finals(pcap)
    assert status == 0 and expected
    p = rustnet("--read", str(pcap), "--json")
    assert p.returncode == 0, p.stderr
    assert without_names(p.stdout) == as_records(expected)
    ids = [json.loads(ln)["id"] for ln in p.stdout.splitlines()]
    assert len(ids) == len(set(ids))  # one record per connection


def tshark_answers(pcap: Path) -> dict[str, set[str]]:
    """Address -> the names DNS answers in the capture give it (the query's name), by tshark."""
    out = subprocess.run(
        [
            "tshark",
            "-r",
            str(pcap),
            "-Y",
            "dns.flags.response == 1",
            "-T",
            "fields",
            "-E",
            "separator=/t",
            "-e",
            "dns.qry.name",
            "-e",
            "dns.a",
            "-e",
            "dns.aaaa",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    names: dict[str, set[str]] = {}
    for line in out.splitlines():
        qname, *addrs = line.split("\t")
        for addr in ",".join(addrs).split(","):
            if addr:
                names.setdefault(addr, set()).add(qname.split(",")[0])
    return names


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_read_json_is_the_pipe_plus_names() -> None:
    # rustnet --read F --json = the final records of rn-capture -r F | rn-dissect | rn-track, in
    # order, each with the names rn-enrich found added (NAME_FIELDS), nothing else changed; and
    # the names are right: services from the system's database, hostnames from DNS answers
    # tshark sees in the same file.
    named = 0
    for name in [*EQUAL_CASES, "dpkt_http.pcap", "zeek_web.pcap", "tcpdump_dns_udp.pcap"]:
        pcap = CORPUS / name
        expected, _ = pipe_finals(pcap)
        assert not any(k in r for r in as_records(expected) for k in NAME_FIELDS)
        p = rustnet("--read", str(pcap), "--json")
        assert p.returncode == 0, p.stderr
        assert without_names(p.stdout) == as_records(expected), name
        answers = tshark_answers(pcap)
        for rec in as_records(p.stdout.splitlines()):
            named += any(k in rec for k in NAME_FIELDS)
            port, proto = rec.get("dport"), rec.get("proto")
            if proto in ("tcp", "udp") and isinstance(port, int):
                try:
                    system = socket.getservbyport(port, proto)
                except OSError:
                    system = None
                if system is not None:
                    assert rec.get("service") == system, (name, rec)
            for side in ("src", "dst"):
                if f"hostname_{side}" in rec:
                    assert rec[f"hostname_{side}_via"] == "dns"
                    assert rec[f"hostname_{side}"] in answers.get(rec[side], set()), (name, rec)
    assert named >= 10


def test_a_name_learned_from_dns_reaches_the_json() -> None:
    # dpkt_http.pcap: a DNS answer names 216.239.59.99 pagead2.googlesyndication.com, then an HTTP
    # connection goes there (tshark: dns.qry.name / dns.a; the CNAME chain leads to that address).
    p = rustnet("--read", str(CORPUS / "dpkt_http.pcap"), "--json")
    by_dst = {r["dst"]: r for r in as_records(p.stdout.splitlines())}
    http = by_dst["216.239.59.99"]
    assert (http["hostname_dst"], http["hostname_dst_via"], http["service"]) == (
        "pagead2.googlesyndication.com",
        "dns",
        "http",
    )
    assert "process" not in http and "pid" not in http  # never this host's sockets


def test_damaged_capture_gives_records_one_warning_and_status_3() -> None:
    pcap = CORPUS / DAMAGED
    expected, status = pipe_finals(pcap)
    assert status == 3
    p = rustnet("--read", str(pcap), "--json")
    assert p.returncode == 3
    assert without_names(p.stdout) == as_records(expected)
    assert one_line(p.stderr).startswith(f"rustnet: {pcap}: damaged capture file after ")


def test_read_recordings(tmp_path: Path) -> None:
    pcap = CORPUS / "zeek_http_get.pcap"
    expected, _ = pipe_finals(pcap)
    conns = tmp_path / "conns.rn"
    packets = tmp_path / "packets.rn"
    subprocess.run(["bash", "-c", f"{BIN}/rn-capture -r '{pcap}' > '{packets}'"], check=True)
    subprocess.run(
        ["bash", "-c", f"{BIN}/rn-capture -r '{pcap}' | {BIN}/rn-dissect | {BIN}/rn-track > '{conns}'"],
        check=True,
    )
    for rec in (conns, packets):
        p = rustnet("--read", str(rec), "--json")
        assert p.returncode == 0, p.stderr
        assert without_names(p.stdout) == as_records(expected), rec.name


def test_record_and_write_pcap_and_filter(tmp_path: Path) -> None:
    pcap = CORPUS / "zeek_web.pcap"
    expected, _ = pipe_finals(pcap)
    rec, out_pcap = tmp_path / "session.rn", tmp_path / "copy.pcap"
    p = rustnet("--read", str(pcap), "--json", "--record", str(rec), "--write-pcap", str(out_pcap))
    assert p.returncode == 0, p.stderr
    assert without_names(p.stdout) == as_records(expected)
    # --record: a valid stream with the same connections, private to the user.
    assert stat.S_IMODE(rec.stat().st_mode) == 0o600
    fd = os.open(rec, os.O_RDONLY)
    try:
        recs = list(RecordReader(fd, rec.name))
    finally:
        os.close(fd)
    assert sum(1 for r in recs if isinstance(r, dict) and r.get("final")) == len(expected)
    assert without_names(rustnet("--read", str(rec), "--json").stdout) == as_records(expected)
    # --write-pcap: the same packets again.
    assert out_pcap.read_bytes()[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4")
    assert without_names(rustnet("--read", str(out_pcap), "--json").stdout) == as_records(expected)
    # -f reaches rn-capture: nothing in this TCP capture is UDP.
    p = rustnet("--read", str(pcap), "--json", "-f", "udp")
    assert p.returncode == 0 and p.stdout == ""
    assert len(rustnet("--read", str(pcap), "--json", "-f", "tcp").stdout.splitlines()) == len(expected)


def test_no_dpi_reaches_dissect() -> None:
    pcap = CORPUS / "zeek_http_get.pcap"
    with_dpi = [json.loads(ln) for ln in rustnet("--read", str(pcap), "--json").stdout.splitlines()]
    without = [
        json.loads(ln) for ln in rustnet("--read", str(pcap), "--json", "--no-dpi").stdout.splitlines()
    ]
    assert len(with_dpi) == len(without) == 1
    assert not any(k.startswith("http_") or k == "app" for k in without[0])
    if "app" in with_dpi[0]:  # DPI present in this build: it must be gone with --no-dpi
        assert with_dpi[0]["app"] == "HTTP"


def test_no_localhost_hides_loopback_pairs(tmp_path: Path) -> None:
    rec = tmp_path / "mixed.jsonl"
    base = {"t": "conn", "proto": "tcp", "state": "ESTABLISHED", "final": True}
    lines = [
        dict(base, id=1, src="127.0.0.1", sport=5000, dst="127.0.0.1", dport=80),
        dict(base, id=2, src="::1", sport=5001, dst="::1", dport=80),
        dict(base, id=3, src="10.0.0.1", sport=5002, dst="127.0.0.1", dport=80),
        dict(base, id=4, src="10.0.0.1", sport=5003, dst="10.0.0.2", dport=80),
    ]
    rec.write_text("".join(json.dumps(x) + "\n" for x in lines))
    shown = [json.loads(ln)["id"] for ln in rustnet("--read", str(rec), "--json").stdout.splitlines()]
    assert shown == [1, 2, 3, 4]
    hidden = [
        json.loads(ln)["id"]
        for ln in rustnet("--read", str(rec), "--json", "--no-localhost").stdout.splitlines()
    ]
    assert hidden == [3, 4]


def test_no_localhost_hides_loopback_pairs_of_a_capture(tmp_path: Path) -> None:
    # Hand-built frames: one TCP exchange on loopback, one UDP datagram between two other hosts.
    from tests.robust.util import tcp_session, udp, write_pcap

    pcap = tmp_path / "mixed.pcap"
    frames = tcp_session("127.0.0.1", 40000, "127.0.0.1", 8080, b"GET / HTTP/1.0\r\n\r\n")
    write_pcap(pcap, [*frames, udp("10.0.0.1", 5353, "10.0.0.2", 9999, b"x" * 20)])
    shown = rustnet("--read", str(pcap), "--json")
    assert shown.returncode == 0, shown.stderr
    assert sorted(json.loads(ln)["dport"] for ln in shown.stdout.splitlines()) == [8080, 9999]
    hidden = rustnet("--read", str(pcap), "--json", "--no-localhost")
    assert hidden.returncode == 0, hidden.stderr
    assert [json.loads(ln)["dport"] for ln in hidden.stdout.splitlines()] == [9999]


# --- errors: one line, a documented status ------------------------------------------------
def test_missing_file() -> None:
    p = rustnet("--read", "/nonexistent/trace.pcap", "--json")
    assert p.returncode == 1
    assert one_line(p.stderr) == "rustnet: /nonexistent/trace.pcap: No such file or directory"


def test_bad_bpf_filter() -> None:
    p = rustnet("--read", str(CORPUS / "zeek_http_get.pcap"), "--json", "-f", "tcp port")
    assert p.returncode == 2
    assert "bad filter" in one_line(p.stderr)
    assert p.stdout == ""


def test_bad_interface_names_the_real_ones() -> None:
    p = rustnet("-i", "nosuchif0", "--json", "--duration", "1")
    assert p.returncode == 1
    line = one_line(p.stderr)
    assert "nosuchif0" in line and "lo" in line


@pytest.mark.skipif(os.geteuid() != 0, reason="drops capabilities root has")
def test_no_permission_says_how_to_fix() -> None:
    # root without CAP_NET_RAW/CAP_NET_ADMIN is as unprivileged as a capture gets.
    p = subprocess.run(
        [
            "setpriv",
            "--bounding-set",
            "-net_raw,-net_admin",
            "--",
            RUSTNET,
            "-i",
            "lo",
            "--json",
            "--duration",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert p.returncode == 1
    line = one_line(p.stderr)
    assert "permission" in line and "setcap cap_net_raw,cap_net_admin=eip" in line and "sudo" in line


def test_list_interfaces() -> None:
    p = rustnet("--list-interfaces")
    assert p.returncode == 0
    names = [ln.split()[0] for ln in p.stdout.splitlines() if ln.strip()]
    assert "lo" in names


# --- logging -----------------------------------------------------------------------------
LOG_NAME = re.compile(r"^rustnet_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d\.log$")


def test_no_log_unless_asked(tmp_path: Path) -> None:
    p = rustnet("--read", str(CORPUS / "zeek_http_get.pcap"), "--json", cwd=tmp_path)
    assert p.returncode == 0
    assert not (tmp_path / "logs").exists()


def test_log_file_name_mode_and_content(tmp_path: Path) -> None:
    pcap = CORPUS / "zeek_http_get.pcap"
    p = rustnet("--read", str(pcap), "--json", "-l", "trace", "-r", "700", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert without_names(p.stdout) == as_records(pipe_finals(pcap)[0])  # through the logging relay: the same
    logs = list((tmp_path / "logs").iterdir())
    assert len(logs) == 1 and LOG_NAME.match(logs[0].name)
    assert stat.S_IMODE(logs[0].stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "logs").stat().st_mode) == 0o700
    text = logs[0].read_text()
    for needle in (
        "INFO  rustnet: rustnet 0.1.0 starting",
        f"reading {pcap}",
        "started rn-capture",
        "started rn-track",
        "stream: source=",
        "capture statistics",
        "exited with status 0",
        "TRACE rustnet.stream: record",
        "DEBUG rustnet.stream: conn 1 tcp",
        "exiting with status 0",
        "/rn-track -r 700",
    ):
        assert needle in text, needle


def test_log_holds_stage_errors(tmp_path: Path) -> None:
    p = rustnet(
        "--read", str(CORPUS / "zeek_http_get.pcap"), "--json", "-f", "tcp port", "-l", "error", cwd=tmp_path
    )
    assert p.returncode == 2
    text = next((tmp_path / "logs").iterdir()).read_text()
    assert "WARNING" not in text  # the level is honoured: stage lines are logged at WARNING
    p = rustnet(
        "--read", str(CORPUS / "zeek_http_get.pcap"), "--json", "-f", "tcp port", "-l", "warn", cwd=tmp_path
    )
    texts = "".join(f.read_text() for f in (tmp_path / "logs").iterdir())
    assert "rustnet.rn-capture: rn-capture: bad filter" in texts
    assert "ERROR rustnet: rn-capture (pid" in texts


def test_log_helpers() -> None:
    assert TRACE == 5
    assert log_file_name(0.0).startswith("rustnet_19")
    assert escape_controls("a\x1b[2Jb\x07\x9b") == "a\\x1b[2Jb\\x07\\x9b"


def test_clear_old_logs(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    old, new, other = (
        logs / "rustnet_2020-01-01_00-00-00.log",
        logs / "rustnet_2030-01-01_00-00-00.log",
        logs / "notes.txt",
    )
    for f in (old, new, other):
        f.write_text("x")
    ten_days = time.time() - 10 * 86400
    os.utime(old, (ten_days, ten_days))
    os.utime(other, (ten_days, ten_days))
    script = str(ROOT / "scripts" / "clear_old_logs.sh")
    p = subprocess.run([script, "7"], cwd=tmp_path, capture_output=True, text=True)
    assert p.returncode == 0 and "removed 1" in p.stdout
    assert not old.exists() and new.exists() and other.exists()
    assert subprocess.run([script, "seven"], cwd=tmp_path, capture_output=True).returncode == 2
    assert subprocess.run([script, "0"], cwd=tmp_path, capture_output=True).returncode == 0
    assert not new.exists() and other.exists()


def test_parsing_stages_run_unprivileged_only_when_nobody_can_start_python(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(launch, "idle_cores", lambda: 8.0)  # rn-dissect of its own
    import shutil
    import tempfile

    from rustnet.cli.privilege import can_reach, lookup, unprivileged_stage_user

    nobody = lookup()
    assert nobody is not None
    base = Path(tempfile.mkdtemp(prefix="rn-priv-", dir="/tmp"))  # pytest's tmp_path is 0700
    try:
        open_dir, closed_dir = base / "open", base / "closed"
        for d in (open_dir, closed_dir):
            d.mkdir()
            (d / "f.py").write_text("x")
            os.chmod(d / "f.py", 0o644)
        os.chmod(base, 0o755)
        os.chmod(open_dir, 0o755)
        os.chmod(closed_dir, 0o700)
        assert can_reach(open_dir / "f.py", nobody, 4)
        assert not can_reach(closed_dir / "f.py", nobody, 4)
        assert not can_reach(open_dir / "f.py", nobody, 1)  # not executable
    finally:
        shutil.rmtree(base)
    user, why = unprivileged_stage_user()
    specs = plan(Options())
    run_as = {s.name: s.run_as for s in specs}
    assert run_as["rn-capture"] is None and run_as["rn-enrich"] is None  # they drop / need root
    if user is None:
        assert run_as["rn-dissect"] is None and why
    else:
        assert run_as["rn-dissect"] == run_as["rn-track"] == (nobody.uid, nobody.gid)


def test_unwritable_outputs_are_one_line_errors() -> None:
    pcap = str(CORPUS / "zeek_http_get.pcap")
    p = rustnet("--read", pcap, "--json", "--record", "/nonexistent/x.rn")
    assert p.returncode == 1 and p.stdout == ""
    assert one_line(p.stderr) == (
        "rustnet: /nonexistent/x.rn: cannot write the recording: No such file or directory"
    )
    p = rustnet("--read", pcap, "--json", "--write-pcap", "/nonexistent/x.pcap")
    assert p.returncode == 1
    assert "/nonexistent/x.pcap" in one_line(p.stderr)


def test_read_from_stdin_and_pipes() -> None:
    pcap = CORPUS / "ndpi_dns.pcap"
    expected, _ = pipe_finals(pcap)
    for sh in (
        f"cat '{pcap}' | {RUSTNET} --read - --json",  # a pcap on stdin
        f"{RUSTNET} --read <(cat '{pcap}') --json",  # a FIFO-like /dev/fd path
        f"{BIN}/rn-capture -r '{pcap}' | {RUSTNET} --read - --json",  # packet records
        f"{BIN}/rn-capture -r '{pcap}' | {BIN}/rn-dissect | {BIN}/rn-track | {RUSTNET} --read - --json",
    ):
        p = subprocess.run(["bash", "-c", sh], capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, (sh, p.stderr)
        assert without_names(p.stdout) == as_records(expected), sh
    p = subprocess.run(
        ["bash", "-c", f"printf '' | {RUSTNET} --read - --json"], capture_output=True, text=True
    )
    assert p.returncode == 0 and p.stdout == "" and p.stderr == ""


def test_newer_format_is_refused_in_one_line(tmp_path: Path) -> None:
    import msgpack

    rec = tmp_path / "newer.rn"
    rec.write_bytes(
        msgpack.packb(
            [{"t": "hdr", "v": 99, "producer": "rn-track 9"}, {"t": "conn", "id": 1, "final": True}]
        )
    )
    p = rustnet("--read", str(rec), "--json")
    assert p.returncode == 3 and p.stdout == ""
    assert "newer" in one_line(p.stderr)
