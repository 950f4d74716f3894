"""Write mqtt.pcap: MQTT connections crafted with dpkt, packet by packet from the standard.

    client port  server port  what
    41883        1883         MQTT 3.1.1: CONNECT (client id sensor-42), CONNACK, SUBSCRIBE
                              (two filters), SUBACK, PUBLISH QoS 0 and QoS 1, PUBACK, PINGREQ,
                              PINGRESP, DISCONNECT
    41884        11883        MQTT 5.0 on a port that is not MQTT's, known by its CONNECT:
                              properties in CONNECT, SUBSCRIBE and PUBLISH
    41885        1883         MQTT 3.1 (MQIsdp): a PUBLISH of 40 KB, larger than what is buffered

Run from the repository root:

    python tests/data/made/make_mqtt.py
"""

from __future__ import annotations

import struct
from pathlib import Path

import dpkt
from make_ftp import Writer

OUT = Path(__file__).with_name("mqtt.pcap")


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def string(s: str) -> bytes:
    raw = s.encode()
    return struct.pack("!H", len(raw)) + raw


def packet(kind: int, flags: int, body: bytes) -> bytes:
    return bytes([kind << 4 | flags]) + varint(len(body)) + body


def connect(name: str, level: int, client: str, props: bytes | None = None) -> bytes:
    body = string(name) + bytes([level, 0x02]) + struct.pack("!H", 60)
    if props is not None:
        body += varint(len(props)) + props
    return packet(1, 0, body + string(client))


def subscribe(pid: int, filters: list[str], props: bytes | None = None) -> bytes:
    body = struct.pack("!H", pid)
    if props is not None:
        body += varint(len(props)) + props
    for f in filters:
        body += string(f) + b"\x01"
    return packet(8, 2, body)


def publish(topic: str, qos: int, payload: bytes, pid: int = 0, props: bytes | None = None) -> bytes:
    body = string(topic) + (struct.pack("!H", pid) if qos else b"")
    if props is not None:
        body += varint(len(props)) + props
    return packet(3, qos << 1, body + payload)


def main() -> None:
    v5_props = b"\x11\x00\x00\x00\x3c"  # session expiry interval 60
    with OUT.open("wb") as f:
        w = Writer(dpkt.pcap.Writer(f, linktype=dpkt.pcap.DLT_EN10MB))
        w.conversation(
            41883,
            1883,
            [
                (True, connect("MQTT", 4, "sensor-42")),
                (False, packet(2, 0, b"\x00\x00")),
                (True, subscribe(1, ["home/+/temp", "alerts/#"])),
                (False, packet(9, 0, b"\x00\x01\x01\x01")),
                (True, publish("home/kitchen/temp", 0, b"21.5")),
                (True, publish("home/hall/temp", 1, b"19.0", pid=2)),
                (False, packet(4, 0, b"\x00\x02")),
                (True, packet(12, 0, b"")),
                (False, packet(13, 0, b"")),
                (True, packet(14, 0, b"")),
            ],
        )
        w.conversation(
            41884,
            11883,
            [
                (True, connect("MQTT", 5, "v5-client", v5_props)),
                (False, packet(2, 0, b"\x00\x00\x00")),
                (True, subscribe(7, ["factory/line1/#"], b"\x0b\x05")),  # subscription id 5
                (False, packet(9, 0, b"\x00\x07\x00\x01")),
                (True, publish("factory/line1/speed", 1, b"120", pid=8, props=b"\x01\x01")),
                (True, packet(14, 0, b"\x00\x00")),
            ],
        )
        w.conversation(
            41885,
            1883,
            [
                (True, connect("MQIsdp", 3, "old-client")),
                (False, packet(2, 0, b"\x00\x00")),
                (True, publish("camera/frame", 0, bytes(40_000))),
                (True, publish("camera/after", 0, b"x")),
            ],
        )


if __name__ == "__main__":
    main()
