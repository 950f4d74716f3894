"""The declared records: every field of every record type, in one table.

For each field: its name, type, unit, a one-line meaning and the stage that writes it;
for the connection record also how updates of a connection merge it, whether and under
which keyword the viewer's filter searches it, and the label the viewer's Details shows
it under (in table order). Everything that lists fields is derived from here:
rustnet-records(5) (rustnet.docs), the summary record's positions (rustnet.stream.records),
rn-dissect's counters, rn-track's DPI merge, rn-view's filter, Details and kept fields.
A test runs the whole pipeline over the corpus and fails on any field a stage writes that
is not declared here.

Adding a DPI field means: the dissector, one entry in :data:`CONN` (stage ``rn-dissect``),
a test.
"""

from __future__ import annotations

from typing import Any, Final

from rustnet.stream.bounds import (
    MAX_FIELDS,
    MAX_IFACES,
    MAX_IFNAME,
    MAX_INT,
    MAX_ITEM_TEXT,
    MAX_KEY,
    MAX_LIST,
    MAX_PORT,
    MAX_TEXT,
    MAX_VLAN,
    MAX_WINDOW,
    MAX_WIRELEN,
)

CAPTURE: Final = "rn-capture"
DISSECT: Final = "rn-dissect"
TRACK: Final = "rn-track"
ENRICH: Final = "rn-enrich"
VIEW: Final = "rn-view"
STAGES: Final = (CAPTURE, DISSECT, TRACK, ENRICH, VIEW)  # every stage that writes headers
# What a viewer merging several streams writes into each record of one of them.
NODE_MEANING: Final = (
    "the node (host) the record came from: set by a viewer merging several streams "
    "(rustnet --remote A --remote B, rn-view A B), from the name it was given or the stream header's host"
)

# How the records of one connection carry a field from update to update (``Field.merge``).
OWN: Final = "own"
FIRST: Final = "first"
LATEST: Final = "latest"
ACCUMULATE: Final = "accumulate"
QUERY: Final = "query"
KEPT: Final = "kept"

# What rn-track keeps of the DPI fields of one connection (rustnet.track.dpi).
MAX_DPI_FIELDS: Final = 32
MAX_DPI_TEXT: Final = 1024
MAX_DPI_LIST: Final = 32
MAX_DPI_KEY: Final = 32

MERGES: Final = {
    OWN: "written afresh by its stage on every record",
    FIRST: "rn-track keeps the first non-empty value a packet reported",
    LATEST: "rn-track keeps the latest value a packet reported",
    ACCUMULATE: f"rn-track accumulates the distinct values packets reported (at most {MAX_DPI_LIST})",
    QUERY: "rn-track keeps the first value; every value also joins dns_queries",
    KEPT: "rn-view keeps the value when a later record of the connection comes without it",
}


class _Required:
    """``Field.default`` of a field that has none: it must always be given."""

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Final = _Required()


# Plain classes: a NamedTuple class costs ~1.5 ms to define, and every command imports this.
class Field:
    """One field of a record type."""

    __slots__ = (
        "name",
        "type",
        "meaning",
        "unit",
        "stage",
        "merge",
        "search",
        "keywords",
        "label",
        "default",
        "card",
        "side",
    )

    def __init__(
        self,
        name: str,
        type: str,  # "str", "int", "float", "bool", "list[str]", "map", "str|null", ...
        meaning: str,  # one line
        unit: str = "",  # "bytes", "B/s", "ms", "epoch s", "packets", ...; "" for names and codes
        stage: str = "",  # the stage that writes it; "" for every stage
        merge: str = OWN,  # conn only: one of MERGES
        search: bool = False,  # conn only: plain filter words search it
        keywords: tuple[str, ...] = (),  # conn only: filter keywords whose values include it
        label: str = "",  # conn only: the label Details shows it under (a human one, RustNet's)
        default: Any = REQUIRED,  # positional records: the value where the field does not apply
        card: str = "",  # conn only: the Details card that shows it; "" is not shown on its own
        side: str = "",  # conn only: "src" or "dst", the end it describes (Details: Local or Remote)
    ) -> None:
        self.name = name
        self.type = type
        self.meaning = meaning
        self.unit = unit
        self.stage = stage
        self.merge = merge
        self.search = search
        self.keywords = keywords
        self.label = label
        self.default = default
        self.card = card
        self.side = side

    def __repr__(self) -> str:
        return f"Field({self.name!r}, {self.type!r}, stage={self.stage!r}, merge={self.merge!r})"


# The cards of the viewer's Details (RustNet's), in order. An application's card is named after
# it (app_card); a connection shows the one of its application.
CONNECTION: Final = "Connection"
NETWORK: Final = "Network Context"
ATTRIBUTION: Final = "Attribution"
TRANSPORT: Final = "Transport Health"
TRAFFIC: Final = "Traffic Statistics"
APPLICATION: Final = "Application"


def app_card(app: str) -> str:
    """The Details card of application ``app``'s fields."""
    return f"{APPLICATION}: {app}"


class RecordType:
    """A record type: its tag, map or positional, what it is for, its fields."""

    __slots__ = ("tag", "kind", "title", "about", "fields")

    def __init__(self, tag: str, kind: str, title: str, about: str, fields: tuple[Field, ...]) -> None:
        self.tag = tag
        self.kind = kind  # "map" | "positional"
        self.title = title
        self.about = about  # a paragraph for rustnet-records(5)
        self.fields = fields


def _tag(tag: str) -> Field:
    return Field("t", "str", f'"{tag}", the record type')


# --- hdr -----------------------------------------------------------------------------------
HDR: Final[tuple[Field, ...]] = (
    _tag("hdr"),
    Field("v", "int", "format version of what follows"),
    Field("producer", "str", 'the last stage that rewrote the header, e.g. "rn-capture 0.1.0"'),
    Field(
        "linktype",
        "int",
        "libpcap DLT of the packet records that follow (1 Ethernet, 113 SLL, 276 SLL2, 0 NULL, "
        "108 LOOP, 12/101 raw IP)",
        stage=CAPTURE,
    ),
    Field("source", "str", "interface name or capture file path", stage=CAPTURE),
    Field(
        "host",
        "str",
        "optional: the name of the host a live capture runs on; a viewer merging several streams "
        "names each stream's node after it",
        stage=CAPTURE,
    ),
    Field(
        "addrs",
        "list[str]",
        "optional: the IP addresses of the host (network namespace) a live capture runs on, at most "
        "256; rn-track takes them, not its own host's, to tell the local end (local_side) of a "
        "stream captured elsewhere (rustnet --remote)",
        stage=CAPTURE,
    ),
    Field(
        "live",
        "bool",
        "true for a live interface (process attribution only applies then); false: a finite input, "
        "whose every connection a viewer keeps and lists (closed ones too, not only 60 s of them)",
        stage=CAPTURE,
    ),
    Field("snaplen", "int", "bytes captured per packet at most", "bytes", CAPTURE),
    Field("start", "float", "capture start", "epoch s", CAPTURE),
    Field("stages", "list[str]", "the producers this stream went through, in order"),
    Field(
        "shard",
        "str",
        'optional: "I/N" when this stream is worker I\'s share of N (rn-capture --shard): the '
        "connections whose flow hash falls to it; rn-merge puts the N shares back together",
        stage=CAPTURE,
    ),
    Field("node", "str", "optional: " + NODE_MEANING, stage=VIEW),
    Field(
        "netns",
        "int",
        "optional: inode of the network namespace a live capture runs in. rn-enrich names as a "
        "connection's own process the owner of the socket at the end whose address is that "
        "namespace's; the other end's owner, in another namespace of this host, is its peer",
        stage=CAPTURE,
    ),
    Field(
        "resolve_dns",
        "bool",
        "rn-enrich looks up PTR names of this stream's addresses (reverse DNS is on)",
        stage=ENRICH,
    ),
    Field(
        "geoip",
        "list[str]",
        'the GeoIP databases rn-enrich loaded ("country", "asn", "city"); absent when none. A '
        "viewer shows a Loc column when country or city is among them",
        stage=ENRICH,
    ),
    Field(
        "attribution",
        "str",
        'how rn-enrich finds the process of a connection here: its sources joined by " + " '
        "(sock_diag or /proc/net, procfs, exec events or fast socket watch; psutil off Linux), "
        '"none (not a live capture)" or "off"',
        stage=ENRICH,
    ),
    Field(
        "privs",
        "list[map]",
        "the privileges each stage had when it wrote the header (after giving up what it does "
        "not need), one entry per stage in the order of stages (keys below). Shown by the "
        "viewer; like everything in a stream, only a claim of whoever wrote it",
    ),
)

