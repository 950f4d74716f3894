"""The records rn-capture would write for a corpus file, read here with libpcap directly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pcapy
from rustnet.stream.records import make_header

from tests.corpus import PCAPS

CORPUS_PCAPS = PCAPS


def packet_records(pcap: Path) -> list[Any]:
    """The header and pkt records of ``pcap``: everything before the damage of a damaged file."""
    reader = pcapy.open_offline(str(pcap))
    recs: list[Any] = [make_header("rn-capture 0.1.0", reader.datalink(), str(pcap), False, 262144, 0.0)]
    while True:
        try:
            hdr, data = reader.next()
        except pcapy.PcapError:
            break
        if hdr is None or (not data and hdr.getlen() == 0):
            break
        sec, usec = hdr.getts()
        recs.append(["pkt", sec + usec / 1e6, hdr.getlen(), data])
    return recs
