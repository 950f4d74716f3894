"""The filter language: every keyword, substring semantics, negation, AND, fuzzy ranking."""

from __future__ import annotations

import pytest
from rustnet.view.filter import KEYWORDS, Filter, fuzzy_score, help_lines, parse
from rustnet.view.model import ConnTable, Row

from tests.tui.records import conn, sample


@pytest.fixture()
def rows() -> list[Row]:
    t = ConnTable()
    t.ingest(sample())
    return list(t.rows.values())


def ids(query: str, rows: list[Row]) -> list[int]:
    return sorted(r.id for r in Filter(query).apply(rows))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("port:44", [1, 2, 7]),  # the seed's example: 443 and 8443
        ("port:4000", [1, 2, 3, 4, 5, 7]),  # source ports 40001.. ; not the loopback one (50000)
        ("sport:50000", [6]),
        ("dport:443", [1, 2, 7]),
        ("dport:22", [5]),
        ("src:127.0", [6]),
        ("src:10.0.0.2", [1]),
        ("dst:192.0.2.53", [4]),
        ("dst:edge.example", [7]),  # the remote end's learned hostname
        ("sni:github", [1]),
        ("sni:EXAMPLE", [2, 7]),  # case-insensitive
        ("host:intranet", [3]),  # HTTP Host
        ("host:google", [4]),  # DNS name
        ("host:github.com", [1]),  # SNI
        ("host:edge", [7]),  # learned hostname
        ("process:fire", [1]),
        ("process:4242", [1]),
        ("state:established", [1, 2, 3, 5]),
        ("state:quic", [7]),
        ("proto:udp", [4, 7]),
        ("app:tls", [1, 2]),
        ("app:ssh", [5]),
        ("service:http", [1, 3]),
        ("service:domain", [4]),
        ("vendor:cisco", [5]),  # the MAC vendor of the gateway end
    ],
)
def test_every_keyword(query: str, expected: list[int], rows: list[Row]) -> None:
    assert ids(query, rows) == expected


@pytest.mark.parametrize("keyword", sorted(KEYWORDS))
def test_keywords_and_values_are_case_insensitive(keyword: str, rows: list[Row]) -> None:
    """``SNI:`` is ``sni:``, ``state:ESTABLISHED`` is ``state:established``, negated too; the
    row sets differ between keywords, so a keyword read as a fuzzy word would show."""
    matched = False
    for value in ("a", "4", "e", "t", "1"):
        want = ids(f"{keyword}:{value}", rows)
        matched |= bool(want)
        assert ids(f"{keyword.upper()}:{value.upper()}", rows) == want, (keyword, value)
        everything = ids("", rows)
        assert ids(f"!{keyword.capitalize()}:{value}", rows) == sorted(set(everything) - set(want))
    assert matched  # some value selects rows: the keyword is really read as one


def test_every_keyword_is_tested_and_documented() -> None:
    tested = {
        "port",
        "sport",
        "dport",
        "src",
        "dst",
        "sni",
        "host",
        "process",
        "state",
        "proto",
        "app",
        "service",
        "vendor",
    }
    assert set(KEYWORDS) == tested
    doc = dict(help_lines())
    assert all(f"{k}:VALUE" in doc and doc[f"{k}:VALUE"] for k in KEYWORDS)


def test_negation_and_and(rows: list[Row]) -> None:
    assert ids("!proto:tcp", rows) == [4, 7]
    assert ids("proto:tcp !port:443", rows) == [3, 5, 6]
    assert ids("dport:443 sni:git", rows) == [1]
    assert ids("!github", rows) == [2, 3, 4, 5, 6, 7]
    assert ids("PROTO:UDP state:dns", rows) == [4]


def test_empty_and_unknown_keywords(rows: list[Row]) -> None:
    assert ids("", rows) == [1, 2, 3, 4, 5, 6, 7]
    assert ids("   ", rows) == [1, 2, 3, 4, 5, 6, 7]
    # Not a keyword: a fuzzy word, colon included, that matches nothing here.
    assert ids("color:red", rows) == []
    assert parse("!") == []


def test_fuzzy_subsequence_across_dpi_fields(rows: list[Row]) -> None:
    assert ids("gthb", rows) == [1]  # g-t-h-b inside "github.com"
    assert ids("opnssh", rows) == [5]  # the SSH banner
    assert ids("redis", rows) == [6]
    assert ids("zzzz", rows) == []


def test_fuzzy_matches_stay_inside_one_field() -> None:
    t = ConnTable()
    t.ingest([conn(1, process="ab", sni="cd")])
    row = t.rows[1]
    assert Filter("ab").score(row) > 0
    assert Filter("ac").score(row) == -1  # 'a' in process, 'c' in sni: no


def test_fuzzy_ranking_best_first() -> None:
    t = ConnTable()
    t.ingest(
        [
            conn(1, sni="g-i-t-h-u-b-scattered.example"),  # loose subsequence
            conn(2, sni="mygithubmirror.example"),  # substring in the middle of a word
            conn(3, sni="github.com"),  # substring at the start of the field
            conn(4, sni="gith-ub.example"),  # tight subsequence
        ]
    )
    ranked = [r.id for r in Filter("github").apply(t.rows.values())]
    assert ranked == [3, 2, 4, 1]


def test_fuzzy_score_contract() -> None:
    f = Filter("abc")
    pat = f.fuzzy_terms[0].pattern
    assert pat is not None
    assert fuzzy_score("abc", pat, "xxabcxx") > fuzzy_score("abc", pat, "a-b-c") > 0
    assert fuzzy_score("abc", pat, "cba") == -1


def test_regex_metacharacters_are_literal() -> None:
    t = ConnTable()
    t.ingest([conn(1, http_path="/a.b*c"), conn(2, http_path="/axbc")])
    assert [r.id for r in Filter("a.b*").apply(t.rows.values())] == [1]
    assert [r.id for r in Filter("(").apply(t.rows.values())] == []
