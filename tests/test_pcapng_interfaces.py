"""Valid pcapng files libpcap refuses: interfaces of different link types, snap lengths and
timestamp resolutions, sections of different byte orders. Read whole, checked against tshark.

tests/data/made/multi-link.pcapng (made by make_multi_link.py beside it) has an Ethernet, a
Linux cooked v2 and a raw IP interface, the last two described after 4 packets; libpcap stops
there ("an interface has a type 276 different from the type of the first interface").
"""

from __future__ import annotations

import gzip
import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.corpus import PCAPS

BIN = Path(sys.executable).parent
MADE = Path(__file__).parent / "data" / "made"
MULTI = MADE / "multi-link.pcapng"

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


def pipeline(
    path: Path | str, *capture_args: str, stdin: bytes | None = None
) -> tuple[list[dict[str, Any]], str]:
    """Records of ``rn-capture -r PATH | rn-dissect | rn-track --format json`` (run one after the
    other), followed by a ``_status`` entry with rn-capture's status; and rn-capture's stderr."""
    cap = subprocess.run(
        [str(BIN / "rn-capture"), "-r", str(path), *capture_args],
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
    )
    dis = subprocess.run([str(BIN / "rn-dissect")], input=cap.stdout, capture_output=True, timeout=60)
    out = subprocess.run(
        [str(BIN / "rn-track"), "--format", "json"], input=dis.stdout, capture_output=True, timeout=60
    )
    for stderr in (cap.stderr, dis.stderr, out.stderr):
        assert b"Traceback" not in stderr
    recs = [json.loads(ln) for ln in out.stdout.decode().splitlines() if ln.strip()]
    return recs + [{"t": "_status", "status": cap.returncode}], cap.stderr.decode()


def status_of(recs: list[dict[str, Any]]) -> int:
    return int(recs[-1]["status"])


def capture_json(path: Path | str, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(BIN / "rn-capture"), "-r", str(path), "--format", "json", *args],
        capture_output=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def tshark(path: Path, *args: str) -> str:
    return subprocess.run(
        ["tshark", "-r", str(path), *args], capture_output=True, timeout=120, check=True
    ).stdout.decode()


def tshark_tcp_conversations(path: Path) -> dict[frozenset[tuple[str, int]], tuple[int, int]]:
    """{ {a:port, b:port}: (frames, bytes) } from ``tshark -q -z conv,tcp`` (bytes as exact counts)."""
    fields = tshark(
        path,
        "-T",
        "fields",
        "-e",
        "ip.src",
        "-e",
        "tcp.srcport",
        "-e",
        "ip.dst",
        "-e",
        "tcp.dstport",
        "-e",
        "frame.len",
        "-Y",
        "tcp",
    )
    out: dict[frozenset[tuple[str, int]], tuple[int, int]] = {}
    for line in fields.splitlines():
        src, sport, dst, dport, length = line.split("\t")
        key = frozenset({(src, int(sport)), (dst, int(dport))})
        frames, size = out.get(key, (0, 0))
        out[key] = (frames + 1, size + int(length))
    # The same conversations as -z conv,tcp lists (the test data has exactly these).
    conv = tshark(path, "-q", "-z", "conv,tcp")
    assert conv.count("<->") == len(out), conv
    return out


def finals(recs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in recs if r.get("t") == "conn" and r.get("final")]


@needs_tshark
def test_a_file_of_three_link_types_is_read_whole_like_tshark() -> None:
    recs, err = pipeline(MULTI)
    assert status_of(recs) == 0 and err == ""
    frames = len(tshark(MULTI).splitlines())
    assert [r["packets"] for r in recs if r.get("t") == "dstats"][-1] == frames == 31
    ours = {
        frozenset({(r["src"], r["sport"]), (r["dst"], r["dport"])}): (r["packets"], r["bytes"])
        for r in finals(recs)
        if r["proto"] == "tcp"
    }
    assert ours == tshark_tcp_conversations(MULTI)
    # The cooked interface's ICMP, ICMPv6 and ARP are there too.
    assert {r["proto"] for r in finals(recs)} == {"tcp", "icmp", "icmpv6", "arp"}


@needs_tshark
def test_each_packet_has_its_interfaces_link_type_and_time() -> None:
    got = capture_json(MULTI)
    assert got.returncode == 0, got.stderr
    pkts = [json.loads(ln) for ln in got.stdout.decode().splitlines() if '"pkt"' in ln]
    header = json.loads(got.stdout.decode().splitlines()[0])
    assert header["linktype"] == 1
    truth = [
        ln.split("\t")
        for ln in tshark(
            MULTI, "-T", "fields", "-e", "frame.interface_id", "-e", "frame.time_epoch", "-e", "frame.len"
        ).splitlines()
    ]
    assert len(pkts) == len(truth)
    # Interface 1 is Linux cooked v2 (276), interface 2 raw IP (file 101, libpcap's DLT 12).
    linktype = {"0": None, "1": 276, "2": 12}
    for pkt, (iface, epoch, length) in zip(pkts, truth, strict=True):
        assert pkt.get("linktype") == linktype[iface]
        sec, frac = epoch.split(".")
        # ns and 2^-20 s resolutions cut to microseconds, as libpcap gives them.
        assert pkt["ts"] == pytest.approx(int(sec) + int(frac[:6]) * 1e-6, abs=1e-7)
        assert pkt["wirelen"] == int(length)


