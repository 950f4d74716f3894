"""Cheap recognition of common UDP (and one TCP) protocols: a name and a key field or two.

Each ``match_*`` function looks at one payload and returns the ``info`` fields, or None
when the payload is not that protocol; they never raise. They are tried only on the
ports where the protocol lives, except STUN and BitTorrent whose magic values are strong.

* NTP (RFC 5905): ``ntp_version``, ``ntp_mode``
* DHCP / BOOTP (RFC 2131, 2132): ``dhcp_type``, ``dhcp_hostname``
* SSDP (UPnP): ``ssdp_method``, ``ssdp_target`` (ST or NT header)
* NetBIOS name (RFC 1002, 137) and datagram (138) services: ``netbios_name`` and more,
  from :mod:`netbios`
* SNMP (161, 162): ``snmp_version``, ``snmp_community``, ``snmp_pdu``, from :mod:`snmp`
* STUN (RFC 8489): ``stun_type``

NTP, STUN and the NetBIOS name service also give every request and response its pairing id
(``req_id``, ``resp_id``: :data:`TIMING_IDS`), from which rn-track times the responses.
* BitTorrent peer handshake (BEP 3, TCP): ``bt_infohash``; DHT (BEP 5, UDP): app ``BitTorrent-DHT``
"""

from __future__ import annotations

from typing import Any, Final

from rustnet.dissect import netbios, snmp
from rustnet.dissect.safe_text import escape_text

NTP_PORT: Final = 123
DHCP_PORTS: Final = frozenset({67, 68})
SSDP_PORT: Final = 1900
STUN_MAGIC: Final = b"\x21\x12\xa4\x42"
DHCP_MAGIC: Final = b"\x63\x82\x53\x63"
BT_HANDSHAKE: Final = b"\x13BitTorrent protocol"

NTP_MODES: Final = {
    1: "symmetric-active",
    2: "symmetric-passive",
    3: "client",
    4: "server",
    5: "broadcast",
    6: "control",
    7: "private",
}
DHCP_TYPES: Final = {
    1: "DISCOVER",
    2: "OFFER",
    3: "REQUEST",
    4: "DECLINE",
    5: "ACK",
    6: "NAK",
    7: "RELEASE",
    8: "INFORM",
}
STUN_METHODS: Final = {
    0x001: "Binding",
    0x003: "Allocate",
    0x004: "Refresh",
    0x006: "Send",
    0x007: "Data",
    0x008: "CreatePermission",
    0x009: "ChannelBind",
}
STUN_CLASSES: Final = ("Request", "Indication", "Success Response", "Error Response")

Info = dict[str, Any]


def match_ntp(data: bytes) -> Info | None:
    if len(data) < 48:
        return None
    version = (data[0] >> 3) & 7
    mode = data[0] & 7
    if not 1 <= version <= 4 or mode == 0:
        return None
    return {"app": "NTP", "ntp_version": version, "ntp_mode": NTP_MODES.get(mode, str(mode))}


def match_dhcp(data: bytes) -> Info | None:
    if len(data) < 240 or data[0] not in (1, 2) or data[236:240] != DHCP_MAGIC:
        return None
    info: Info = {"app": "DHCP"}
    pos = 240
    while pos < len(data):
        code = data[pos]
        if code == 255:
            break
        if code == 0:
            pos += 1
            continue
        if pos + 1 >= len(data):
            break
        length = data[pos + 1]
        value = data[pos + 2 : pos + 2 + length]
        if code == 53 and length == 1 and value:
            info["dhcp_type"] = DHCP_TYPES.get(value[0], str(value[0]))
        elif code == 12 and value:
            info["dhcp_hostname"] = escape_text(value, 64)
        pos += 2 + length
    return info


def match_ssdp(data: bytes) -> Info | None:
    line, _, rest = data[:1024].partition(b"\r\n")
    if line.startswith(b"M-SEARCH * HTTP/1.1"):
        method = "M-SEARCH"
    elif line.startswith(b"NOTIFY * HTTP/1.1"):
        method = "NOTIFY"
    elif line.startswith(b"HTTP/1.1 200"):
        method = "RESPONSE"
    else:
        return None
    info: Info = {"app": "SSDP", "ssdp_method": method}
    for header in rest.split(b"\r\n"):
        name, sep, value = header.partition(b":")
        if sep and name.strip().upper() in (b"ST", b"NT"):
            info["ssdp_target"] = escape_text(value.strip(), 128)
            break
    return info


