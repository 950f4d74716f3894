"""How long a quiet connection stays in the live table: one table, overridable.

Every timeout is seconds of *packet time* without a packet on the connection
(live captures also advance time while nothing arrives). The keys name what they
apply to; ``--timeout NAME=SECONDS`` and ``--timeouts FILE`` override any of them.

RustNet's values (its README): TCP closed 5 s, QUIC draining 10 s, SSH 30 min,
DNS 30 s, established TCP 5 min, QUIC after a CONNECTION_CLOSE 1-10 s. The rest
are ours and chosen so a flood of half-open or one-packet flows drains quickly.

Activity-based adjustment: a connection that has been busy for long (at least
``adjust.busy_packets`` packets and ``adjust.long_lived`` seconds old) keeps
``adjust.busy_factor`` times its timeout; one that never got past a single packet
(a lone SYN, an unanswered probe) keeps ``adjust.single_factor`` times it. Closing
and closed states are never stretched: they are over.

The config file (``--timeouts FILE``) is TOML: keys at top level or under
``[timeouts]``, dotted names quoted or as nested tables::

    [timeouts]
    "tcp.established" = 600
    dns = 10
    [timeouts.quic]
    draining = 5
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Final

from rustnet.track.states import State

DEFAULT_TIMEOUTS: Final[dict[str, float]] = {
    "tcp.handshake": 30.0,  # SYN_SENT / SYN_RECV: half-open
    "tcp.established": 300.0,  # RustNet: established TCP 5 min
    "tcp.closing": 60.0,  # FIN_WAIT1/2, CLOSE_WAIT, LAST_ACK, CLOSING: one side still open
    "tcp.closed": 5.0,  # RustNet: TCP closed 5 s (CLOSED, TIME_WAIT, after RST)
    "ssh": 1800.0,  # RustNet: SSH 30 min (app SSH, TCP open)
    "udp": 60.0,
    "dns": 30.0,  # RustNet: DNS 30 s (DNS/mDNS/LLMNR over UDP)
    "quic.handshake": 30.0,  # QUIC_INITIAL / QUIC_HANDSHAKE
    "quic.connected": 300.0,
    "quic.draining": 10.0,  # RustNet: QUIC draining 10 s
    "quic.close_min": 1.0,  # RustNet: QUIC with close frames 1-10 s: 3 x RTT clamped to this range
    "quic.close_max": 10.0,
    "icmp": 30.0,
    "arp": 30.0,
    "other": 60.0,  # other IP protocols
    "udp.idle_after": 10.0,  # UDP_ACTIVE until this many seconds idle, then UDP_IDLE
    "udp.stale_fraction": 0.75,  # UDP_STALE once idle for this fraction of the timeout
    "adjust.busy_packets": 1000.0,
    "adjust.long_lived": 60.0,
    "adjust.busy_factor": 2.0,
    "adjust.single_factor": 0.5,
}

# Timeout classes, the index into Timeouts.by_class (plain ints for the hot path).
C_TCP_HANDSHAKE: Final = 0
C_TCP_ESTABLISHED: Final = 1
C_TCP_CLOSING: Final = 2
C_TCP_CLOSED: Final = 3
C_SSH: Final = 4
C_UDP: Final = 5
C_DNS: Final = 6
C_QUIC_HANDSHAKE: Final = 7
C_QUIC_CONNECTED: Final = 8
C_QUIC_DRAINING: Final = 9
C_QUIC_CLOSED: Final = 10
C_ICMP: Final = 11
C_ARP: Final = 12
C_OTHER: Final = 13
_CLASS_KEYS: Final = (
    "tcp.handshake",
    "tcp.established",
    "tcp.closing",
    "tcp.closed",
    "ssh",
    "udp",
    "dns",
    "quic.handshake",
    "quic.connected",
    "quic.draining",
    "quic.close_max",
    "icmp",
    "arp",
    "other",
)
# Classes an activity adjustment never stretches (the connection is ending or over).
_FIXED: Final = frozenset({C_TCP_CLOSING, C_TCP_CLOSED, C_QUIC_DRAINING, C_QUIC_CLOSED})

_TCP_CLASS: Final[dict[int, int]] = {
    State.NONE: C_TCP_HANDSHAKE,
    State.SYN_SENT: C_TCP_HANDSHAKE,
    State.SYN_RECV: C_TCP_HANDSHAKE,
    State.ESTABLISHED: C_TCP_ESTABLISHED,
    State.FIN_WAIT1: C_TCP_CLOSING,
    State.FIN_WAIT2: C_TCP_CLOSING,
    State.CLOSING: C_TCP_CLOSING,
    State.CLOSE_WAIT: C_TCP_CLOSING,
    State.LAST_ACK: C_TCP_CLOSING,
    State.TIME_WAIT: C_TCP_CLOSED,
    State.CLOSED: C_TCP_CLOSED,
}
_OTHER_CLASS: Final[dict[int, int]] = {
    State.QUIC_INITIAL: C_QUIC_HANDSHAKE,
    State.QUIC_HANDSHAKE: C_QUIC_HANDSHAKE,
    State.QUIC_CONNECTED: C_QUIC_CONNECTED,
    State.QUIC_DRAINING: C_QUIC_DRAINING,
    State.QUIC_CLOSED: C_QUIC_CLOSED,
    State.DNS_QUERY: C_DNS,
    State.DNS_RESPONSE: C_DNS,
    State.UDP_ACTIVE: C_UDP,
    State.UDP_IDLE: C_UDP,
    State.UDP_STALE: C_UDP,
    State.ECHO_REQUEST: C_ICMP,
    State.ECHO_REPLY: C_ICMP,
    State.ICMP_UNREACHABLE: C_ICMP,
    State.ICMP_TIME_EXCEEDED: C_ICMP,
    State.ICMP_OTHER: C_ICMP,
    State.ARP_REQUEST: C_ARP,
    State.ARP_REPLY: C_ARP,
    State.ACTIVE: C_OTHER,
    State.IDLE: C_OTHER,
    State.STALE: C_OTHER,
}


def timeout_class(state: int, ssh: bool) -> int:
    """The timeout class of a connection in display/endpoint ``state`` (``ssh``: app is SSH)."""
    c = _TCP_CLASS.get(state)
    if c is not None:
        return C_SSH if ssh and c in (C_TCP_HANDSHAKE, C_TCP_ESTABLISHED) else c
    return _OTHER_CLASS.get(state, C_OTHER)


# The same as a tuple indexed by state, for the tracker (no SSH case: it checks that itself).
CLASS_OF_STATE: Final = tuple(timeout_class(s, False) for s in range(max(State) + 1))


class TimeoutConfigError(ValueError):
    """A bad name or value in a timeout override (reported as a usage error)."""


class Timeouts:
    """The effective table: defaults with overrides applied, pre-indexed for the tracker."""

    def __init__(self, overrides: Mapping[str, float] | None = None) -> None:
        self.values: dict[str, float] = dict(DEFAULT_TIMEOUTS)
        for name, value in (overrides or {}).items():
            self.set(name, value)

    def set(self, name: str, value: Any) -> None:
        if name not in self.values:
            raise TimeoutConfigError(f"unknown timeout {name!r} (known: {', '.join(sorted(self.values))})")
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise TimeoutConfigError(f"timeout {name}: {value!r} is not a number") from None
        if not math.isfinite(v) or v < 0:
            raise TimeoutConfigError(f"timeout {name}: {value!r} must be a finite number >= 0")
        self.values[name] = v

    @property
    def by_class(self) -> tuple[float, ...]:
        return tuple(self.values[k] for k in _CLASS_KEYS)

    def quic_close(self, rtt: float) -> float:
        """How long a QUIC connection lingers after a CONNECTION_CLOSE: 3 x RTT (RFC 9000 §10.2)
        clamped to ``quic.close_min``..``quic.close_max``; the maximum when the RTT is unknown."""
        lo, hi = self.values["quic.close_min"], self.values["quic.close_max"]
        if rtt <= 0:
            return hi
        return min(hi, max(lo, 3.0 * rtt))

    def timeout(self, cls: int, packets: int, age: float, rtt: float = -1.0) -> float:
        """Seconds of quiet after which a connection of class ``cls`` expires."""
        if cls == C_QUIC_CLOSED:
            return self.quic_close(rtt)
        base = self.values[_CLASS_KEYS[cls]]
        if cls in _FIXED:
            return base
        v = self.values
        if packets <= 1:
            return base * v["adjust.single_factor"]
        if packets >= v["adjust.busy_packets"] and age >= v["adjust.long_lived"]:
            return base * v["adjust.busy_factor"]
        return base

    def by_activity(self) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
        """:meth:`timeout` pre-multiplied, for the tracker's hot path: per class, the timeout of a
        connection of one packet, of an ordinary one, and of a busy long-lived one. That is,
        ``timeout(cls, n, age)`` is ``single[cls]`` when n <= 1, ``busy[cls]`` when
        n >= adjust.busy_packets and age >= adjust.long_lived, else ``base[cls]``: the same
        products, so the same floats. Not for C_QUIC_CLOSED, which depends on the RTT."""
        v = self.values
        single, base, busy = [], [], []
        for cls, key in enumerate(_CLASS_KEYS):
            b = v[key]
            base.append(b)
            single.append(b if cls in _FIXED else b * v["adjust.single_factor"])
            busy.append(b if cls in _FIXED else b * v["adjust.busy_factor"])
        return tuple(single), tuple(base), tuple(busy)

    # --- overrides ------------------------------------------------------------
    def apply_args(self, items: Iterable[str]) -> None:
        """``NAME=SECONDS`` strings from the command line."""
        for item in items:
            name, sep, value = item.partition("=")
            if not sep:
                raise TimeoutConfigError(f"--timeout {item!r}: expected NAME=SECONDS")
            self.set(name.strip(), value.strip())

    def apply_file(self, path: str) -> None:
        """A TOML file of overrides (see the module docstring)."""
        import tomllib  # here: only --timeouts FILE needs it (~2 ms of every start otherwise)

        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except OSError as exc:
            raise TimeoutConfigError(f"{path}: {exc.strerror or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise TimeoutConfigError(f"{path}: not valid TOML: {exc}") from None
        table = data.get("timeouts", data)
        if not isinstance(table, dict):
            raise TimeoutConfigError(f"{path}: [timeouts] must be a table")
        for name, value in _flatten(table):
            self.set(name, value)


def _flatten(table: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for k, v in table.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out.extend(_flatten(v, name + "."))
        else:
            out.append((name, v))
    return out
