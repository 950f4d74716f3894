"""QUIC Initial packet protection: keys anyone can derive, so an observer can read Initials.

RFC 9001 §5.2 (v1 and the drafts) and RFC 9369 §3.3 (v2): Initial packets are protected
with keys derived from a public, version-specific salt and the Destination Connection ID
of the client's first Initial (or the one a Retry told it to use). This module derives
those keys, removes header protection (AES-ECB mask) and opens the AES-128-GCM payload.
It knows nothing about flows or frames; :mod:`rustnet.dissect.quic` does.

    keys = initial_keys(dcid, PROFILE_V1, server=False)
    opened = open_packet(datagram, start, pn_offset, end, keys, largest_pn=-1, long=True)
    # -> (first_byte, packet_number, plaintext) or None when the tag does not verify
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from typing import Final, NamedTuple

from rustnet.dissect.quic_detect import VERSION_1, VERSION_2

# cryptography is imported where keys are first made (and packets opened), not here: it
# costs rn-dissect's start-up ~10 ms, needed only once a QUIC Initial is seen.

# Initial salts (RFC 9001 §5.2, RFC 9369 §3.3.1, draft-ietf-quic-tls-23 and -29).
SALT_V1: Final = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")
SALT_V2: Final = bytes.fromhex("0dede3def700a6db819381be6e269dcbf9bd2ed9")
SALT_DRAFT_29: Final = bytes.fromhex("afbfec289993d24c9e9786f19c6111e04390a899")
SALT_DRAFT_23: Final = bytes.fromhex("c3eef712c72ebb5a11a7d2432bb46365bef9f502")

AEAD_TAG_LEN: Final = 16
SAMPLE_LEN: Final = 16


class Profile(NamedTuple):
    """What differs between versions for Initial protection."""

    name: str
    salt: bytes
    label_prefix: bytes  # b"quic " (v1, drafts) or b"quicv2 " (v2)
    v2_types: bool  # v2 renumbered the long-header packet types (RFC 9369 §3.2)


PROFILE_V1: Final = Profile("v1", SALT_V1, b"quic ", False)
PROFILE_V2: Final = Profile("v2", SALT_V2, b"quicv2 ", True)
PROFILE_DRAFT_29: Final = Profile("draft-29", SALT_DRAFT_29, b"quic ", False)
PROFILE_DRAFT_23: Final = Profile("draft-23", SALT_DRAFT_23, b"quic ", False)

# Tried in this order for a version we do not know (reserved/greased versions, vendor
# versions): the one whose AEAD tag verifies wins.
TRIAL_PROFILES: Final = (PROFILE_V1, PROFILE_DRAFT_29, PROFILE_DRAFT_23, PROFILE_V2)


def profile_for(version: int) -> Profile | None:
    """The protection profile of a known version, None when it has to be found by trial."""
    if version == VERSION_1:
        return PROFILE_V1
    if version == VERSION_2:
        return PROFILE_V2
    if 0xFF00001D <= version <= 0xFF000020:  # drafts 29-32
        return PROFILE_DRAFT_29
    if 0xFF000017 <= version <= 0xFF00001C:  # drafts 23-28
        return PROFILE_DRAFT_23
    if 0xFF000021 <= version <= 0xFF000022:  # drafts 33-34 took the final salt
        return PROFILE_V1
    return None


def hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    """HKDF-Extract with SHA-256 (RFC 5869 §2.2)."""
    return hmac.digest(salt, ikm, hashlib.sha256)


def hkdf_expand_label(secret: bytes, label: bytes, length: int) -> bytes:
    """TLS 1.3 HKDF-Expand-Label with an empty context (RFC 8446 §7.1), length <= 32.

    One HMAC block is enough for every Initial secret, key, IV and header key.
    """
    full = b"tls13 " + label
    info = struct.pack(">HB", length, len(full)) + full + b"\x00"
    return hmac.digest(secret, info + b"\x01", hashlib.sha256)[:length]


class InitialKeys:
    """The AEAD key, IV and header-protection cipher for one direction."""

    __slots__ = ("aead", "iv", "hp", "profile", "secret")

    def __init__(self, secret: bytes, profile: Profile) -> None:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        prefix = profile.label_prefix
        self.secret = secret
        self.profile = profile
        self.aead = AESGCM(hkdf_expand_label(secret, prefix + b"key", 16))
        self.iv = hkdf_expand_label(secret, prefix + b"iv", 12)
        hp_key = hkdf_expand_label(secret, prefix + b"hp", 16)
        # ECB is stateless, so one encryptor serves every packet of the flow.
        self.hp = Cipher(algorithms.AES(hp_key), modes.ECB()).encryptor()


def initial_secret(dcid: bytes, profile: Profile, server: bool) -> bytes:
    """client_initial_secret or server_initial_secret for a connection ID."""
    base = hkdf_extract(profile.salt, dcid)
    return hkdf_expand_label(base, b"server in" if server else b"client in", 32)


def initial_keys(dcid: bytes, profile: Profile, server: bool) -> InitialKeys:
    """Keys protecting the Initials one side sends, derived from the client's DCID."""
    return InitialKeys(initial_secret(dcid, profile, server), profile)


