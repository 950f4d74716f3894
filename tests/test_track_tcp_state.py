"""The TCP transition table, driven by literal flag sequences from both sides."""

from __future__ import annotations

import pytest
from rustnet.track.states import NAMES
from rustnet.track.tcp_state import TRANSITIONS, segment

F, S, R, A = 0x01, 0x02, 0x04, 0x10
ORIG, PEER = True, False  # sent by the originator / by the peer (responder)


def run(steps: list[tuple[bool, int, bool]]) -> list[tuple[str, str]]:
    """Feed (from_orig, flags, acks_receiver_fin) segments; both states (names) after each."""
    so = sr = 0
    out = []
    for from_orig, flags, acks_fin in steps:
        so, sr = segment(so, sr, flags, from_orig, acks_fin)
        out.append((NAMES[so], NAMES[sr]))
    return out


def test_handshake_then_client_closes_first() -> None:
    assert run(
        [
            (ORIG, S, False),
            (PEER, S | A, False),
            (ORIG, A, False),
            (ORIG, A, False),
            (PEER, A, False),  # data
            (ORIG, F | A, False),
            (PEER, A, True),
            (PEER, F | A, True),
            (ORIG, A, True),
        ]
    ) == [
        ("SYN_SENT", "SYN_RECV"),
        ("ESTABLISHED", "SYN_RECV"),
        ("ESTABLISHED", "ESTABLISHED"),
        ("ESTABLISHED", "ESTABLISHED"),
        ("ESTABLISHED", "ESTABLISHED"),
        ("FIN_WAIT1", "CLOSE_WAIT"),
        ("FIN_WAIT2", "CLOSE_WAIT"),
        ("TIME_WAIT", "LAST_ACK"),
        ("TIME_WAIT", "CLOSED"),
    ]


def test_server_closes_first() -> None:
    assert run(
        [
            (ORIG, S, False),
            (PEER, S | A, False),
            (ORIG, A, False),
            (PEER, F | A, False),
            (ORIG, A, True),
            (ORIG, F | A, True),
            (PEER, A, True),
        ]
    )[3:] == [
        ("CLOSE_WAIT", "FIN_WAIT1"),
        ("CLOSE_WAIT", "FIN_WAIT2"),
        ("LAST_ACK", "TIME_WAIT"),
        ("CLOSED", "TIME_WAIT"),
    ]


def test_fin_ack_that_acknowledges_our_fin_goes_straight_to_time_wait() -> None:
    assert run(
        [
            (ORIG, S, False),
            (PEER, S | A, False),
            (ORIG, A, False),
            (ORIG, F | A, False),
            (PEER, F | A, True),
            (ORIG, A, True),
        ]
    )[-2:] == [("TIME_WAIT", "LAST_ACK"), ("TIME_WAIT", "CLOSED")]


def test_simultaneous_close() -> None:
    # Both FINs cross on the wire: neither acknowledges the other's FIN.
    assert run(
        [
            (ORIG, S, False),
            (PEER, S | A, False),
            (ORIG, A, False),
            (ORIG, F | A, False),
            (PEER, F | A, False),
            (ORIG, A, True),
            (PEER, A, True),
        ]
    )[3:] == [
        ("FIN_WAIT1", "CLOSE_WAIT"),
        ("CLOSING", "LAST_ACK"),
        ("CLOSING", "CLOSED"),
        ("TIME_WAIT", "CLOSED"),
    ]


def test_simultaneous_open() -> None:
    assert run([(ORIG, S, False), (PEER, S, False), (ORIG, S | A, False), (PEER, S | A, False)]) == [
        ("SYN_SENT", "SYN_RECV"),
        ("SYN_RECV", "SYN_RECV"),
        ("SYN_RECV", "ESTABLISHED"),
        ("ESTABLISHED", "ESTABLISHED"),
    ]


@pytest.mark.parametrize("prefix", [0, 1, 3, 4])
@pytest.mark.parametrize("rst_from", [ORIG, PEER])
def test_rst_closes_both_ends_at_any_point(prefix: int, rst_from: bool) -> None:
    opening = [(ORIG, S, False), (PEER, S | A, False), (ORIG, A, False), (ORIG, F | A, False)]
    states = run(opening[:prefix] + [(rst_from, R | A, False)])
    assert states[-1] == ("CLOSED", "CLOSED")


