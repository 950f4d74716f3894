"""Whether a UDP datagram opens like QUIC: the cheap test the inspector runs on unknown flows.

Kept apart from :mod:`rustnet.dissect.quic` so that rn-dissect imports the QUIC machinery
(and its hashing and crypto libraries) only once a flow looks like QUIC.
"""

from __future__ import annotations

from typing import Final

VERSION_1: Final = 0x00000001
VERSION_2: Final = 0x6B3343CF
MAX_CID: Final = 20


def _version_is_plausible(version: int) -> bool:
    """Versions seen in the wild: v1, v2, IETF drafts, greased, vendor (mvfst, gQUIC)."""
    return (
        version in (VERSION_1, VERSION_2)
        or (version & 0xFFFFFF00) == 0xFF000000  # IETF drafts
        or (version & 0x0F0F0F0F) == 0x0A0A0A0A  # reserved, RFC 9000 §15
        or (version & 0xFFFFFF00) == 0xFACEB000  # mvfst
        or (version & 0xFFFF0000) in (0x51300000, 0x54300000)  # gQUIC Q0xx / T0xx
        or version == 0x709A50C4
    )  # v2 draft


def looks_like_quic(payload: bytes | memoryview) -> bool:
    """Cheap test: a QUIC long-header packet (or Version Negotiation) starts the datagram."""
    n = len(payload)
    if n < 7:
        return False
    b0 = payload[0]
    if not b0 & 0x80:
        return False
    version = int.from_bytes(payload[1:5], "big")
    dcid_len = payload[5]
    if 6 + dcid_len >= n:
        return False
    scid_len = payload[6 + dcid_len]
    rest = n - (7 + dcid_len + scid_len)
    if version == 0:
        return rest >= 4 and rest % 4 == 0
    if not b0 & 0x40 or rest < 0:
        return False
    if dcid_len > MAX_CID or scid_len > MAX_CID:
        return False
    # An unknown version is only believed for a full-size client Initial.
    return _version_is_plausible(version) or ((b0 & 0x30) == 0 and n >= 1200)
