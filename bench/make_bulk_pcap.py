"""Write a bulk-transfer capture: a few long TCP connections moving full-size segments, each
acknowledged every second segment, with a lost segment now and then (three duplicate ACKs,
a fast retransmission). The opposite of make_mixed_pcap.py's many short flows: the cost
per packet of an established connection (sequence, ACK and round-trip analysis).

    .venv/bin/python bench/make_bulk_pcap.py [-n PACKETS] [-o /tmp/rustnet-bulk.pcap]
"""

from __future__ import annotations

import argparse
import random
import struct
from pathlib import Path

MSS = 1448
FLOWS = 4
CLIENT = bytes([10, 1, 0, 1])
SERVER = bytes([10, 1, 0, 2])


def _csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def _frame(
    src: bytes, dst: bytes, sport: int, dport: int, seq: int, ack: int, flags: int, plen: int
) -> bytes:
    tcp = struct.pack(
        "!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, 65535, 0, 0
    )
    total = 20 + len(tcp) + plen
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
    eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
    return eth + ip + tcp + bytes(plen)


def write(path: Path, packets: int, seed: int = 1) -> int:
    rnd = random.Random(seed)
    frames: list[tuple[float, bytes]] = []
    t = 1_700_000_000.0
    seqs = [1000 * (i + 1) for i in range(FLOWS)]
    acks = [50000] * FLOWS
    rtt = 0.02
    while len(frames) < packets:
        i = rnd.randrange(FLOWS)
        port = 40000 + i
        # Two segments from the server, an ACK of both from the client 20 ms later.
        first = seqs[i]
        for _ in range(2):
            frames.append((t, _frame(SERVER, CLIENT, 443, port, seqs[i], acks[i], 0x18, MSS)))
            seqs[i] += MSS
            t += 0.0001
        if rnd.random() < 0.002:
            # The first of them was lost on the way: three duplicate ACKs, a fast retransmission.
            for _ in range(3):
                frames.append((t + rtt, _frame(CLIENT, SERVER, port, 443, acks[i], first, 0x10, 0)))
                t += 0.0001
            frames.append((t + rtt, _frame(SERVER, CLIENT, 443, port, first, acks[i], 0x18, MSS)))
        frames.append((t + rtt, _frame(CLIENT, SERVER, port, 443, acks[i], seqs[i], 0x10, 0)))
    frames.sort(key=lambda f: f[0])
    with path.open("wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for ts, frame in frames[:packets]:
            sec = int(ts)
            f.write(struct.pack("<IIII", sec, int((ts - sec) * 1e6), len(frame), len(frame)))
            f.write(frame)
    return min(len(frames), packets)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--packets", type=int, default=200_000)
    ap.add_argument("-o", "--output", default="/tmp/rustnet-bulk.pcap")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    n = write(Path(args.output), args.packets, args.seed)
    print(f"{args.output}: {n} packets")


if __name__ == "__main__":
    main()
