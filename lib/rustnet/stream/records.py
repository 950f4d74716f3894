"""The record stream: its framing, type tags and the positions of the positional records.

Every field of every record type, with its type, unit and meaning, is declared in
:mod:`rustnet.stream.fields` (RECORD TYPES below).

A stream is a sequence of MessagePack objects. Each top-level object is a *frame*:
an array of records (writers batch a few hundred records per frame). A record is
either

* a **map** with a type tag under ``"t"`` (header, stats, connection records and
  every low-volume type), or
* a **positional array** whose first element is the type tag (the hot per-packet
  types ``pkt`` and ``sum``: positional arrays decode ~5x faster than maps).

A top-level array whose first element is a string is a single positional record
(an unbatched writer); a top-level map is a single map record. Readers decode a
frame element by element, so every complete record before a cut is recovered.

JSON Lines is the same stream with one record per line, always as an object:
positional records are converted to maps with the field names below, bytes
become text (IP addresses) or hex (packet data).

Text is escaped where it is made, by one rule (rustnet.stream.escape): a name that
came from a packet (``sni``, ``http_host``, ``dns_query``, ...), a process or a file
keeps every character ``str.isprintable()`` accepts, and every other one is written
as ``\\xNN``, ``\\uNNNN`` or ``\\UNNNNNNNN``: C0/C1 controls and DEL, format
characters (U+200B zero-width space, U+200D, U+2060, U+FEFF, U+00AD soft hyphen, bidi
controls U+202A-U+202E and U+2066-U+2069), U+2028/U+2029, spaces other than U+0020,
unassigned code points. Bytes that are not UTF-8 become ``\\xNN``, a backslash from the
wire ``\\\\``, and a dot inside a DNS label ``\\.`` (``paypal\\.com.evil`` is the
two labels ``paypal.com`` and ``evil``). Whatever shows a record (the TUI, JSON output,
logs, error messages) applies the same rule to text that was not escaped (a stream
written by something else), leaving backslashes as they are: escaped text reads the same
everywhere, and a ``jq -r .sni`` of our JSON prints the escape, never the character.

Limits: a record stream is untrusted input, like packets. In MessagePack, a string
longer than 64 KiB, or a list or map of more than 65536 items, is damage: the records
before it count, then the reader stops with a one-line error (status 3); a JSON line
may be 16 MiB at most. What a command keeps of a record (rn-view's connections,
``rustnet --json``'s open ones, sockets to join) is cut to the limits listed under
LIMITS below; rn-view and rustnet count the values they cut and say so in one line on
stderr. And a command keeps at most ``--max-connections`` connections (rn-track,
rn-view, rustnet). Integers: rn-track counts a summary whose ``wirelen`` is outside
0..4294967295 (32 bits) or whose ports are outside 0..65535 as damaged, and every writer
saturates an integer beyond MessagePack's 64 bits (a counter that passed them) at the nearest
end, 18446744073709551615 or -9223372036854775808.

Format version 2: version 1 with ``pkb`` records, which a version 1 reader would pass over
as unknown and so lose every packet (it refuses the stream instead). A reader refuses a header
whose ``v`` is newer than :data:`FORMAT_VERSION` and reads older streams as before; a header may
appear anywhere (concatenated recordings).
"""

from __future__ import annotations

import binascii
import sys

# The C functions themselves: socket.py builds enums when imported, start-up time every command paid.
from _socket import AF_INET, AF_INET6, inet_ntop, inet_pton
from collections.abc import Callable
from typing import Any, Final

from rustnet.stream import fields

FORMAT_VERSION: Final = 2

# Type tags.
HEADER: Final = "hdr"
PACKET: Final = "pkt"
PACKETS: Final = "pkb"  # many whole frames: readers hand each on as a pkt record (rustnet.stream.pktbatch)
SUMMARY: Final = "sum"
CAPTURE_STATS: Final = "stats"
IFSTATS: Final = "ifstats"
DISSECT_STATS: Final = "dstats"
CONN: Final = "conn"
SOCK: Final = "sock"
WARNING: Final = "warn"
NAME: Final = "name"
CLOCK: Final = "clock"  # positional: [tag, ts, ts, ...] (rn-capture --shard)

# A record: a list (positional records) or a dict (map records), as streams decode; or, only
# between stages of one process, a tuple (SEGMENT, below).
Record = list[Any] | dict[str, Any] | tuple[Any, ...]