# The entries of the header's ``privs``.
PRIVS: Final[tuple[Field, ...]] = (
    Field("stage", "str", "the stage's name"),
    Field("user", "str", "the user it ran as"),
    Field("uid", "int", "that user's id"),
    Field("caps", "list[str]", 'its permitted capabilities, e.g. "cap_net_raw"'),
    Field("nnp", "bool", "no_new_privs set"),
    Field(
        "sandbox",
        "map",
        'optional: the stage\'s sandbox: "state" (Fully enforced, Partially enforced, Not applied '
        'or Error), "abi" (the kernel\'s Landlock ABI, 0 for none), "features" (e.g. "FS '
        'restricted", "Net blocked", "IPC scoped", "No new privs", "Root UID dropped") and '
        '"reason" when not fully enforced',
    ),
)

# --- pkt -----------------------------------------------------------------------------------
PKT: Final[tuple[Field, ...]] = (
    _tag("pkt"),
    Field("ts", "float", "capture time (µs resolution)", "epoch s", CAPTURE),
    Field(
        "wirelen",
        "int",
        "the frame's length on the wire (pcap len); data may be shorter (snaplen)",
        "bytes",
        CAPTURE,
    ),
    Field(
        "data",
        "bytes",
        "the captured frame starting at the link-layer header of hdr.linktype (JSON: hex)",
        stage=CAPTURE,
    ),
    Field(
        "linktype",
        "int",
        "optional (the record then has 5 elements): this frame's own link type when it is not "
        "hdr.linktype (a pcapng file whose interfaces differ, e.g. Ethernet and Linux cooked); "
        "absent (4 elements) for frames of the header's link type",
        stage=CAPTURE,
    ),
)

# --- pkb -----------------------------------------------------------------------------------
# Many whole frames in one record: what libpcap's next_batch gives, passed on as it is.
PKB: Final[tuple[Field, ...]] = (
    _tag("pkb"),
    Field(
        "signed",
        "bool",
        "true: the seconds in meta are signed 32-bit numbers (a capture file, read as libpcap reads "
        "it); false: unsigned (a live capture's clock)",
        stage=CAPTURE,
    ),
    Field(
        "meta",
        "bytes",
        "16 bytes per frame, four little-endian 32-bit numbers: seconds, microseconds, the frame's "
        "offset in data and its length; frames in order, none overlapping the one before",
        stage=CAPTURE,
    ),
    Field(
        "data",
        "bytes",
        "the frames, each whole (its length is its wire length), of hdr.linktype",
        stage=CAPTURE,
    ),
)

# --- sum -----------------------------------------------------------------------------------
# Positional, in this order; ``default`` is what a field holds where it does not apply.
SUM: Final[tuple[Field, ...]] = (
    _tag("sum"),
    Field("ts", "float", "capture time", "epoch s", DISSECT),
    Field(
        "wirelen",
        "int",
        "frame length on the wire (what connection byte counts add up), 0..4294967295",
        "bytes",
        DISSECT,
    ),
    Field(
        "proto",
        "int",
        "6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, other IP protocol numbers as is, 2054 ARP",
        stage=DISSECT,
    ),
    Field(
        "src",
        "bytes",
        "packed IPv4 (4) or IPv6 (16) source address; ARP: the sender protocol address (JSON: text)",
        stage=DISSECT,
    ),
    Field(
        "sport",
        "int",
        "TCP/UDP source port; ICMP/ICMPv6: the message type; ARP: the opcode",
        stage=DISSECT,
        default=0,
    ),
    Field("dst", "bytes", "destination address, as src; ARP: the target protocol address", stage=DISSECT),
    Field(
        "dport", "int", "TCP/UDP destination port; ICMP/ICMPv6: the code; else 0", stage=DISSECT, default=0
    ),
    Field(
        "flags",
        "int",
        "TCP flags (FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 URG 0x20 ECE 0x40 CWR 0x80); else 0",
        stage=DISSECT,
        default=0,
    ),
    Field("seq", "int", "TCP sequence number; ICMP echo: the identifier; else 0", stage=DISSECT, default=0),
    Field(
        "ack", "int", "TCP acknowledgement number; ICMP echo: the sequence; else 0", stage=DISSECT, default=0
    ),
    Field(
        "paylen",
        "int",
        "L4 payload length, from the IP/UDP length fields (not the captured length)",
        "bytes",
        DISSECT,
        default=0,
    ),
    Field("window", "int", "TCP window (unscaled); else 0", "bytes", DISSECT, default=0),
    Field(
        "vlan",
        "list[int]|null",
        "802.1Q ids, outer first (JSON: absent when null)",
        stage=DISSECT,
        default=None,
    ),
    Field(
        "info",
        "map|null",
        "everything else, only when there is something: the per-packet keys below, and the "
        "connection record fields rn-dissect writes (DPI results such as app, sni, http_host; "
        "anomaly; tunnel; the ARP sha and tha) (JSON: absent when null)",
        stage=DISSECT,
        default=None,
    ),
)

# Keys of a summary's ``info`` that describe that one packet: rn-track does not copy them into
# the connection (the other keys of ``info`` are connection fields; see CONN).
INFO: Final[tuple[Field, ...]] = (
    Field(
        "malformed",
        "str",
        "why the packet could not be dissected down to its L4 header (its L4 fields are then 0 "
        "and paylen is the L3 payload length)",
        stage=DISSECT,
    ),
    Field(
        "trunc",
        "bool",
        "true when snaplen cut the frame after the L4 header: every field is valid, only payload "
        "bytes are missing",
        stage=DISSECT,
    ),
    Field(
        "frag",
        "str",
        'an IP fragment: "last" completes a datagram whose first fragment was seen and carries its '
        'ports and whole L4 payload length; "part" any other fragment (ports 0 unless the first '
        "came first)",
        stage=DISSECT,
    ),
    Field(
        "quic_state",
        "str",
        "a hint for rn-track's QUIC state: QUIC_INITIAL, QUIC_HANDSHAKE, QUIC_CONNECTED, "
        "QUIC_DRAINING, QUIC_CLOSED; never moves backwards",
        stage=DISSECT,
    ),
    Field(
        "quic_packet",
        "str",
        "QUIC: initial or handshake, on a datagram starting with such a long-header packet "
        "(what rn-track times the handshake by)",
        stage=DISSECT,
    ),
    Field(
        "req_id",
        "str",
        'a request rn-track may time, as "<protocol> <id>": dns, llmnr and nbns (NetBIOS name '
        "service) with the 16-bit id, ntp with the transmit timestamp, stun with the 96-bit "
        "transaction id, all in hex (DNS over TCP: the segment's first message)",
        stage=DISSECT,
    ),
    Field(
        "resp_id",
        "str",
        "a response, as req_id names the request it answers (NTP: by its originate timestamp); "
        "a NetBIOS WACK, which asks the requester to wait, is none",
        stage=DISSECT,
    ),
)

# --- stats ---------------------------------------------------------------------------------
STATS: Final[tuple[Field, ...]] = (
    _tag("stats"),
    Field("ts", "float", "when the counters were read", "epoch s", CAPTURE),
    Field("source", "str", "interface or file", stage=CAPTURE),
    Field("packets", "int", "packets written so far by rn-capture", "packets", CAPTURE),
    Field("received", "int", "packets the kernel delivered to libpcap (live only)", "packets", CAPTURE),
    Field("dropped", "int", "packets dropped by the kernel buffer (live only)", "packets", CAPTURE),
    Field(
        "ifdropped",
        "int",
        "packets dropped by the interface or driver (live only, when known)",
        "packets",
        CAPTURE,
    ),
    Field("node", "str", "optional: " + NODE_MEANING, stage=VIEW),
)

