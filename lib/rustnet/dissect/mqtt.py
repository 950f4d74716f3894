"""MQTT control packets (MQTT 3.1, 3.1.1 and 5.0): what a connection says about itself.

Each packet is a fixed header (type in the high nibble of byte 0, flags in the low one, then
the remaining length as a variable byte integer of at most 4 bytes) and a body. Read here:
the protocol level and client id of CONNECT, the topic and QoS of PUBLISH, the topic filters
of SUBSCRIBE.

    head = fixed_header(buf)                 # (type, flags, remaining, header bytes) or None
    info = packet_info(body, head, level)    # fields of one packet, read from (a prefix of) it
"""

from __future__ import annotations

from typing import Final

from rustnet.dissect.errors import DissectError
from rustnet.dissect.safe_text import escape_text

PORT: Final = 1883
MAX_NAME: Final = 255  # characters kept of a client id or a topic
MAX_FILTERS: Final = 8  # topic filters read from one SUBSCRIBE
TYPES: Final = (
    "",
    "CONNECT",
    "CONNACK",
    "PUBLISH",
    "PUBACK",
    "PUBREC",
    "PUBREL",
    "PUBCOMP",
    "SUBSCRIBE",
    "SUBACK",
    "UNSUBSCRIBE",
    "UNSUBACK",
    "PINGREQ",
    "PINGRESP",
    "DISCONNECT",
    "AUTH",
)
CONNECT: Final = 1
PUBLISH: Final = 3
SUBSCRIBE: Final = 8
VERSIONS: Final = {3: "3.1", 4: "3.1.1", 5: "5.0"}
_NAMES: Final = (b"\x00\x04MQTT", b"\x00\x06MQIsdp")

Header = tuple[int, int, int, int]


def _varint(data: bytes | bytearray, pos: int) -> tuple[int, int] | None:
    """A variable byte integer at pos and the position after it; None when data ends first."""
    value = 0
    for i in range(4):
        if pos + i >= len(data):
            return None
        b = data[pos + i]
        value |= (b & 0x7F) << (7 * i)
        if not b & 0x80:
            return value, pos + i + 1
    raise DissectError("MQTT variable byte integer longer than 4 bytes")


def fixed_header(data: bytes | bytearray) -> Header | None:
    """(packet type, flags, remaining length, header length), or None until data holds it."""
    if not data:
        return None
    kind = data[0] >> 4
    if kind == 0:
        raise DissectError("MQTT packet type 0")
    got = _varint(data, 1)
    if got is None:
        return None
    return kind, data[0] & 0x0F, got[0], got[1]


def connect_start(data: bytes) -> bool | None:
    """Whether data starts an MQTT CONNECT naming its protocol; None when too short to say."""
    if not data:
        return None
    if data[0] != CONNECT << 4:
        return False
    try:
        got = _varint(data, 1)
    except DissectError:
        return False
    if got is None:
        return None
    pos = got[1]
    head = data[pos : pos + 8]
    if any(name.startswith(head) for name in _NAMES) and len(head) < 8:
        return None
    return any(data.startswith(name, pos) for name in _NAMES)


def _string(body: bytes, pos: int) -> tuple[bytes, int]:
    """A UTF-8 string (2-byte length first) at pos and the position after it."""
    if pos + 2 > len(body):
        raise DissectError("MQTT string cut short")
    end = pos + 2 + int.from_bytes(body[pos : pos + 2], "big")
    if end > len(body):
        raise DissectError("MQTT string cut short")
    return body[pos + 2 : end], end


def _skip_properties(body: bytes, pos: int) -> int:
    """The position after an MQTT 5 property list at pos."""
    got = _varint(body, pos)
    if got is None or got[0] + got[1] > len(body):
        raise DissectError("MQTT properties cut short")
    return got[0] + got[1]


def _name(raw: bytes) -> str:
    return escape_text(raw, MAX_NAME)


def packet_info(body: bytes, head: Header, level: int, whole: bool = True) -> dict[str, object]:
    """The fields of one packet; body is what follows its fixed header (not whole: a prefix of
    it, and what is cut off is not read). level is the connection's from its CONNECT, or 0.
    Raises DissectError on a packet that is not MQTT's."""
    kind, flags, _, _ = head
    out: dict[str, object] = {"mqtt_packet": TYPES[kind]}
    try:
        if kind == CONNECT:
            name, pos = _string(body, 0)
            if name not in (b"MQTT", b"MQIsdp") or pos + 4 > len(body):
                raise DissectError("not an MQTT CONNECT")
            level = body[pos]
            version = VERSIONS.get(level)
            if version is None:
                raise DissectError(f"MQTT protocol level {level}")
            out["mqtt_version"] = version
            pos += 4  # level, flags, keep alive
            if level == 5:
                pos = _skip_properties(body, pos)
            client, _ = _string(body, pos)
            if client:
                out["mqtt_client_id"] = _name(client)
        elif kind == PUBLISH:
            qos = flags >> 1 & 3
            if qos == 3:
                raise DissectError("MQTT PUBLISH with QoS 3")
            topic, _ = _string(body, 0)
            out["mqtt_qos"] = qos
            if topic:  # MQTT 5 may send an empty topic with a topic alias
                out["mqtt_topics"] = [_name(topic)]
        elif kind == SUBSCRIBE:
            pos = 2  # packet identifier
            if level == 5:
                pos = _skip_properties(body, pos)
            topics: list[str] = []
            while pos < len(body) and len(topics) < MAX_FILTERS:
                topic, pos = _string(body, pos)
                pos += 1  # subscription options
                if topic:
                    topics.append(_name(topic))
            if topics:
                out["mqtt_topics"] = topics
    except DissectError:
        if whole or kind == CONNECT:
            raise
        # A packet cut off by the buffer: what was read before the cut stands.
    return out
