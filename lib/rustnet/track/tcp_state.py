"""TCP state machine of both endpoints, driven only by segments a monitor observes.

A capture point sees each segment once, as *sent* by one endpoint and *received*
by the other, so every segment is two events: one for the sender, one for the
receiver. Each endpoint moves through RFC 9293's states from those events; the
table below is the whole machine (a missing entry means "no change").

Order of events for one segment: RST closes both ends; otherwise SYN (or SYN-ACK),
then the ACK part, then FIN, so a FIN+ACK that acknowledges the receiver's own FIN
takes FIN_WAIT1 through FIN_WAIT2 to TIME_WAIT in one segment.

Mid-stream pickup: an endpoint in ``NONE`` (nothing seen yet) that sends or
receives a plain segment is ESTABLISHED; one that sends a FIN is FIN_WAIT1, one
that receives it CLOSE_WAIT. A lone SYN-ACK leaves its sender in SYN_RECV and the
receiver ESTABLISHED.

Which endpoint's state a record shows is the caller's choice: the local side when
the capture is live and the host's addresses identify it, otherwise the
originator's (:mod:`rustnet.track.table`). A pcap from elsewhere therefore reads as
seen from the client: SYN_SENT, ESTABLISHED, then FIN_WAIT1/FIN_WAIT2/TIME_WAIT when
the client closes first, or CLOSE_WAIT/LAST_ACK/CLOSED when the server does.
"""

from __future__ import annotations

from typing import Final

from rustnet.track.states import State

FIN: Final = 0x01
SYN: Final = 0x02
RST: Final = 0x04
ACK: Final = 0x10
STEP_FLAGS: Final = FIN | SYN | RST | ACK  # the flags a segment's step depends on (not PSH, URG, ...)

# Events an endpoint experiences; S_ = it sent the segment, R_ = it received it.
S_SYN: Final = 0
R_SYN: Final = 1
S_SYNACK: Final = 2
R_SYNACK: Final = 3
S_ACK: Final = 4
R_ACK: Final = 5  # an ACK that does not cover the receiver's FIN (or it sent none)
R_ACKFIN: Final = 6  # an ACK covering the receiver's FIN
S_FIN: Final = 7
R_FIN: Final = 8

EVENT_NAMES: Final = (
    "S_SYN",
    "R_SYN",
    "S_SYNACK",
    "R_SYNACK",
    "S_ACK",
    "R_ACK",
    "R_ACKFIN",
    "S_FIN",
    "R_FIN",
)

# Plain ints: the tracker stores these in every connection.
_N, _SS, _SR, _E = int(State.NONE), int(State.SYN_SENT), int(State.SYN_RECV), int(State.ESTABLISHED)
_FW1, _FW2, _CG, _TW = int(State.FIN_WAIT1), int(State.FIN_WAIT2), int(State.CLOSING), int(State.TIME_WAIT)
_CW, _LA, _C = int(State.CLOSE_WAIT), int(State.LAST_ACK), int(State.CLOSED)

# (state, event) -> next state. Anything absent keeps the state (retransmissions,
# duplicate ACKs, segments that make no sense in that state).
TRANSITIONS: Final[dict[tuple[int, int], int]] = {
    # nothing seen yet: opening, or picked up mid-stream
    (_N, S_SYN): _SS,
    (_N, R_SYN): _SR,
    (_N, S_SYNACK): _SR,
    (_N, R_SYNACK): _E,
    (_N, S_ACK): _E,
    (_N, R_ACK): _E,
    (_N, R_ACKFIN): _E,
    (_N, S_FIN): _FW1,
    (_N, R_FIN): _CW,
    # active open
    (_SS, R_SYNACK): _E,
    (_SS, R_SYN): _SR,  # simultaneous open
    (_SS, S_SYNACK): _SR,  # simultaneous open: answering the peer's SYN
    (_SS, S_FIN): _FW1,
    (_SS, R_FIN): _CW,
    # passive open
    (_SR, R_ACK): _E,
    (_SR, R_ACKFIN): _E,
    (_SR, R_SYNACK): _E,  # simultaneous open completes
    (_SR, S_FIN): _FW1,
    (_SR, R_FIN): _CW,
    # data transfer
    (_E, S_FIN): _FW1,
    (_E, R_FIN): _CW,
    # active close
    (_FW1, R_ACKFIN): _FW2,
    (_FW1, R_FIN): _CG,  # simultaneous close: the peer's FIN crossed ours
    (_FW2, R_FIN): _TW,
    (_CG, R_ACKFIN): _TW,
    # passive close
    (_CW, S_FIN): _LA,
    (_LA, R_ACKFIN): _C,
}


