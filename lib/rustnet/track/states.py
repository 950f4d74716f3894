"""The closed set of display states a connection record's ``state`` can take.

The tracker's hot path works on plain ints (the enum's values) so a state change
is an integer store; :data:`NAMES` turns a value into the text the record carries.
Every value a record's ``state`` field can hold is a member here.

TCP members double as the per-endpoint states of :mod:`rustnet.track.tcp_state`
(``NONE`` is an endpoint nothing has been seen of yet, RFC 793's LISTEN/CLOSED
before the first segment; it is never displayed).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final


class State(IntEnum):
    # --- TCP (one endpoint's state, RFC 9293 names) ---
    NONE = 0
    SYN_SENT = 1
    SYN_RECV = 2
    ESTABLISHED = 3
    FIN_WAIT1 = 4
    FIN_WAIT2 = 5
    CLOSING = 6
    TIME_WAIT = 7
    CLOSE_WAIT = 8
    LAST_ACK = 9
    CLOSED = 10
    # --- QUIC (from rn-dissect's hints, see rustnet.track.table) ---
    QUIC_INITIAL = 20
    QUIC_HANDSHAKE = 21
    QUIC_CONNECTED = 22
    QUIC_DRAINING = 23
    QUIC_CLOSED = 24
    # --- DNS over UDP (and mDNS/LLMNR) ---
    DNS_QUERY = 30
    DNS_RESPONSE = 31
    # --- other UDP: by idle time, computed when a record is written ---
    UDP_ACTIVE = 40
    UDP_IDLE = 41
    UDP_STALE = 42
    # --- ICMP / ICMPv6: the type of the latest message ---
    ECHO_REQUEST = 50
    ECHO_REPLY = 51
    ICMP_UNREACHABLE = 52
    ICMP_TIME_EXCEEDED = 53
    ICMP_OTHER = 54
    # --- ARP: the opcode of the latest message ---
    ARP_REQUEST = 60
    ARP_REPLY = 61
    # --- other IP protocols (GRE, ESP, IGMP, SCTP, ...): by idle time like UDP ---
    ACTIVE = 70
    IDLE = 71
    STALE = 72


# NONE is shown as CLOSED: an endpoint never seen sending or receiving a segment.
NAMES: Final[dict[int, str]] = {s.value: s.name for s in State} | {State.NONE.value: "CLOSED"}

TCP_STATES: Final = frozenset(range(State.NONE, State.CLOSED + 1))

# The names a record's ``state`` shows for a connection that is over: TCP with an endpoint in TIME_WAIT
# or CLOSED (NONE reads CLOSED too), DNS answered (nothing moves it on from there). rn-track writes no
# "rate fell to 0" update for one, and readers take its rates as 0 once rustnet.track.rates.WINDOW has
# passed since its last_seen.
ENDED_NAMES: Final = frozenset({"TIME_WAIT", "CLOSED", "DNS_RESPONSE"})
