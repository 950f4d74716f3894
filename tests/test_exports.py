"""rustnet's exports (--json-log, --pcap-export and its sidecar, --pcapng-export) and options.

The exports are made by the real rustnet from corpus captures and read back by tshark and
capinfos (packets, times, lengths, pcapng comments and options) and by a JSON parser; what
they should say comes from tshark on the original capture or from hand-made inputs. The
live exports (process names in comments, --remote) are in tests/live/test_exports_live.py.
"""

from __future__ import annotations

import json
import os
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from rustnet.app.launch import Options, plan, remote_command
from rustnet.app.relay import Relay
from rustnet.app.supervise import Pipeline, StageSpec
from rustnet.export import ExportPaths, Exports
from rustnet.export import packets as packet_exports
from rustnet.export.attribution import comment, sanitise
from rustnet.export.packets import PENDING_MAX, QUEUE_MAX, PacketExports
from rustnet.stream import RecordReader, RecordWriter

from tests.corpus import PCAPS

BIN = Path(sys.executable).parent
RUSTNET = str(BIN / "rustnet")
ANDROID = PCAPS / "ndpi_android.pcap"  # 11 TLS server names, DNS, connections that time out
BIG_FRAMES = PCAPS / "ndpi_http_ipv6.pcap"  # frames of up to 3633 bytes
LOOPBACK = PCAPS / "xargs_illustrated-tls13.pcap"  # one TLS connection, 127.0.0.1 both ends