@needs_tshark
def test_a_filter_is_applied_per_link_type() -> None:
    got = capture_json(MULTI, "-f", "tcp")
    assert got.returncode == 0, got.stderr
    pkts = [ln for ln in got.stdout.decode().splitlines() if '"pkt"' in ln]
    assert len(pkts) == len(tshark(MULTI, "-Y", "tcp").splitlines()) == 25


def test_gzipd_and_standard_input_are_read_whole(tmp_path: Path) -> None:
    packed = tmp_path / "multi.pcapng.gz"
    packed.write_bytes(gzip.compress(MULTI.read_bytes()))
    want = {r["id"]: r["packets"] for r in finals(pipeline(MULTI)[0])}
    assert len(want) == 5
    for path, stdin in ((packed, None), ("-", MULTI.read_bytes())):
        recs, err = pipeline(path, stdin=stdin) if stdin is None else pipeline("-", stdin=stdin)
        if path == "-":
            # A pipe cannot be read twice: libpcap's packets, then one sentence, status 3.
            assert status_of(recs) == 3 and "different from the type of the first interface" in err
            continue
        assert status_of(recs) == 0 and err == ""
        assert {r["id"]: r["packets"] for r in finals(recs)} == want


def test_write_pcap_keeps_the_first_link_type_and_says_what_it_left_out(tmp_path: Path) -> None:
    out = tmp_path / "out.pcap"
    got = capture_json(MULTI, "-w", str(out))
    assert got.returncode == 0
    assert "17 packets of other link types not written" in got.stderr.decode()
    assert len(tshark(out).splitlines()) == 14  # the Ethernet interface's packets


# --- hand-built files -----------------------------------------------------------------------
def block(order: str, btype: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack(order + "II", btype, length) + body + struct.pack(order + "I", length)


def shb(order: str) -> bytes:
    return block(order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1))


def idb(order: str, linktype: int, snaplen: int = 65535) -> bytes:
    return block(order, 1, struct.pack(order + "HHI", linktype, 0, snaplen))


def epb(order: str, iface: int, usec: int, data: bytes) -> bytes:
    head = struct.pack(order + "IIIII", iface, usec >> 32, usec & 0xFFFFFFFF, len(data), len(data))
    return block(order, 6, head + data + b"\0" * (-len(data) % 4))


def spb(order: str, data: bytes) -> bytes:
    return block(order, 3, struct.pack(order + "I", len(data)) + data + b"\0" * (-len(data) % 4))


def frames(name: str) -> list[bytes]:
    import dpkt

    with open(PCAPS / name, "rb") as fh:
        return [bytes(buf) for _, buf in dpkt.pcap.Reader(fh)]


@needs_tshark
def test_sections_of_both_byte_orders_and_simple_packet_blocks(tmp_path: Path) -> None:
    http = frames("zeek_http_get.pcap")
    path = tmp_path / "two-sections.pcapng"
    blocks = [shb("<"), idb("<", 1)] + [epb("<", 0, 1_000_000 * (10 + i), f) for i, f in enumerate(http[:7])]
    blocks += [shb(">"), idb(">", 1, 9000)] + [spb(">", f) for f in http[7:]]
    path.write_bytes(b"".join(blocks))
    got = capture_json(path)
    assert got.returncode == 0 and got.stderr == b""
    pkts = [json.loads(ln) for ln in got.stdout.decode().splitlines() if '"pkt"' in ln]
    truth = tshark(path, "-T", "fields", "-e", "frame.len", "-e", "frame.time_epoch").splitlines()
    assert len(truth) == len(pkts) == 14
    # Simple packet blocks carry no time (tshark shows none; libpcap gives 0).
    fields = [ln.split("\t") for ln in truth]
    assert [(p["wirelen"], p["ts"]) for p in pkts] == [(int(n), float(t or 0)) for n, t in fields]


def test_damage_after_the_second_interface_is_reported_after_the_good_packets(tmp_path: Path) -> None:
    http = frames("zeek_http_get.pcap")
    path = tmp_path / "cut.pcapng"
    body = [shb("<"), idb("<", 1)] + [epb("<", 0, 10_000_000 + i, f) for i, f in enumerate(http[:3])]
    body += [idb("<", 113)] + [epb("<", 0, 20_000_000 + i, f) for i, f in enumerate(http[3:6])]
    data = b"".join(body) + epb("<", 0, 30_000_000, http[6])[:40]
    path.write_bytes(data)
    got = capture_json(path)
    assert got.returncode == 3
    assert len([ln for ln in got.stdout.decode().splitlines() if '"pkt"' in ln]) == 6
    err = got.stderr.decode().strip().splitlines()
    assert len(err) == 1 and "after 6 packets" in err[0] and "cut short" in err[0], err
    # A packet of an interface never described is damage too.
    path.write_bytes(b"".join(body) + epb("<", 7, 1, http[6]))
    got = capture_json(path)
    assert got.returncode == 3 and "interface 7, which is not described" in got.stderr.decode()


def test_a_packets_own_link_type_survives_json_lines_and_back() -> None:
    from rustnet.stream.records import from_json_obj, to_json_obj

    own = ["pkt", 1.5, 60, b"\x45\x00", 12]
    usual = ["pkt", 1.5, 60, b"\x45\x00"]
    assert to_json_obj(own) == {"t": "pkt", "ts": 1.5, "wirelen": 60, "data": "4500", "linktype": 12}
    assert "linktype" not in to_json_obj(usual)
    assert from_json_obj(to_json_obj(own)) == own
    assert from_json_obj(to_json_obj(usual)) == usual  # 4 elements: rn-dissect's fast path takes it
