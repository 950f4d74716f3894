"""The record types of the rustnet stream, declared with their fields and units.

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
``rustnet --json``'s open ones, sockets to join) is cut to these limits: at most 64
fields, named by at most 64 characters; text of at most 4096 characters (cut text ends
in ``…``); lists of at most 64 items, whose text is cut to 1024 characters and which
hold no lists or maps; a map value keeps 64 entries of plain values. rn-view and rustnet
count the values they cut and say so in one line on stderr. And a command keeps at most
``--max-connections`` connections (rn-track, rn-view, rustnet).

Format version 1. A reader refuses a header whose ``v`` is newer than
:data:`FORMAT_VERSION`; a header may appear anywhere (concatenated recordings).
"""

from __future__ import annotations

import binascii

# The C functions themselves: socket.py builds enums when imported, start-up time every command paid.
from _socket import AF_INET, AF_INET6, inet_ntop, inet_pton
from typing import Any, Final

FORMAT_VERSION: Final = 1

# Type tags.
HEADER: Final = "hdr"
PACKET: Final = "pkt"
SUMMARY: Final = "sum"
CAPTURE_STATS: Final = "stats"
DISSECT_STATS: Final = "dstats"
CONN: Final = "conn"
SOCK: Final = "sock"
WARNING: Final = "warn"

Record = list[Any] | dict[str, Any]

# --- hdr (map) -------------------------------------------------------------
# t         "hdr"
# v         int, format version of what follows
# producer  str, "rn-capture 0.1.0" (the last stage that rewrote the header)
# linktype  int, libpcap DLT of the packet records that follow (1 Ethernet, 113 SLL, 276 SLL2, 0 NULL,
#           108 LOOP, 12/101 raw IP)
# source    str, interface name or capture file path
# live      bool, true for a live interface (process attribution only applies then)
# snaplen   int, bytes captured per packet at most
# start     float, capture start, epoch seconds
# stages    list[str], the producers this stream went through, in order
# netns     int, optional: inode of the network namespace a live capture runs in. rn-enrich names
#           as a connection's own process the owner of the socket at the end whose address is that
#           namespace's; the other end's owner, in another namespace of this host, is its peer
# privs     list[map], the privileges each stage had when it wrote the header (after giving up what
#           it does not need), in the order of ``stages``: stage str, user str, uid int, caps
#           list[str] (its permitted capabilities, e.g. "cap_net_raw"), nnp bool (no_new_privs set).
#           Shown by the viewer; like everything in a stream, only a claim of whoever wrote it.

# --- pkt (positional) --------------------------------------------------------
PKT_FIELDS: Final = ("t", "ts", "wirelen", "data", "linktype")
# ts        float, epoch seconds (µs resolution)
# wirelen   int, the frame's length on the wire (pcap ``len``); data may be shorter (snaplen)
# data      bytes, the captured frame starting at the link-layer header of ``hdr.linktype``
# linktype  int, optional (the record then has 5 elements): this frame's own link type when it is
#           not ``hdr.linktype`` (a pcapng file whose interfaces differ, e.g. Ethernet and Linux
#           cooked); absent (4 elements) for frames of the header's link type
PKT_TS: Final = 1
PKT_WIRELEN: Final = 2
PKT_DATA: Final = 3
PKT_LINKTYPE: Final = 4

# --- sum (positional): one packet dissected to L4 ------------------------------
SUM_FIELDS: Final = (
    "t",
    "ts",
    "wirelen",
    "proto",
    "src",
    "sport",
    "dst",
    "dport",
    "flags",
    "seq",
    "ack",
    "paylen",
    "window",
    "vlan",
    "info",
)
# ts        float, epoch seconds
# wirelen   int, frame length on the wire (what connection byte counts add up)
# proto     int: 6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, other IP protocol numbers as is, 2054 ARP
# src, dst  bytes: packed IPv4 (4) or IPv6 (16) address; ARP: sender and target protocol address.
#           In JSON: text.
# sport     int: TCP/UDP source port; ICMP/ICMPv6: the message type; ARP: the opcode
# dport     int: TCP/UDP destination port; ICMP/ICMPv6: the code; ARP: 0
# flags     int: TCP flags (FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 URG 0x20 ECE 0x40 CWR 0x80); else 0
# seq, ack  int: TCP sequence and acknowledgement numbers; ICMP echo: identifier and sequence; else 0
# paylen    int: L4 payload length in bytes, from the IP/UDP length fields (not the captured length)
# window    int: TCP window (unscaled); else 0
# vlan      list[int] | None: 802.1Q ids, outer first
# info      dict | None: everything else, only when present; keys documented in
#           rustnet.dissect.info (DPI results such as ``app`` ``sni`` ``http_host``; ``frag``; ``trunc``;
#           ``malformed``; ARP ``sha``/``tha`` MACs)
SUM_TS: Final = 1
SUM_WIRELEN: Final = 2
SUM_PROTO: Final = 3
SUM_SRC: Final = 4
SUM_SPORT: Final = 5
SUM_DST: Final = 6
SUM_DPORT: Final = 7
SUM_FLAGS: Final = 8
SUM_SEQ: Final = 9
SUM_ACK: Final = 10
SUM_PAYLEN: Final = 11
SUM_WINDOW: Final = 12
SUM_VLAN: Final = 13
SUM_INFO: Final = 14

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

