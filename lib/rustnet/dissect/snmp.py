"""SNMP messages (RFC 1157, 3416, 3412): version, community and PDU type, read from BER.

    Message ::= SEQUENCE { version INTEGER, community OCTET STRING, data PDU }   -- v1, v2c
    SNMPv3Message ::= SEQUENCE { msgVersion INTEGER (3), msgGlobalData SEQUENCE,
        msgSecurityParameters OCTET STRING, msgData CHOICE { plaintext ScopedPDU,
        encryptedPDU OCTET STRING } }
    ScopedPDU ::= SEQUENCE { contextEngineID OCTET STRING, contextName OCTET STRING, data PDU }

Only definite lengths (BER as every agent sends it); anything else is no SNMP.
"""

from __future__ import annotations

from typing import Any, Final

from rustnet.dissect.safe_text import escape_text

PORTS: Final = frozenset({161, 162})
MAX_COMMUNITY: Final = 64
VERSIONS: Final = {0: "v1", 1: "v2c", 3: "v3"}
# PDU tags [0]..[8] (context-specific, constructed), named as RFC 1157 / RFC 3416 name them.
PDUS: Final = (
    "get-request",
    "get-next-request",
    "get-response",
    "set-request",
    "trap",
    "getBulkRequest",
    "informRequest",
    "snmpV2-trap",
    "report",
)
ENCRYPTED: Final = "encrypted"
_SEQUENCE: Final = 0x30
_INTEGER: Final = 0x02
_OCTETS: Final = 0x04


def _tlv(data: bytes, pos: int, end: int) -> tuple[int, int, int] | None:
    """(tag, start of value, end of value) of the element at pos, or None if it does not fit."""
    if pos + 2 > end:
        return None
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        if not 1 <= n <= 3 or pos + n > end:
            return None  # indefinite, or longer than any datagram
        length = int.from_bytes(data[pos : pos + n], "big")
        pos += n
    if pos + length > end:
        return None
    return tag, pos, pos + length


def _pdu(data: bytes, pos: int, end: int) -> str | None:
    got = _tlv(data, pos, end)
    if got is None or not 0xA0 <= got[0] <= 0xA8:
        return None
    return PDUS[got[0] - 0xA0]


def match_snmp(data: bytes) -> dict[str, Any] | None:
    """The fields of one SNMP message, or None when data is not one."""
    end = len(data)
    msg = _tlv(data, 0, end)
    if msg is None or msg[0] != _SEQUENCE:
        return None
    _, pos, end = msg
    ver = _tlv(data, pos, end)
    if ver is None or ver[0] != _INTEGER or ver[2] - ver[1] != 1:
        return None
    version = VERSIONS.get(data[ver[1]])
    if version is None:
        return None
    pos = ver[2]
    if version != "v3":
        community = _tlv(data, pos, end)
        if community is None or community[0] != _OCTETS:
            return None
        pdu = _pdu(data, community[2], end)
        if pdu is None:
            return None
        raw = data[community[1] : community[2]]
        return {
            "app": "SNMP",
            "snmp_version": version,
            "snmp_community": escape_text(raw, MAX_COMMUNITY),
            "snmp_pdu": pdu,
        }
    header = _tlv(data, pos, end)
    if header is None or header[0] != _SEQUENCE:
        return None
    security = _tlv(data, header[2], end)
    if security is None or security[0] != _OCTETS:
        return None
    body = _tlv(data, security[2], end)
    if body is None:
        return None
    if body[0] == _OCTETS:
        pdu = ENCRYPTED
    elif body[0] == _SEQUENCE:
        engine = _tlv(data, body[1], body[2])
        context = engine and _tlv(data, engine[2], body[2])
        if not engine or not context or engine[0] != _OCTETS or context[0] != _OCTETS:
            return None
        found = _pdu(data, context[2], body[2])
        if found is None:
            return None
        pdu = found
    else:
        return None
    return {"app": "SNMP", "snmp_version": version, "snmp_pdu": pdu}
