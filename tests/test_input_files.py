"""Wrong and compressed input files, through the real commands.

An empty file, text, random bytes or a PNG given where a capture or a record stream belongs:
one plain sentence on stderr and status 3, from ``rustnet --read`` and from every stage that
takes a file. gzip-compressed captures and record streams are read as they are (as tshark and
tcpdump read them): the connections are those of the uncompressed file; compressed data cut
short is damaged input, with what came before it still shown.
"""

from __future__ import annotations

import gzip
import json
import random
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from tests.corpus import PCAPS, TRUTH

BIN = Path(sys.executable).parent
PCAP = PCAPS / "dpkt_http.pcap"
PCAPNG = PCAPS / "ndpi_http.pcapng"
BIG = PCAPS / "zeek_quic_chromium-115-google-de-fragmented.pcap"  # ~1 MB: room to cut it midway

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + bytes(40)
NOT_INPUT = {
    "text": b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\nthese are not packets\n" * 20,
    "random": random.Random(13).randbytes(5000),
    "png": PNG,
    "json-document": b'{\n  "not": "a record per line"\n}\n',
}
NEITHER = "is not a pcap/pcapng capture or a rustnet record stream"


def run(*argv: str, stdin: bytes | None = None, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(BIN / argv[0]), *argv[1:]],
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
    )


def lines(stderr: bytes) -> list[str]:
    assert b"Traceback" not in stderr, stderr
    return [ln for ln in stderr.decode().splitlines() if ln.strip()]


def json_records(out: bytes) -> list[dict[str, object]]:
    return [json.loads(ln) for ln in out.decode().splitlines() if ln.strip()]


# The commands that take a file, and how each names itself on stderr.
COMMANDS = {
    "rustnet": ("rustnet", ["--json", "--read"]),
    "rustnet-tui": ("rustnet", ["--read"]),  # refused before any terminal is needed
    "rn-capture": ("rn-capture", ["--format", "json", "-r"]),
    "rn-dissect": ("rn-dissect", ["--format", "json"]),
    "rn-track": ("rn-track", ["--format", "json"]),
    "rn-enrich": ("rn-enrich", ["--format", "json"]),
    "rn-view": ("rn-view", ["--json"]),
    "rn-view-read": ("rn-view", ["--json", "--read"]),
}


def refuse(cmd: str, path: Path) -> subprocess.CompletedProcess[bytes]:
    prog, args = COMMANDS[cmd]
    return run(prog, *args, str(path))


@pytest.mark.parametrize("cmd", sorted(COMMANDS))
def test_an_empty_file_says_it_is_empty(tmp_path: Path, cmd: str) -> None:
    f = tmp_path / "capture.pcap"
    f.write_bytes(b"")
    p = refuse(cmd, f)
    assert p.returncode == 3
    assert lines(p.stderr) == [f"{COMMANDS[cmd][0]}: {f} is empty"]
    assert not any(r.get("t") == "conn" for r in json_records(p.stdout))


@pytest.mark.parametrize("what", sorted(NOT_INPUT))
@pytest.mark.parametrize("cmd", sorted(COMMANDS))
def test_neither_capture_nor_stream_says_so_in_one_line(tmp_path: Path, cmd: str, what: str) -> None:
    f = tmp_path / f"{what}.bin"
    f.write_bytes(NOT_INPUT[what])
    p = refuse(cmd, f)
    assert p.returncode == 3
    assert lines(p.stderr) == [f"{COMMANDS[cmd][0]}: {f} {NEITHER}"]


def test_an_empty_gzip_file_is_empty(tmp_path: Path) -> None:
    f = tmp_path / "x.pcap.gz"
    f.write_bytes(gzip.compress(b""))
    p = run("rustnet", "--json", "--read", str(f))
    assert p.returncode == 3 and lines(p.stderr) == [f"rustnet: {f} is empty"]


@pytest.mark.parametrize("cmd", ["rn-dissect", "rn-track", "rn-enrich"])
def test_an_empty_pipe_stays_a_valid_empty_stream(cmd: str) -> None:
    p = subprocess.run(["bash", "-c", f"true | {BIN / cmd} --format json"], capture_output=True, timeout=60)
    assert p.returncode == 0 and p.stderr == b""


def test_a_record_stream_given_to_rn_capture_and_a_capture_given_to_a_stage_say_which_is_which(
    tmp_path: Path,
) -> None:
    rec = tmp_path / "conns.rn"
    rec.write_bytes(run("rn-capture", "-r", str(PCAP)).stdout)
    p = run("rn-capture", "-r", str(rec))
    assert p.returncode == 3
    assert lines(p.stderr) == [
        f"rn-capture: {rec} is a rustnet record stream, not a pcap/pcapng capture: "
        f"read it with rn-dissect {rec} or rn-view {rec}"
    ]
    p = run("rn-track", str(PCAP))
    assert p.returncode == 3
    assert lines(p.stderr) == [
        f"rn-track: {PCAP} is a pcap/pcapng capture, not a record stream: read it with rn-capture -r {PCAP}"
    ]


