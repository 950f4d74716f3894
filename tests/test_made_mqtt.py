"""MQTT connections read as tshark reads them (tests/data/made/mqtt.pcap, crafted).

Version and client id of the CONNECT, topics of PUBLISH and SUBSCRIBE, the latest QoS and
packet type: each as tshark reads the same connection (no false value). Port 1883 is MQTT's;
on port 11883 the CONNECT tells it; a PUBLISH larger than what is buffered still gives its topic.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.test_dpi_made_streams import finals

CAPTURE = Path(__file__).parent / "data" / "made" / "mqtt.pcap"
# Control packet types 1-15 (MQTT 5.0 §2.1.2).
TYPES = "- CONNECT CONNACK PUBLISH PUBACK PUBREC PUBREL PUBCOMP SUBSCRIBE SUBACK UNSUBSCRIBE".split()
TYPES += "UNSUBACK PINGREQ PINGRESP DISCONNECT AUTH".split()
VERSIONS = {"3": "3.1", "4": "3.1.1", "5": "5.0"}  # protocol level (MQTT 5.0 §3.1.2.2)

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


def tshark_mqtt() -> dict[int, dict[str, Any]]:
    """What tshark reads of each MQTT connection, by the client's port."""
    out: dict[int, dict[str, Any]] = {}
    cmd = ["tshark", "-r", str(CAPTURE), "-d", "tcp.port==11883,mqtt", "-Y", "mqtt", "-T", "fields"]
    cmd += ["-E", "occurrence=a"]  # every topic filter of a SUBSCRIBE
    for field in ("tcp.srcport", "tcp.dstport", "mqtt.msgtype", "mqtt.ver", "mqtt.clientid"):
        cmd += ["-e", field]
    cmd += ["-e", "mqtt.topic", "-e", "mqtt.qos"]
    lines = subprocess.run(cmd, capture_output=True, timeout=60, check=True).stdout.decode().splitlines()
    rows = [line.split("\t") for line in lines]
    for sport, dport, kind, ver, client, topics, qos in rows:
        truth = out.setdefault(max(int(sport), int(dport)), {"mqtt_topics": []})
        truth["mqtt_packet"] = TYPES[int(kind)]
        if ver:
            truth["mqtt_version"] = VERSIONS[ver]
            truth["mqtt_client_id"] = client
        if topics:
            truth["mqtt_topics"] += topics.split(",")
        if kind == "3":
            truth["mqtt_qos"] = int(qos)
    return out


def test_mqtt_fields_are_tsharks() -> None:
    truth = tshark_mqtt()
    assert set(truth) == {41883, 41884, 41885}
    got = finals(CAPTURE)
    for port in (41883, 41884):  # every packet read: every field as tshark reads it
        rec = got[port]
        assert rec["app"] == "MQTT"
        assert {k: v for k, v in rec.items() if k.startswith("mqtt_")} == truth[port]
    assert got[41883]["mqtt_topics"] == ["home/+/temp", "alerts/#", "home/kitchen/temp", "home/hall/temp"]
    assert got[41884]["mqtt_version"] == "5.0"
    big = got[41885]  # the 40 KB PUBLISH: its topic, then this direction is no longer read
    assert big["app"] == "MQTT"
    assert big["mqtt_version"] == truth[41885]["mqtt_version"] == "3.1"
    assert big["mqtt_client_id"] == truth[41885]["mqtt_client_id"]
    assert big["mqtt_topics"] == truth[41885]["mqtt_topics"][:1] == ["camera/frame"]