def rustnet(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RUSTNET, *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def tshark(path: Path, *fields: str, display: str | None = None) -> list[list[str]]:
    argv = ["tshark", "-r", str(path), "-T", "fields", "-E", "occurrence=f"]
    if display:
        argv += ["-Y", display]
    for f in fields:
        argv += ["-e", f]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return [line.split("\t") for line in p.stdout.splitlines()]


def json_lines(path: Path) -> list[dict[str, Any]]:
    """Each line parsed by the standard JSON parser; keys must be written sorted, as RustNet does."""
    out = []
    for line in path.read_text().splitlines():
        obj = json.loads(line)
        assert list(obj) == sorted(obj), line
        out.append(obj)
    return out


def finals(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


# --- --json-log -------------------------------------------------------------------------------
def test_json_log_has_rustnets_events_and_field_names(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    p = rustnet("--read", str(ANDROID), "--json", "--json-log", str(log))
    assert p.returncode == 0, p.stderr
    conns = finals(p.stdout)
    events = json_lines(log)
    new = [e for e in events if e["event"] == "new_connection"]
    closed = [e for e in events if e["event"] == "connection_closed"]
    assert len(new) == len(conns)  # one per connection
    # Closed while running (timed out, replaced); nothing at the end of the input, as RustNet.
    ended = [c for c in conns if c.get("end") in ("timeout", "reused", "evicted")]
    assert len(closed) == len(ended) > 0
    required = {
        "timestamp",
        "event",
        "protocol",
        "source_ip",
        "source_port",
        "destination_ip",
        "destination_port",
    }
    for e in events:
        assert required <= set(e)
        assert None not in e.values()  # optional keys are left out, never null
        assert e["timestamp"].endswith("+00:00") and "T" in e["timestamp"]
        assert e["protocol"] in ("TCP", "UDP", "ICMP", "ARP", "IGMP")
    for e in new:
        assert "bytes_sent" not in e and "duration_secs" not in e
    # A file's originator is its local end: the endpoints and counts are the records' own
    # (a tuple may be used by several generations: one of them).
    by_tuple: dict[tuple[Any, ...], set[tuple[int, int, int]]] = {}
    for c in ended:
        key = (c["src"], c.get("sport", 0), c["dst"], c.get("dport", 0))
        counts = (c["bytes_src"], c["bytes_dst"], int(c["last_seen"] - c["first_seen"]))
        by_tuple.setdefault(key, set()).add(counts)
    for e in closed:
        key = (e["source_ip"], e["source_port"], e["destination_ip"], e["destination_port"])
        assert (e["bytes_sent"], e["bytes_received"], e["duration_secs"]) in by_tuple[key]
    # The server names tshark finds are the events' dpi_domain, shown as RustNet shows them.
    snis = {
        row[0]
        for row in tshark(ANDROID, "tls.handshake.extensions_server_name", display="tls.handshake.type == 1")
    }
    https = {e["dpi_domain"] for e in new if e.get("dpi_protocol", "").startswith("HTTPS (")}
    assert snis and snis <= https | {e.get("dpi_domain") for e in new}
    for e in new:
        if e.get("dpi_protocol", "").startswith("HTTPS ("):
            assert e["dpi_protocol"] == f"HTTPS ({e['dpi_domain']})"


def test_json_log_appends_and_stays_private(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_text('{"earlier":"line"}\n')
    log.chmod(0o644)
    for _ in range(2):
        p = rustnet("--read", str(LOOPBACK), "--json", "--json-log", str(log))
        assert p.returncode == 0, p.stderr
    lines = log.read_text().splitlines()
    assert lines[0] == '{"earlier":"line"}' and len(lines) == 3  # appended, twice
    assert stat.S_IMODE(log.stat().st_mode) == 0o600


def test_json_log_from_a_recording_and_a_record_stream_refuses_packet_exports(tmp_path: Path) -> None:
    recording, log = tmp_path / "rec.rn", tmp_path / "events.jsonl"
    assert rustnet("--read", str(LOOPBACK), "--json", "--record", str(recording)).returncode == 0
    p = rustnet("--read", str(recording), "--json", "--json-log", str(log))
    assert p.returncode == 0, p.stderr
    (event,) = json_lines(log)
    assert (event["event"], event["destination_port"], event["dpi_domain"]) == (
        "new_connection",
        8400,
        "example.ulfheim.net",
    )
    for option in ("--pcap-export", "--pcapng-export"):
        p = rustnet("--read", str(recording), "--json", option, str(tmp_path / "x"))
        assert p.returncode == 2 and option in p.stderr, p.stderr


def test_json_log_and_sidecar_name_rustnets_fields_from_a_recording(tmp_path: Path) -> None:
    """Every field rn-enrich can give, from hand-made records, under RustNet's name: the local end
    first (here the responder), the process, its lineage, the remote end's GeoIP."""
    base = {
        "t": "conn",
        "id": 7,
        "proto": "tcp",
        "src": "203.0.113.9",
        "sport": 51000,
        "dst": "192.0.2.10",
        "dport": 443,
        "local_side": "dst",
        "state": "ESTABLISHED",
        "first_seen": 1700000000.25,
        "last_seen": 1700000042.5,
        "bytes_src": 1000,
        "bytes_dst": 5000,
        "process": "nginx",
        "pid": 812,
        "ppid": 1,
        "exe": "/usr/sbin/nginx",
        "ancestors": ["systemd/1"],
        "owner_via": "listener-socket",
        "rtt_ms": 12.345,
        "app": "TLS",
        "sni": "www.example.com",
        "service": "https",
        "geo_country": "NL",
        "geo_country_name": "Netherlands",
        "geo_asn": 64500,
        "geo_as_org": "EXAMPLE-AS",
        "geo_city": "Amsterdam",
        "hostname_src": "client.example.net",
    }
    hdr = {"t": "hdr", "v": 1, "producer": "test", "live": False, "source": "test", "stages": ["test"]}
    recs = [hdr, base, dict(base, final=True, end="timeout")]
    stream = tmp_path / "made.jsonl"
    stream.write_text("".join(json.dumps(r) + "\n" for r in recs))
    log = tmp_path / "events.jsonl"
    p = rustnet("--read", str(stream), "--json", "--json-log", str(log))
    assert p.returncode == 0, p.stderr
    new, closed = json_lines(log)
    assert new == {
        "timestamp": new["timestamp"],
        "event": "new_connection",
        "protocol": "TCP",
        "source_ip": "192.0.2.10",
        "source_port": 443,
        "destination_ip": "203.0.113.9",
        "destination_port": 51000,
        "destination_hostname": "client.example.net",
        "direction": "incoming",
        "pid": 812,
        "process_name": "nginx",
        "process_ppid": 1,
        "process_executable": "/usr/sbin/nginx",
        "attribution_match": "listener-socket",
        "process_lineage": {"ancestors": [{"name": "systemd", "pid": 1}], "truncated": False},
        "rtt_ms": 12.3,
        "service_name": "https",
        "dpi_protocol": "HTTPS (www.example.com)",
        "dpi_domain": "www.example.com",
        "geoip_country_code": "NL",
        "geoip_country_name": "Netherlands",
        "geoip_asn": 64500,
        "geoip_as_org": "EXAMPLE-AS",
        "geoip_city": "Amsterdam",
    }
    assert closed["event"] == "connection_closed"
    assert (closed["bytes_sent"], closed["bytes_received"], closed["duration_secs"]) == (5000, 1000, 42)
    assert "process_uid" not in new  # a recording's users are not this host's
    assert comment(base) == (
        "rustnet process=nginx pid=812 ppid=1 attr=listener-socket direction=incoming "
        "app=HTTPS_(www.example.com) sni=www.example.com country=NL asn=64500"
    )


# --- --pcap-export ----------------------------------------------------------------------------
def test_pcap_export_is_the_capture_cut_at_1514_bytes(tmp_path: Path) -> None:
    out = tmp_path / "out.pcap"
    p = rustnet("--read", str(BIG_FRAMES), "--json", "--pcap-export", str(out))
    assert p.returncode == 0, p.stderr
    fields = ("frame.time_epoch", "frame.len", "frame.cap_len", "eth.src", "ip.src", "ipv6.src")
    original, exported = tshark(BIG_FRAMES, *fields), tshark(out, *fields)
    assert len(exported) == len(original) > 0
    assert any(int(row[1]) > 1514 for row in original)
    for want, got in zip(original, exported, strict=True):
        assert got[0] == want[0] and got[1] == want[1]  # time and wire length kept
        assert got[2] == str(min(int(want[2]), 1514))  # cut at RustNet's snaplen
        assert got[3:] == want[3:]
    info = subprocess.run(["capinfos", "-l", "-E", str(out)], capture_output=True, text=True).stdout
    assert "1514" in info and "Ethernet" in info
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_pcap_export_sidecar_lists_every_connection(tmp_path: Path) -> None:
    out = tmp_path / "out.pcap"
    p = rustnet("--read", str(ANDROID), "--json", "--pcap-export", str(out))
    assert p.returncode == 0, p.stderr
    side = Path(str(out) + ".connections.jsonl")
    assert stat.S_IMODE(side.stat().st_mode) == 0o600
    conns = finals(p.stdout)
    lines = json_lines(side)
    assert len(lines) == len(conns)

    def endpoint(ip: str, port: int) -> str:
        return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"

    # One line per connection (a tuple may be used by several generations).
    by_addr: dict[tuple[str, str], set[tuple[Any, ...]]] = {}
    for c in conns:
        key = (endpoint(c["src"], c.get("sport", 0)), endpoint(c["dst"], c.get("dport", 0)))
        by_addr.setdefault(key, set()).add(
            (c["bytes_src"], c["bytes_dst"], c["state"], round(c["first_seen"], 6))
        )
    for line in lines:
        assert line["pid"] is None and line["process_name"] is None  # always there, null in a file
        first = line["first_seen"]
        assert set(first) == {"secs_since_epoch", "nanos_since_epoch"}
        assert 0 <= first["nanos_since_epoch"] < 10**9
        seen = round(first["secs_since_epoch"] + first["nanos_since_epoch"] / 1e9, 6)
        got = (line["bytes_sent"], line["bytes_received"], line["state"], seen)
        assert got in by_addr[(line["local_addr"], line["remote_addr"])]


# --- --pcapng-export --------------------------------------------------------------------------
def test_pcapng_export_comments_name_each_packets_connection(tmp_path: Path) -> None:
    out = tmp_path / "out.pcapng"
    p = rustnet("--read", str(ANDROID), "--json", "--pcapng-export", str(out))
    assert p.returncode == 0, p.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    original = tshark(
        ANDROID, "frame.time_epoch", "frame.len", "tcp.stream", "tls.handshake.extensions_server_name"
    )
    exported = tshark(out, "frame.time_epoch", "frame.len", "frame.comment")
    assert len(exported) == len(original)
    # The server name of each TCP stream, by tshark: every packet of that stream carries it.
    sni_of_stream = {row[2]: row[3] for row in original if row[3]}
    assert len(set(sni_of_stream.values())) >= 5
    checked = 0
    for want, got in zip(original, exported, strict=True):
        assert got[:2] == want[:2]
        sni = sni_of_stream.get(want[2])
        if sni:
            assert got[2].startswith("rustnet ") and f" sni={sni}" in got[2] + " ", (want, got)
            assert f"app=HTTPS_({sni})" in got[2] or "app=HTTP_" in got[2]
            checked += 1
    assert checked > 100
    # DNS: the query name tshark reads is the comment's sni=, as RustNet writes it.
    dns = tshark(out, "frame.number", "dns.qry.name", "frame.comment", display="dns && !mdns")
    assert dns and all(f"sni={name} " in f"{c} " for _, name, c in dns)


def test_pcapng_export_blocks_and_options(tmp_path: Path) -> None:
    out = tmp_path / "out.pcapng"
    p = rustnet("--read", str(BIG_FRAMES), "--json", "--pcapng-export", str(out))
    assert p.returncode == 0, p.stderr
    info = subprocess.run(["capinfos", "-M", str(out)], capture_output=True, text=True).stdout
    assert "Capture application: rustnet " in info, info
    assert "Ethernet" in info and "1514" in info
    idb = subprocess.run(
        ["tshark", "-r", str(out), "-c", "1", "-T", "fields", "-e", "frame.interface_name"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert idb == str(BIG_FRAMES)  # if_name: the capture's source
    original = tshark(BIG_FRAMES, "frame.time_epoch", "frame.len", "frame.cap_len")
    exported = tshark(out, "frame.time_epoch", "frame.len", "frame.cap_len")
    assert [r[:2] for r in exported] == [r[:2] for r in original]  # if_tsresol 6: microseconds
    assert [int(r[2]) for r in exported] == [min(int(r[2]), 1514) for r in original]


def test_comment_values_are_sanitised_as_rustnets() -> None:
    assert sanitise("HTTPS (example.com)") == "HTTPS_(example.com)"
    assert sanitise("\tname\x1b[31m with\nspaces ") == "name_[31m_with_spaces"
    rec = {"process": "my app", "pid": 42, "app": "TLS", "sni": "a.example", "owner_via": "exact-tuple"}
    assert (
        comment(rec) == "rustnet process=my_app pid=42 attr=exact-tuple app=HTTPS_(a.example) sni=a.example"
    )
    assert comment({"proto": "udp"}) is None  # nothing known: no comment at all


# --- files: private, never through a link ----------------------------------------------------
OUTPUTS = {
    "--json-log": lambda f: ("--json-log", str(f)),
    "--pcap-export": lambda f: ("--pcap-export", str(f)),
    "--pcap-export sidecar": lambda f: ("--pcap-export", str(f)[: -len(".connections.jsonl")]),
    "--pcapng-export": lambda f: ("--pcapng-export", str(f)),
}


@pytest.mark.parametrize("output", sorted(OUTPUTS))
def test_a_symlink_at_an_export_is_refused(tmp_path: Path, output: str) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep me\n")
    victim.chmod(0o644)
    link = tmp_path / "out.connections.jsonl"
    os.symlink(victim, link)
    p = rustnet("--read", str(LOOPBACK), "--json", *OUTPUTS[output](link))
    assert p.returncode == 1
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and "symbolic link" in lines[0] and str(link) in lines[0], p.stderr
    assert victim.read_bytes() == b"keep me\n" and stat.S_IMODE(victim.stat().st_mode) == 0o644
    assert p.stdout == ""  # refused before anything ran


def test_json_log_refuses_a_hard_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep me\n")
    os.link(victim, tmp_path / "log")
    p = rustnet("--read", str(LOOPBACK), "--json", "--json-log", str(tmp_path / "log"))
    assert p.returncode == 1 and "hard link" in p.stderr
    assert victim.read_bytes() == b"keep me\n"


# --- bounded queues ---------------------------------------------------------------------------
def _stream(n: int, live: bool, linktype: int = 1) -> bytes:
    """A packet record stream: a header and ``n`` hand-made Ethernet/IPv4/UDP frames."""
    frame = (
        bytes(12)
        + b"\x08\x00"
        + bytes.fromhex("4500001c00000000401100000a0000010a000002")
        + struct.pack("!HHHH", 1000, 53, 8, 0)
    )
    hdr = {
        "t": "hdr",
        "v": 1,
        "producer": "test",
        "linktype": linktype,
        "source": "veth-t",
        "live": live,
        "snaplen": 65535,
        "start": 1.0,
        "stages": ["rn-capture"],
    }
    with tempfile.TemporaryFile() as f:
        writer = RecordWriter(f.fileno())
        writer.write(hdr)
        for i in range(n):
            writer.write(["pkt", 1_700_000_000.0 + i * 1e-4, len(frame), frame])
        writer.close()
        f.seek(0)
        return f.read()


def test_live_export_queue_is_bounded_and_counts_drops(tmp_path: Path) -> None:
    # The writer is stuck on a pipe nobody reads: the queue fills, then packets are dropped.
    r, w = os.pipe()
    exports = PacketExports(w, None, 1000)
    n = 10 * QUEUE_MAX
    data = _stream(n, live=True)
    for i in range(0, len(data), 1 << 16):
        exports.feed(data[i : i + (1 << 16)])
        assert exports._queued <= QUEUE_MAX + 1  # (+ the header)
    assert exports.drops > n // 2  # the stuck writer took few: the rest are counted, not kept
    os.set_blocking(r, False)

    def drain() -> None:
        try:
            while os.read(r, 1 << 20):
                pass
        except BlockingIOError:
            pass

    deadline = time.monotonic() + 30
    exports.end()
    closer = threading.Thread(target=exports.close)
    closer.start()
    while closer.is_alive() and time.monotonic() < deadline:
        drain()
        time.sleep(0.01)
    closer.join(1)
    assert not closer.is_alive()
    os.close(r)
    said = exports.close()
    assert any("left out of the exports" in s for s in said)


def test_packets_waiting_for_attribution_are_bounded_and_all_written(tmp_path: Path) -> None:
    out = tmp_path / "out.pcapng"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT, 0o600)
    exports = PacketExports(None, fd, 1000)
    n = 3 * PENDING_MAX
    data = _stream(n, live=True)
    high = 0
    for i in range(0, len(data), 1 << 15):
        exports.feed(data[i : i + (1 << 15)])
        high = max(high, len(exports._pending))
        time.sleep(0.001)  # the writer keeps up: nothing is dropped, packets wait for their record
    deadline = time.monotonic() + 20
    while exports._queued and time.monotonic() < deadline:
        time.sleep(0.05)
    high = max(high, len(exports._pending))
    assert high <= PENDING_MAX + 1
    assert exports.forced > 0 and exports.drops == 0
    exports.end()
    assert exports.close() == []
    assert len(tshark(out, "frame.number")) == n


def test_a_file_is_exported_whole_however_slow_the_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(packet_exports, "QUEUE_MAX", 50)
    out = tmp_path / "out.pcap"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT, 0o600)
    exports = PacketExports(fd, None, 1000)
    n = 5000
    data = _stream(n, live=False)
    for i in range(0, len(data), 4096):
        exports.feed(data[i : i + 4096])
        assert exports._queued <= 50 + 4096  # a chunk at most beyond the bound
    exports.end()
    assert exports.close() == [] and exports.drops == 0
    assert len(tshark(out, "frame.number")) == n


# --- options ----------------------------------------------------------------------------------
def test_localhost_is_shown_by_default_hidden_by_no_localhost_unless_show_localhost() -> None:
    def shown(*opts: str) -> int:
        p = rustnet("--read", str(LOOPBACK), "--json", *opts)
        assert p.returncode == 0, p.stderr
        return len(finals(p.stdout))

    assert shown() == 1
    assert shown("--show-localhost") == 1
    assert shown("--no-localhost") == 0
    assert shown("--no-localhost", "--show-localhost") == 1


def test_buffer_size_reaches_the_capture_here_and_remote() -> None:
    specs = plan(Options(interface="lo", buffer_size=8))
    capture = next(s.argv for s in specs if s.name == "rn-capture")
    assert capture[capture.index("-B") + 1] == "8"
    assert "-B 8" in remote_command(Options(remote="host", buffer_size=8))[-1]
    assert "-B" not in next(s.argv for s in plan(Options(interface="lo")) if s.name == "rn-capture")
    p = rustnet("--read", str(LOOPBACK), "--json", "-B", "8")
    assert p.returncode == 2 and "--buffer-size" in p.stderr


def test_max_connections_caps_what_is_held() -> None:
    whole = finals(rustnet("--read", str(ANDROID), "--json").stdout)
    p = rustnet("--read", str(ANDROID), "--json", "--max-connections", "3")
    assert p.returncode == 0, p.stderr
    capped = finals(p.stdout)
    assert not any(c.get("end") == "evicted" for c in whole)
    evicted = [c for c in capped if c.get("end") == "evicted"]
    assert evicted and len([c for c in capped if c.get("end") != "evicted"]) <= 3


def test_two_outputs_on_one_file_are_a_usage_error(tmp_path: Path) -> None:
    f = str(tmp_path / "same")
    p = rustnet("--read", str(LOOPBACK), "--json", "--pcap-export", f, "--pcapng-export", f)
    assert p.returncode == 2 and "same file" in p.stderr


def test_the_viewer_is_told_when_packets_are_left_out(tmp_path: Path) -> None:
    """RustNet shows its Export Drops: the relay adds one warning to the viewer's stream."""
    stuck_r, stuck_w = os.pipe()  # the pcap export's disk, never read: the queue fills
    exports = Exports(ExportPaths(), 1000)
    exports.packets = PacketExports(stuck_w, None, 1000)
    data = _stream(5 * QUEUE_MAX, live=True)
    for i in range(0, len(data), 1 << 16):
        exports.packets.feed(data[i : i + (1 << 16)])
    assert exports.packets.drops > 0
    src_r, src_w = os.pipe()
    view_r, view_w = os.pipe()
    relay = Relay(src_r, view_w, Pipeline([StageSpec("none", ["true"])]), None, exports)
    relay.start()
    writer = RecordWriter(src_w)
    writer.write({"t": "conn", "id": 1, "proto": "udp", "src": "10.0.0.1", "dst": "10.0.0.2"})
    writer.close()
    os.close(src_w)
    got = list(RecordReader(view_r, "viewer"))
    assert relay.join(10)
    warnings = [r for r in got if isinstance(r, dict) and r.get("t") == "warn"]
    assert len(warnings) == 1 and "left out" in warnings[0]["msg"], got
    os.set_blocking(stuck_r, False)
    closer = threading.Thread(target=exports.close)
    closer.start()
    while closer.is_alive():
        try:
            os.read(stuck_r, 1 << 20)
        except BlockingIOError:
            time.sleep(0.01)
    os.close(stuck_r)
    os.close(view_r)
