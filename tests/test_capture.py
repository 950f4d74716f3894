"""rn-capture on real capture files (the corpus in tests/data, with tshark's ground truth).

Every check compares against something independent of our code: tshark's counts in the
truth files, a minimal pcap parser written here with ``struct``, or tcpdump itself.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pcapy
import pytest
from rustnet.capture.bpf import combine, ssh_self_clause
from rustnet.capture.interfaces import _default_route_v4, _default_route_v6
from rustnet.capture.offline import CaptureFileError, file_snaplen, open_capture_file, pump_file
from rustnet.stream import RecordReader, RecordWriter

from tests.corpus import CORPUS

PCAPS = CORPUS / "pcaps"
TRUTH = CORPUS / "truth"
RN_CAPTURE = str(Path(sys.executable).with_name("rn-capture"))


# One file per link type / container the corpus holds.
LINKTYPE_FILES = {
    "dpkt_http.pcap": 1,  # Ethernet
    "ndpi_KakaoTalk_chat.pcap": 113,  # Linux SLL
    "zeek_linux_dlt_sll2.pcap": 276,  # Linux SLL2
    "suricata_http-ipv6.pcap": 0,  # BSD NULL/loopback
    "xargs_illustrated-tls13.pcap": 0,
    "ndpi_quic-v2.pcapng": 113,  # pcapng with a secrets block before the interface
    "zeek_pcapng-multi-interface.pcapng": 1,  # pcapng, several interfaces
    "tcpdump_tcp-handshake-nano.pcap": 113,  # nanosecond timestamps
    "zeek_icmp6-ping.pcap": 1,  # snaplen 96
    "tcpdump_quic_handshake_truncated.pcap": 0,  # frames cut by the snaplen
    "zeek_icmp_dot1q.pcap": 1,  # VLAN
}
DAMAGED = {
    "derived_zeek_http_get_cut-mid-record.pcap": "cut short",
    "suricata_tls-DER-incomplete-header.pcap": "bigger than",
}


def capture(*args: str, fmt: str = "json", timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([RN_CAPTURE, *args, "--format", fmt], capture_output=True, timeout=timeout)


def records(out: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.decode().splitlines()]


def truth(name: str) -> dict[str, Any]:
    with open(TRUTH / f"{name}.json") as fh:
        return dict(json.load(fh))


def pcap_wirelens(path: Path) -> list[tuple[int, int]]:
    """(caplen, wirelen) of each record of a classic pcap file, parsed independently."""
    data = path.read_bytes()
    order = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    out, pos = [], 24
    while pos + 16 <= len(data):
        _s, _u, caplen, wirelen = struct.unpack_from(order + "IIII", data, pos)
        if pos + 16 + caplen > len(data):
            break
        out.append((caplen, wirelen))
        pos += 16 + caplen
    return out


# --- every link type -----------------------------------------------------------
@pytest.mark.parametrize("name", sorted(LINKTYPE_FILES))
def test_corpus_file(name: str) -> None:
    p = capture("-r", str(PCAPS / name))
    assert p.returncode == 0, p.stderr
    assert p.stderr == b""
    recs = records(p.stdout)
    hdr, pkts, tail = recs[0], [r for r in recs if r["t"] == "pkt"], recs[-1]
    assert hdr["t"] == "hdr" and hdr["live"] is False and hdr["source"] == str(PCAPS / name)
    assert hdr["linktype"] == LINKTYPE_FILES[name]
    cap = truth(name)["capture"]
    assert len(pkts) == cap["packets"]
    assert tail == {"t": "stats", "ts": tail["ts"], "source": str(PCAPS / name), "packets": len(pkts)}
    # Timestamps to the microsecond, nanosecond files included.
    assert pkts[0]["ts"] == pytest.approx(float(cap["first_epoch"]), abs=2e-6)
    assert pkts[-1]["ts"] == pytest.approx(float(cap["last_epoch"]), abs=2e-6)
    assert all(r["wirelen"] >= len(r["data"]) // 2 for r in pkts)
    if name.endswith(".pcap"):
        assert [(len(r["data"]) // 2, r["wirelen"]) for r in pkts] == pcap_wirelens(PCAPS / name)


@pytest.mark.parametrize("name", ["tcpdump_quic_handshake_truncated.pcap", "zeek_trunc_ip4-trunc.pcap"])
def test_snaplen_cut_frames_keep_their_wire_length(name: str) -> None:
    pkts = [r for r in records(capture("-r", str(PCAPS / name)).stdout) if r["t"] == "pkt"]
    cut = [r for r in pkts if r["wirelen"] > len(r["data"]) // 2]
    assert len(cut) == truth(name)["frames_truncated_by_snaplen"] > 0


def test_header_snaplen_from_file() -> None:
    assert file_snaplen(str(PCAPS / "zeek_icmp6-ping.pcap")) == 96
    assert file_snaplen(str(PCAPS / "ndpi_quic-v2.pcapng")) == 262144
    assert file_snaplen("/nonexistent") is None


def test_msgpack_stream_reads_back(tmp_path: Path) -> None:
    name = "ndpi_KakaoTalk_chat.pcap"
    p = capture("-r", str(PCAPS / name), fmt="msgpack")
    assert p.returncode == 0
    stream = tmp_path / "out.rn"
    stream.write_bytes(p.stdout)
    rfd = os.open(stream, os.O_RDONLY)
    reader = RecordReader(rfd)
    recs = list(reader)
    os.close(rfd)
    assert reader.damage is None
    assert recs[0]["t"] == "hdr"
    pkts = [r for r in recs if isinstance(r, list) and r[0] == "pkt"]
    assert len(pkts) == truth(name)["capture"]["packets"]
    assert all(isinstance(r[3], bytes) and isinstance(r[1], float) for r in pkts)


# --- damaged, missing, wrong files ------------------------------------------------
@pytest.mark.parametrize("name", sorted(DAMAGED))
def test_damaged_file(name: str) -> None:
    p = capture("-r", str(PCAPS / name))
    assert p.returncode == 3
    lines = p.stderr.decode().splitlines()
    assert len(lines) == 1
    n = truth(name)["capture"]["packets"]
    assert lines[0].startswith(f"rn-capture: {PCAPS / name}: damaged capture file after {n} packets: ")
    assert DAMAGED[name] in lines[0] or "truncated" in lines[0]
    recs = records(p.stdout)
    assert sum(r["t"] == "pkt" for r in recs) == n
    assert [r["t"] for r in recs[-2:]] == ["warn", "stats"]
    assert recs[-2]["stage"] == "rn-capture" and f"after {n} packets" in recs[-2]["msg"]


def test_file_cut_inside_its_header_is_damaged(tmp_path: Path) -> None:
    f = tmp_path / "cut.pcap"
    f.write_bytes((PCAPS / "dpkt_http.pcap").read_bytes()[:10])
    p = capture("-r", str(f))
    assert p.returncode == 3 and len(p.stderr.decode().splitlines()) == 1 and p.stdout == b""


def test_missing_file_is_a_runtime_error(tmp_path: Path) -> None:
    f = tmp_path / "x.pcap"
    p = capture("-r", str(f))
    assert p.returncode == 1
    assert p.stderr.decode().splitlines() == [f"rn-capture: {f}: no such file"]
    assert p.stdout == b""


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "is empty"),
        (b"this is not a capture file\n" * 10, "is not a pcap/pcapng capture or a rustnet record stream"),
    ],
)
def test_empty_or_not_a_capture_is_damaged_input(tmp_path: Path, content: bytes, says: str) -> None:
    f = tmp_path / "x.pcap"
    f.write_bytes(content)
    p = capture("-r", str(f))
    assert p.returncode == 3
    assert p.stderr.decode().splitlines() == [f"rn-capture: {f} {says}"]
    assert p.stdout == b""


def test_control_characters_in_a_file_name_are_escaped(tmp_path: Path) -> None:
    f = tmp_path / "evil\x1b[31m.pcap"
    p = capture("-r", str(f))
    assert p.returncode == 1
    assert b"\x1b" not in p.stderr and b"\\x1b" in p.stderr


# --- filters, count, -w ------------------------------------------------------------
def test_bad_filter_is_a_usage_error() -> None:
    p = capture("-r", str(PCAPS / "dpkt_http.pcap"), "-f", "tcp porrt 80")
    assert p.returncode == 2
    assert len(p.stderr.decode().splitlines()) == 1 and b"bad filter" in p.stderr
    assert p.stdout == b""


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump not installed")
@pytest.mark.parametrize("how", ["option", "trailing", "both"])
def test_filter_matches_tcpdump(how: str) -> None:
    f = str(PCAPS / "dpkt_http.pcap")
    ref = subprocess.run(["tcpdump", "-nr", f, "tcp and port 80"], capture_output=True, check=True)
    expected = len(ref.stdout.splitlines())
    args = {
        "option": ["-f", "tcp and port 80"],
        "trailing": ["tcp", "and", "port", "80"],
        "both": ["-f", "tcp", "port", "80"],
    }[how]
    p = capture("-r", f, *args)
    assert p.returncode == 0, p.stderr
    n = sum(r["t"] == "pkt" for r in records(p.stdout))
    assert 0 < n == expected < truth("dpkt_http.pcap")["capture"]["packets"]


def test_count_stops_early() -> None:
    p = capture("-r", str(PCAPS / "ndpi_android.pcap"), "-c", "7")
    assert p.returncode == 0
    recs = records(p.stdout)
    assert sum(r["t"] == "pkt" for r in recs) == 7 and recs[-1]["packets"] == 7


def test_write_pcap_keeps_wire_lengths(tmp_path: Path) -> None:
    src = PCAPS / "tcpdump_quic_handshake_truncated.pcap"  # snaplen-cut frames: wire length > captured length
    out = tmp_path / "copy.pcap"
    p = capture("-r", str(src), "-w", str(out))
    assert p.returncode == 0, p.stderr
    assert pcap_wirelens(out) == pcap_wirelens(src)
    if shutil.which("tcpdump"):
        ref = subprocess.run(["tcpdump", "-nr", str(out)], capture_output=True, check=True)
        assert len(ref.stdout.splitlines()) == truth(src.name)["capture"]["packets"]
    again = records(capture("-r", str(out)).stdout)
    orig = records(p.stdout)
    assert [r for r in again if r["t"] == "pkt"] == [r for r in orig if r["t"] == "pkt"]


def test_standard_input_as_capture_file() -> None:
    data = (PCAPS / "zeek_http_get.pcap").read_bytes()
    p = subprocess.run(
        [RN_CAPTURE, "-r", "-", "--format", "json"], input=data, capture_output=True, timeout=30
    )
    assert p.returncode == 0, p.stderr
    n = truth("zeek_http_get.pcap")["capture"]["packets"]
    assert sum(r["t"] == "pkt" for r in records(p.stdout)) == n


def test_closed_pipe_is_quiet() -> None:
    p = subprocess.run(
        f"'{RN_CAPTURE}' -r '{PCAPS / 'ndpi_iphone.pcap'}' --format json | head -n 2",
        shell=True,
        capture_output=True,
        timeout=30,
    )
    assert p.stderr == b"" and len(p.stdout.splitlines()) == 2


# --- options and interfaces -----------------------------------------------------------
def test_unknown_interface_names_the_real_ones() -> None:
    p = capture("-i", "nosuchif0")
    assert p.returncode == 1
    lines = p.stderr.decode().splitlines()
    assert len(lines) == 1 and "nosuchif0" in lines[0]
    for name in os.listdir("/sys/class/net"):
        assert name in lines[0]


def test_read_and_interface_together_is_usage_error() -> None:
    p = capture("-r", str(PCAPS / "dpkt_http.pcap"), "-i", "lo")
    assert p.returncode == 2


def test_list_interfaces() -> None:
    p = subprocess.run([RN_CAPTURE, "--list-interfaces"], capture_output=True, timeout=30)
    assert p.returncode == 0
    names = [line.split()[0] for line in p.stdout.decode().splitlines()]
    assert "lo" in names and "any" in names


def test_ssh_self_clause_compiles_and_excludes() -> None:
    clause = ssh_self_clause("10.0.0.1 51234 10.0.0.2 22")
    assert clause == "not (host 10.0.0.1 and port 51234 and host 10.0.0.2 and port 22)"
    assert (
        ssh_self_clause("fe80::1%eth0 4000 fe80::2 22")
        == "not (host fe80::1 and port 4000 and host fe80::2 and port 22)"
    )
    for bad in (None, "", "1.2.3.4 22", "x y z w", "10.0.0.1 0 10.0.0.2 22", "1.1.1.1 70000 2.2.2.2 22"):
        assert ssh_self_clause(bad) is None
    expr = combine("tcp", clause)
    assert expr == f"(tcp) and ({clause})"
    assert combine("", None) == "" and combine("udp", None) == "udp"
    pcapy.compile(1, 262144, expr, 1, 0)  # valid BPF for libpcap


def test_default_route_parsing(tmp_path: Path) -> None:
    v4 = tmp_path / "route"
    v4.write_text(
        "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n"
        "wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n"
        "eth9\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
        "eth9\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n"
    )
    assert _default_route_v4(str(v4)) == "eth9"
    v6 = tmp_path / "ipv6_route"
    zero = "0" * 32
    v6.write_text(
        f"{zero} 00 {zero} 00 {zero} ffffffff 00000001 00000000 00200200       lo\n"
        f"{zero} 00 {zero} 00 fe80{'0' * 27}1 00000400 00000002 00000000 00000003     wg0\n"
    )
    assert _default_route_v6(str(v6)) == "wg0"
    assert _default_route_v4(str(tmp_path / "missing")) is None


# --- signals on a capture file, cut files ---------------------------------------------
def synthetic_pcap(path: Path, packets: int) -> None:
    """A valid Ethernet pcap of ``packets`` 60-byte frames, written with struct."""
    frame = bytes(range(60))
    rec = b"".join(
        struct.pack("<IIII", 1_700_000_000 + i // 1000, i % 1000 * 1000, 60, 60) + frame for i in range(1000)
    )
    with open(path, "wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for _ in range(packets // 1000):
            fh.write(rec)


def start_blocked(path: Path) -> tuple[subprocess.Popen[bytes], int]:
    """rn-capture writing into a pipe nobody reads yet: it blocks once the pipe is full."""
    rfd, wfd = os.pipe()
    proc = subprocess.Popen(
        [RN_CAPTURE, "-r", str(path), "--format", "json"], stdout=wfd, stderr=subprocess.PIPE
    )
    os.close(wfd)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # wait until it is blocked writing (pipe full)
        with open(f"/proc/{proc.pid}/wchan") as fh:
            if "pipe" in fh.read():
                break
        time.sleep(0.02)
    return proc, rfd


def read_all(fd: int) -> bytes:
    chunks = []
    with os.fdopen(fd, "rb") as fh:
        while chunk := fh.read(1 << 20):
            chunks.append(chunk)
    return b"".join(chunks)


def test_sigint_stops_reading_a_file_and_finishes_cleanly(tmp_path: Path) -> None:
    big = tmp_path / "big.pcap"
    synthetic_pcap(big, 200_000)
    proc, rfd = start_blocked(big)
    proc.send_signal(signal.SIGINT)
    out = read_all(rfd)
    assert proc.wait(timeout=10) == 0
    assert proc.stderr is not None and proc.stderr.read() == b""
    proc.stderr.close()
    recs = records(out)
    n = sum(r["t"] == "pkt" for r in recs)
    assert 0 < n < 200_000
    assert recs[-1]["t"] == "stats" and recs[-1]["packets"] == n


def test_second_sigint_exits_at_once(tmp_path: Path) -> None:
    big = tmp_path / "big.pcap"
    synthetic_pcap(big, 200_000)
    proc, rfd = start_blocked(big)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 130
    os.close(rfd)
    assert proc.stderr is not None
    proc.stderr.close()


def test_cut_files_give_every_whole_packet_before_the_cut(tmp_path: Path) -> None:
    src = (PCAPS / "zeek_http_get.pcap").read_bytes()
    ends, pos = [], 24
    while pos + 16 <= len(src):
        pos += 16 + struct.unpack_from("<I", src, pos + 8)[0]
        ends.append(pos)
    rng = random.Random(7)
    offsets = sorted({*rng.sample(range(25, len(src)), 12), *ends[:3]})
    for cut in offsets:
        f = tmp_path / f"cut{cut}.pcap"
        f.write_bytes(src[:cut])
        reader = open_capture_file(str(f))
        with open(os.devnull, "wb") as sink:
            n, damage = pump_file(reader, RecordWriter(sink.fileno()), 0, None, lambda: False)
        whole = sum(e <= cut for e in ends)
        assert n == whole
        assert (damage is None) == (cut in ends or cut == 24)


@pytest.mark.parametrize("name", ["zeek_http_get.pcap", "ndpi_http.pcapng"])
def test_corrupted_files_never_raise(tmp_path: Path, name: str) -> None:
    src = bytearray((PCAPS / name).read_bytes())
    total = truth(name)["capture"]["packets"]
    rng = random.Random(name)
    for i in range(40):
        data = bytearray(src)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        f = tmp_path / f"c{i}"
        f.write_bytes(data)
        try:
            reader = open_capture_file(str(f))
        except CaptureFileError:
            continue  # header destroyed: reported as one line by the command
        with open(os.devnull, "wb") as sink:
            n, damage = pump_file(reader, RecordWriter(sink.fileno()), 0, None, lambda: False)
        assert 0 <= n <= total * 2 and (damage is None or isinstance(damage, str))


def test_drop_capabilities_leaves_none() -> None:
    code = (
        "from rustnet.capture.privdrop import drop_capabilities, effective_capabilities\n"
        "drop_capabilities()\n"
        "lines = [ln.split() for ln in open('/proc/self/status') if ln.startswith('Cap')]\n"
        "caps = {f[0].rstrip(':'): int(f[1], 16) for f in lines}\n"
        "print(effective_capabilities(), caps['CapEff'], caps['CapPrm'], caps['CapInh'],\n"
        "      caps['CapAmb'])\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["0"] * 5


def test_sigterm_ends_promptly_even_when_downstream_is_stuck(tmp_path: Path) -> None:
    big = tmp_path / "big.pcap"
    synthetic_pcap(big, 200_000)
    proc, rfd = start_blocked(big)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 143
    assert time.monotonic() - t0 < 5
    os.close(rfd)
    assert proc.stderr is not None
    proc.stderr.close()


def test_sigterm_with_a_live_reader_ends_the_stream_cleanly(tmp_path: Path) -> None:
    big = tmp_path / "big.pcap"
    synthetic_pcap(big, 200_000)
    proc, rfd = start_blocked(big)
    proc.send_signal(signal.SIGTERM)
    out = read_all(rfd)  # reading unblocks it: it finishes the frame, writes final stats, exits
    assert proc.wait(timeout=10) == 143
    assert proc.stderr is not None
    proc.stderr.close()
    recs = records(out)
    assert recs[-1]["t"] == "stats" and recs[-1]["packets"] == sum(r["t"] == "pkt" for r in recs)