# --- stats (map): capture statistics, emitted periodically by rn-capture --------
# t         "stats"
# ts        float, epoch seconds
# source    str, interface or file
# packets   int, packets written so far by rn-capture
# received  int, packets the kernel delivered to libpcap (live only)
# dropped   int, dropped by the kernel buffer (live only)
# ifdropped int, dropped by the interface/driver (live only, when known)

# --- dstats (map): dissection counters, emitted by rn-dissect at end and periodically --
# t, ts, packets, malformed, truncated, non_ip, other, fragments, dpi_errors (ints, totals since start):
# packets   pkt records read;  malformed  damaged frames/records (incl. ``info.anomaly``);
# truncated frames cut by snaplen where bytes we needed were missing;  non_ip  neither IP nor ARP
# (LLDP, STP, EAPOL, ...);  other  link type not supported (or no header yet);  fragments  IP fragments;
# dpi_errors  exceptions escaping DPI (a bug: the packet is still summarised, without DPI fields);
# dns_unsolicited  DNS/mDNS/LLMNR responses that answered no query seen (same id, addresses and
# ports swapped, within 5 s): they name no address (no ``dns_resolved``);  dns_evicted  queries
# dropped from the full table of pending queries while their answer could still come;
# quic_skipped  QUIC Initials not decrypted: over the budget for first Initials (500 per second of
# capture time, 1000 saved up; a flood of Initials with random DCIDs) or past 64 in one flow.
# Emitted by ``tick`` only when a counter changed, and always at the end (rustnet.dissect.engine).

# --- warn (map): a problem a stage wants the viewer to show ---------------------
# t "warn", ts float, stage str (e.g. "rn-capture"), msg str (already escaped for display)

# --- sock (map): a local socket and the process owning it, from rn-enrich --------
# Emitted by rn-enrich when it runs upstream of rn-track (``rn-capture | rn-enrich``, e.g. on a
# remote host), so whoever builds connections later (rn-track, rn-view) can attribute them with
# rustnet.track.join.SocketJoiner.
# t "sock", ts float, proto "tcp"|"udp", local str (IP text), lport int, remote str ("" when not
# connected / listening), rport int (0 when not connected), listening bool, pid int|None,
# process str|None, cmdline str|None, user str|None, netns str|None; when known: group str,
# ppid int, exe str, ancestors list[str], via str (how a connected socket was found, as owner_via).
# peer true: the socket of a connection's far end, also on this host (another namespace): it gives
# the connection's peer_* fields, never its own process.

# --- conn (map): the public connection record, documented here and in
#     rustnet.track.record; emitted by rn-track.
# rn-enrich adds, when known: process, pid, cmdline, user, netns (the owning process: the
# owner of the socket at the end whose address belongs to the capture's namespace, see hdr netns;
# absent when unknown, never a guess); for that process also group (effective group), ppid, exe
# (the executable's path), ancestors (list of "name/pid", up to 4 parents, oldest first) and
# owner_via, how it was found: "exact-tuple" (a connected socket with this tuple, its process
# read from /proc), "short-lived-watch" (the same, caught between two polls by the fast
# watcher), "exec-event" (the same, its process one announced by a kernel exec event),
# "listener-socket" (a listening socket at the port), "bound-socket" (an unconnected UDP
# socket at the port). When the far end is on this host too (another namespace):
# peer_pid, peer_process, peer_user, peer_netns (its owner);
# service (the responder port's service name); hostname_src / hostname_dst (a name for that
# address) with hostname_src_via / hostname_dst_via saying how it was learned: "dns" (inferred
# from a DNS answer seen on the wire to a query seen, see dns_resolved; rn-view shows ~name)
# or "ptr" (a reverse lookup, rn-enrich --reverse-dns).

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
    return {
        "stage": stage,
        "user": user_name(now.uid),
        "uid": now.uid,
        "caps": names(now.permitted),
        "nnp": now.no_new_privs,
    }