# --- gzip ------------------------------------------------------------------------------------
def gz(src: Path, dst: Path) -> Path:
    dst.write_bytes(gzip.compress(src.read_bytes()))
    return dst


@pytest.mark.parametrize("pcap", [PCAP, PCAPNG], ids=["pcap", "pcapng"])
def test_gzip_captures_read_like_the_uncompressed_file(tmp_path: Path, pcap: Path) -> None:
    packed = gz(pcap, tmp_path / f"{pcap.name}.gz")
    plain = run("rustnet", "--json", "--read", str(pcap))
    p = run("rustnet", "--json", "--read", str(packed))
    assert plain.returncode == 0 and plain.stdout
    assert p.returncode == 0, p.stderr
    assert p.stdout == plain.stdout and p.stderr == b""
    # rn-capture itself: every packet tshark counts, and the snaplen the header declares.
    recs = json_records(run("rn-capture", "--format", "json", "-r", str(packed)).stdout)
    truth = json.loads((TRUTH / f"{pcap.name}.json").read_text())["capture"]
    assert sum(r["t"] == "pkt" for r in recs) == truth["packets"]
    same = json_records(run("rn-capture", "--format", "json", "-r", str(pcap)).stdout)
    assert recs[0]["snaplen"] == same[0]["snaplen"]
    # rn-view completes the pipeline from the compressed capture too.
    view = run("rn-view", "--json", str(packed))
    assert view.returncode == 0 and view.stdout == run("rn-view", "--json", str(pcap)).stdout


def test_gzip_record_stream_reads_like_the_recording(tmp_path: Path) -> None:
    rec = tmp_path / "session.rn"
    expected = run("rustnet", "--json", "--read", str(PCAPNG), "--record", str(rec))
    assert expected.returncode == 0 and expected.stdout
    packed = gz(rec, tmp_path / "session.rn.gz")
    p = run("rustnet", "--json", "--read", str(packed))
    assert p.returncode == 0, p.stderr
    assert p.stdout == expected.stdout
    for argv in (["rn-track", "--format", "json"], ["rn-dissect", "--format", "json"], ["rn-view", "--json"]):
        plain, comp = run(*argv, str(rec)), run(*argv, str(packed))
        assert comp.returncode == 0 and lines(comp.stderr) == []
        strip = [{k: v for k, v in r.items() if k != "ts"} for r in json_records(plain.stdout)]
        assert [{k: v for k, v in r.items() if k != "ts"} for r in json_records(comp.stdout)] == strip, argv
    # On standard input (a pipe): rustnet decompresses it as it is fed on.
    p = run("rustnet", "--json", "--read", "-", stdin=packed.read_bytes())
    assert p.returncode == 0 and p.stdout == expected.stdout


def test_gzip_capture_on_standard_input(tmp_path: Path) -> None:
    data = gzip.compress(PCAP.read_bytes())
    p = run("rustnet", "--json", "--read", "-", stdin=data)
    assert p.returncode == 0, p.stderr
    assert p.stdout == run("rustnet", "--json", "--read", str(PCAP)).stdout


def whole_packets(data: bytes) -> int:
    """Complete records in the start of a classic pcap file (parsed here, not by libpcap)."""
    order = "<" if data[:4] == b"\xd4\xc3\xb2\xa1" else ">"
    n, pos = 0, 24
    while pos + 16 <= len(data):
        caplen = struct.unpack_from(order + "I", data, pos + 8)[0]
        if pos + 16 + caplen > len(data):
            break
        n, pos = n + 1, pos + 16 + caplen
    return n


