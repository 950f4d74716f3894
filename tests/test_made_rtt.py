"""Round trips, response times and TCP loss signals of tests/data/made/rtt.pcap, against tshark.

Where tshark measures the same thing it is the truth: the handshake (tcp.analysis.initial_rtt),
each ACK's round trip (tcp.analysis.ack_rtt: ours smooths the ones it times as RFC 6298 says),
duplicate ACKs, fast retransmissions and retransmissions per connection, ICMP echo
(icmp.resptime), DNS (dns.time) and STUN (stun.time). This tshark (4.0) times neither NTP nor
LLMNR nor NetBIOS: there the truth is the frame times of the packets tshark pairs by its own
reading (NTP's originate = transmit timestamp, LLMNR's and NetBIOS's id, NetBIOS's WACK opcode).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.test_dpi_made_streams import BIN

CAPTURE = Path(__file__).parent / "data" / "made" / "rtt.pcap"
CLIENT, SERVER, OTHER = "10.9.0.1", "10.9.0.2", "10.9.0.3"

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


@pytest.fixture(scope="module")
def records() -> dict[tuple[Any, ...], dict[str, Any]]:
    """Final connection records by (src, sport, dst, dport)."""
    cmd = f"{BIN}/rn-capture -r {CAPTURE} | {BIN}/rn-dissect | {BIN}/rn-track --format json"
    out = subprocess.run(["sh", "-c", cmd], capture_output=True, timeout=60, check=True).stdout
    recs = [json.loads(line) for line in out.decode().splitlines()]
    return {
        (r["src"], r["sport"], r["dst"], r["dport"]): r
        for r in recs
        if r.get("t") == "conn" and r.get("final")
    }


def tshark(display: str, *fields: str) -> list[list[str]]:
    cmd = ["tshark", "-r", str(CAPTURE), "-Y", display, "-T", "fields", "-E", "occurrence=f"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, timeout=60, check=True).stdout.decode()
    return [line.split("\t") for line in out.splitlines()]


def ms(seconds: str) -> float:
    return float(seconds) * 1000.0


def smoothed(samples: list[float]) -> float:
    """RFC 6298 §2: SRTT <- R, then SRTT <- 7/8 SRTT + 1/8 R'."""
    srtt = samples[0]
    for r in samples[1:]:
        srtt = 7 / 8 * srtt + 1 / 8 * r
    return srtt


def tcp(records: dict[tuple[Any, ...], dict[str, Any]], port: int) -> dict[str, Any]:
    return records[(CLIENT, port, SERVER, 5001)]


def count(display: str, port: int) -> int:
    return len(tshark(f"tcp.port == {port} && {display}", "frame.number"))


@pytest.mark.parametrize("port", [41001, 41002, 41003, 41004])
def test_tcp_handshake_and_loss_counters_are_tsharks(
    records: dict[tuple[Any, ...], dict[str, Any]], port: int
) -> None:
    r = tcp(records, port)
    (initial,) = {
        row[0]
        for row in tshark(f"tcp.port == {port} && tcp.analysis.initial_rtt", "tcp.analysis.initial_rtt")
    }
    assert r["rtt_initial_ms"] == pytest.approx(ms(initial), abs=0.001)
    assert r["dup_acks"] == count("tcp.analysis.duplicate_ack", port)
    assert r["fast_retransmits"] == count("tcp.analysis.fast_retransmission", port)
    assert r["retransmits"] == count("tcp.analysis.retransmission", port)
    assert r["out_of_order"] == count("tcp.analysis.out_of_order", port)
    expected = {41001: (0, 0), 41002: (0, 0), 41003: (7, 1), 41004: (6, 1)}[port]
    assert (r["dup_acks"], r["fast_retransmits"]) == expected  # the capture is what it should be


def test_tcp_live_rtt_smooths_tsharks_ack_rtt(records: dict[tuple[Any, ...], dict[str, Any]]) -> None:
    def samples(port: int) -> list[float]:
        # The server's ACKs of the client's data (its SYN-ACK acknowledges the SYN: the handshake).
        rows = tshark(
            f"tcp.srcport == 5001 && tcp.dstport == {port} && tcp.analysis.ack_rtt && tcp.flags.syn == 0",
            "tcp.analysis.ack_rtt",
        )
        return [ms(row[0]) for row in rows]

    # Stop and wait: every segment is timed by the ACK that covers it.
    assert samples(41001) == [pytest.approx(52.0)]
    for port in (41001, 41002):
        r = tcp(records, port)
        assert (r["rtt_ms"], r["rtt_kind"]) == (pytest.approx(smoothed(samples(port)), abs=0.001), "tcp")
    # Ten segments at once: the first is timed, the others went out while it waited; after the
    # resend nothing new is sent, so its first ACK's round trip is the only one.
    r = tcp(records, 41003)
    assert (r["rtt_ms"], r["rtt_kind"]) == (pytest.approx(samples(41003)[0], abs=0.001), "tcp")
    # A download: the client (the local side) sends no data, so only the handshake is timed.
    r = tcp(records, 41004)
    assert (r["rtt_ms"], r["rtt_kind"]) == (pytest.approx(r["rtt_initial_ms"]), "tcp_handshake")