def match_stun(data: bytes) -> Info | None:
    if len(data) < 20 or data[0] & 0xC0 or data[4:8] != STUN_MAGIC:
        return None
    length = int.from_bytes(data[2:4], "big")
    if length % 4 or length + 20 != len(data):
        return None
    mtype = int.from_bytes(data[0:2], "big")
    method = (mtype & 0x000F) | ((mtype & 0x00E0) >> 1) | ((mtype & 0x3E00) >> 2)
    klass = ((mtype & 0x0010) >> 4) | ((mtype & 0x0100) >> 7)
    name = STUN_METHODS.get(method)
    if name is None:
        name = f"0x{method:03x}"
    return {"app": "STUN", "stun_type": f"{name} {STUN_CLASSES[klass]}"}


def match_bittorrent_tcp(data: bytes) -> Info | None:
    if not data.startswith(BT_HANDSHAKE) or len(data) < 48:
        return None
    return {"app": "BitTorrent", "bt_infohash": data[28:48].hex()}


def match_bittorrent_dht(data: bytes) -> Info | None:
    # KRPC messages are bencoded dictionaries with a "y" key of q, r or e.
    if data.startswith(b"d1:") and (b"1:y1:q" in data or b"1:y1:r" in data or b"1:y1:e" in data):
        return {"app": "BitTorrent-DHT"}
    return None


def ntp_id(data: bytes | memoryview) -> Info | None:
    """An NTP client request's transmit timestamp, or a server response's originate timestamp
    (which echoes it): what pairs them (RFC 5905)."""
    if len(data) < 48:
        return None
    mode = data[0] & 7
    if mode == 3:
        return {"app": "NTP", "req_id": "ntp " + bytes(data[40:48]).hex()}
    if mode == 4:
        return {"app": "NTP", "resp_id": "ntp " + bytes(data[24:32]).hex()}
    return None


def stun_id(data: bytes | memoryview) -> Info | None:
    """A STUN request's or response's 96-bit transaction id (RFC 8489); indications are neither."""
    if len(data) < 20 or data[0] & 0xC0 or data[4:8] != STUN_MAGIC:
        return None
    klass = ((data[1] & 0x10) >> 4) | ((data[0] & 0x01) << 1)
    if klass == 0:
        return {"app": "STUN", "req_id": "stun " + bytes(data[8:20]).hex()}
    if klass >= 2:
        return {"app": "STUN", "resp_id": "stun " + bytes(data[8:20]).hex()}
    return None


# The request/response ids of the protocols rn-track times, by the app their first packet showed.
TIMING_IDS: Final = {"NTP": ntp_id, "STUN": stun_id, "NetBIOS-NS": netbios.nbns_id}


def match_udp(data: bytes, sport: int, dport: int) -> Info | None:
    """The first of the cheap UDP matchers that recognises this datagram."""
    if sport == NTP_PORT or dport == NTP_PORT:
        found = match_ntp(data)
        if found is not None:
            return found
    if sport in DHCP_PORTS and dport in DHCP_PORTS:
        found = match_dhcp(data)
        if found is not None:
            return found
    if sport == SSDP_PORT or dport == SSDP_PORT:
        found = match_ssdp(data)
        if found is not None:
            return found
    if sport == netbios.NS_PORT or dport == netbios.NS_PORT:
        found = netbios.match_nbns(data)
        if found is not None:
            return found
    if sport == netbios.DGM_PORT or dport == netbios.DGM_PORT:
        found = netbios.match_nbdgm(data)
        if found is not None:
            return found
    if sport in snmp.PORTS or dport in snmp.PORTS:
        found = snmp.match_snmp(data)
        if found is not None:
            return found
    found = match_stun(data)
    if found is not None:
        return found
    return match_bittorrent_dht(data)