def decode_packet_number(largest: int, truncated: int, pn_len: int) -> int:
    """Full packet number from its truncated encoding (RFC 9000 Appendix A.3)."""
    expected = largest + 1
    win = 1 << (pn_len * 8)
    hwin = win // 2
    mask = win - 1
    candidate = (expected & ~mask) | truncated
    if candidate <= expected - hwin and candidate < (1 << 62) - win:
        return candidate + win
    if candidate > expected + hwin and candidate >= win:
        return candidate - win
    return candidate


def open_packet(
    data: bytes, start: int, pn_offset: int, end: int, keys: InitialKeys, largest_pn: int, long: bool
) -> tuple[int, int, bytes] | None:
    """Remove header protection and decrypt one packet occupying ``data[start:end]``.

    ``pn_offset`` is the absolute offset of the (protected) packet number. Returns
    ``(unprotected first byte, packet number, plaintext)``, or None when the packet is
    too short or the AEAD tag does not verify (wrong keys, damaged or cut packet).
    """
    from cryptography.exceptions import InvalidTag

    sample_at = pn_offset + 4
    if sample_at + SAMPLE_LEN > end or end > len(data):
        return None
    mask = keys.hp.update(data[sample_at : sample_at + SAMPLE_LEN])
    first = data[start] ^ (mask[0] & (0x0F if long else 0x1F))
    pn_len = (first & 0x03) + 1
    payload_at = pn_offset + pn_len
    if payload_at + AEAD_TAG_LEN > end:
        return None
    truncated = 0
    pn_plain = bytearray(pn_len)
    for i in range(pn_len):
        b = data[pn_offset + i] ^ mask[1 + i]
        pn_plain[i] = b
        truncated = (truncated << 8) | b
    pn = decode_packet_number(largest_pn, truncated, pn_len)
    header = bytes((first,)) + bytes(data[start + 1 : pn_offset]) + bytes(pn_plain)
    nonce = (int.from_bytes(keys.iv, "big") ^ pn).to_bytes(12, "big")
    try:
        plain = keys.aead.decrypt(nonce, bytes(data[payload_at:end]), header)
    except InvalidTag:
        return None
    return first, pn, plain


def seal_packet(
    header: bytes, pn_len: int, payload: bytes, pn: int, keys: InitialKeys, long: bool = True
) -> bytes:
    """Protect a packet (the inverse of :func:`open_packet`); used to build test input.

    ``header`` is the unprotected header ending with the ``pn_len``-byte packet number.
    """
    nonce = (int.from_bytes(keys.iv, "big") ^ pn).to_bytes(12, "big")
    sealed = keys.aead.encrypt(nonce, payload, header)
    pn_offset = len(header) - pn_len
    sample = sealed[4 - pn_len : 4 - pn_len + SAMPLE_LEN]
    mask = keys.hp.update(sample)
    out = bytearray(header + sealed)
    out[0] ^= mask[0] & (0x0F if long else 0x1F)
    for i in range(pn_len):
        out[pn_offset + i] ^= mask[1 + i]
    return bytes(out)
