"""NetBIOS (RFC 1002): the name service (UDP 137), the datagram service (UDP 138) and the
session service's opening (TCP 139).

A NetBIOS name is 16 bytes, 15 of name padded with spaces and a suffix byte naming the
service; on the wire each byte is two letters 'A' + nibble (first-level encoding, RFC 1001
§14.1), 32 letters after a length byte of 32, then a scope (labels, as in DNS) and a 0.
Names are shown as tshark shows them: ``WORKGROUP<1d>``.
"""

from __future__ import annotations

from typing import Any, Final

from rustnet.dissect.safe_text import escape_text

NS_PORT: Final = 137
DGM_PORT: Final = 138
SSN_PORT: Final = 139
# RFC 1002 §4.3.1 packet types, §4.3.4 negative response error codes.
SSN_REQUEST: Final = 0x81
SSN_POSITIVE: Final = 0x82
SSN_NEGATIVE: Final = 0x83
SSN_ERRORS: Final = {
    0x80: "not listening on called name",
    0x81: "not listening for calling name",
    0x82: "called name not present",
    0x83: "insufficient resources",
    0x8F: "unspecified error",
}
OPCODES: Final = {0: "query", 5: "registration", 6: "release", 7: "wait", 8: "refresh", 9: "refresh"}
DGM_TYPES: Final = {0x10: "direct_unique", 0x11: "direct_group", 0x12: "broadcast"}
_ENCODED: Final = 32


def decode_name(data: bytes, pos: int) -> str | None:
    """The first-level decoded name at pos (its length byte), or None when it is not one."""
    if len(data) < pos + 1 + _ENCODED or data[pos] != _ENCODED:
        return None
    letters = data[pos + 1 : pos + 1 + _ENCODED]
    raw = bytearray(16)
    for i in range(16):
        hi = letters[2 * i] - 0x41
        lo = letters[2 * i + 1] - 0x41
        if not (0 <= hi <= 15 and 0 <= lo <= 15):
            return None
        raw[i] = hi << 4 | lo
    name = escape_text(bytes(raw[:15]).rstrip(b" "), 15)
    return f"{name}<{raw[15]:02x}>"


def match_nbns(data: bytes) -> dict[str, Any] | None:
    """A name service packet's opcode and the name it asks or tells, or None."""
    if len(data) < 12:
        return None
    flags = int.from_bytes(data[2:4], "big")
    opcode = OPCODES.get(flags >> 11 & 0xF)
    questions = int.from_bytes(data[4:6], "big")
    answers = int.from_bytes(data[6:8], "big")
    if opcode is None or questions + answers + int.from_bytes(data[10:12], "big") == 0:
        return None
    name = decode_name(data, 12)
    if name is None:
        return None
    return {
        "app": "NetBIOS-NS",
        "netbios_opcode": opcode,
        "netbios_response": bool(flags & 0x8000),
        "netbios_name": name,
    }


OPCODE_WACK: Final = 7


def nbns_id(data: bytes | memoryview) -> dict[str, Any] | None:
    """A name service request's or final response's transaction id (a WACK is not final)."""
    if len(data) < 12:
        return None
    flags = data[2] << 8 | data[3]
    tid = f"nbns {data[0]:02x}{data[1]:02x}"
    if not flags & 0x8000:
        return {"app": "NetBIOS-NS", "req_id": tid}
    if flags >> 11 & 0xF == OPCODE_WACK:
        return None
    return {"app": "NetBIOS-NS", "resp_id": tid}


def match_nbdgm(data: bytes) -> dict[str, Any] | None:
    """A direct or broadcast datagram's source name, or None."""
    if len(data) < 14 or data[0] not in DGM_TYPES:
        return None
    name = decode_name(data, 14)
    if name is None:
        return None
    return {"app": "NetBIOS-DGM", "netbios_name": name}


def _name_end(data: bytes, pos: int) -> int | None:
    """Where the encoded name at pos ends (after its scope's terminating 0), or None."""
    pos += 1 + _ENCODED
    while pos < len(data):
        if data[pos] == 0:
            return pos + 1
        if data[pos] > 63:
            return None
        pos += 1 + data[pos]
    return None


def match_session(data: bytes) -> dict[str, Any] | None:
    """A whole session packet's names (request) or answer (response), or None.

    data holds one packet: its 4-byte header (type, flags, 17-bit length) and its body.
    """
    kind = data[0]
    if kind == SSN_REQUEST:
        called = decode_name(data, 4)
        end = _name_end(data, 4) if called else None
        calling = decode_name(data, end) if end else None
        if called is None or calling is None:
            return None
        return {"app": "NetBIOS-SSN", "netbios_name": called, "netbios_calling": calling}
    if kind == SSN_POSITIVE:
        return {"app": "NetBIOS-SSN", "netbios_session": "positive"}
    if kind == SSN_NEGATIVE and len(data) > 4:
        reason = SSN_ERRORS.get(data[4], f"error 0x{data[4]:02x}")
        return {"app": "NetBIOS-SSN", "netbios_session": reason}
    return None