# --- ifstats -------------------------------------------------------------------------------
# The counters of one interface, in the order rn-capture reads them.
IFACE_COUNTERS: Final = (
    "rx_bytes",
    "tx_bytes",
    "rx_packets",
    "tx_packets",
    "rx_errors",
    "tx_errors",
    "rx_dropped",
    "tx_dropped",
    "collisions",
)
IFACE: Final[tuple[Field, ...]] = (
    Field("name", "str", "the interface, e.g. eth0", stage=CAPTURE),
    *(
        Field(
            c,
            "int",
            f"the kernel's {c} counter since the interface came up (cumulative)",
            "bytes" if c.endswith("bytes") else "packets",
            CAPTURE,
        )
        for c in IFACE_COUNTERS
    ),
)
IFSTATS: Final[tuple[Field, ...]] = (
    _tag("ifstats"),
    Field("ts", "float", "when the counters were read", "epoch s", CAPTURE),
    Field("captured", "str|null", "the interface being captured (null when not known)", stage=CAPTURE),
    Field(
        "ifaces",
        "list[map]",
        "every interface of the capturing host, each a map of name and counters (below)",
        stage=CAPTURE,
    ),
    Field("node", "str", "optional: " + NODE_MEANING, stage=VIEW),
)

# --- dstats --------------------------------------------------------------------------------
# Every field after ts is a counter, in this order (rustnet.dissect.engine.COUNTERS).
DSTATS: Final[tuple[Field, ...]] = (
    _tag("dstats"),
    Field("ts", "float", "when the counters were read", "epoch s", DISSECT),
    Field("packets", "int", "pkt records read", "packets", DISSECT),
    Field(
        "malformed",
        "int",
        "damaged frames or records (packets with info.anomaly included)",
        "packets",
        DISSECT,
    ),
    Field("truncated", "int", "frames cut by snaplen where bytes we needed were missing", "packets", DISSECT),
    Field("non_ip", "int", "frames neither IP nor ARP (LLDP, STP, EAPOL, ...)", "packets", DISSECT),
    Field("other", "int", "frames of a link type not supported (or before any header)", "packets", DISSECT),
    Field("fragments", "int", "IP fragments", "packets", DISSECT),
    Field(
        "dpi_errors",
        "int",
        "exceptions escaping DPI (a bug: the packet is still summarised, without DPI fields)",
        "packets",
        DISSECT,
    ),
    Field(
        "dns_unsolicited",
        "int",
        "DNS/mDNS/LLMNR responses that answered no query seen (same id, addresses and ports "
        "swapped, within 5 s): they name no address (no dns_resolved)",
        "responses",
        DISSECT,
    ),
    Field(
        "dns_evicted",
        "int",
        "queries dropped from the full table of pending queries while their answer could still come",
        "queries",
        DISSECT,
    ),
    Field(
        "quic_skipped",
        "int",
        "QUIC Initials not decrypted: over the budget for first Initials (500 per second of "
        "capture time, 1000 saved up; a flood with random DCIDs) or past 64 in one flow",
        "packets",
        DISSECT,
    ),
    Field(
        "reassembled",
        "int",
        "fragmented UDP datagrams put back together for DPI (their fragments came first to last)",
        "datagrams",
        DISSECT,
    ),
    Field(
        "reassembly_dropped",
        "int",
        "fragmented UDP datagrams given up for DPI: overlapping fragments (RFC 5722), a gap at "
        "the last fragment, over 65535 bytes or 128 fragments, over 30 s of capture time, or no "
        "room (256 datagrams, 1 MiB held)",
        "datagrams",
        DISSECT,
    ),
)

# --- warn ----------------------------------------------------------------------------------
WARN: Final[tuple[Field, ...]] = (
    _tag("warn"),
    Field("ts", "float", "when", "epoch s"),
    Field("stage", "str", 'the stage that warns, e.g. "rn-capture"'),
    Field("msg", "str", "the warning, already escaped for display"),
    Field(
        "down",
        "bool",
        "optional, from rustnet with several --remote hosts: true when this node's stream ended "
        "and is being retried (the viewer shows the node as down until its stream starts again)",
        stage="rustnet",
    ),
    Field("node", "str", "optional: " + NODE_MEANING, stage=VIEW),
)

# --- name ----------------------------------------------------------------------------------
NAME: Final[tuple[Field, ...]] = (
    _tag("name"),
    Field("ts", "float", "when the name was found", "epoch s", ENRICH),
    Field("addr", "str", "the address named, as in a connection's src or dst", stage=ENRICH),
    Field("name", "str", "its name, escaped for display, at most 253 characters", stage=ENRICH),
    Field("via", "str", '"ptr": a reverse lookup (how hostname_src_via says it)', stage=ENRICH),
)

# --- clock ---------------------------------------------------------------------------------
CLOCK: Final[tuple[Field, ...]] = (
    _tag("clock"),
    Field(
        "ts", "float", "one or more: the capture times of packets another shard tracks", "epoch s", CAPTURE
    ),
)

# --- sock ----------------------------------------------------------------------------------
SOCK: Final[tuple[Field, ...]] = (
    _tag("sock"),
    Field("ts", "float", "when the socket table was read", "epoch s", ENRICH),
    Field("proto", "str", '"tcp" or "udp"', stage=ENRICH),
    Field("local", "str", "local IP as text", stage=ENRICH),
    Field("lport", "int", "local port", stage=ENRICH),
    Field("remote", "str", 'remote IP as text; "" when not connected (listening)', stage=ENRICH),
    Field("rport", "int", "remote port; 0 when not connected", stage=ENRICH),
    Field("listening", "bool", "a listening socket", stage=ENRICH),
    Field("pid", "int|null", "the owning process", stage=ENRICH),
    Field("process", "str|null", "its name", stage=ENRICH),
    Field("cmdline", "str|null", "its command line", stage=ENRICH),
    Field("node", "str", "optional: " + NODE_MEANING, stage=VIEW),
    Field("user", "str|null", "the socket's user", stage=ENRICH),
    Field(
        "netns",
        "str|null",
        "the socket's network namespace when not the host's (as conn netns)",
        stage=ENRICH,
    ),
    Field("group", "str", "when known: the process's effective group", stage=ENRICH),
    Field("ppid", "int", "when known: its parent's process id", stage=ENRICH),
    Field("exe", "str", "when known: the path of its executable", stage=ENRICH),
    Field(
        "ancestors", "list[str]", 'when known: its parents as "name/pid", up to 4, oldest first', stage=ENRICH
    ),
    Field(
        "via",
        "str",
        "how a connected socket was found, as the conn field owner_via (exact-tuple, "
        "short-lived-watch, exec-event)",
        stage=ENRICH,
    ),
    Field(
        "peer",
        "bool",
        "true: the socket of a connection's far end, also on this host (another namespace): it "
        "gives the connection's peer_* fields, never its own process",
        stage=ENRICH,
    ),
)

