"""Names in the viewer: ``name`` records name the rows already held; rn-enrich's own PTR lookups
are hidden unless asked for; rustnet passes its name and GeoIP options to rn-enrich."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rustnet.app.launch import Options, plan
from rustnet.app.wrapper import write_final_records
from rustnet.stream import RecordWriter
from rustnet.view.filter import Filter
from rustnet.view.model import NAME_PASS_ROWS, ConnTable
from rustnet.view.state import ViewState

from tests.tui.records import conn


def _name(addr: Any, name: Any, via: Any = "ptr") -> dict[str, Any]:
    return {"t": "name", "ts": 1.0, "addr": addr, "name": name, "via": via}


def test_a_name_record_names_the_rows_already_shown() -> None:
    t = ConnTable()
    t.ingest(
        [
            conn(1, src="10.0.0.2", dst="198.51.100.7"),
            conn(2, src="198.51.100.7", dst="10.0.0.2", local_side="dst"),
            conn(3, dst="198.51.100.8", hostname_dst="www.example.org", hostname_dst_via="dns"),
            conn(4, dst="198.51.100.8"),
        ]
    )
    s = ViewState(t)
    assert [r.id for r in Filter("dst:mail").apply(s.entries())] == []
    before = t.rows[1].rec
    t.ingest([_name("198.51.100.7", "mail.example.net"), _name("198.51.100.8", "cdn-1.example.net")])
    r1, r2, r3, r4 = (t.rows[i].rec for i in (1, 2, 3, 4))
    assert (r1["hostname_dst"], r1["hostname_dst_via"]) == ("mail.example.net", "ptr")
    assert (r2["hostname_src"], r2["hostname_src_via"]) == ("mail.example.net", "ptr")
    assert r3["hostname_dst"] == "www.example.org"  # the name the client asked for stays
    assert r4["hostname_dst"] == "cdn-1.example.net"
    assert "hostname_dst" not in before  # records are replaced, never changed in place
    # The view sees the change: the filter finds the named rows now.
    assert sorted(r.id for r in Filter("dst:mail").apply(s.entries())) == [1, 2]
    # A later record of the connection without the name keeps it.
    t.ingest([conn(1, src="10.0.0.2", dst="198.51.100.7", bytes=99)])
    assert t.rows[1].rec["hostname_dst"] == "mail.example.net"


def test_hostile_name_records_are_counted_and_ignored() -> None:
    t = ConnTable()
    t.ingest([conn(1, dst="198.51.100.7")])
    bad = [
        _name(["198.51.100.7"], "x"),
        _name("198.51.100.7", {"a": 1}),
        _name("198.51.100.7", ""),
        _name("198.51.100.7", "x", via="made-up"),
        _name("1" * 100, "x"),
    ]
    t.ingest(bad)
    assert t.ignored == len(bad) and "hostname_dst" not in t.rows[1].rec
    t.ingest([_name("198.51.100.7", "n" * 5000)])
    assert len(t.rows[1].rec["hostname_dst"]) <= 253


def test_many_rows_are_named_at_most_once_a_second_of_stream_time() -> None:
    t = ConnTable()
    t.ingest(
        [
            conn(i, dst=f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}", last_seen=100.0)
            for i in range(NAME_PASS_ROWS + 1)
        ]
    )
    t.ingest([_name("10.0.0.5", "five.example")])
    assert t.rows[5].rec["hostname_dst"] == "five.example"  # the first pass at once
    t.ingest([_name("10.0.0.6", "six.example")])
    assert "hostname_dst" not in t.rows[6].rec  # waits: a pass over every row is not free
    t.ingest([conn(NAME_PASS_ROWS + 2, last_seen=101.5)])
    assert t.rows[6].rec["hostname_dst"] == "six.example"


def test_own_ptr_lookups_are_hidden_unless_asked() -> None:
    recs = [
        conn(1, dst="198.51.100.7"),
        conn(
            2,
            proto="udp",
            dport=53,
            app="DNS",
            dns_qtype="PTR",
            dns_query="7.100.51.198.in-addr.arpa",
            ptr_lookup_own=True,
        ),
        conn(3, proto="udp", dport=53, app="DNS", dns_qtype="PTR", dns_query="1.2.0.192.in-addr.arpa"),
    ]
    t = ConnTable()
    t.ingest(recs)
    assert [r.id for r in ViewState(t).entries()] and 2 not in [r.id for r in ViewState(t).entries()]
    assert {r.id for r in ViewState(t, show_ptr_lookups=True).entries()} == {1, 2, 3}
    assert 3 in {r.id for r in ViewState(t).entries()}  # someone else's PTR lookup is shown


def test_rustnet_json_leaves_out_own_ptr_lookups(tmp_path: Path) -> None:
    recs = [
        conn(1, final=True),
        conn(2, proto="udp", dport=53, dns_qtype="PTR", ptr_lookup_own=True, final=True),
    ]
    for show, want in ((False, [1]), (True, [1, 2])):
        r, w = os.pipe()
        writer = RecordWriter(w, "msgpack")
        for rec in recs:
            writer.write(rec)
        writer.close()
        os.close(w)
        out = tmp_path / f"out{show}.jsonl"
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        write_final_records(r, RecordWriter(fd, "json"), False, show_ptr_lookups=show)
        os.close(r)
        os.close(fd)
        import json

        assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == want


def _enrich(opts: Options) -> list[str]:
    return next(s.argv for s in plan(opts) if s.name == "rn-enrich")


def test_rustnet_passes_its_name_and_geoip_options_to_rn_enrich(tmp_path: Path) -> None:
    default = _enrich(Options())
    assert not any("resolve-dns" in a or "geoip" in a for a in default)  # rn-enrich's own default
    assert "--no-resolve-dns" in _enrich(Options(resolve_dns=False))
    assert "--resolve-dns" in _enrich(Options(resolve_dns=True))
    argv = _enrich(Options(geoip_country="c.mmdb", geoip_asn="/x/a.mmdb", geoip_city="y.mmdb"))
    assert argv[argv.index("--geoip-country") + 1] == str(Path("c.mmdb").resolve())
    assert argv[argv.index("--geoip-asn") + 1] == "/x/a.mmdb"
    assert "--geoip-city" in argv
    off = _enrich(Options(no_geoip=True, geoip_country="c.mmdb"))
    assert "--no-geoip" in off and "--geoip-country" not in off
    # --remote: names and GeoIP here (the remote rn-enrich sees packets only), reverse DNS only
    # when asked (the addresses are the remote network's).
    remote = _enrich(Options(remote="root@h", geoip_asn="/x/a.mmdb"))
    assert "--no-process" in remote and "--no-resolve-dns" in remote and "/x/a.mmdb" in remote
    assert "--resolve-dns" in _enrich(Options(remote="root@h", resolve_dns=True))


def test_the_screen_names_a_remote_once_its_name_record_comes() -> None:
    from tests.test_view_render import draw
    from tests.tui.records import header

    t = ConnTable()
    t.ingest([dict(header(), geoip=["country"]), conn(1, dst="198.51.100.7", geo_country="NL", bytes=9)])
    s = ViewState(t)
    s.show_system = False
    screen, _ = draw(s, 150)
    assert "198.51.100.7:443" in screen.display[3] and "mail.example.net" not in screen.display[3]
    assert screen.display[2].split()[3] == "Loc" and " NL " in screen.display[3]
    t.ingest([_name("198.51.100.7", "mail.example.net")])
    screen, _ = draw(s, 150)
    assert "mail.example.net:443" in screen.display[3]  # the same row, named now
    s.show_ips = True  # d: addresses instead of names
    screen, _ = draw(s, 150)
    assert "198.51.100.7:443" in screen.display[3] and "mail.example.net" not in screen.display[3]


def test_the_system_panel_says_what_names_rn_enrich_gives() -> None:
    from rustnet.view import system

    from tests.tui.records import header

    def said(**hdr: Any) -> list[str]:
        t = ConnTable()
        t.ingest([dict(header(), **hdr), conn(1)])
        return [text for text, _ in system.lines(ViewState(t), 60)]

    both = said(resolve_dns=True, geoip=["country", "asn"])
    i = both.index("Names: reverse DNS")
    assert both[i + 1] == "   + GeoIP country, asn"
    assert "Names: none" in said(resolve_dns=False)
    assert not any(line.startswith("Names") for line in said())  # no rn-enrich in the stream