def cut_gzip(src: Path, dst: Path) -> tuple[Path, bytes]:
    """``src`` gzip'd and cut in the middle; and what its remaining part decompresses to."""
    packed = gzip.compress(src.read_bytes())
    cut = packed[: len(packed) // 2]
    dst.write_bytes(cut)
    return dst, zlib.decompressobj(31).decompress(cut)


def test_a_truncated_gzip_capture_is_damage_after_what_it_held(tmp_path: Path) -> None:
    f, content = cut_gzip(BIG, tmp_path / "big.pcap.gz")
    n = whole_packets(content)
    assert 0 < n < json.loads((TRUTH / f"{BIG.name}.json").read_text())["capture"]["packets"]
    p = run("rn-capture", "--format", "json", "-r", str(f))
    assert p.returncode == 3
    assert lines(p.stderr) == [f"rn-capture: {f}: compressed data cut short after {n} packets"]
    assert sum(r["t"] == "pkt" for r in json_records(p.stdout)) == n
    p = run("rustnet", "--json", "--read", str(f))
    assert p.returncode == 3
    assert lines(p.stderr) == [f"rustnet: {f}: compressed data cut short after {n} packets"]
    assert json_records(p.stdout)  # the connections seen before the cut


def test_a_truncated_gzip_record_stream_is_damage_after_what_it_held(tmp_path: Path) -> None:
    rec = tmp_path / "packets.rn"
    rec.write_bytes(run("rn-capture", "-r", str(BIG)).stdout)
    f, content = cut_gzip(rec, tmp_path / "packets.rn.gz")
    for argv in (["rn-dissect"], ["rn-track"], ["rn-view", "--json"]):
        p = run(*argv, str(f)) if argv[0] == "rn-view" else run(*argv, "--format", "json", str(f))
        assert p.returncode == 3, argv
        assert lines(p.stderr) == [f"{argv[0]}: {f}: compressed data cut short after {len(content):,} bytes"]
        assert json_records(p.stdout), argv
    p = run("rustnet", "--json", "--read", str(f))
    assert p.returncode == 3
    assert lines(p.stderr) == [f"rustnet: {f}: compressed data cut short after {len(content):,} bytes"]
    assert json_records(p.stdout)


def test_gzip_data_corrupt_from_the_start(tmp_path: Path) -> None:
    f = tmp_path / "bad.pcap.gz"
    f.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\xff" * 64)
    for argv, prog in ((["rustnet", "--json", "--read"], "rustnet"), (["rn-capture", "-r"], "rn-capture")):
        p = run(*argv, str(f))
        assert p.returncode == 3
        assert lines(p.stderr) == [f"{prog}: {f}: compressed data corrupt (invalid block type)"]


# --- rustnet speaks as rustnet --------------------------------------------------------------
def test_stage_errors_are_printed_as_rustnets_and_logged_as_the_stages(tmp_path: Path) -> None:
    p = subprocess.run(
        [str(BIN / "rustnet"), "--json", "--read", str(PCAP), "-f", "tcp porrt 80", "-l", "warn"],
        capture_output=True,
        timeout=60,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
    )
    assert p.returncode == 2
    (line,) = lines(p.stderr)
    assert line.startswith("rustnet: bad filter 'tcp porrt 80'")
    (log,) = (tmp_path / "logs").iterdir()
    assert "rustnet.rn-capture: rn-capture: bad filter 'tcp porrt 80'" in log.read_text()
    p = run("rustnet", "--json", "--read", str(PCAP), "-f", "tcp porrt 80", "--debug")
    assert p.returncode == 2 and lines(p.stderr)[-1].startswith("rn-capture: bad filter")


def test_concatenated_gzip_recordings_are_read_one_after_the_other(tmp_path: Path) -> None:
    rec = tmp_path / "packets.rn"
    rec.write_bytes(run("rn-capture", "-r", str(PCAP)).stdout)
    both = tmp_path / "both.rn.gz"
    both.write_bytes(gzip.compress(rec.read_bytes()) + gzip.compress(rec.read_bytes()) + bytes(512))
    p = run("rn-dissect", "--format", "json", str(both))
    assert p.returncode == 0 and lines(p.stderr) == []
    recs = json_records(p.stdout)
    assert sum(r["t"] == "hdr" for r in recs) == 2  # gzip members as `cat a.gz b.gz` makes them
    truth = json.loads((TRUTH / f"{PCAP.name}.json").read_text())["capture"]
    assert sum(r["t"] == "sum" for r in recs) == 2 * truth["packets"]


def summaries(pcap: Path, fmt: str = "msgpack") -> bytes:
    """``rn-capture -r pcap | rn-dissect``: a stream of packet summaries."""
    return run("rn-dissect", "--format", fmt, stdin=run("rn-capture", "-r", str(pcap)).stdout).stdout


def test_data_after_the_gzip_stream_is_damage(tmp_path: Path) -> None:
    data = summaries(PCAP)
    f = tmp_path / "tail.rn.gz"
    f.write_bytes(gzip.compress(data) + b"trailing junk")
    p = run("rn-track", "--format", "json", str(f))
    assert p.returncode == 3
    why = "compressed data corrupt (incorrect header check)"
    assert lines(p.stderr) == [f"rn-track: {f}: {why} after {len(data):,} bytes"]
    assert any(r.get("t") == "conn" for r in json_records(p.stdout))  # everything before it was read


def test_a_json_lines_recording_is_still_a_record_stream(tmp_path: Path) -> None:
    rec = tmp_path / "summaries.jsonl"
    rec.write_bytes(summaries(PCAP, "json"))
    p = run("rn-track", "--format", "json", str(rec))
    assert p.returncode == 0 and lines(p.stderr) == []
    assert any(r.get("t") == "conn" for r in json_records(p.stdout))


def test_control_characters_in_a_refused_file_name_are_escaped(tmp_path: Path) -> None:
    f = tmp_path / "evil\x1b[31m.bin"
    f.write_bytes(b"plain text\n")
    for prog, args in (("rustnet", ["--json", "--read"]), ("rn-capture", ["-r"]), ("rn-track", [])):
        p = run(prog, *args, str(f))
        assert p.returncode == 3
        assert b"\x1b" not in p.stderr and b"\\x1b" in p.stderr and NEITHER in lines(p.stderr)[0]