def test_rst_answering_a_syn() -> None:
    assert run([(ORIG, S, False), (PEER, R | A, False)]) == [("SYN_SENT", "SYN_RECV"), ("CLOSED", "CLOSED")]


def test_midstream_pickup() -> None:
    assert run([(ORIG, A, False), (PEER, A, False)]) == [("ESTABLISHED", "ESTABLISHED")] * 2
    assert run([(ORIG, F | A, False), (PEER, A, True)]) == [
        ("FIN_WAIT1", "CLOSE_WAIT"),
        ("FIN_WAIT2", "CLOSE_WAIT"),
    ]
    # A capture that starts at the responder's FIN (the originator is its receiver here).
    assert run([(PEER, F | A, False)]) == [("CLOSE_WAIT", "FIN_WAIT1")]


def test_lone_syn_ack_first() -> None:
    # The tracker makes the SYN-ACK's receiver the originator.
    assert run([(PEER, S | A, False), (ORIG, A, False)]) == [
        ("ESTABLISHED", "SYN_RECV"),
        ("ESTABLISHED", "ESTABLISHED"),
    ]


def test_retransmissions_and_duplicate_acks_change_nothing() -> None:
    states = run(
        [
            (ORIG, S, False),
            (ORIG, S, False),
            (PEER, S | A, False),
            (PEER, S | A, False),
            (ORIG, A, False),
            (ORIG, A, False),
            (ORIG, F | A, False),
            (ORIG, F | A, False),
            (PEER, A, False),
        ]
    )
    assert states[1] == ("SYN_SENT", "SYN_RECV")
    assert states[3] == ("ESTABLISHED", "SYN_RECV")
    # An ACK that does not cover the FIN (data sent before the FIN arrived) keeps FIN_WAIT1.
    assert states[-1] == ("FIN_WAIT1", "CLOSE_WAIT")


def test_table_only_names_known_states() -> None:
    for (state, event), nxt in TRANSITIONS.items():
        assert state in NAMES and nxt in NAMES and 0 <= event <= 8


# Segments a monitor does see, in states the common paths above do not reach. Each expected
# pair follows RFC 9293 §3.3.2 for the endpoint that sent or received the segment.
@pytest.mark.parametrize(
    ("steps", "states"),
    [
        # Null and PSH-only segments (no SYN, ACK, FIN, RST): only an endpoint in NONE learns.
        ([(ORIG, 0, False)], ("ESTABLISHED", "ESTABLISHED")),
        ([(ORIG, 0x08, False)], ("ESTABLISHED", "ESTABLISHED")),
        ([(ORIG, S, False), (ORIG, 0, False)], ("SYN_SENT", "SYN_RECV")),
        # After a SYN, the client's own ACK (the SYN-ACK was not captured) opens nothing for it.
        ([(ORIG, S, False), (ORIG, A, False)], ("SYN_SENT", "ESTABLISHED")),
        # A lone SYN-ACK's sender sending data stays SYN_RECV until it is acknowledged.
        ([(PEER, S | A, False), (PEER, A, False)], ("ESTABLISHED", "SYN_RECV")),
        # Mid-stream pickup at a FIN without ACK.
        ([(ORIG, F, False)], ("FIN_WAIT1", "CLOSE_WAIT")),
        ([(PEER, F, False)], ("CLOSE_WAIT", "FIN_WAIT1")),
        # SYN_SENT sends a SYN-ACK (the peer's crossing SYN not captured): simultaneous open.
        ([(ORIG, S, False), (ORIG, S | A, False)], ("SYN_RECV", "ESTABLISHED")),
        # A half-open connection closed from either side.
        ([(ORIG, S, False), (ORIG, F | A, False)], ("FIN_WAIT1", "CLOSE_WAIT")),
        ([(ORIG, S, False), (PEER, F | A, False)], ("CLOSE_WAIT", "FIN_WAIT1")),
        ([(ORIG, S, False), (PEER, S | A, False), (PEER, F | A, False)], ("CLOSE_WAIT", "FIN_WAIT1")),
        ([(ORIG, S, False), (PEER, S | A, False), (ORIG, F, False)], ("FIN_WAIT1", "CLOSE_WAIT")),
        # SYN+FIN together (a scan): the SYN first, then the FIN.
        ([(ORIG, S | F, False)], ("FIN_WAIT1", "CLOSE_WAIT")),
    ],
)
def test_less_common_segments(steps: list[tuple[bool, int, bool]], states: tuple[str, str]) -> None:
    assert run(steps)[-1] == states
