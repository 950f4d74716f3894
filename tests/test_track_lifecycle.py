"""The timeout table: seed values, classes, activity adjustment, overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
from rustnet.track import lifecycle as lc
from rustnet.track.lifecycle import TimeoutConfigError, Timeouts, timeout_class
from rustnet.track.states import State


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
