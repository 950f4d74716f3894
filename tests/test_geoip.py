"""GeoIP from MaxMind-format databases the tests write themselves (tests/mmdb_writer.py).

The writer follows the published format; the ``maxminddb`` package reading its files back
is the independent check that they are real MaxMind DB files. Then: rustnet.enrich.geoip
answers from them, rn-enrich adds the geo_* fields of a connection's remote end and says in
its header which databases it loaded, finds them in the usual places, refuses a bad one in
one line, and rn-view shows the Loc column only when a location database is loaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import maxminddb
import pytest
from rustnet.enrich import geoip
from rustnet.enrich.geoip import GeoIP
from rustnet.enrich.stage import Enricher
from rustnet.view.model import ConnTable
from rustnet.view.state import ViewState
from rustnet.view.table import table_lines

from tests.mmdb_writer import asn, city, country, write_mmdb

BIN = Path(sys.executable).parent
ENRICH = str(BIN / "rn-enrich")
VIEW = str(BIN / "rn-view")
# Documentation-free public addresses (the skipped ranges would never be looked up).
DE, US, V6 = "81.2.69.160", "8.8.8.8", "2a02:cf40::1"


@pytest.fixture
def dbs(tmp_path: Path) -> dict[str, Path]:
    return {
        "country": write_mmdb(
            tmp_path / "GeoLite2-Country.mmdb",
            "GeoLite2-Country",
            {
                "81.2.69.0/24": country("DE", "Germany"),
                "8.8.8.0/24": country("US", "United States"),
                "2a02:cf40::/32": country("NO", "Norway"),
            },
        ),
        "city": write_mmdb(
            tmp_path / "GeoLite2-City.mmdb",
            "GeoLite2-City",
            {
                "81.2.69.0/24": city("DE", "Germany", "Frankfurt am Main"),
                "9.9.9.0/24": city("CH", "Switzerland", "Zürich"),
            },
        ),
        "asn": write_mmdb(
            tmp_path / "GeoLite2-ASN.mmdb",
            "GeoLite2-ASN",
            {"8.8.8.0/24": asn(15169, "GOOGLE"), "81.2.69.0/24": asn(20712, "Andrews & Arnold Ltd")},
        ),
    }


def test_the_written_files_are_maxmind_databases(dbs: dict[str, Path]) -> None:
    with maxminddb.open_database(str(dbs["country"])) as r:
        assert r.metadata().database_type == "GeoLite2-Country"
        assert r.get(DE) == country("DE", "Germany")
        assert r.get(V6)["country"]["iso_code"] == "NO"  # type: ignore[index]
        assert r.get("81.2.70.1") is None
    with maxminddb.open_database(str(dbs["asn"])) as r:
        assert r.get(US) == asn(15169, "GOOGLE")


def test_lookups_combine_the_three_databases(dbs: dict[str, Path]) -> None:
    geo = GeoIP(dbs)
    assert geo.lookup(DE) == ("DE", "Germany", "Frankfurt am Main", 20712, "Andrews & Arnold Ltd")
    assert geo.lookup(US) == ("US", "United States", None, 15169, "GOOGLE")
    assert geo.lookup(V6) == ("NO", "Norway", None, None, None)
    assert geo.lookup("81.2.70.1") is None  # in no database
    # Without a Country database the City database gives the country (as RustNet).
    city_only = GeoIP({"city": dbs["city"]})
    assert city_only.lookup("9.9.9.9") == ("CH", "Switzerland", "Zürich", None, None)
    assert city_only.has_location and not GeoIP({"asn": dbs["asn"]}).has_location
    geo.close()


SKIPPED = {
    "10.1.2.3": "10.0.0.0/8",
    "192.168.1.1": "192.168.0.0/16",
    "172.16.0.1": "172.16.0.0/12",
    "127.0.0.1": "127.0.0.0/8",
    "169.254.1.1": "169.254.0.0/16",
    "100.64.1.1": "100.64.0.0/10",
    "192.0.2.1": "192.0.2.0/24",
    "255.255.255.255": "255.255.255.255/32",
    "224.0.0.251": "224.0.0.0/4",
    "::1": "::1/128",
    "fe80::1": "fe80::/10",
    "fd00::1": "fd00::/8",
}


def test_addresses_no_database_places_are_not_looked_up(tmp_path: Path) -> None:
    path = write_mmdb(
        tmp_path / "c.mmdb", "GeoLite2-Country", {net: country("ZZ", "Nowhere") for net in SKIPPED.values()}
    )
    with maxminddb.open_database(str(path)) as r:
        assert all(r.get(a) is not None for a in SKIPPED)  # a lookup would place every one
    geo = GeoIP({"country": path})
    for addr in [*SKIPPED, "0.0.0.0", "::", "not an address", ""]:
        assert geo.lookup(addr) is None, addr
    assert geo.lookups == 0
    assert geo.lookup("8.8.4.4") is None and geo.lookups == 1  # a public one is looked up


def _stream(path: Path, recs: list[dict[str, Any]], live: bool = False) -> Path:
    head = {"t": "hdr", "v": 1, "producer": "test", "live": live, "stages": ["test"]}
    path.write_text("".join(json.dumps(r) + "\n" for r in [head, *recs]))
    return path


def _conn(cid: int, src: str, dst: str, **kw: Any) -> dict[str, Any]:
    return {
        "t": "conn",
        "id": cid,
        "proto": "tcp",
        "src": src,
        "sport": 40000,
        "dst": dst,
        "dport": 443,
        **kw,
    }


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, env=env)


def test_rn_enrich_adds_the_remote_ends_place(dbs: dict[str, Path], tmp_path: Path) -> None:
    stream = _stream(
        tmp_path / "in.jsonl",
        [
            _conn(1, "192.168.1.5", DE),  # remote is dst
            _conn(2, US, "192.168.1.5", local_side="dst"),  # an inbound one: remote is src
            _conn(3, "192.168.1.5", "10.0.0.1"),  # private: nothing
        ],
    )
    args = [ENRICH, "--no-process", "--format", "json", str(stream)]
    out = _run([*args, *(f"--geoip-{k}={p}" for k, p in dbs.items())])
    assert out.returncode == 0, out.stderr
    recs = [json.loads(x) for x in out.stdout.splitlines()]
    assert recs[0]["geoip"] == ["country", "asn", "city"]
    c1, c2, c3 = recs[1:]
    assert (c1["geo_country"], c1["geo_country_name"], c1["geo_city"]) == (
        "DE",
        "Germany",
        "Frankfurt am Main",
    )
    assert (c1["geo_asn"], c1["geo_as_org"]) == (20712, "Andrews & Arnold Ltd")
    assert (c2["geo_country"], c2["geo_asn"], c2["geo_as_org"]) == ("US", 15169, "GOOGLE")
    assert "geo_city" not in c2 and not any(k.startswith("geo_") for k in c3)
    # --no-geoip: nothing, and the header says no database.
    off = _run([*args, "--no-geoip", f"--geoip-country={dbs['country']}"])
    assert off.returncode == 0 and "geo_" not in off.stdout and '"geoip"' not in off.stdout


def test_databases_are_found_in_the_usual_places(dbs: dict[str, Path], tmp_path: Path) -> None:
    data = tmp_path / "xdg"
    (data / "GeoIP").mkdir(parents=True)
    os.link(dbs["country"], data / "GeoIP" / "GeoLite2-Country.mmdb")
    stream = _stream(tmp_path / "in.jsonl", [_conn(1, "192.168.1.5", DE)])
    env = {**os.environ, "XDG_DATA_HOME": str(data), "HOME": str(tmp_path / "home")}
    out = _run([ENRICH, "--no-process", "--format", "json", str(stream)], env)
    assert out.returncode == 0, out.stderr
    recs = [json.loads(x) for x in out.stdout.splitlines()]
    assert recs[0]["geoip"] == ["country"] and recs[1]["geo_country"] == "DE"
    # Nothing there: no GeoIP, no complaint.
    env["XDG_DATA_HOME"] = str(tmp_path / "empty")
    none = _run([ENRICH, "--no-process", "--format", "json", str(stream)], env)
    if not any(geoip.find(k) for k in geoip.KINDS):  # (this machine has none installed)
        assert none.returncode == 0 and "geo_" not in none.stdout and none.stderr == ""


def test_a_bad_database_is_refused_in_one_line(tmp_path: Path) -> None:
    stream = _stream(tmp_path / "in.jsonl", [])
    junk = tmp_path / "junk.mmdb"
    junk.write_bytes(b"\x00" * 1000)
    bad = _run([ENRICH, "--no-process", "--geoip-country", str(junk), str(stream)])
    assert bad.returncode == 3 and bad.stderr.count("\n") == 1 and "not a MaxMind DB" in bad.stderr
    missing = _run([ENRICH, "--no-process", "--geoip-asn", str(tmp_path / "none.mmdb"), str(stream)])
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1 and "none.mmdb" in missing.stderr
    assert "Traceback" not in bad.stderr + missing.stderr
    # Found by searching (not named): skipped with a note, the stage goes on.
    (tmp_path / "xdg" / "GeoIP").mkdir(parents=True)
    os.link(junk, tmp_path / "xdg" / "GeoIP" / "GeoLite2-City.mmdb")
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "xdg")}
    found = _run([ENRICH, "--no-process", "--format", "json", str(stream)], env)
    assert found.returncode == 0 and "GeoIP city database skipped" in found.stderr


def test_the_cache_is_bounded(dbs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(geoip, "MAX_CACHE", 100)
    geo = GeoIP(dbs)
    for i in range(1000):
        geo.lookup(f"8.8.{i // 250}.{i % 250}")
    assert len(geo._cache) <= 100
    assert geo.lookup(US) == ("US", "United States", None, 15169, "GOOGLE")


def test_the_enricher_annotates_in_process(dbs: dict[str, Path]) -> None:
    enr = Enricher(processes=False, geoip=GeoIP(dbs))
    out = enr.process([{"t": "hdr", "v": 1, "live": False}, _conn(1, "10.0.0.2", V6)])
    assert out[0]["geoip"] == ["country", "asn", "city"] and out[1]["geo_country"] == "NO"


def _viewed(recs: list[dict[str, Any]], geo: list[str] | None) -> list[str]:
    head: dict[str, Any] = {"t": "hdr", "v": 1, "live": False}
    if geo is not None:
        head["geoip"] = geo
    t = ConnTable()
    t.ingest([head, *recs])
    return table_lines(ViewState(t), 160)


def test_the_loc_column_shows_only_with_a_location_database() -> None:
    recs = [_conn(1, "10.0.0.2", DE, geo_country="DE", bytes=10), _conn(2, "10.0.0.2", "10.0.0.3", bytes=5)]
    with_loc = _viewed(recs, ["country", "asn"])
    assert with_loc[0].split()[:5] == ["Process", "Remote", "Local", "Loc", "Service"]
    assert " DE " in with_loc[1] and " - " in with_loc[2]
    for geo in (None, ["asn"]):
        assert "Loc" not in _viewed(recs, geo)[0].split()
    assert "Loc" in _viewed(recs, ["city"])[0].split()


def test_details_show_country_city_and_as_as_rustnet() -> None:
    from rustnet.view import cards

    t = ConnTable()
    t.ingest(
        [
            {"t": "hdr", "v": 1, "live": False, "geoip": ["country", "asn", "city"]},
            _conn(
                1,
                "10.0.0.2",
                DE,
                geo_country="DE",
                geo_country_name="Germany",
                geo_city="Frankfurt am Main",
                geo_asn=20712,
                geo_as_org="Andrews & Arnold Ltd",
            ),
            _conn(2, "10.0.0.2", "10.0.0.3"),
        ]
    )
    network = dict(cards.left_cards(t.rows[1], t))["Network Context"]
    got = {label: value for label, value, _ in network}
    assert got["Country"] == "Germany (DE)" and got["City"] == "Frankfurt am Main"
    assert got["ASN"] == "AS20712 (Andrews & Arnold Ltd)"
    empty = {label: value for label, value, _ in dict(cards.left_cards(t.rows[2], t))["Network Context"]}
    assert (empty["Country"], empty["City"], empty["ASN"]) == ("-", "-", "-")  # fixed rows