def test_icmp_dns_stun_are_tsharks(records: dict[tuple[Any, ...], dict[str, Any]]) -> None:
    echo = [float(row[0]) for row in tshark("icmp.resptime", "icmp.resptime")]
    assert len(echo) == 3  # the 4th request went unanswered
    r = records[(CLIENT, 0, SERVER, 0)]
    assert (r["rtt_ms"], r["rtt_kind"]) == (pytest.approx(echo[-1]), "icmp_echo")  # the latest
    dns = tshark("dns.time && udp.port == 53", "dns.time")
    assert records[(CLIENT, 33001, SERVER, 53)]["dns_response_ms"] == pytest.approx(ms(dns[-1][0]), abs=0.001)
    (stun,) = tshark("stun.time", "stun.time")
    assert records[(CLIENT, 50000, SERVER, 3478)]["stun_rtt_ms"] == pytest.approx(ms(stun[0]), abs=0.001)


def test_ntp_llmnr_netbios_from_tsharks_pairing(records: dict[tuple[Any, ...], dict[str, Any]]) -> None:
    (request,) = tshark("ntp.flags.mode == 3", "frame.time_epoch", "ntp.xmt")
    (response,) = tshark("ntp.flags.mode == 4", "frame.time_epoch", "ntp.org")
    assert request[1] == response[1]  # the response echoes the request's transmit time
    took = ms(response[0]) - ms(request[0])
    assert records[(CLIENT, 123, SERVER, 123)]["ntp_rtt_ms"] == pytest.approx(took, abs=0.001)

    rows = tshark("udp.port == 5355", "frame.time_epoch", "ip.src", "dns.id", "dns.flags.response")
    (asked,) = [row for row in rows if row[3] == "0"]
    answers = [row for row in rows if row[3] == "1" and row[2] == asked[2]]
    first = ms(answers[0][0]) - ms(asked[0])
    query = records[(CLIENT, 60000, "224.0.0.252", 5355)]
    assert query["llmnr_response_ms"] == pytest.approx(first, abs=0.001)
    assert records[(answers[0][1], 5355, CLIENT, 60000)]["llmnr_response_ms"] == query["llmnr_response_ms"]
    assert "llmnr_response_ms" not in records[(answers[1][1], 5355, CLIENT, 60000)]  # only the first

    rows = tshark("nbns", "frame.time_epoch", "nbns.id", "nbns.flags.response", "nbns.flags.opcode")
    (asked,) = [row for row in rows if row[2] == "0"]
    final = [row for row in rows if row[2] == "1" and row[1] == asked[1] and row[3] != "7"]  # 7: WACK
    assert len(final) == 1 and len(rows) == 3
    took = ms(final[0][0]) - ms(asked[0])
    assert records[(CLIENT, 137, "10.9.0.255", 137)]["netbios_response_ms"] == pytest.approx(took, abs=0.001)
    assert records[(OTHER, 137, CLIENT, 137)]["netbios_response_ms"] == pytest.approx(took, abs=0.001)


def test_window_and_echo_fields_are_tsharks(records: dict[tuple[Any, ...], dict[str, Any]]) -> None:
    for port in (41001, 41002, 41003):
        # The server's last window as its segments said it (raw: no scaling was negotiated).
        last = tshark(f"tcp.srcport == 5001 && tcp.dstport == {port}", "tcp.window_size_value")[-1][0]
        assert tcp(records, port)["window"] == int(last)
    assert tcp(records, 41002)["window"] == 16384  # after its window update
    ident, seq = tshark("icmp.type == 8 || icmp.type == 0", "icmp.ident", "icmp.seq")[-1]
    r = records[(CLIENT, 0, SERVER, 0)]
    assert (r["echo_id"], r["echo_seq"]) == (int(ident), int(seq))
