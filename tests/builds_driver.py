"""Run the compiled stages over the corpus and over hostile inputs; print every output record.

    python -m tests.builds_driver OUT [--seed N] [--cases N]

tests/test_compiled_builds.py runs this twice, pure Python (``RUSTNET_PURE=1``) and compiled,
and diffs the two files. Each line is ``case<TAB>repr(output record)``: ``repr`` tells 1 from
1.0 from True, which a compiled module's annotations would otherwise coerce unseen. An exception
that escapes a stage is printed by type (compiled code words its messages differently). The
inputs are made with a seeded ``random``, so both runs see the same ones:

* the corpus: every capture's packet records through the Dissector, its summaries encoded,
  read back in chunks of random sizes by the stream reader, then through the Tracker (the
  separate commands' path) and through ``Chain([Dissector, Tracker])`` (the in-process one);
* summary streams made from the corpus' summaries with fields replaced by wrong-typed or
  out-of-range values (and cut or lengthened records, hostile ``info`` maps, ``sock`` records);
* byte streams: the encoded summaries with flipped, cut and inserted bytes, and JSON Lines;
* packet records with mutated frames and wrong-typed fields, through the Dissector;
* connection records with long, nested, wrong-typed and too many fields, through the record
  limits (``bound_record``, ``saturate``: what a viewer keeps);
* the header walks that prove a capture file whole (``rustnet.capture.walk``), over the corpus
  files and copies with flipped, cut and inserted bytes;
* the viewer's connection table (rn-view's and the TUI's): the corpus' connection records, and
  those mixed with hostile ones and with headers, stats, interface counters, names, warnings and
  sock records whose fields hold values of every type; its whole state after each batch.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import struct
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgpack
from rustnet import _compiled
from rustnet.capture.walk import whole_pcapng_records, whole_records
from rustnet.dissect.engine import Dissector
from rustnet.enrich.names import HostNames
from rustnet.enrich.services import ServiceNames
from rustnet.stream import fields
from rustnet.stream.bounds import MAX_FIELDS, MAX_KEY, MAX_LIST, MAX_TEXT, bound_record, saturate
from rustnet.stream.pktbatch import expand as expand_packets
from rustnet.stream.reader import RecordReader
from rustnet.stream.records import make_header
from rustnet.stream.stage import Chain
from rustnet.track.join import SocketJoiner
from rustnet.track.table import Tracker
from rustnet.view.model import ConnTable
from rustnet.view.nodes import NodeJoiner

from tests.corpus_records import CORPUS_PCAPS, packet_records

# Values of every type a decoder can produce, and the edges of the ranges the fields have.
HOSTILE: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    7,
    65535,
    65536,
    (1 << 31),
    (1 << 32) - 1,
    1 << 32,
    (1 << 63) - 1,
    1 << 63,
    (1 << 64) - 1,
    1 << 64,
    1 << 100,
    -(1 << 63),
    -(1 << 70),
    0.0,
    -0.0,
    1.5,
    -1.5,
    1e11,
    1e300,
    float("inf"),
    float("-inf"),
    float("nan"),
    1700000000,
    1700000000.5,
    "",
    "x",
    "QUIC",
    "DNS",
    "dns 1a2b",
    "initial",
    "part",
    "\x1b[31m",
    b"",
    b"\x01\x02\x03\x04",
    b"\x00" * 16,
    b"abc",
    [],
    [1],
    [1, 2, 3],
    ["a"],
    [None],
    {},
    {"a": 1},
    {"app": 5},
]
INFO_KEYS = [
    "app",
    "sni",
    "http_host",
    "dns_query",
    "dns_rcode",
    "quic_state",
    "quic_packet",
    "quic_close",
    "req_id",
    "resp_id",
    "malformed",
    "frag",
    "trunc",
    "anomaly",
    "tunnel",
    "sha",
    "tha",
    "ssh_version",
    "alpn",
    "tls_version",
    "user_agent",
]


def canon(rec: Any) -> Any:
    """The record without what varies from run to run (wall-clock times in end-of-input counters)."""
    if isinstance(rec, dict) and rec.get("t") in ("dstats", "warn") and "ts" in rec:
        rec = dict(rec)
        rec["ts"] = 0
    return rec


def run_stage(emit: Callable[[str], None], case: str, body: Callable[[], Iterator[Any]]) -> None:
    try:
        for rec in body():
            emit(f"{case}\t{canon(rec)!r}")
    except Exception as exc:  # noqa: BLE001 - what escapes is the finding; the type is compared
        emit(f"{case}\tEXC {type(exc).__name__}")


def chunks(rng: random.Random, data: bytes) -> Iterator[bytes]:
    i = 0
    while i < len(data):
        n = rng.choice([1, 7, 100, 4096, 65536])
        yield data[i : i + n]
        i += n


def read_back(reader: RecordReader, seed: int, data: bytes) -> Iterator[Any]:
    # A Random of its own: where the reader stops must not change the inputs of the cases after.
    for part in chunks(random.Random(seed), data):
        yield from reader.feed(part)
        if reader.done:
            break
    if not reader.done:
        yield from reader.feed(b"")
    yield ("reader", reader.damage, reader.records_read, reader.eof)


def frames(recs: list[Any], size: int = 200) -> bytes:
    packer = msgpack.Packer(use_bin_type=True)
    return b"".join(packer.pack(recs[i : i + size]) for i in range(0, len(recs), size))


def track(recs: list[Any], **kw: Any) -> Iterator[Any]:
    t = Tracker(**kw)
    for i in range(0, len(recs), 50):
        yield from t.process(recs[i : i + 50])
    yield from t.finish()
    yield ("tracker", t.connections, t.expired, t.evicted, t.bad_records, t.unattributed)


def dissect(recs: list[Any]) -> Iterator[Any]:
    d = Dissector()
    for i in range(0, len(recs), 64):
        yield from d.process(recs[i : i + 64])
    yield from d.finish()


def hostile_summary(rng: random.Random, rec: list[Any]) -> list[Any]:
    rec = copy.deepcopy(rec)
    for _ in range(rng.choice([1, 1, 2, 3])):
        what = rng.random()
        if len(rec) < 2:
            rec.append(rng.choice(HOSTILE))
        elif what < 0.15 and len(rec) > 6:
            # Both addresses of one other type: comparable, so nothing fails before the tracker keeps them.
            kind = rng.choice([[0, 1], ["10.0.0.1", "10.0.0.2"], [1.5, 2.5], [[1], [2]], [True, False]])
            rng.shuffle(kind)
            rec[4], rec[6] = kind
        elif what < 0.6:
            rec[rng.randrange(1, len(rec))] = rng.choice(HOSTILE)
        elif what < 0.85:
            rec.extend([0] * (12 - len(rec)) + [None] * (15 - max(len(rec), 12)))  # the defaults
            info = rec[14] if isinstance(rec[14], dict) else {}
            info[rng.choice(INFO_KEYS)] = rng.choice(HOSTILE)
            rec[14] = info
        elif what < 0.95:
            del rec[rng.randrange(1, len(rec)) :]  # at least the tag stays
        else:
            rec.extend(rng.choice(HOSTILE) for _ in range(rng.randrange(1, 4)))
    return rec


def hostile_sock(rng: random.Random, base: list[Any]) -> dict[str, Any]:
    s = next((r for r in base if isinstance(r, list)), ["sum", 0.0, 0, 6, b"\x00" * 4, 0, b"\x00" * 4, 0])
    sock: dict[str, Any] = {
        "t": "sock",
        "ts": s[1],
        "proto": "tcp" if s[3] == 6 else "udp",
        "local": "10.0.0.1",
        "lport": s[5] if isinstance(s[5], int) else 0,
        "remote": "10.0.0.2",
        "rport": s[7] if isinstance(s[7], int) else 0,
        "listening": False,
        "pid": 100,
        "process": "curl",
        "cmdline": "curl x",
        "user": "root",
        "netns": None,
    }
    for _ in range(rng.randrange(0, 3)):
        sock[rng.choice(list(sock))] = rng.choice(HOSTILE)
    return sock


def hostile_conn(rng: random.Random, base: dict[str, Any]) -> dict[Any, Any]:
    """A connection record with values past the record limits, of wrong types, or nested."""
    rec: dict[Any, Any] = dict(base)
    for _ in range(rng.randrange(1, 4)):
        key = rng.choice(list(rec)) if rec and rng.random() < 0.7 else f"f{rng.randrange(100)}"
        rec[key] = rng.choice(
            [
                rng.choice(HOSTILE),
                "y" * rng.choice([MAX_TEXT, MAX_TEXT + 1, 5000]),
                ["z" * rng.choice([10, 1024, 1025])] * rng.choice([1, MAX_LIST, MAX_LIST + 1]),
                [rng.choice(HOSTILE) for _ in range(rng.randrange(5))],
                {"k": rng.choice(HOSTILE), 7: 1, "x" * (MAX_KEY + 1): 2},
                (1, "a"),
                bytearray(b"ab"),
            ]
        )
    what = rng.random()
    if what < 0.1:
        rec.update({f"extra{i}": i for i in range(MAX_FIELDS)})
    elif what < 0.2:
        rec[rng.choice([7, 1.5, None, "k" * (MAX_KEY + 1), b"key"])] = 1
    return rec


def hostile_pkb(rng: random.Random, pkts: list[Any]) -> list[Any]:
    """A pkb record of the frames of ``pkts`` (pkt records), its metadata or fields damaged now
    and then."""
    meta, data = bytearray(), bytearray()
    for p in pkts:
        frame = p[3] if len(p) > 3 and isinstance(p[3], bytes) else b""
        meta += struct.pack("<IIII", rng.randrange(1 << 32), rng.randrange(1 << 32), len(data), len(frame))
        data += frame
    rec: list[Any] = ["pkb", rng.random() < 0.5, bytes(meta), bytes(data)]
    what = rng.random()
    if what < 0.3:
        rec[2] = mutate_bytes(rng, rec[2])
    elif what < 0.4:
        rec[rng.randrange(1, 4)] = rng.choice(HOSTILE)
    elif what < 0.45:
        rec.append(1)
    return rec


def walked(data: bytes) -> Iterator[Any]:
    """What the header walks (classic pcap, pcapng) say of a file holding ``data``."""
    with tempfile.TemporaryFile() as fh:
        fh.write(data)
        fh.flush()
        yield whole_records(fh.fileno())
        yield whole_pcapng_records(fh.fileno())


def bounded(recs: list[dict[Any, Any]]) -> Iterator[Any]:
    for rec in recs:
        out, cut = bound_record(rec)
        yield [out is rec, cut, out]
        yield saturate(out)


# Other records a viewer reads, by type: their declared fields get hostile values.
VIEW_TYPES = {
    "hdr": fields.HDR,
    "stats": fields.STATS,
    "ifstats": fields.IFSTATS,
    "name": fields.NAME,
    "warn": fields.WARN,
    "sock": fields.SOCK,
}


def hostile_other(rng: random.Random) -> dict[str, Any]:
    tag = rng.choice(sorted(VIEW_TYPES))
    rec: dict[str, Any] = {"t": tag}
    for name in fields.names(VIEW_TYPES[tag])[1:]:
        if rng.random() < 0.6:
            rec[name] = rng.choice(HOSTILE)
    if tag == "ifstats" and rng.random() < 0.5:
        rec["ifaces"] = [{"name": rng.choice(["eth0", "", 7]), "rx_bytes": rng.choice(HOSTILE)}]
    return rec


def state_of(obj: Any, depth: int = 0) -> Any:
    """An object's attributes by name (a compiled class has no ``__dict__``), and those of the
    rustnet objects it holds (a repr would show their addresses)."""
    if isinstance(obj, dict):
        return {k: state_of(v, depth) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [state_of(v, depth) for v in obj]
    if not type(obj).__module__.startswith("rustnet") or depth > 3:
        return obj
    names = (n for n in dir(obj) if not n.startswith("__"))
    return {n: state_of(v, depth + 1) for n in names if not callable(v := getattr(obj, n))}


def view_table(batches: list[list[Any]]) -> Iterator[Any]:
    """rn-view's table fed ``batches``: after each, every row and what the tabs read."""
    table = ConnTable(NodeJoiner(SocketJoiner), ServiceNames(), HostNames())
    for batch in batches:
        table.ingest(batch)
        for cid, row in table.rows.items():
            yield [cid, row.rec, row.states, row.seq, row.final_seq, row.bucket, row.extra]
        g = table.graph
        yield [table.counts(), table.cut, table.ignored, table.evicted, table.expired, table.clock]
        yield [g.totals, list(g.opened), list(g.closed), list(g.rtt), list(g.loss)]
        yield [table.received, table.dropped, table.packets_per_s, table.interface, table.live]
        yield [state_of(table.traffic), state_of(table.process_window), state_of(table.interfaces)]
        yield [table.nodes, table.nodes_down, table.messages, table.privileges, table.sandboxes]
        yield [table.geoip, table.linktype, table.attribution, table.resolve_dns, table.producer]
    yield table.final_records()


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randrange(1, 6)):
        if not b:
            break
        what = rng.random()
        at = rng.randrange(len(b))
        if what < 0.5:
            b[at] = rng.randrange(256)
        elif what < 0.7:
            del b[at:]
        elif what < 0.9:
            b[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 9)))
        else:
            b[at:at] = rng.choice(
                [b"\xdd\xff\xff\xff\xff", b"\xdb\x00\x10\x00\x00", b"\xc1", b"\x91\x91\x91"]
            )
    return bytes(b)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--cases", type=int, default=120, help="hostile inputs of each kind")
    ap.add_argument("--pcaps", type=int, default=0, help="corpus captures to use (0: all)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    lines: list[str] = [f"build\t{_compiled.state.split(':')[0]}"]
    emit = lines.append
    hdr = make_header("rn-dissect 0.1.0", 1, "corpus", False, 262144, 0.0)
    pool: list[list[Any]] = []  # summaries from the corpus, for the hostile streams
    pkts_pool: list[list[Any]] = []
    conn_pool: list[dict[str, Any]] = []  # connection records from the corpus, for the limits
    pcaps = sorted(CORPUS_PCAPS.glob("*.pcap*"))
    if args.pcaps:
        pcaps = pcaps[: args.pcaps]
    for pcap in pcaps:
        pkts = packet_records(pcap)
        case = f"corpus/{pcap.name}"
        sums: list[Any] = []

        def dissect_case(pkts: list[Any] = pkts, sums: list[Any] = sums) -> Iterator[Any]:
            for rec in dissect(pkts):
                sums.append(rec)
                yield rec

        run_stage(emit, case + "/dissect", dissect_case)
        data = frames(sums)
        seed = rng.randrange(1 << 30)
        run_stage(
            emit,
            case + "/read",
            lambda data=data, seed=seed: read_back(RecordReader(-1, "corpus"), seed, data),
        )

        def track_case(sums: list[Any] = sums) -> Iterator[Any]:
            for rec in track(sums):
                if isinstance(rec, dict) and rec.get("t") == "conn":
                    conn_pool.append(rec)
                yield rec

        run_stage(emit, case + "/track", track_case)
        view_recs = [r for r in track(sums) if isinstance(r, dict)]
        run_stage(
            emit,
            case + "/view",
            lambda recs=view_recs: view_table([recs[i : i + 50] for i in range(0, len(recs), 50)]),
        )
        run_stage(
            emit, case + "/track-final", lambda sums=sums: track(sums, final_only=True, max_connections=20)
        )
        chain = Chain([Dissector(), Tracker()])
        run_stage(
            emit, case + "/chain", lambda pkts=pkts, chain=chain: iter(chain.process(pkts) + chain.finish())
        )
        seg_chain = Chain([Dissector(segments=True), Tracker()])  # established flows' segments: no summary
        run_stage(
            emit,
            case + "/chain-segments",
            lambda pkts=pkts, chain=seg_chain: iter(chain.process(pkts) + chain.finish()),
        )
        pool.extend(r for r in sums if isinstance(r, list) and r and r[0] == "sum")
        raw = pcap.read_bytes()
        run_stage(emit, case + "/walk", lambda raw=raw: walked(raw))
        if raw[:4] in (
            b"\xd4\xc3\xb2\xa1",
            b"\xa1\xb2\xc3\xd4",
            b"\x4d\x3c\xb2\xa1",
            b"\xa1\xb2\x3c\x4d",
            b"\x0a\x0d\x0d\x0a",
        ):
            for k in range(3):
                bad = mutate_bytes(rng, raw[:4096]) + raw[4096:]
                run_stage(emit, f"{case}/walk-mutated/{k}", lambda bad=bad: walked(bad))
        pkts_pool.extend(r for r in pkts if isinstance(r, list))
    json_lines = b"".join(
        json.dumps({"t": "conn", "id": i, "src": "10.0.0.1"}).encode() + b"\n" for i in range(5)
    )
    for n in range(args.cases):
        start = rng.randrange(max(len(pool) - 200, 1))
        base = pool[start : start + rng.randrange(20, 200)]
        recs: list[Any] = [hdr]
        for rec in base:
            recs.append(hostile_summary(rng, rec) if rng.random() < 0.3 else rec)
            if rng.random() < 0.02:
                recs.append(hostile_sock(rng, base))
        kw = rng.choice([{}, {"max_connections": 5}, {"refresh": 0.0}, {"final_only": True}])
        run_stage(emit, f"hostile-sum/{n}", lambda recs=recs, kw=kw: track(recs, **kw))
        data = mutate_bytes(rng, frames(base, size=rng.choice([1, 10, 200])))
        seed = rng.randrange(1 << 30)
        run_stage(
            emit,
            f"hostile-bytes/{n}",
            lambda data=data, seed=seed: read_back(RecordReader(-1, "x"), seed, data),
        )
        jdata = mutate_bytes(rng, json_lines) if rng.random() < 0.5 else json_lines
        run_stage(
            emit,
            f"hostile-json/{n}",
            lambda jdata=jdata, seed=seed: read_back(RecordReader(-1, "j"), seed, jdata),
        )
        pstart = rng.randrange(max(len(pkts_pool) - 50, 1))
        prec: list[Any] = [make_header("rn-capture 0.1.0", 1, "x", False, 262144, 0.0)]
        for p in pkts_pool[pstart : pstart + 50]:
            p = list(p)
            what = rng.random()
            if what < 0.3:
                p[3] = mutate_bytes(rng, p[3])
            elif what < 0.4:
                p[rng.randrange(1, len(p))] = rng.choice(HOSTILE)
            prec.append(p)
        run_stage(emit, f"hostile-pkt/{n}", lambda prec=prec: dissect(prec))
        batch = hostile_pkb(rng, prec[1:])
        run_stage(emit, f"hostile-pkb/{n}", lambda batch=batch: iter(expand_packets(batch)))
        run_stage(emit, f"hostile-pkb-dissect/{n}", lambda hb=[prec[0], batch]: dissect(hb))
        conns = [hostile_conn(rng, rng.choice(conn_pool)) for _ in range(10)] if conn_pool else []
        run_stage(emit, f"hostile-conn/{n}", lambda conns=conns: bounded(conns))
        mixed: list[Any] = [hdr]
        for _ in range(30):
            what = rng.random()
            if what < 0.5 and conn_pool:
                mixed.append(dict(rng.choice(conn_pool)))
            elif what < 0.8 and conn_pool:
                mixed.append(hostile_conn(rng, rng.choice(conn_pool)))
            else:
                mixed.append(hostile_other(rng))
        run_stage(emit, f"hostile-view/{n}", lambda m=mixed: view_table([m[:10], m[10:20], m[20:]]))
    Path(args.out).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