# --- conn ----------------------------------------------------------------------------------
# Table order is the order Details shows the fields in.
_HOSTNAME_VIA = (
    'how hostname_{side} was learned: "dns" (from a DNS answer seen on the wire to a query '
    'seen, see dns_resolved; rn-view shows ~name) or "ptr" (a reverse lookup, rn-enrich --resolve-dns)'
)
CONN: Final[tuple[Field, ...]] = (
    _tag("conn"),
    Field(
        "id",
        "int",
        "stable id of the connection, the same in every record of it; a new generation of a "
        "reused tuple gets a new id",
        stage=TRACK,
        label="Connection ID",
    ),
    Field(
        "node",
        "str",
        NODE_MEANING + "; connections of different nodes are never merged, even with equal addresses "
        "and ports",
        stage=VIEW,
        search=True,
        keywords=("node",),
        label="Host",
        card=CONNECTION,
    ),
    Field(
        "proto",
        "str",
        "tcp, udp, icmp, icmpv6, arp; other IP protocols by name (gre, esp, ...) or ip-N",
        stage=TRACK,
        search=True,
        keywords=("proto",),
        label="Protocol",
        card=CONNECTION,
    ),
    Field(
        "state",
        "str",
        "display state, a rustnet.track.states.State name (TCP: the local endpoint's when known, "
        "else the originator's)",
        stage=TRACK,
        search=True,
        keywords=("state",),
        label="State",
        card=CONNECTION,
    ),
    Field(
        "src",
        "str",
        "originator's IP as text (first SYN sender; else the first packet's sender; the receiver "
        "of a lone SYN-ACK); ARP: sender IP",
        stage=TRACK,
        search=True,
        keywords=("src",),
        label="Address",
        card=CONNECTION,
        side="src",
    ),
    Field(
        "sport",
        "int",
        "originator's port; 0 for icmp, icmpv6, arp and other protocols",
        stage=TRACK,
        search=True,
        keywords=("port", "sport"),
        label="Port",
        side="src",
    ),
    Field(
        "hostname_src",
        "str",
        "a name for src",
        stage=ENRICH,
        merge=KEPT,
        search=True,
        keywords=("src", "host"),
        label="Hostname",
        card=NETWORK,
        side="src",
    ),
    Field(
        "hostname_src_via",
        "str",
        _HOSTNAME_VIA.format(side="src"),
        stage=ENRICH,
        merge=KEPT,
        label="Hostname Via",
        side="src",
    ),
    Field(
        "dst",
        "str",
        "responder's IP as text; ARP: target IP",
        stage=TRACK,
        search=True,
        keywords=("dst",),
        label="Address",
        card=CONNECTION,
        side="dst",
    ),
    Field(
        "dport",
        "int",
        "responder's port; 0 for icmp, icmpv6, arp and other protocols",
        stage=TRACK,
        search=True,
        keywords=("port", "dport"),
        label="Port",
        side="dst",
    ),
    Field(
        "hostname_dst",
        "str",
        "a name for dst",
        stage=ENRICH,
        merge=KEPT,
        search=True,
        keywords=("dst", "host"),
        label="Hostname",
        card=NETWORK,
        side="dst",
    ),
    Field(
        "hostname_dst_via",
        "str",
        _HOSTNAME_VIA.format(side="dst"),
        stage=ENRICH,
        merge=KEPT,
        label="Hostname Via",
        side="dst",
    ),
    Field(
        "gateway",
        "str",
        '"src" or "dst": which end is a default gateway of the capturing host (live only)',
        stage=ENRICH,
        merge=KEPT,
        label="Default Gateway",
    ),
    Field(
        "mac_src",
        "str",
        'src\'s MAC "aa:bb:cc:dd:ee:ff": the ARP sender, or the neighbour table (live only)',
        stage=ENRICH,
        merge=KEPT,
        label="MAC",
        card=NETWORK,
        side="src",
    ),
    Field(
        "vendor_src",
        "str",
        'the IEEE registry\'s vendor of mac_src, or "locally administered"',
        stage=ENRICH,
        merge=KEPT,
        search=True,
        keywords=("vendor",),
        label="Vendor",
        side="src",
    ),
    Field(
        "mac_dst",
        "str",
        "dst's MAC, from the neighbour table (live only)",
        stage=ENRICH,
        merge=KEPT,
        label="MAC",
        card=NETWORK,
        side="dst",
    ),
    Field(
        "vendor_dst",
        "str",
        'the IEEE registry\'s vendor of mac_dst, or "locally administered"',
        stage=ENRICH,
        merge=KEPT,
        search=True,
        keywords=("vendor",),
        label="Vendor",
        side="dst",
    ),
    # GeoIP of the remote end (dst, or src when local_side is "dst"), rn-enrich's databases
    Field(
        "geo_country",
        "str",
        'the remote end\'s country, ISO 3166 code ("DE"), from the GeoIP Country or City database',
        stage=ENRICH,
        merge=KEPT,
        search=True,
        keywords=("country",),
        label="Country",
        card=NETWORK,
    ),
    Field(
        "geo_country_name",
        "str",
        'that country\'s English name ("Germany")',
        stage=ENRICH,
        merge=KEPT,
        search=True,
        keywords=("country",),
        label="Country Name",
    ),
    Field(
        "geo_city",
        "str",
        "the remote end's city (English name), from the GeoIP City database",
        stage=ENRICH,
        merge=KEPT,
        search=True,
        keywords=("city",),
        label="City",
        card=NETWORK,
    ),
    Field(
        "geo_asn",
        "int",
        "the remote end's autonomous system number, from the GeoIP ASN database",
        stage=ENRICH,
        merge=KEPT,
        search=True,
        keywords=("asn",),
        label="ASN",
        card=NETWORK,
    ),
    Field(
        "geo_as_org",
        "str",
        'that autonomous system\'s organisation ("GOOGLE")',
        stage=ENRICH,
        merge=KEPT,
        search=True,
        keywords=("asn",),
        label="AS Organisation",
    ),
    Field(
        "local_side",
        "str",
        '"src" or "dst": which end is this host (live capture only, when known)',
        stage=TRACK,
        label="Local Side",
    ),
    Field(
        "service",
        "str",
        "the responder port's service name (the system's services database, else a built-in table)",
        stage=ENRICH,
        search=True,
        keywords=("service",),
        label="Service",
        card=CONNECTION,
    ),
    Field(
        "app",
        "str",
        "detected application protocol: TLS, HTTP, SSH, FTP, MQTT, DNS, MDNS, LLMNR, QUIC, NTP, DHCP, SSDP, "
        "SNMP, NetBIOS-NS, NetBIOS-DGM, NetBIOS-SSN, "
        "STUN, BitTorrent, BitTorrent-DHT",
        stage=DISSECT,
        merge=FIRST,
        search=True,
        keywords=("app",),
        label="Application",
    ),
    Field(
        "process",
        "str",
        "name of the process owning the connection's socket: the owner of the socket at the end "
        "whose address belongs to the capture's namespace (see hdr netns); absent when unknown, "
        "never a guess",
        stage=ENRICH,
        merge=KEPT,
        search=True,
        keywords=("process",),
        label="Process",
        card=CONNECTION,
    ),
    Field(
        "pid",
        "int",
        "its process id",
        stage=ENRICH,
        merge=KEPT,
        search=True,
        keywords=("process",),
        label="PID",
        card=ATTRIBUTION,
    ),
    Field("user", "str", "its user", stage=ENRICH, merge=KEPT, search=True, label="User", card=ATTRIBUTION),
    Field("group", "str", "its effective group", stage=ENRICH, merge=KEPT, label="Group"),
    Field(
        "cmdline",
        "str",
        "its command line",
        stage=ENRICH,
        merge=KEPT,
        search=True,
        label="Command Line",
        card=ATTRIBUTION,
    ),
    Field(
        "exe",
        "str",
        "the path of its executable",
        stage=ENRICH,
        merge=KEPT,
        search=True,
        label="Executable",
        card=ATTRIBUTION,
    ),
    Field("ppid", "int", "its parent's process id", stage=ENRICH, merge=KEPT, label="PPID", card=ATTRIBUTION),
    Field(
        "ancestors",
        "list[str]",
        'its parents as "name/pid", up to 4, oldest first',
        stage=ENRICH,
        merge=KEPT,
        label="Process Tree",
        card=ATTRIBUTION,
    ),
    Field(
        "netns",
        "str",
        "its network namespace when not the host's: the ip netns name, the container "
        "(docker:0123456789ab) or net:[inode]",
        stage=ENRICH,
        merge=KEPT,
        label="Network Namespace",
        card=ATTRIBUTION,
    ),
    Field(
        "owner_via",
        "str",
        'how the process was found: "exact-tuple" (a connected socket with this tuple, its process '
        'read from /proc), "short-lived-watch" (the same, caught between two polls by the fast '
        'watcher), "exec-event" (the same, its process one announced by a kernel exec event), '
        '"listener-socket" (a listening socket at the port), "bound-socket" (an unconnected UDP '
        "socket at the port)",
        stage=ENRICH,
        merge=KEPT,
        label="Match",
        card=ATTRIBUTION,
    ),
    Field(
        "peer_process",
        "str",
        "when the far end is on this host too (another namespace): the name of its owner",
        stage=ENRICH,
        merge=KEPT,
        search=True,
        label="Peer Process",
        card=ATTRIBUTION,
    ),
    Field(
        "peer_pid",
        "int",
        "that owner's process id",
        stage=ENRICH,
        merge=KEPT,
        label="Peer PID",
        card=ATTRIBUTION,
    ),
    Field(
        "peer_user", "str", "that owner's user", stage=ENRICH, merge=KEPT, label="Peer User", card=ATTRIBUTION
    ),
    Field(
        "peer_netns",
        "str",
        "that owner's network namespace, as netns",
        stage=ENRICH,
        merge=KEPT,
        label="Peer Namespace",
        card=ATTRIBUTION,
    ),
    # TLS (and the ClientHello / ServerHello inside QUIC Initials)
    Field(
        "sni",
        "str",
        "ClientHello server name (with ECH: the outer, public name)",
        stage=DISSECT,
        merge=FIRST,
        search=True,
        keywords=("sni", "host"),
        label="SNI",
        card=app_card("TLS"),
    ),
    Field(
        "alpn",
        "list[str]",
        "ClientHello ALPN protocol names",
        stage=DISSECT,
        merge=FIRST,
        search=True,
        label="ALPN",
        card=app_card("TLS"),
    ),
    Field(
        "tls_versions_offered",
        "list[str]",
        'ClientHello supported_versions, e.g. "TLS 1.3"',
        stage=DISSECT,
        merge=FIRST,
        label="Versions Offered",
        card=app_card("TLS"),
    ),
    Field(
        "ech",
        "bool",
        "true when the ClientHello offers Encrypted Client Hello (or ESNI)",
        stage=DISSECT,
        merge=FIRST,
        label="ECH Offered",
        card=app_card("TLS"),
    ),
    Field(
        "tls_version",
        "str",
        'version the ServerHello chose, e.g. "TLS 1.3"',
        stage=DISSECT,
        merge=FIRST,
        search=True,
        label="TLS Version",
        card=app_card("TLS"),
    ),
    Field(
        "tls_cipher",
        "str",
        "cipher suite the ServerHello chose (IANA name, else hex)",
        stage=DISSECT,
        merge=FIRST,
        label="Cipher Suite",
        card=app_card("TLS"),
    ),
    Field(
        "starttls",
        "str",
        'protocol whose STARTTLS command led to the TLS: "SMTP", "IMAP", "POP3" or "FTP" (AUTH TLS)',
        stage=DISSECT,
        merge=FIRST,
        search=True,
        label="STARTTLS From",
        card=app_card("TLS"),
    ),
    # HTTP/1.x
    Field(
        "http_host",
        "str",
        "Host of the first request",
        stage=DISSECT,
        merge=FIRST,
        search=True,
        keywords=("host",),
        label="HTTP Host",
        card=app_card("HTTP"),
    ),
    Field(
        "http_method",
        "str",
        "first request's method",
        stage=DISSECT,
        merge=FIRST,
        search=True,
        label="HTTP Method",
        card=app_card("HTTP"),
    ),
    Field(
        "http_path",
        "str",
        "first request's path",
        stage=DISSECT,
        merge=FIRST,
        search=True,
        label="HTTP Path",
        card=app_card("HTTP"),
    ),
    Field(
        "http_user_agent",
        "str",
        "first request's User-Agent",
        stage=DISSECT,
        merge=FIRST,
        search=True,
        label="User-Agent",
        card=app_card("HTTP"),
    ),
    Field(
        "http_status",
        "int",
        "first response's status code",
        stage=DISSECT,
        merge=FIRST,
        label="HTTP Status",
        card=app_card("HTTP"),
    ),
    # DNS, mDNS, LLMNR
    Field(
        "dns_query",
        "str",
        "first question name",
        stage=DISSECT,
        merge=QUERY,
        search=True,
        keywords=("host",),
        label="DNS Query",
        card=app_card("DNS"),
    ),
    Field(
        "dns_queries",
        "list[str]",
        f"every distinct question name seen (at most {MAX_DPI_LIST})",
        stage=DISSECT,
        merge=ACCUMULATE,
        search=True,
        keywords=("host",),
        label="DNS Queries",
        card=app_card("DNS"),
    ),
    Field(
        "dns_qtype",
        "str",
        'first question\'s type, e.g. "A", "TYPE65534"',
        stage=DISSECT,
        merge=FIRST,
        search=True,
        label="DNS Type",
        card=app_card("DNS"),
    ),
    Field(
        "dns_response",
        "bool",
        "true once a response was seen",
        stage=DISSECT,
        merge=FIRST,
        label="Response Seen",
        card=app_card("DNS"),
    ),
    Field(
        "dns_rcode",
        "str",
        'first response\'s rcode, e.g. "NOERROR", "NXDOMAIN"',
        stage=DISSECT,
        merge=FIRST,
        search=True,
        label="Response Code",
        card=app_card("DNS"),
    ),
    Field(
        "dns_answers",
        "list[str]",
        f'answers seen, "name TYPE value" (e.g. "example.com A 93.184.216.34"; other types "name '
        f'TYPE"; at most {MAX_DPI_LIST})',
        stage=DISSECT,
        merge=ACCUMULATE,
        search=True,
        label="DNS Answer",
        card=app_card("DNS"),
    ),
    Field(
        "dns_resolved",
        "list[str]",
        '"address name" for each A/AAAA answer of a response that answered a query seen (same '
        f"id, addresses and ports swapped, within 5 s; at most {MAX_DPI_LIST}): the only answers "
        "hostnames are learned from",
        stage=DISSECT,
        merge=ACCUMULATE,
        label="Names Learned",
        card=app_card("DNS"),
    ),
    Field(
        "ptr_lookup_own",
        "bool",
        "true: a reverse lookup rn-enrich made itself (a PTR query for a name it asked, or its "
        "own socket); rn-view and rustnet hide such connections unless --show-ptr-lookups",
        stage=ENRICH,
        merge=KEPT,
        label="Own Reverse Lookup",
    ),
    # SSH
    Field(
        "ssh_client",
        "str",
        "client's SSH identification string",
        stage=DISSECT,
        merge=FIRST,
        search=True,
        label="Client Software",
        card=app_card("SSH"),
    ),
    Field(
        "ssh_server",
        "str",
        "server's SSH identification string",
        stage=DISSECT,
        merge=FIRST,
        search=True,
        label="Server Software",
        card=app_card("SSH"),
    ),
    Field(
        "ssh_stage",
        "str",
        "kex, auth or established; only moves forward",
        stage=DISSECT,
        merge=LATEST,
        label="Connection State",
        card=app_card("SSH"),
    ),
    # FTP
    Field(
        "ftp_command",
        "str",
        'latest FTP command and its argument, e.g. "RETR notes.txt" (PASS and ACCT without it)',
        stage=DISSECT,
        merge=LATEST,
        search=True,
        label="Command",
        card=app_card("FTP"),
    ),
    Field(
        "ftp_reply",
        "str",
        'latest FTP reply, code and text, e.g. "226 Transfer complete."',
        stage=DISSECT,
        merge=LATEST,
        label="Response",
        card=app_card("FTP"),
    ),
    Field(
        "ftp_user",
        "str",
        "user name of the FTP USER command",
        stage=DISSECT,
        merge=FIRST,
        search=True,
        label="Username",
        card=app_card("FTP"),
    ),
    Field(
        "ftp_server",
        "str",
        'FTP server software: the first word of its 220 greeting, e.g. "vsFTPd"',
        stage=DISSECT,
        merge=FIRST,
        search=True,
        label="Server Software",
        card=app_card("FTP"),
    ),
    Field(
        "ftp_system",
        "str",
        'FTP server\'s system type (215 reply to SYST), e.g. "UNIX Type: L8"',
        stage=DISSECT,
        merge=FIRST,
        label="System Type",
        card=app_card("FTP"),
    ),
    # MQTT
    Field(
        "mqtt_version",
        "str",
        'MQTT version of the CONNECT: "3.1", "3.1.1" or "5.0"',
        stage=DISSECT,
        merge=FIRST,
        label="Version",
        card=app_card("MQTT"),
    ),
    Field(
        "mqtt_client_id",
        "str",
        "client identifier of the MQTT CONNECT",
        stage=DISSECT,
        merge=FIRST,
        search=True,
        label="Client ID",
        card=app_card("MQTT"),
    ),
    Field(
        "mqtt_topics",
        "list[str]",
        f"topics of PUBLISH and topic filters of SUBSCRIBE packets (at most {MAX_DPI_LIST})",
        stage=DISSECT,
        merge=ACCUMULATE,
        search=True,
        label="Topics",
        card=app_card("MQTT"),
    ),
    Field(
        "mqtt_qos",
        "int",
        "QoS (0-2) of the latest MQTT PUBLISH",
        stage=DISSECT,
        merge=LATEST,
        label="QoS",
        card=app_card("MQTT"),
    ),
    Field(
        "mqtt_packet",
        "str",
        'type of the latest MQTT packet, e.g. "PUBLISH"',
        stage=DISSECT,
        merge=LATEST,
        label="Packet Type",
        card=app_card("MQTT"),
    ),
    # SNMP
    Field(
        "snmp_version",
        "str",
        'SNMP version: "v1", "v2c" or "v3"',
        stage=DISSECT,
        merge=FIRST,
        label="SNMP Version",
        card=app_card("SNMP"),
    ),
    Field(
        "snmp_community",
        "str",
        "SNMP community string (v1 and v2c)",
        stage=DISSECT,
        merge=FIRST,
        search=True,
        label="Community",
        card=app_card("SNMP"),
    ),
    Field(
        "snmp_pdu",
        "str",
        'SNMP PDU type, e.g. "get-request", "get-response", "snmpV2-trap"; "encrypted" for an '
        "encrypted SNMPv3 PDU",
        stage=DISSECT,
        merge=LATEST,
        label="PDU Type",
        card=app_card("SNMP"),
    ),
    # NetBIOS
    Field(
        "netbios_name",
        "str",
        "NetBIOS name asked or told (name service), a datagram's source name or the name a session "
        'request calls, decoded, with its suffix in hex, e.g. "WORKGROUP<1d>"',
        stage=DISSECT,
        merge=FIRST,
        search=True,
        label="Name",
        card=app_card("NetBIOS"),
    ),
    Field(
        "netbios_opcode",
        "str",
        "NetBIOS name service opcode: query, registration, release, wait or refresh",
        stage=DISSECT,
        merge=LATEST,
        label="Opcode",
        card=app_card("NetBIOS"),
    ),
    Field(
        "netbios_response",
        "bool",
        "the NetBIOS name service packet is a response",
        stage=DISSECT,
        merge=LATEST,
        label="Response Seen",
        card=app_card("NetBIOS"),
    ),
    Field(
        "netbios_calling",
        "str",
        'NetBIOS name calling in a session request (port 139), decoded, e.g. "CLIENT<00>"',
        stage=DISSECT,
        merge=FIRST,
        search=True,
        label="Calling Name",
        card=app_card("NetBIOS"),
    ),
    Field(
        "netbios_session",
        "str",
        "NetBIOS session service answer: positive, or the negative response's reason (not "
        "listening on called name, not listening for calling name, called name not present, "
        "insufficient resources, unspecified error)",
        stage=DISSECT,
        merge=LATEST,
        label="Session",
        card=app_card("NetBIOS"),
    ),
    # IGMP and NDP
    Field(
        "igmp_type",
        "str",
        "IGMP message: query, v1 report, v2 report, leave or v3 report",
        stage=DISSECT,
        merge=LATEST,
        label="Message",
        card=app_card("IGMP"),
    ),
    Field(
        "igmp_groups",
        "list[str]",
        f"multicast groups an IGMP message names (a general query names none; at most {MAX_DPI_LIST})",
        stage=DISSECT,
        merge=ACCUMULATE,
        search=True,
        label="Group Address",
        card=app_card("IGMP"),
    ),
    Field(
        "ndp_type",
        "str",
        "NDP message (hop limit 255 only): solicitation or advertisement",
        stage=DISSECT,
        merge=LATEST,
        label="Message",
        card=app_card("NDP"),
    ),
    Field(
        "ndp_target",
        "str",
        "target address of an NDP neighbour solicitation or advertisement",
        stage=DISSECT,
        merge=FIRST,
        search=True,
        label="Target",
        card=app_card("NDP"),
    ),
    Field(
        "ndp_lladdr",
        "str",
        "link-layer address an NDP message carries: the sender's (solicitation) or the "
        "target's (advertisement)",
        stage=DISSECT,
        merge=FIRST,
        search=True,
        label="Link-Layer Address",
        card=app_card("NDP"),
    ),
    # QUIC
    Field(
        "quic_version",
        "str",
        'version of the client\'s Initials, e.g. "0x00000001" (after a Version Negotiation: the '
        "one moved to)",
        stage=DISSECT,
        merge=LATEST,
        search=True,
        label="QUIC Version",
        card=app_card("QUIC"),
    ),
    Field(
        "quic_vn",
        "list[str]",
        "versions a Version Negotiation packet offered",
        stage=DISSECT,
        merge=FIRST,
        label="Versions Offered",
        card=app_card("QUIC"),
    ),
    Field(
        "quic_retry",
        "bool",
        "true once a Retry packet was seen",
        stage=DISSECT,
        merge=FIRST,
        label="Retry Seen",
        card=app_card("QUIC"),
    ),
    Field(
        "quic_dcid",
        "str",
        "destination connection ID of the client's first Initial, hex",
        stage=DISSECT,
        merge=FIRST,
        label="Connection ID",
        card=app_card("QUIC"),
    ),
    Field(
        "quic_scid",
        "str",
        "source connection ID of the client's first Initial, hex",
        stage=DISSECT,
        merge=FIRST,
        label="Source Connection ID",
        card=app_card("QUIC"),
    ),
    Field(
        "quic_close",
        "int",
        "CONNECTION_CLOSE error code, the first seen",
        stage=DISSECT,
        merge=FIRST,
        label="Connection Close",
        card=app_card("QUIC"),
    ),
    Field(
        "quic_close_app",
        "bool",
        "true when that close was an application close (frame 0x1d)",
        stage=DISSECT,
        merge=FIRST,
        label="Application Close",
        card=app_card("QUIC"),
    ),
    Field(
        "quic_close_reason",
        "str",
        "that close's reason phrase (escaped)",
        stage=DISSECT,
        merge=FIRST,
        label="Close Reason",
        card=app_card("QUIC"),
    ),
    # Other UDP protocols, BitTorrent
    Field(
        "ntp_version",
        "int",
        "NTP version",
        stage=DISSECT,
        merge=FIRST,
        label="NTP Version",
        card=app_card("NTP"),
    ),
    Field(
        "ntp_mode",
        "str",
        "NTP mode: client, server, broadcast, symmetric-active, symmetric-passive, control, private",
        stage=DISSECT,
        merge=FIRST,
        label="NTP Mode",
        card=app_card("NTP"),
    ),
    Field(
        "dhcp_type",
        "str",
        "DHCP message type: DISCOVER, OFFER, REQUEST, DECLINE, ACK, NAK, RELEASE, INFORM",
        stage=DISSECT,
        merge=FIRST,
        label="Message Type",
        card=app_card("DHCP"),
    ),
    Field(
        "dhcp_hostname",
        "str",
        "DHCP Host Name option (12)",
        stage=DISSECT,
        merge=FIRST,
        label="Hostname",
        card=app_card("DHCP"),
    ),
    Field(
        "ssdp_method",
        "str",
        "SSDP message: M-SEARCH, NOTIFY or RESPONSE",
        stage=DISSECT,
        merge=FIRST,
        label="Method",
        card=app_card("SSDP"),
    ),
    Field(
        "ssdp_target",
        "str",
        "SSDP search or notification target (ST or NT header)",
        stage=DISSECT,
        merge=FIRST,
        label="Service Type",
        card=app_card("SSDP"),
    ),
    Field(
        "stun_type",
        "str",
        'STUN method and class, e.g. "Binding Request"',
        stage=DISSECT,
        merge=FIRST,
        label="Message",
        card=app_card("STUN"),
    ),
    Field(
        "bt_infohash",
        "str",
        "BitTorrent handshake's info hash, hex",
        stage=DISSECT,
        merge=FIRST,
        label="Info Hash",
        card=app_card("BitTorrent"),
    ),
    # From the L2-L4 dissector
    Field(
        "sha",
        "str",
        'ARP sender hardware address, "aa:bb:cc:dd:ee:ff"',
        stage=DISSECT,
        merge=FIRST,
        label="Sender MAC",
        card=app_card("ARP"),
    ),
    Field(
        "tha",
        "str",
        "ARP target hardware address",
        stage=DISSECT,
        merge=FIRST,
        label="Target MAC",
        card=app_card("ARP"),
    ),
    Field(
        "tunnel",
        "str",
        "the packets were inside this tunnel: ipip, ip6ip, gre; or a UDP tunnel with its id "
        'and outer addresses, e.g. "vxlan 42 10.0.0.1→10.0.0.2", "geneve 7 ...", "teredo ..." '
        "(the outer UDP flow is a connection of its own)",
        stage=DISSECT,
        merge=FIRST,
        label="Tunnel",
        card=NETWORK,
    ),
    Field(
        "anomaly",
        "str",
        "the first disagreement of header fields seen in a packet dissected anyway (e.g. an IPv4 "
        "total length beyond the frame)",
        stage=DISSECT,
        merge=FIRST,
        label="Header Anomaly",
        card=NETWORK,
    ),
    Field(
        "vlan",
        "list[int]",
        "802.1Q ids of the first packet, outer first, when tagged",
        stage=TRACK,
        search=True,
        label="VLAN",
        card=NETWORK,
    ),
    # Traffic
    Field("packets", "int", "packets both ways", "packets", TRACK, label="Packets", card=TRAFFIC),
    Field(
        "packets_src",
        "int",
        "packets sent by the originator",
        "packets",
        TRACK,
        label="Packets Sent",
        card=TRAFFIC,
        side="src",
    ),
    Field(
        "packets_dst",
        "int",
        "packets sent by the responder",
        "packets",
        TRACK,
        label="Packets Sent",
        card=TRAFFIC,
        side="dst",
    ),
    Field(
        "bytes",
        "int",
        "bytes both ways, on-the-wire frame length (pcap len), as tshark counts",
        "bytes",
        TRACK,
        label="Bytes",
        card=TRAFFIC,
    ),
    Field(
        "bytes_src",
        "int",
        "bytes sent by the originator",
        "bytes",
        TRACK,
        label="Bytes Sent",
        card=TRAFFIC,
        side="src",
    ),
    Field(
        "bytes_dst",
        "int",
        "bytes sent by the responder",
        "bytes",
        TRACK,
        label="Bytes Sent",
        card=TRAFFIC,
        side="dst",
    ),
    Field(
        "rate_src",
        "int",
        "rate the originator sends at, smoothed over seconds (rustnet.track.rates); TCP shown "
        "TIME_WAIT or CLOSED, and DNS shown DNS_RESPONSE: 0 once 5 s have passed since last_seen (no "
        "update says so)",
        "B/s",
        TRACK,
        label="Rate",
        card=TRAFFIC,
        side="src",
    ),
    Field(
        "rate_dst", "int", "rate the responder sends at", "B/s", TRACK, label="Rate", card=TRAFFIC, side="dst"
    ),
    Field(
        "rtt_ms",
        "float",
        "the connection's current round trip, measured as rtt_kind says: TCP's live round trip "
        "when measured, else its handshake's; QUIC's handshake; the latest ICMP echo's",
        "ms",
        TRACK,
        label="RTT",
        card=TRANSPORT,
    ),
    Field(
        "rtt_kind",
        "str",
        "what rtt_ms measures: tcp (the local side's data to the ACK covering it, one segment at a "
        "time, none retransmitted, smoothed as RFC 6298: 7/8 old + 1/8 new), tcp_handshake (SYN to "
        "the ACK of the SYN-ACK), quic_handshake (the local side's Initial or Handshake packet to "
        "the peer's next packet), icmp_echo (an echo request to the reply with its identifier and "
        "sequence). The local side is the originator when it is not known",
        stage=TRACK,
        label="RTT From",
        card=TRANSPORT,
    ),
    Field(
        "rtt_initial_ms",
        "float",
        "the handshake's round trip: TCP's SYN to the ACK of the SYN-ACK (the SYN-ACK within 30 s), "
        "QUIC's first (as rtt_kind quic_handshake)",
        "ms",
        TRACK,
        label="Initial RTT",
        card=TRANSPORT,
    ),
    Field(
        "echo_id",
        "int",
        "ICMP echo: the identifier of the latest echo request or reply",
        stage=TRACK,
        label="echo identifier",
    ),
    Field(
        "echo_seq",
        "int",
        "ICMP echo: the sequence number of the latest echo request or reply",
        stage=TRACK,
        label="echo sequence",
    ),
    Field(
        "dns_response_ms",
        "float",
        "DNS: the latest response time of a query the local side sent (the response with its id, "
        "on this connection, within 10 s)",
        "ms",
        TRACK,
        label="DNS Response Time",
        card=TRANSPORT,
    ),
    Field(
        "llmnr_response_ms",
        "float",
        "LLMNR: the time from a query the local side sent to the first response with its id to the "
        "same local address and port (within 10 s); on the query's connection and the response's",
        "ms",
        TRACK,
        label="LLMNR Response Time",
        card=TRANSPORT,
    ),
    Field(
        "netbios_response_ms",
        "float",
        "NetBIOS name service: the time from a request the local side sent to the final response "
        "with its id to the same local address and port (a WACK keeps it waiting; within 10 s); on "
        "the request's connection and the response's",
        "ms",
        TRACK,
        label="NetBIOS Response Time",
        card=TRANSPORT,
    ),
    Field(
        "stun_rtt_ms",
        "float",
        "STUN: the latest time from a request the local side sent to the success or error "
        "response with its transaction id, on this connection (within 10 s)",
        "ms",
        TRACK,
        label="STUN RTT",
        card=TRANSPORT,
    ),
    Field(
        "ntp_rtt_ms",
        "float",
        "NTP: the latest time from a request the local side sent to the response whose originate "
        "timestamp is the request's transmit timestamp, on this connection (within 10 s)",
        "ms",
        TRACK,
        label="NTP RTT",
        card=TRANSPORT,
    ),
    Field(
        "retransmits",
        "int",
        "TCP: segments that resend sequence space already seen (keep-alives excluded)",
        "segments",
        TRACK,
        label="TCP Retransmits",
        card=TRANSPORT,
    ),
    Field(
        "out_of_order",
        "int",
        "TCP: segments below the highest sequence seen that arrived too soon to be retransmissions "
        "(within a round trip of it, and not after 2 duplicate ACKs from the receiver)",
        "segments",
        TRACK,
        label="Out-of-Order Packets",
        card=TRANSPORT,
    ),
    Field(
        "dup_acks",
        "int",
        "TCP: duplicate ACKs, either side: a segment with no data, SYN, FIN or RST repeating its "
        "sender's previous ACK number and window (not 0) while the other side has data outstanding "
        "(RFC 5681); an ACK that moves forward ends a run",
        "segments",
        TRACK,
        label="Duplicate ACKs",
        card=TRANSPORT,
    ),
    Field(
        "window",
        "int",
        "TCP: the window the peer of the local side (the responder when that is not known) "
        "advertised last, raw 16 bits (not scaled)",
        "",
        TRACK,
        label="window size",
    ),
    Field(
        "fast_retransmits",
        "int",
        "TCP: runs of duplicate ACKs that reached 3, the sender's cue to retransmit at once (RFC 5681)",
        "",
        TRACK,
        label="Fast Retransmits",
        card=TRANSPORT,
    ),
    Field(
        "tcp_flags_src",
        "int",
        "TCP: every flag the originator's segments carried, OR'd together (FIN 0x01 SYN 0x02 RST "
        "0x04 PSH 0x08 ACK 0x10 URG 0x20 ECE 0x40 CWR 0x80), as IPFIX tcpControlBits",
        "",
        TRACK,
        label="TCP Flags Sent",
    ),
    Field(
        "tcp_flags_dst",
        "int",
        "TCP: every flag the responder's segments carried, OR'd together",
        "",
        TRACK,
        label="TCP Flags Received",
    ),
    # Time and end
    Field(
        "first_seen", "float", "time of the first packet", "epoch s", TRACK, label="Started", card=CONNECTION
    ),
    Field("last_seen", "float", "time of the latest packet", "epoch s", TRACK, label="Last Seen"),
    Field(
        "snapshot",
        "bool",
        "true on records written by a periodic snapshot (--snapshot-every)",
        stage=TRACK,
        label="Snapshot",
    ),
    Field("final", "bool", "true on the last record of the connection", stage=TRACK, label="Final"),
    Field(
        "end",
        "str",
        "final records: why it ended here: timeout, evicted, reused (a new generation of the "
        "tuple began), eof (end of input)",
        stage=TRACK,
        label="Ended By",
        card=CONNECTION,
    ),
)

