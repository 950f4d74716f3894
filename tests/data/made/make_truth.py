"""Write ``<capture>.truth.json`` for the made captures named, from tshark.

    python tests/data/made/make_truth.py vxlan.pcap geneve.pcap ...

For each capture: ``conversations``, the TCP and UDP conversations of ``tshark -q -z conv,tcp
-z conv,udp`` (a tunnelled frame is in its outer and its inner conversation; bytes are frame
lengths), as ``[proto, a, a_port, b, b_port, frames, bytes]``; ``http_hosts``, the Host of
every HTTP request; ``dns_queries``, the names asked; ``dns_answers``, ``"name TYPE"`` of every
answer record tshark reads (from reassembled datagrams).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
_CONV = re.compile(
    r"^(\S+):(\d+)\s+<->\s+(\S+):(\d+)\s+(\d+) (\d+) bytes\s+(\d+) (\d+) bytes\s+(\d+) (\d+) bytes"
)
_TYPES = {"1": "A", "28": "AAAA", "12": "PTR", "16": "TXT", "5": "CNAME", "33": "SRV"}


def tshark(path: Path, *args: str) -> str:
    return subprocess.run(
        ["tshark", "-r", str(path), *args], capture_output=True, check=True, text=True
    ).stdout


def truth(path: Path) -> dict[str, list[object]]:
    convs: list[object] = []
    for proto in ("tcp", "udp"):
        for line in tshark(path, "-q", "-z", f"conv,{proto}").splitlines():
            m = _CONV.match(line)
            if m:
                a, ap, b, bp = m.group(1), int(m.group(2)), m.group(3), int(m.group(4))
                convs.append([proto, a, ap, b, bp, int(m.group(9)), int(m.group(10))])
    hosts = tshark(path, "-Y", "http.request", "-T", "fields", "-e", "http.host").split()
    queries = tshark(path, "-Y", "dns.flags.response == 0", "-T", "fields", "-e", "dns.qry.name").split()
    answers: list[object] = []
    for line in tshark(
        path, "-Y", "dns.flags.response == 1", "-T", "fields", "-e", "dns.resp.name", "-e", "dns.resp.type"
    ).splitlines():
        names, types = line.split("\t")
        for name, typ in zip(names.split(","), types.split(","), strict=True):
            if name:
                answers.append(f"{name} {_TYPES.get(typ, typ)}")
    return {
        "conversations": sorted(convs),
        "http_hosts": hosts,
        "dns_queries": queries,
        "dns_answers": answers,
    }


if __name__ == "__main__":
    for name in sys.argv[1:]:
        out = HERE / (Path(name).stem + ".truth.json")
        t = truth(HERE / Path(name).name)
        out.write_text(
            "{\n" + ",\n".join(f" {json.dumps(k)}: {json.dumps(v)}" for k, v in t.items()) + "\n}\n"
        )
