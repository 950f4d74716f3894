"""A small MaxMind DB writer for the tests, written from the format's published specification
(MaxMind DB File Format Specification 2.0), so no downloaded database is ever needed.

    write_mmdb(path, "GeoLite2-Country", {"81.2.69.0/24": {"country": {...}}, ...})

The file: a binary search tree over the address bits (IPv6 tree, 32-bit records; IPv4
networks live under ::/96, where readers look IPv4 addresses up), 16 zero bytes, the data
section, then ``\\xab\\xcd\\xefMaxMind.com`` and the metadata map. Values are encoded with
the spec's control bytes: type in the top 3 bits (extended types in a following byte), size
in the low 5 (29/30/31 announce 1/2/3 more size bytes). Tests check the result by reading it
back with the ``maxminddb`` package, an independent reader.
"""

from __future__ import annotations

import ipaddress
import struct
import time
from pathlib import Path
from typing import Any

METADATA_MARKER = b"\xab\xcd\xefMaxMind.com"
DATA_SEPARATOR = b"\x00" * 16

# Types (spec: "Output Data Section"): the pointer type (1) is never written here.
T_STRING, T_DOUBLE, T_BYTES, T_UINT16, T_UINT32, T_MAP = 2, 3, 4, 5, 6, 7
T_UINT64, T_ARRAY, T_BOOLEAN = 9, 11, 14


class Uint(int):
    """An unsigned integer of a given MaxMind type (the metadata's types are fixed by the spec,
    and libmaxminddb checks them); a plain int takes the smallest type that holds it."""

    type_: int = T_UINT32


class U16(Uint):
    type_ = T_UINT16


class U32(Uint):
    type_ = T_UINT32


class U64(Uint):
    type_ = T_UINT64


def _control(type_: int, size: int) -> bytes:
    if size < 29:
        low, extra = size, b""
    elif size < 29 + 256:
        low, extra = 29, bytes([size - 29])
    elif size < 285 + 65536:
        low, extra = 30, struct.pack(">H", size - 285)
    else:
        low, extra = 31, struct.pack(">I", size - 65821)[1:]
    if type_ <= 7:
        return bytes([(type_ << 5) | low]) + extra
    return bytes([low, type_ - 7]) + extra  # extended: type 0 in the control byte


def _uint(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""


def encode(value: Any) -> bytes:
    """One value in the data section's encoding."""
    if isinstance(value, bool):
        return _control(T_BOOLEAN, int(value))
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return _control(T_STRING, len(raw)) + raw
    if isinstance(value, bytes):
        return _control(T_BYTES, len(value)) + value
    if isinstance(value, float):
        return _control(T_DOUBLE, 8) + struct.pack(">d", value)
    if isinstance(value, int):
        if value < 0:
            raise ValueError("signed integers are not needed here")
        raw = _uint(value)
        type_ = T_UINT16 if value < 1 << 16 else T_UINT32 if value < 1 << 32 else T_UINT64
        if isinstance(value, Uint):
            type_ = value.type_
        return _control(type_, len(raw)) + raw
    if isinstance(value, dict):
        out = _control(T_MAP, len(value))
        for k, v in value.items():
            out += encode(str(k)) + encode(v)
        return out
    if isinstance(value, list):
        return _control(T_ARRAY, len(value)) + b"".join(encode(v) for v in value)
    raise TypeError(type(value))


class _Node:
    __slots__ = ("kids",)

    def __init__(self) -> None:
        self.kids: list[_Node | int | None] = [None, None]  # a node, a data offset, or nothing


def _bits(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> list[int]:
    """The prefix bits of ``net`` in the 128-bit tree (IPv4 under ::/96)."""
    value = int(net.network_address)
    total = 128
    plen = net.prefixlen + (96 if net.version == 4 else 0)
    return [(value >> (total - 1 - i)) & 1 for i in range(plen)]


def write_mmdb(path: Path, database_type: str, networks: dict[str, dict[str, Any]]) -> Path:
    """Write a MaxMind DB file holding ``networks`` (CIDR text -> the record's map)."""
    data = b""
    offsets: dict[bytes, int] = {}
    root = _Node()
    for cidr, record in networks.items():
        blob = encode(record)
        if blob not in offsets:
            offsets[blob] = len(data)
            data += blob
        bits = _bits(ipaddress.ip_network(cidr))
        node = root
        for bit in bits[:-1]:
            nxt = node.kids[bit]
            if not isinstance(nxt, _Node):
                nxt = node.kids[bit] = _Node()
            node = nxt
        node.kids[bits[-1]] = offsets[blob]
    # Number the nodes breadth-first (the root is node 0), then write each as two 32-bit records.
    order: list[_Node] = [root]
    index = {id(root): 0}
    for node in order:
        for kid in node.kids:
            if isinstance(kid, _Node):
                index[id(kid)] = len(order)
                order.append(kid)
    count = len(order)
    tree = b""
    for node in order:
        for kid in node.kids:
            if isinstance(kid, _Node):
                value = index[id(kid)]
            elif kid is None:
                value = count  # "no data"
            else:
                value = count + 16 + kid  # into the data section, past the separator
            tree += struct.pack(">I", value)
    metadata = {
        "node_count": U32(count),
        "record_size": U16(32),
        "ip_version": U16(6),
        "database_type": database_type,
        "languages": ["en"],
        "binary_format_major_version": U16(2),
        "binary_format_minor_version": U16(0),
        "build_epoch": U64(int(time.time())),
        "description": {"en": "rustnet test database"},
    }
    path.write_bytes(tree + DATA_SEPARATOR + data + METADATA_MARKER + encode(metadata))
    return path


def country(code: str, name: str) -> dict[str, Any]:
    """A GeoLite2-Country record's shape."""
    return {"country": {"iso_code": code, "names": {"en": name, "de": name}, "geoname_id": 1}}


def city(code: str, country_name: str, city_name: str) -> dict[str, Any]:
    """A GeoLite2-City record's shape."""
    return {**country(code, country_name), "city": {"names": {"en": city_name}}, "postal": {"code": "1"}}


def asn(number: int, org: str) -> dict[str, Any]:
    """A GeoLite2-ASN record's shape."""
    return {"autonomous_system_number": number, "autonomous_system_organization": org}