RECORDS: Final = (
    RecordType(
        "hdr",
        "map",
        "stream header",
        "The first record of a stream, written again by each stage that passes it on. A header "
        "may appear anywhere (concatenated recordings); a reader refuses one whose v is newer "
        "than it knows.",
        HDR,
    ),
    RecordType(
        "pkt",
        "positional",
        "one captured frame, from rn-capture",
        "",
        PKT,
    ),
    RecordType(
        "pkb",
        "positional",
        "many whole frames, from rn-capture",
        "What rn-capture writes instead of pkt records for frames that are whole (a capture file "
        "libpcap proved so, a live capture whose snaplen no frame exceeds), one record for each "
        "read from libpcap: no work per frame in rn-capture. Always a top-level object, never "
        "inside a frame (readers take it anywhere). A reader hands it on as one pkt record per "
        "frame (ts = seconds + microseconds / 1e6, wirelen = its length), so no stage sees it "
        "and JSON never shows it (rn-dissect reads it in place). A pkb record whose fields do "
        "not check out (meta not a multiple of 16 bytes, no frames or more than 65536) is one "
        "damaged pkt record, which rn-dissect counts as malformed; otherwise its frames are read "
        "up to the first that lies outside data or overlaps the one before, and the rest is one "
        "damaged pkt record.",
        PKB,
    ),
    RecordType(
        "sum",
        "positional",
        "one packet dissected to L4, from rn-dissect",
        "One per IP or ARP packet. A field that does not apply to the packet's protocol holds "
        "0 (null for vlan and info).",
        SUM,
    ),
    RecordType(
        "stats",
        "map",
        "capture statistics, from rn-capture",
        "Written periodically and at the end.",
        STATS,
    ),
    RecordType(
        "ifstats",
        "map",
        "interface counters, from rn-capture",
        "Written every 500 ms by a live rn-capture on Linux (never when reading a file): the "
        "counters of every interface under /sys/class/net, each ifaces entry a map of name, "
        + ", ".join(IFACE_COUNTERS)
        + ". Rates are differences between two records. A consumer keeps at most "
        f"{MAX_IFACES} interfaces and {MAX_IFNAME} characters of a name; a counter that is not "
        "an integer from 0 to 18446744073709551615 is counted as damaged and left out.",
        IFSTATS,
    ),
    RecordType(
        "dstats",
        "map",
        "dissection counters, from rn-dissect",
        "Totals since start, written by tick only when a counter changed, and always at the end.",
        DSTATS,
    ),
    RecordType("warn", "map", "a problem a stage wants the viewer to show", "", WARN),
    RecordType(
        "name",
        "map",
        "a name found for an address, from rn-enrich",
        "Written by rn-enrich when a reverse lookup it made in the background found a name, "
        "after the connection records that showed the address went on without it: a viewer "
        "names the connections it holds with that address (hostname_src or hostname_dst, with "
        "via), unless a name learned from DNS answers already names them. Later connection "
        "records carry the name themselves.",
        NAME,
    ),
    RecordType(
        "clock",
        "positional",
        "packet time of other shards, from rn-capture --shard",
        "Written by rn-capture --shard I/N reading a file, in place of the packets that other "
        "shards track: the array holds the tag, then their timestamps (only those later than any "
        "before). rn-track moves its clock through them as if it had seen those packets, so its "
        "connections expire and are refreshed when an unsharded rn-track's would; it does not pass "
        "them on, but writes one of its own (one timestamp: its clock) before each round of expiry "
        "and refreshes of such a stream, which rn-merge orders the shards' records by and drops.",
        CLOCK,
    ),
    RecordType(
        "sock",
        "map",
        "a local socket and the process owning it, from rn-enrich",
        "Written by rn-enrich when it runs upstream of rn-track (rn-capture | rn-enrich, e.g. on "
        "a remote host), so whoever builds connections later (rn-track, rn-view) can attribute "
        "them.",
        SOCK,
    ),
    RecordType(
        "conn",
        "map",
        "a connection, from rn-track (rn-enrich adds to it)",
        "The public JSON interface (rn-track --format json); fields may be added, never renamed. "
        "A field that is not known is absent (never an empty string or a made-up zero), except "
        "the counters, which start at 0. Fields written by rn-dissect come from the info of its "
        "summaries; rn-track merges them as the merge column says.",
        CONN,
    ),
)

