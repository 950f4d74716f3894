"""The keys of a summary's ``info`` map (``sum`` field 14), and the one error the L2-L4 parsers raise.

``info`` is ``None`` for the bulk of packets: a map is only built when there is
something to report, so the hot path allocates nothing but the summary list.

Keys written by the L2-L4 dissector (rustnet.dissect.engine):

``malformed``  str   The packet could not be dissected down to its L4 header, for the
                     reason given (e.g. ``"truncated tcp header"``, ``"tcp data offset < 5"``).
                     ``sport``/``dport``/``flags``/``seq``/``ack``/``window`` are then 0 and
                     ``paylen`` is the L3 payload length: the packet belongs to no TCP/UDP
                     connection (tshark's conversation tables do not count it either).
``trunc``      bool  True: the frame was cut by the capture's snaplen after the L4 header;
                     every field is valid, only payload bytes are missing (``paylen`` still
                     says how many the packet carried).
``anomaly``    str   Header fields disagree but the packet was dissected (e.g. an IPv4 total
                     length beyond the frame, a UDP length beyond the IP payload). Fields are
                     as decoded; counted under ``malformed`` in ``dstats``.
``frag``       str   An IP fragment. ``"last"``: the fragment that completes a datagram whose
                     first fragment was seen; it carries that datagram's ports and its
                     ``paylen`` is the whole datagram's L4 payload. ``"part"``: any other
                     fragment; its ports are known only when the first fragment came first
                     (else 0). tshark counts a fragmented datagram once in its TCP/UDP
                     conversation tables, at the completing fragment: a tracker matching it
                     attributes ``"part"`` fragments to no TCP/UDP connection.
``tunnel``     str   The summary is of the packet inside an IP-in-IP (``"ipip"``, ``"ip6ip"``) or
                     GRE (``"gre"``) tunnel, or inside a UDP tunnel, named with its id and
                     outer addresses (``"vxlan 42 10.0.0.1→10.0.0.2"``, ``"geneve 7 ..."``,
                     ``"teredo ..."``; the frame's outer UDP summary comes first);
                     ``wirelen`` and ``vlan`` are still the frame's.
``sha``/``tha`` str  ARP sender / target hardware address, ``"aa:bb:cc:dd:ee:ff"``.

Keys merged in from DPI (rustnet.dissect.dpi, documented there and in the connection
record, rustnet-records(5)): ``app``, ``sni``, ``alpn``, ``http_host``, ``dns_query``, ``ssh_client``, ...
Every key is declared in rustnet.stream.fields (``INFO`` for the per-packet ones, ``CONN``
for the connection fields rn-dissect writes).
"""

from __future__ import annotations

from typing import Final

from rustnet.dissect.errors import DissectError

MALFORMED: Final = "malformed"
TRUNC: Final = "trunc"
ANOMALY: Final = "anomaly"
FRAG: Final = "frag"
FRAG_PART: Final = "part"
FRAG_LAST: Final = "last"
TUNNEL: Final = "tunnel"
ARP_SHA: Final = "sha"
ARP_THA: Final = "tha"


class Malformed(DissectError):
    """A header whose fields make no sense (not a short read: that is ``struct.error``).

    The parsers raise exactly two things on bad bytes: ``struct.error`` when the
    captured data ends inside a header (the engine then tells a snaplen cut from a
    damaged frame by comparing captured and wire length), and this.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
