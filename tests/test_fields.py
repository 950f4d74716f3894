"""The declared records (rustnet.stream.fields): every field a stage writes is declared there.

The whole pipeline runs over every capture of the corpus, and each key of each record it
writes (the summaries' info keys, the header's privs entries included) must be declared for
its record type; a field that a dissector or a stage starts writing without its declaration
fails here, and with it the man page that is generated from the table.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from rustnet.enrich.stage import Enricher
from rustnet.stream import RecordReader, fields
from rustnet.stream.records import SUM_FIELDS, positional_builder, record_type, summary, to_json_obj
from rustnet.track.join import SocketJoiner
from rustnet.track.table import Tracker

from tests.corpus import PCAPS
from tests.test_enrich_stage import CLIENT, conn, hdr, lo_frame
from tests.track_util import A, B, header, udp

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]

Seen = dict[str, set[str]]


def _pipeline(pcap: Path, tmp: Path) -> tuple[Seen, Seen]:
    """Keys per record type: (rn-dissect's output, rn-enrich's JSON output after rn-track)."""
    summaries = tmp / f"{pcap.name}.rn"
    cmd = (
        f'"{BIN}/rn-capture" -r "{pcap}" | "{BIN}/rn-dissect" | tee "{summaries}" | "{BIN}/rn-track" '
        f'| "{BIN}/rn-enrich" --format json'
    )
    p = subprocess.run(["bash", "-c", cmd], capture_output=True, timeout=300)
    dissected: Seen = defaultdict(set)
    fd = os.open(summaries, os.O_RDONLY)
    try:
        for rec in RecordReader(fd, str(summaries)):
            tag = record_type(rec) or "?"
            obj = to_json_obj(rec)
            dissected[tag] |= set(obj)
            if tag == "sum":
                assert isinstance(rec, list) and len(rec) == len(SUM_FIELDS), rec
                info = obj.get("info") or {}
                dissected["sum.info"] |= set(info)
    finally:
        os.close(fd)
    enriched: Seen = defaultdict(set)
    for line in p.stdout.decode().splitlines():
        obj = json.loads(line)
        tag = obj.get("t", "?")
        enriched[tag] |= set(obj)
        if tag == "hdr":
            for entry in obj.get("privs", []):
                enriched["hdr.privs"] |= set(entry)
    return dissected, enriched


def _declared() -> dict[str, set[str]]:
    out = {r.tag: set(fields.names(r.fields)) for r in fields.RECORDS}
    out["hdr.privs"] = set(fields.names(fields.PRIVS))
    out["sum.info"] = set(fields.INFO_KEYS)
    return out


@pytest.mark.slow
def test_every_field_the_pipeline_writes_over_the_corpus_is_declared(tmp_path: Path) -> None:
    pcaps = sorted(PCAPS.iterdir())
    assert len(pcaps) > 40
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda p: _pipeline(p, tmp_path), pcaps))
    seen: Seen = defaultdict(set)
    for dissected, enriched in results:
        for seen_here in (dissected, enriched):
            for tag, keys in seen_here.items():
                seen[tag] |= keys
    declared = _declared()
    undeclared = {tag: sorted(keys - declared.get(tag, set())) for tag, keys in seen.items()}
    undeclared = {tag: keys for tag, keys in undeclared.items() if keys}
    assert not undeclared, f"fields written but not declared in rustnet.stream.fields: {undeclared}"
    # The corpus reaches far: connections of every kind, DPI of every protocol it holds.
    assert {"hdr", "sum", "dstats", "stats", "conn", "hdr.privs", "sum.info"} <= set(seen)
    assert len(seen["conn"]) >= 60, sorted(seen["conn"])


def test_the_man_page_documents_every_declared_field_with_its_type() -> None:
    page = (ROOT / "man" / "rustnet-records.5").read_text()
    for rtype in fields.RECORDS:
        section = page[page.index(f".SS {rtype.tag} (") :]
        section = section[: section.index("\n.SS ", 1)] if "\n.SS " in section[1:] else section
        for f in rtype.fields:
            assert f"\\fB{f.name}\\fR (" in section, (rtype.tag, f.name)


def test_every_field_rn_dissect_writes_reaches_the_connection() -> None:
    """A DPI field declared for the connection is merged into it, whatever its merge rule."""
    dpi = [f for f in fields.CONN if f.stage == fields.DISSECT]
    assert len(dpi) > 40
    samples: dict[str, Any] = {"str": "x", "int": 7, "bool": True, "list[str]": ["y"]}
    # A few fields per connection: rn-track keeps MAX_DPI_FIELDS of them per connection.
    groups = [dpi[i : i + 10] for i in range(0, len(dpi), 10)]
    tracker = Tracker()
    recs = tracker.process(
        [header()]
        + [
            udp(100.0 + n, A, 40000 + n, B, 9000, 10, info={f.name: samples[f.type] for f in group})
            for n, group in enumerate(groups)
        ]
    )
    recs += tracker.finish()
    merged: set[str] = set()
    for r in recs:
        if isinstance(r, dict) and r.get("t") == "conn":
            merged |= set(r)
    missing = [f.name for f in dpi if f.name not in merged]
    assert not missing, f"declared DPI fields rn-track dropped: {missing}"


def test_the_declarations_hold_together() -> None:
    for rtype in fields.RECORDS:
        names = fields.names(rtype.fields)
        assert names[0] == "t" and len(set(names)) == len(names), rtype.tag
    for f in fields.CONN[1:]:
        assert f.stage in fields.STAGES and f.merge in fields.MERGES and f.label, f.name
        if f.stage == fields.DISSECT:
            assert f.merge != fields.OWN and f.merge != fields.KEPT, f.name
        else:
            assert f.merge in (fields.OWN, fields.KEPT), f.name
    # A label is unique on its card (a field of one end shares it with its twin of the other end).
    shown = [(f.card, f.side, f.label) for f in fields.CONN if f.card]
    assert len(set(shown)) == len(shown)
    cards = {fields.CONNECTION, fields.NETWORK, fields.ATTRIBUTION, fields.TRANSPORT, fields.TRAFFIC}
    for f in fields.CONN:
        assert not f.card or f.card in cards or f.card.startswith(fields.APPLICATION + ": "), f.name
        assert f.side in ("", "src", "dst"), f.name
        if f.side:  # its twin at the other end is on the same card under the same label
            other = "dst" if f.side == "src" else "src"
            assert any(g.side == other and (g.card, g.label) == (f.card, f.label) for g in fields.CONN), (
                f.name
            )
    # The per-packet info keys are not connection fields.
    assert not set(fields.names(fields.INFO)) & set(fields.names(fields.CONN))


def test_every_field_rn_enrich_writes_for_a_real_process_is_declared() -> None:
    """Offline captures have no processes: a real client on loopback gives the process fields,
    as a connection's own and, through sock records marked peer, as its peer's."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    sport = server.getsockname()[1]
    client = subprocess.Popen(
        [sys.executable, "-c", CLIENT, str(sport)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert client.stdout is not None
        cport = int(client.stdout.readline())
        accepted, _ = server.accept()
        enricher = Enricher()
        out = enricher.process([hdr(True), conn(1, cport, sport)])
        # Upstream of rn-track, rn-enrich writes sock records for the flows it sees.
        upstream = Enricher()
        upstream.process([hdr(True)])
        socks = upstream.process(
            [
                ["pkt", time.time(), 54, lo_frame(cport, sport)],
                ["pkt", time.time(), 54, lo_frame(sport, cport, 0x12)],
            ]
        )
        socks = [r for r in socks if isinstance(r, dict) and r.get("t") == "sock"]
        enricher.finish()
        upstream.finish()
        accepted.close()
    finally:
        assert client.stdin is not None
        client.stdin.close()
        client.wait(timeout=10)
        client.stdout.close()  # type: ignore[union-attr]
        server.close()
    own = next(s for s in socks if s.get("lport") == cport)
    far = next(s for s in socks if s.get("lport") == sport and s.get("rport") == cport)
    joiner = SocketJoiner()
    joiner.add(own)
    joiner.add({**far, "peer": True})
    joined = conn(2, cport, sport)
    assert joiner.annotate(joined)
    declared = _declared()
    records = [r for r in out if isinstance(r, dict)] + socks + [joined]
    assert {"process", "pid", "owner_via"} <= set(joined) and "peer_pid" in joined, joined
    assert out[1]["process"] and socks  # type: ignore[index]
    for rec in records:
        tag = rec["t"]
        assert not set(rec) - declared[tag], (tag, sorted(set(rec) - declared[tag]))


def test_the_filter_keywords_are_the_declared_ones() -> None:
    from rustnet.view.filter import HAY_FIELDS, KEYWORDS

    declared = {k for f in fields.CONN for k in f.keywords}
    assert declared == set(KEYWORDS)
    assert all(fields.keyword_fields(code) for code in KEYWORDS)
    assert {"sni", "http_host", "dns_query", "process", "hostname_dst"} <= set(HAY_FIELDS)


def test_the_summary_record_is_built_from_its_declaration() -> None:
    rec = summary(1.5, 60, 6, b"\x01\x02\x03\x04", 1234, b"\x05\x06\x07\x08", 80, info={"app": "HTTP"})
    assert to_json_obj(rec) == {
        "t": "sum",
        "ts": 1.5,
        "wirelen": 60,
        "proto": 6,
        "src": "1.2.3.4",
        "sport": 1234,
        "dst": "5.6.7.8",
        "dport": 80,
        "flags": 0,
        "seq": 0,
        "ack": 0,
        "paylen": 0,
        "window": 0,
        "info": {"app": "HTTP"},
    }
    # A declaration of three fields: the trailing one with a default may be left out or named.
    build = positional_builder(
        "x",
        (
            fields.Field("t", "str", "tag"),
            fields.Field("a", "int", "a"),
            fields.Field("b", "int", "b", default=5),
        ),
    )
    assert build(1) == ["x", 1, 5] and build(1, b=2) == ["x", 1, 2] and build(a=3) == ["x", 3, 5]
    with pytest.raises(TypeError):
        build()
