"""Write multi-link.pcapng: one pcapng section, three interfaces of different link types,
snap lengths and timestamp resolutions, whose packets come from corpus captures.

    interface 0  Ethernet (1), snaplen 65535, microseconds      zeek_http_get.pcap (14 packets)
    interface 1  Linux cooked v2 (276), snaplen 262144, ns,     zeek_linux_dlt_sll2.pcap (6)
                 counted from an if_tsoffset
    interface 2  raw IP (101), snaplen 1500, 2^-20 s            tcpdump_dns_tcp.pcap (11), Ethernet
                                                                header taken off
Interfaces 1 and 2 are described after the first 4 packets of interface 0 (as a capture
that adds an interface while it runs writes them), which is where libpcap gives up; their
packets are moved in time to start just after that 4th packet, and all are in time order.
Blocks are written by hand (struct), packets read with dpkt. Run from the repository root:

    python tests/data/made/make_multi_link.py
"""

from __future__ import annotations

import struct
from pathlib import Path

import dpkt

HERE = Path(__file__).parent
CORPUS = HERE.parent / "corpus" / "pcaps"


def pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def block(btype: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack("<II", btype, length) + body + struct.pack("<I", length)


def option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + pad(value)


def shb() -> bytes:
    return block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))


def idb(linktype: int, snaplen: int, tsresol: int | None, tsoffset: int = 0) -> bytes:
    opts = b""
    if tsresol is not None:
        opts += option(9, bytes([tsresol]))
    if tsoffset:
        opts += option(14, struct.pack("<q", tsoffset))
    if opts:
        opts += option(0, b"")
    return block(1, struct.pack("<HHI", linktype, 0, snaplen) + opts)


def epb(iface: int, ticks: int, data: bytes, origlen: int) -> bytes:
    head = struct.pack("<IIIII", iface, ticks >> 32, ticks & 0xFFFFFFFF, len(data), origlen)
    return block(6, head + pad(data))


def packets(name: str) -> list[tuple[float, bytes]]:
    with open(CORPUS / name, "rb") as fh:
        return [(float(ts), bytes(buf)) for ts, buf in dpkt.pcap.Reader(fh)]


def main() -> None:
    eth = packets("zeek_http_get.pcap")
    # The other two captures are moved in time to run during the HTTP exchange (a pcapng of
    # several interfaces holds their packets in time order), just after its 4th packet.
    start = eth[3][0] + 0.001
    sll2 = [(ts - 1660534249.0 + start, buf) for ts, buf in packets("zeek_linux_dlt_sll2.pcap")]
    raw = [(ts - 1591780863.7 + start, buf[14:]) for ts, buf in packets("tcpdump_dns_tcp.pcap")]
    offset = int(start)  # interface 1 counts from here (if_tsoffset)
    later = (
        [(ts, 0, buf) for ts, buf in eth[4:]] + [(ts, 1, b) for ts, b in sll2] + [(ts, 2, b) for ts, b in raw]
    )
    out = [shb(), idb(1, 65535, None)]
    out += [epb(0, round(ts * 1e6), buf, len(buf)) for ts, buf in eth[:4]]
    out += [idb(276, 262144, 9, offset), idb(101, 1500, 0x80 | 20)]
    for ts, iface, buf in sorted(later, key=lambda p: p[0]):
        ticks = (
            round(ts * 1e6)
            if iface == 0
            else round((ts - offset) * 1e9)
            if iface == 1
            else round(ts * (1 << 20))
        )
        out.append(epb(iface, ticks, buf, len(buf)))
    (HERE / "multi-link.pcapng").write_bytes(b"".join(out))


if __name__ == "__main__":
    main()