def step(state: int, event: int) -> int:
    """One endpoint's next state."""
    return TRANSITIONS.get((state, event), state)


def segment(orig: int, resp: int, flags: int, from_orig: bool, acks_receiver_fin: bool) -> tuple[int, int]:
    """Both endpoints' states after one observed segment.

    ``orig``/``resp`` are the originator's and responder's states, ``from_orig`` says
    who sent the segment, ``acks_receiver_fin`` whether its acknowledgement number
    covers a FIN the receiver sent earlier (the caller tracks sequence numbers).
    """
    if flags & RST:
        return _C, _C
    tx, rx = (orig, resp) if from_orig else (resp, orig)
    tbl = TRANSITIONS
    if flags & SYN:
        if flags & ACK:
            tx = tbl.get((tx, S_SYNACK), tx)
            rx = tbl.get((rx, R_SYNACK), rx)
        else:
            tx = tbl.get((tx, S_SYN), tx)
            rx = tbl.get((rx, R_SYN), rx)
    elif flags & ACK:
        tx = tbl.get((tx, S_ACK), tx)
        rx = tbl.get((rx, R_ACKFIN if acks_receiver_fin else R_ACK), rx)
    elif not flags & FIN:
        # No ACK, SYN, FIN or RST (a null or odd segment): only a mid-stream pickup learns from it.
        tx = tbl.get((tx, S_ACK), tx) if tx == _N else tx
        rx = tbl.get((rx, R_ACK), rx) if rx == _N else rx
    if flags & FIN:
        tx = tbl.get((tx, S_FIN), tx)
        rx = tbl.get((rx, R_FIN), rx)
    return (tx, rx) if from_orig else (rx, tx)


# Endpoint states in which a plain ACK can still change something, so the tracker must
# run the machine for every segment, not only for SYN/FIN/RST ones.
ACK_SENSITIVE: Final = frozenset({_N, _SR, _FW1, _CG, _LA})

# A SYN in these states starts a new generation of the tuple (port reuse).
REUSABLE: Final = frozenset({_TW, _C})


# --- the same machine as one lookup, for the tracker's hot path -------------------------
# segment() costs several calls and tuple lookups per segment; the tracker instead looks up the
# segment's key (below) in STEP, filled from segment() itself on first use (a table of every
# combination would cost milliseconds at start-up; a few hundred ever occur).
# Only the FIN, SYN, RST and ACK bits take part (STEP_FLAGS); TCP endpoint states are 0..10.
# The key of one segment (rustnet.track.table computes it inline, in its hot path):
#     ((((orig * N_STATES + resp) << 5) | (flags & STEP_FLAGS)) << 2) | (from_orig << 1) | acks_receiver_fin
N_STATES: Final = _C + 1


def step_entry(index: int) -> tuple[int, int, bool]:
    """STEP[index], computed by segment() and remembered."""
    entry = STEP.get(index)
    if entry is None:
        orig, resp = divmod(index >> 7, N_STATES)
        flags = (index >> 2) & 0x1F
        so, sr = segment(orig, resp, flags, bool(index & 2), bool(index & 1))
        entry = STEP[index] = (so, sr, so in ACK_SENSITIVE or sr in ACK_SENSITIVE)
    return entry


# A segment's key -> (originator's next state, responder's next state, whether a plain ACK can
# still change either: the tracker's ``watch``). Filled by step_entry().
STEP: Final[dict[int, tuple[int, int, bool]]] = {}