class _InProcess:
    """The tag of a record that exists only between two stages of one process (never written)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<in-process segment>"


# A TCP segment of a known, established flow that DPI has nothing more to learn from, as the
# dissect engine hands it to the Tracker in the same process (``rn-track --dissect``), as a tuple
# (one allocation; no decoded record is one): ``(SEGMENT, key, low, ts, wirelen, flags, seq, ack,
# paylen, window)``, where ``key`` is the connection key (protocol, lower endpoint first) and
# ``low`` says the sender is its first endpoint. It stands for the summary with those fields, no
# VLAN and no info, and never carries SYN, FIN or RST. The tag is an object no stream can decode
# to, so no input can forge one.
SEGMENT: Final = _InProcess()

# The positional records' fields, in order, as declared in rustnet.stream.fields.
PKT_FIELDS: Final = fields.names(fields.PKT)
PKT_TS: Final = PKT_FIELDS.index("ts")
PKT_WIRELEN: Final = PKT_FIELDS.index("wirelen")
PKT_DATA: Final = PKT_FIELDS.index("data")
PKT_LINKTYPE: Final = PKT_FIELDS.index("linktype")

SUM_FIELDS: Final = fields.names(fields.SUM)
SUM_TS: Final = SUM_FIELDS.index("ts")
SUM_WIRELEN: Final = SUM_FIELDS.index("wirelen")
SUM_PROTO: Final = SUM_FIELDS.index("proto")
SUM_SRC: Final = SUM_FIELDS.index("src")
SUM_SPORT: Final = SUM_FIELDS.index("sport")
SUM_DST: Final = SUM_FIELDS.index("dst")
SUM_DPORT: Final = SUM_FIELDS.index("dport")
SUM_FLAGS: Final = SUM_FIELDS.index("flags")
SUM_SEQ: Final = SUM_FIELDS.index("seq")
SUM_ACK: Final = SUM_FIELDS.index("ack")
SUM_PAYLEN: Final = SUM_FIELDS.index("paylen")
SUM_WINDOW: Final = SUM_FIELDS.index("window")
SUM_VLAN: Final = SUM_FIELDS.index("vlan")
SUM_INFO: Final = SUM_FIELDS.index("info")


def positional_builder(tag: str, declared: tuple[fields.Field, ...]) -> Callable[..., list[Any]]:
    """The function that builds a positional record from its declaration: it takes the fields
    after the tag in declared order (a trailing run of fields with a declared default may be
    left out, or given by name) and returns ``[tag, *fields]``.

    Generated as source, as collections.namedtuple does: a call then costs one function call
    plus the list display it returns, with no loop or dict in between.
    """
    names = [f.name for f in declared[1:]]
    params = []
    namespace: dict[str, Any] = {"TAG": tag}
    optional = True
    for i, f in reversed(list(enumerate(declared[1:]))):
        optional = optional and f.default is not fields.REQUIRED
        if optional:
            namespace[f"DEFAULT_{i}"] = f.default
            params.append(f"{f.name}=DEFAULT_{i}")
        else:
            params.append(f.name)
    params.reverse()
    source = f"def {tag}({', '.join(params)}):\n    return [TAG, {', '.join(names)}]\n"
    exec(source, namespace)  # noqa: S102 - source made from our own declarations only
    built: Callable[..., list[Any]] = namespace[tag]
    built.__doc__ = f"A {tag!r} record: [{', '.join(fields.names(declared))}]."
    return built


# summary(ts, wirelen, proto, src, sport, dst, dport=0, flags=0, seq=0, ack=0, paylen=0, window=0,
#         vlan=None, info=None): rn-dissect's positional ``sum`` record.
summary: Final = positional_builder(SUMMARY, fields.SUM)

PROTO_ICMP: Final = 1
PROTO_TCP: Final = 6
PROTO_UDP: Final = 17
PROTO_ICMPV6: Final = 58
PROTO_ARP: Final = 2054
PROTO_NAMES: Final = {
    PROTO_TCP: "tcp",
    PROTO_UDP: "udp",
    PROTO_ICMP: "icmp",
    PROTO_ICMPV6: "icmpv6",
    PROTO_ARP: "arp",
}

POSITIONAL_FIELDS: Final = {PACKET: PKT_FIELDS, SUMMARY: SUM_FIELDS}


def record_type(rec: Any) -> str | None:
    """The type tag of a decoded record, or None when it is not a record."""
    if isinstance(rec, dict):
        t = rec.get("t")
        return t if isinstance(t, str) else None
    if isinstance(rec, list) and rec and isinstance(rec[0], str):
        return rec[0]
    return None


def ip_text(packed: Any) -> Any:
    """Packed IPv4/IPv6 bytes as text; anything else unchanged."""
    if isinstance(packed, bytes):
        if len(packed) == 4:
            return inet_ntop(AF_INET, packed)
        if len(packed) == 16:
            return inet_ntop(AF_INET6, packed)
        return binascii.hexlify(packed).decode()
    return packed


def ip_packed(text: Any) -> Any:
    """Text IP address as packed bytes; anything else unchanged."""
    if isinstance(text, str):
        try:
            return inet_pton(AF_INET6 if ":" in text else AF_INET, text)
        except OSError:
            return text
    return text


def to_json_obj(rec: Record) -> dict[str, Any]:
    """The JSON Lines form of a record: always an object with readable values."""
    if isinstance(rec, dict):
        if any(isinstance(v, bytes) for v in rec.values()):
            return {k: (v.hex() if isinstance(v, bytes) else v) for k, v in rec.items()}
        return rec
    tag = rec[0]
    fields = POSITIONAL_FIELDS.get(tag)
    if fields is None:
        # An unknown positional record: keep it positional, as a list under "fields".
        return {"t": tag, "fields": [v.hex() if isinstance(v, bytes) else v for v in rec[1:]]}
    obj: dict[str, Any] = dict(zip(fields, rec, strict=False))
    if tag == PACKET:
        data = rec[PKT_DATA] if len(rec) > PKT_DATA else None  # short when damaged upstream
        obj["data"] = data.hex() if isinstance(data, bytes) else data
    elif tag == SUMMARY:
        obj["src"] = ip_text(obj.get("src"))
        obj["dst"] = ip_text(obj.get("dst"))
        if obj.get("info") is None:
            obj.pop("info", None)
        if obj.get("vlan") is None:
            obj.pop("vlan", None)
    return obj


def from_json_obj(obj: dict[str, Any]) -> Record:
    """The in-memory form of a record read from JSON Lines (positional for hot types)."""
    tag = obj.get("t")
    fields = POSITIONAL_FIELDS.get(tag) if isinstance(tag, str) else None
    if fields is None:
        if isinstance(tag, str) and "fields" in obj and len(obj) == 2:
            return [tag, *obj["fields"]]
        return obj
    rec: list[Any] = [obj.get(name) for name in fields]
    rec[0] = tag
    if tag == PACKET:
        if rec[PKT_LINKTYPE] is None:
            del rec[PKT_LINKTYPE:]  # the header's link type: the usual 4 elements
        data = obj.get("data")
        try:
            rec[PKT_DATA] = bytes.fromhex(data) if isinstance(data, str) else b""
        except ValueError:
            rec[PKT_DATA] = b""
    elif tag == SUMMARY:
        rec[SUM_SRC] = ip_packed(obj.get("src"))
        rec[SUM_DST] = ip_packed(obj.get("dst"))
        for i in (
            SUM_WIRELEN,
            SUM_PROTO,
            SUM_SPORT,
            SUM_DPORT,
            SUM_FLAGS,
            SUM_SEQ,
            SUM_ACK,
            SUM_PAYLEN,
            SUM_WINDOW,
        ):
            if rec[i] is None:
                rec[i] = 0
    return rec


def make_header(
    producer: str,
    linktype: int | None,
    source: str,
    live: bool,
    snaplen: int | None,
    start: float,
    stages: list[str] | None = None,
) -> dict[str, Any]:
    """A stream header record."""
    return {
        "t": HEADER,
        "v": FORMAT_VERSION,
        "producer": producer,
        "linktype": linktype,
        "source": source,
        "live": live,
        "snaplen": snaplen,
        "start": start,
        "stages": list(stages or []) + [producer.split()[0]],
        "privs": [privileges_entry(producer.split()[0])],
    }


def restamp_header(hdr: dict[str, Any], producer: str) -> dict[str, Any]:
    """The header a downstream stage writes: the input's, with this stage appended."""
    out = dict(hdr)
    out["v"] = FORMAT_VERSION
    out["producer"] = producer
    stages = out.get("stages")
    out["stages"] = (list(stages) if isinstance(stages, list) else []) + [producer.split()[0]]
    privs = out.get("privs")
    out["privs"] = (list(privs) if isinstance(privs, list) else [])[-MAX_PRIVS + 1 :] + [
        privileges_entry(producer.split()[0])
    ]
    return out


MAX_PRIVS: Final = 32  # entries kept: a hostile header must not grow as it passes each stage


def privileges_entry(stage: str) -> dict[str, Any]:
    """This process's user and capabilities, as the header's ``privs`` entry for ``stage``."""
    from rustnet.caps import current, names, user_name

    now = current()
    entry: dict[str, Any] = {
        "stage": stage,
        "user": user_name(now.uid),
        "uid": now.uid,
        "caps": names(now.permitted),
        "nnp": now.no_new_privs,
    }
    sandbox = sys.modules.get("rustnet.sandbox")  # loaded only by a stage that applied one
    if sandbox is not None and sandbox.status is not None:
        entry["sandbox"] = sandbox.status.as_record()
    return entry
