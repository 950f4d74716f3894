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
    return sorted(r.id if type(r.id) is int else r.id[1] for r in Filter(query).apply(rows))


def node_rows() -> list[Row]:
    """The sample seen on two hosts (a merged stream): every connection tagged with its node."""
    t = ConnTable()
    t.ingest([{**r, "node": "web1" if r.get("id", 0) % 2 else "edge"} for r in sample()])
    return list(t.rows.values())


def test_node_keyword_selects_the_rows_of_one_host() -> None:
    rows = node_rows()
    odd = sorted({r.id[1] for r in rows if r.id[1] % 2})
    assert odd and ids("node:web1", rows) == odd
    assert ids("node:edge", rows) == sorted({r.id[1] for r in rows} - set(odd))


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
        ("country:de", [7]),  # the code...
        ("country:united", [1]),  # ...or the name
        ("country:/^us$/", [1]),
        ("city:frankfurt", [7]),
        ("asn:13335", [7]),  # the number...
        ("asn:github", [1]),  # ...or the organisation
    ],
)
def test_every_keyword(query: str, expected: list[int], rows: list[Row]) -> None:
    assert ids(query, rows) == expected


@pytest.mark.parametrize("keyword", sorted(KEYWORDS))
def test_keywords_and_values_are_case_insensitive(keyword: str, rows: list[Row]) -> None:
    """``SNI:`` is ``sni:``, ``state:ESTABLISHED`` is ``state:established``, negated too; the
    row sets differ between keywords, so a keyword read as a fuzzy word would show."""
    if keyword == "node":
        rows = node_rows()
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
        "country",
        "city",
        "asn",
        "node",
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


# --- /regex/ values and RustNet's keyword aliases -------------------------------------------
@pytest.fixture()
def regex_rows() -> list[Row]:
    """Hand-built: values that a substring cannot tell apart but an anchored regex can."""
    t = ConnTable()
    t.ingest(
        [
            conn(1, sport=50001, dport=443, sni="www.example.com", process="chromium", app="TLS"),
            conn(2, sport=50002, dport=8443, sni="api.www.example.com", process="chrome", app="HTTP"),
            conn(3, sport=443, dport=4430, sni="WWW2.Example.NET", process="firefox", state="FIN_WAIT2"),
            conn(4, proto="udp", dport=53, dns_query="mail.example.org", process="dig", state="DNS_QUERY"),
        ]
    )
    return list(t.rows.values())


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("port:/^443$/", [1, 3]),  # exactly 443 on either side: not 8443 or 4430
        ("port:44", [1, 2, 3]),  # a plain value stays a substring
        ("dport:/^443$/", [1]),
        ("sport:/^443$/", [3]),
        ("dport:/^[0-9]{2}$/", [4]),
        ("sni:/^www\\./", [1]),  # at the start of the SNI, not inside api.www...
        ("sni:/\\.com$/", [1, 2]),
        ("process:/chrom(e|ium)/", [1, 2]),
        ("process:/^chrome$/", [2]),
        ("state:/^fin_wait[12]$/", [3]),
        ("proto:/^udp$/", [4]),
        ("app:/^tls$/", [1]),
        ("host:/^mail\\./", [4]),  # the DNS name
        ("src:/\\.3$/", [2]),  # 10.0.0.3
        ("dst:/^192\\.0\\.2\\.10$/", [1, 2, 3, 4]),
    ],
)
def test_regex_value_per_keyword(query: str, expected: list[int], regex_rows: list[Row]) -> None:
    assert ids(query, regex_rows) == expected
    assert Filter(query).error is None


def test_regex_is_case_insensitive(regex_rows: list[Row]) -> None:
    assert ids("sni:/^WWW2\\.example\\.net$/", regex_rows) == [3]
    assert ids("SNI:/^www2\\.EXAMPLE/", regex_rows) == [3]
    assert ids("process:/^CHROME$/", regex_rows) == [2]


def test_negated_regex(regex_rows: list[Row]) -> None:
    assert ids("!port:/^443$/", regex_rows) == [2, 4]
    assert ids("!sni:/^www/ proto:tcp", regex_rows) == [2]