BY_TAG: Final = {r.tag: r for r in RECORDS}
CONN_BY_NAME: Final = {f.name: f for f in CONN}
# The keys a summary's ``info`` may carry: its per-packet keys and the connection fields rn-dissect writes.
INFO_KEYS: Final = frozenset(f.name for f in INFO) | frozenset(f.name for f in CONN if f.stage == DISSECT)

# (name, value, meaning): what a consumer keeps of a record (rustnet.stream.bounds) and what
# rn-track keeps of the DPI fields of a connection (rustnet.track.dpi).
LIMITS: Final = (
    ("fields", MAX_FIELDS, "fields kept of a record (the others are dropped)"),
    ("key", MAX_KEY, "characters of a field name"),
    ("text", MAX_TEXT, "characters of a text field (cut text ends in …)"),
    ("list", MAX_LIST, "items of a list, or entries of a map, which hold no lists or maps"),
    ("item text", MAX_ITEM_TEXT, "characters of text in a list or map"),
    ("DPI fields", MAX_DPI_FIELDS, "DPI fields rn-track keeps per connection"),
    ("DPI text", MAX_DPI_TEXT, "characters rn-track keeps of a DPI text value"),
    ("DPI list", MAX_DPI_LIST, "items rn-track keeps of a DPI list"),
    ("DPI key", MAX_DPI_KEY, "characters of a DPI field name rn-track accepts"),
    (
        "wirelen",
        MAX_WIRELEN,
        "largest frame length of a summary (pcap's length field is 32 bits); a summary whose wirelen "
        "is outside 0 to this is damaged: rn-track counts it (its warn record) and skips it",
    ),
    (
        "port",
        MAX_PORT,
        "largest TCP/UDP sport or dport of a summary; a summary beyond it is damaged, as above",
    ),
    (
        "window",
        MAX_WINDOW,
        "largest window of a summary (TCP's 16-bit field, unscaled); a summary whose window is not "
        "an integer from 0 to this is damaged, as above",
    ),
    ("interfaces", MAX_IFACES, "interfaces of an ifstats record a consumer keeps (the rest are counted)"),
    ("vlan id", MAX_VLAN, "largest 802.1Q id rn-track keeps (a list with a larger one is dropped)"),
    (
        "integer",
        MAX_INT,
        "largest integer a stage writes (MessagePack holds no more): a larger one (a counter "
        "included) is written as this, one below -9223372036854775808 as -9223372036854775808; "
        "rn-track drops a DPI integer outside them",
    ),
)


def names(fields: tuple[Field, ...]) -> tuple[str, ...]:
    """The names of ``fields``, in order."""
    return tuple(f.name for f in fields)


def keyword_fields(code: str) -> tuple[str, ...]:
    """The connection fields the filter keyword ``code`` searches, in table order."""
    return tuple(f.name for f in CONN if code in f.keywords)
