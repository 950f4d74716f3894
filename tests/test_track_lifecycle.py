"""The timeout table: seed values, classes, activity adjustment, overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
from rustnet.track import lifecycle as lc
from rustnet.track.lifecycle import DEFAULT_TIMEOUTS, TimeoutConfigError, Timeouts, timeout_class
from rustnet.track.states import State
from rustnet.track.table import SWEEP_EVERY, Tracker

from tests.track_util import ACK, RST, SYN, A, B, C, header, tcp, udp


def test_seed_values() -> None:
    t = Timeouts()
    assert t.timeout(lc.C_TCP_CLOSED, 10, 1.0) == 5.0
    assert t.timeout(lc.C_QUIC_DRAINING, 10, 1.0) == 10.0
    assert t.timeout(lc.C_SSH, 10, 1.0) == 1800.0
    assert t.timeout(lc.C_DNS, 2, 0.1) == 30.0
    assert t.timeout(lc.C_TCP_ESTABLISHED, 10, 1.0) == 300.0
    # QUIC after a CONNECTION_CLOSE: 3 x RTT within 1-10 s.
    assert t.timeout(lc.C_QUIC_CLOSED, 10, 1.0, rtt=0.05) == 1.0
    assert t.timeout(lc.C_QUIC_CLOSED, 10, 1.0, rtt=1.0) == 3.0
    assert t.timeout(lc.C_QUIC_CLOSED, 10, 1.0, rtt=9.0) == 10.0
    assert t.timeout(lc.C_QUIC_CLOSED, 10, 1.0) == 10.0  # RTT unknown


@pytest.mark.parametrize(
    ("state", "ssh", "cls"),
    [
        (State.SYN_SENT, False, lc.C_TCP_HANDSHAKE),
        (State.ESTABLISHED, False, lc.C_TCP_ESTABLISHED),
        (State.ESTABLISHED, True, lc.C_SSH),
        (State.FIN_WAIT2, True, lc.C_TCP_CLOSING),
        (State.CLOSE_WAIT, False, lc.C_TCP_CLOSING),
        (State.TIME_WAIT, False, lc.C_TCP_CLOSED),
        (State.CLOSED, True, lc.C_TCP_CLOSED),
        (State.QUIC_CONNECTED, False, lc.C_QUIC_CONNECTED),
        (State.QUIC_DRAINING, False, lc.C_QUIC_DRAINING),
        (State.DNS_QUERY, False, lc.C_DNS),
        (State.UDP_IDLE, False, lc.C_UDP),
        (State.ECHO_REPLY, False, lc.C_ICMP),
        (State.ARP_REPLY, False, lc.C_ARP),
        (State.ACTIVE, False, lc.C_OTHER),
    ],
)
def test_classes(state: State, ssh: bool, cls: int) -> None:
    assert timeout_class(state, ssh) == cls
    if not ssh:
        assert lc.CLASS_OF_STATE[state] == cls


def test_activity_adjustment() -> None:
    t = Timeouts()
    base = t.timeout(lc.C_TCP_ESTABLISHED, 50, 30.0)
    assert t.timeout(lc.C_TCP_ESTABLISHED, 5000, 600.0) == 2 * base  # long-lived and busy
    assert t.timeout(lc.C_TCP_ESTABLISHED, 5000, 10.0) == base  # busy but young
    assert t.timeout(lc.C_TCP_HANDSHAKE, 1, 0.0) == 15.0  # a lone SYN
    # Ending states are never stretched or shortened.
    assert t.timeout(lc.C_TCP_CLOSED, 5000, 600.0) == 5.0
    assert t.timeout(lc.C_TCP_CLOSED, 1, 0.0) == 5.0


def test_overrides_from_args_and_file(tmp_path: Path) -> None:
    f = tmp_path / "t.toml"
    f.write_text('[timeouts]\n"tcp.established" = 600\ndns = 10\n[timeouts.quic]\ndraining = 5\n')
    t = Timeouts()
    t.apply_file(str(f))
    t.apply_args(["tcp.closed=2.5", " udp = 7 "])
    assert t.timeout(lc.C_TCP_ESTABLISHED, 10, 1.0) == 600.0
    assert t.timeout(lc.C_DNS, 10, 1.0) == 10.0
    assert t.timeout(lc.C_QUIC_DRAINING, 10, 1.0) == 5.0
    assert t.timeout(lc.C_TCP_CLOSED, 10, 1.0) == 2.5
    assert t.timeout(lc.C_UDP, 10, 1.0) == 7.0
    top = tmp_path / "top.toml"
    top.write_text("ssh = 60\n")
    t.apply_file(str(top))
    assert t.timeout(lc.C_SSH, 10, 1.0) == 60.0


@pytest.mark.parametrize(
    "item", ["nosuch=1", "tcp.closed", "tcp.closed=abc", "tcp.closed=-1", "udp=inf", "udp=nan"]
)
def test_bad_overrides(item: str) -> None:
    with pytest.raises(TimeoutConfigError):
        Timeouts().apply_args([item])


def test_bad_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("tcp = [1, 2\n")
    with pytest.raises(TimeoutConfigError, match="not valid TOML"):
        Timeouts().apply_file(str(bad))
    with pytest.raises(TimeoutConfigError):
        Timeouts().apply_file(str(tmp_path / "missing.toml"))
    wrong = tmp_path / "wrong.toml"
    wrong.write_text('timeouts = "x"\n')
    with pytest.raises(TimeoutConfigError):
        Timeouts().apply_file(str(wrong))


def _closed_for(data_packets: int, spacing: float) -> float:  # data_packets < 0: a lone RST
    """Seconds from an RST to the connection's final record, through the tracker, for a
    connection of ``data_packets`` packets (a clock flow moves packet time in 0.1 s steps)."""
    t = Tracker()
    t.process([header()])
    pk = [
        tcp(100.0, A, 40000, B, 80, SYN),
        tcp(100.01, B, 80, A, 40000, SYN | ACK),
        tcp(100.02, A, 40000, B, 80, ACK),
    ]
    pk += [tcp(100.1 + i * spacing, A, 40000, B, 80, ACK, paylen=100) for i in range(data_packets)]
    end = 100.1 + data_packets * spacing
    pk.append(tcp(end, A, 40000, B, 80, RST))
    t.process(pk)
    for step in range(1, 300):
        recs = t.process([udp(end + step / 10, C, 9, B, 9)])
        if any(isinstance(r, dict) and r.get("sport") == 40000 and r.get("final") for r in recs):
            return step / 10
    raise AssertionError("never removed")


@pytest.mark.parametrize(
    ("data_packets", "spacing"),
    # a lone RST (one packet); a bare handshake; a short one; busy and long-lived (66 s)
    [(-1, 0.0), (0, 0.0), (10, 0.01), (1100, 0.06)],
)
def test_closed_tcp_leaves_after_the_fixed_closed_timeout(data_packets: int, spacing: float) -> None:
    """RustNet: a closed TCP connection stays 5 s, however busy or short it was (the activity
    factors, 2x and 0.5x, are not applied to an ended connection). Expiry is checked once a second
    of packet time (SWEEP_EVERY) for whole-second buckets, so it leaves within two seconds after
    the 5 s: never the 2.5 s or 10 s an adjusted timeout would give."""
    gone = _closed_for(data_packets, spacing)
    closed = DEFAULT_TIMEOUTS["tcp.closed"]
    assert closed <= gone <= closed + 2 * SWEEP_EVERY + 0.11