def test_typing_into_a_regex_does_not_reuse_the_literal_result(regex_rows: list[Row]) -> None:
    """``port:/^44`` (a literal, matching nothing) then ``port:/^443$/``: not a narrowing."""
    assert ids("port:/^44", regex_rows) == []
    assert not Filter("port:/^443$/").narrows(Filter("port:/^44"))
    assert not Filter("port:/^443$/").narrows(Filter("port:/^44$/"))


@pytest.mark.parametrize(
    ("alias", "keyword", "value"),
    [
        ("srcport", "sport", "443"),
        ("source-port", "sport", "443"),
        ("dstport", "dport", "443"),
        ("dest-port", "dport", "443"),
        ("destination-port", "dport", "443"),
        ("source", "src", "10.0.0.3"),
        ("dest", "dst", "198.51"),
        ("destination", "dst", "198.51"),
        ("protocol", "proto", "udp"),
        ("proc", "process", "chrom"),
        ("svc", "service", "domain"),
        ("application", "app", "tls"),
        ("hostname", "host", "mail"),
    ],
)
def test_rustnet_aliases(alias: str, keyword: str, value: str) -> None:
    t = ConnTable()
    t.ingest(
        [
            conn(1, sport=50001, dport=443, process="chromium", app="TLS"),
            conn(2, sport=443, dport=8080, process="nginx", app="HTTP"),
            conn(
                4,
                proto="udp",
                dst="198.51.100.7",
                dport=53,
                dns_query="mail.example.org",
                service="domain",
                app="DNS",
            ),
        ]
    )
    rows = list(t.rows.values())
    expected = ids(f"{keyword}:{value}", rows)
    assert expected and expected != [1, 2, 4]  # the value tells the rows apart
    assert ids(f"{alias}:{value}", rows) == expected
    assert ids(f"{alias.upper()}:{value}", rows) == expected
    assert ids(f"!{alias}:{value}", rows) == ids(f"!{keyword}:{value}", rows)


def test_aliases_do_not_change_our_host_keyword(regex_rows: list[Row]) -> None:
    """RustNet's ``host:`` is its ``sni:``; ours also searches DNS names."""
    assert ids("host:mail", regex_rows) == [4]
    assert ids("sni:mail", regex_rows) == []


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("sni:/(www/", "missing )"),
        ("sni:/(a+)+$/", "nested repeats"),
        ("sni:/(a|aa)*$/", "alternatives"),
        ("sni:/(a)\\1/", "back-references"),
        ("sni:/.*.*.*x/", "open-ended repeats"),
        ("sni:/" + "a" * 65 + "/", "longer than"),
    ],
)
def test_bad_or_hostile_regex_is_a_one_line_message(query: str, reason: str, regex_rows: list[Row]) -> None:
    f = Filter(query)
    assert f.error is not None and reason in f.error
    assert f.error.startswith("bad regex sni:") and "\n" not in f.error
    assert f.apply(regex_rows) == []  # it matches as the literal text, which nothing contains


def test_bad_regex_shows_on_the_status_and_prompt_lines() -> None:
    from rustnet.view import keys
    from rustnet.view.render import status_text
    from rustnet.view.state import ViewState

    t = ConnTable()
    t.ingest([conn(1, sni="www.example.com")])
    state = ViewState(t)
    keys.handle(state, "/")
    for ch in "sni:/(w/":
        keys.handle(state, ch)
    assert state.filter.error is not None
    assert "bad regex sni:/(w/: missing )" in status_text(state)
    keys.handle(state, "KEY_ENTER")
    assert "bad regex" in status_text(state)


def test_regex_search_on_hostile_text_is_bounded() -> None:
    """The worst pattern accepted searches a bounded piece of each value: its first 128 characters
    (rustnet.view.saferegex), whatever the record holds (the cost grows with that length to the
    power of the pattern's repeats)."""
    t = ConnTable()
    t.ingest(
        [
            conn(1, sni="a" * 100 + "x1", http_host="h"),  # a match within the first 128
            conn(2, sni="a" * 4000 + "x1", http_host="h"),  # the same match past them
            conn(3, sni="a" * 126 + "x1", http_host="h"),  # ends at character 128
            conn(4, sni="a" * 127 + "x1", http_host="h"),  # ends at character 129
        ]
    )
    rows = list(t.rows.values())
    f = Filter("sni:/\\w+\\w+\\d/")
    assert f.error is None
    assert sorted(r.id for r in f.apply(rows)) == [1, 3]
