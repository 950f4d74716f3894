"""A tiny authoritative DNS server for the reverse-DNS tests, its answers built by hand (RFC 1035).

    python3 ptr_server.py ADDR LOG DELAY [IP=NAME ...]

Listens on UDP ADDR:53. A PTR question for one of the IPs given gets its NAME; a PTR
question for an address under 10.200.0.0/16 or 10.201.0.0/16 gets ``h-A-B.flood.test``
(the flood tests: 10.200/16 answered after FAST seconds, 10.201/16 after SLOW seconds, so
lookups pile up); anything else gets NXDOMAIN. Other answers are sent DELAY seconds after
their query arrived
(each query in its own thread, so queries overlap as they do at a real server). Every
query is logged to LOG as a JSON line: arrival and answer time, name, type. The test
reads the log to count queries and the most that were unanswered at once.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import struct
import sys
import threading
import time

TYPE_PTR = 12
FAST = 0.01
SLOW = 0.5
FLOOD = ipaddress.ip_network("10.200.0.0/15")
SLOW_NET = ipaddress.ip_network("10.201.0.0/16")


def read_name(msg: bytes, pos: int) -> tuple[str, int]:
    labels = []
    while msg[pos]:
        n = msg[pos]
        labels.append(msg[pos + 1 : pos + 1 + n].decode("ascii", "replace"))
        pos += 1 + n
    return ".".join(labels), pos + 1


def encode_name(name: str) -> bytes:
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\x00"


def answer(query: bytes, names: dict[str, str]) -> tuple[bytes, str, int, float | None]:
    """The reply, the question, its type, and how long the flood networks wait (None: DELAY)."""
    qid, flags = struct.unpack("!HH", query[:4])
    qname, end = read_name(query, 12)
    qtype, _qclass = struct.unpack("!HH", query[end : end + 4])
    question = query[12 : end + 4]
    target = None
    pause = None
    if qtype == TYPE_PTR and qname.lower().endswith(".in-addr.arpa"):
        octets = qname.lower().removesuffix(".in-addr.arpa").split(".")
        ip = ".".join(reversed(octets))
        target = names.get(ip)
        try:
            if target is None and ipaddress.ip_address(ip) in FLOOD:
                target = f"h-{octets[1]}-{octets[0]}.flood.test"
                pause = SLOW if ipaddress.ip_address(ip) in SLOW_NET else FAST
        except ValueError:
            pass
    rd = flags & 0x0100
    if target is None:  # NXDOMAIN, authoritative
        header = struct.pack("!HHHHHH", qid, 0x8400 | rd | 3, 1, 0, 0, 0)
        return header + question, qname, qtype, pause
    rdata = encode_name(target)
    rr = struct.pack("!HHHIH", 0xC00C, TYPE_PTR, 1, 60, len(rdata)) + rdata
    header = struct.pack("!HHHHHH", qid, 0x8400 | rd, 1, 1, 0, 0)
    return header + question + rr, qname, qtype, pause


def main() -> None:
    addr, log_path, delay = sys.argv[1], sys.argv[2], float(sys.argv[3])
    names = dict(pair.split("=", 1) for pair in sys.argv[4:])
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((addr, 53))
    log = open(log_path, "a", buffering=1)
    lock = threading.Lock()
    print("ready", flush=True)

    def serve(query: bytes, peer: tuple[str, int], arrived: float) -> None:
        try:
            reply, qname, qtype, pause = answer(query, names)
        except (IndexError, struct.error, UnicodeError):
            return
        time.sleep(delay if pause is None else pause)
        # Stamped before the answer leaves: the client's next query cannot arrive before it,
        # so a busy machine does not make two lookups look simultaneous.
        answered = time.time()
        # Logged before it leaves too: a client holding its answer always finds its query in
        # the log (a test that empties the log after a lookup must not see it come back).
        with lock:
            log.write(json.dumps({"in": arrived, "out": answered, "q": qname, "type": qtype}) + "\n")
        sock.sendto(reply, peer)

    while True:
        query, peer = sock.recvfrom(4096)
        threading.Thread(target=serve, args=(query, peer, time.time()), daemon=True).start()


if __name__ == "__main__":
    main()
