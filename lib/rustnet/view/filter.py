"""The filter language: fuzzy words and ``keyword:value`` terms, ANDed, ``!`` negates.

``port:44 !state:time_wait goog`` keeps connections with a port containing "44",
not in TIME_WAIT, whose fields fuzzy-match "goog". Keyword values match as
case-insensitive substrings (as RustNet's README: ``port:44`` matches 443 and 8443), or,
written ``/regex/``, as a case-insensitive regular expression searched in each field's
value on its own (``port:/^443$/`` is exactly 443). Plain words match fzf-style: the
letters in order within one field, ranked so that exact substrings, matches at a word
start and tight matches come first.

Python's ``re`` cannot be interrupted, and record text is untrusted, so a regex is
only accepted when its backtracking stays small (:mod:`rustnet.view.saferegex`);
a refused or invalid one matches as a literal and sets :attr:`Filter.error`.

Each keyword documents itself (``code``, ``help``) so the help screen is generated
from this table; the fields a keyword or a plain word searches are declared with the
fields (rustnet.stream.fields).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

from rustnet.stream import fields
from rustnet.view import saferegex
from rustnet.view.model import Row, text

SEP: Final = "\x00"  # between fields in the searchable text; fuzzy matches never cross it

# Every field a plain word searches (DPI data included; lists are joined), as declared.
HAY_FIELDS: Final = tuple(f.name for f in fields.CONN if f.search)


_HAY_SET: Final = frozenset(HAY_FIELDS)


def haystack(row: Row) -> str:
    """Lower-cased searchable text of a row, cached until the row changes."""
    hay = row.hay
    if hay is None:
        # One pass over the record (not one lookup per field): this runs for every row on
        # the first keystroke after the data changed.
        parts = [
            v if type(v) is str else text(v) for k, v in row.rec.items() if k in _HAY_SET and v is not None
        ]
        if row.extra:
            parts += row.extra.values()
        hay = SEP.join(parts).lower()
        row.hay = hay
    return hay


def _values(code: str) -> Callable[[Row], Iterable[str]]:
    """The values of the fields declared as searched by keyword ``code``."""
    keys = fields.keyword_fields(code)

    def get(row: Row) -> Iterable[str]:
        return [text(row.field(k)) for k in keys]

    return get


_DST: Final = fields.keyword_fields("dst")
_SRC: Final = fields.keyword_fields("src")


def _remote_values(row: Row) -> Iterable[str]:
    """dst: the responder's fields, and the originator's too when that is the remote end."""
    keys = _DST if row.local_is_src else _DST + _SRC
    return [text(row.field(k)) for k in keys]


@dataclass(frozen=True)
class Keyword:
    """A ``code:value`` filter term; ``help`` goes on the help screen."""

    code: str
    help: str
    values: Callable[[Row], Iterable[str]]
    aliases: tuple[str, ...] = ()  # RustNet's other names for it


KEYWORDS: Final[dict[str, Keyword]] = {
    k.code: k
    for k in (
        Keyword("port", "either port contains the value (port:44 matches 443, 8443)", _values("port")),
        Keyword(
            "sport",
            "source (originator) port contains the value",
            _values("sport"),
            ("srcport", "source-port"),
        ),
        Keyword(
            "dport",
            "destination (responder) port contains the value",
            _values("dport"),
            ("dstport", "dest-port", "destination-port"),
        ),
        Keyword("src", "source address or its hostname", _values("src"), ("source",)),
        Keyword(
            "dst", "destination / remote address or its hostname", _remote_values, ("dest", "destination")
        ),
        Keyword("sni", "TLS / QUIC server name (SNI)", _values("sni")),
        Keyword("host", "HTTP Host, SNI, DNS name or a learned hostname", _values("host"), ("hostname",)),
        Keyword("process", "owning process name (or pid)", _values("process"), ("proc",)),
        Keyword("state", "protocol state (state:fin_wait matches FIN_WAIT1 and FIN_WAIT2)", _values("state")),
        Keyword("proto", "transport protocol: tcp, udp, icmp, icmpv6, arp", _values("proto"), ("protocol",)),
        Keyword(
            "app",
            "detected application protocol: http, tls, dns, quic, ssh ...",
            _values("app"),
            ("application",),
        ),
        Keyword("service", "well-known service name of the responder port", _values("service"), ("svc",)),
        Keyword("vendor", "MAC vendor of either end (on-link peers, ARP)", _values("vendor")),
        Keyword("country", "the remote end's country, code or name (GeoIP)", _values("country")),
        Keyword("city", "the remote end's city (GeoIP City database)", _values("city")),
        Keyword("asn", "the remote end's AS number or organisation (GeoIP ASN database)", _values("asn")),
        Keyword("node", "the host a connection was seen on (several hosts in one view)", _values("node")),
    )
}

# Every name a keyword answers to: its code and its aliases.
NAMES: Final[dict[str, Keyword]] = {n: k for k in KEYWORDS.values() for n in (k.code, *k.aliases)}


@dataclass(frozen=True)
class Term:
    """One parsed term: a keyword test or a fuzzy word, maybe negated."""

    negate: bool
    keyword: Keyword | None
    value: str  # lower-cased
    pattern: re.Pattern[str] | None = None  # fuzzy words, and keyword /regex/ values

    def keyword_match(self, row: Row) -> bool:
        assert self.keyword is not None
        kw = row.kw
        if kw is None:
            kw = row.kw = {}
        code = self.keyword.code
        hay = kw.get(code)
        if hay is None:
            hay = kw[code] = SEP.join(self.keyword.values(row)).lower()
        if self.pattern is None:
            return self.value in hay
        # Each field on its own (so ^ and $ are its ends), cut to a bounded length.
        search = self.pattern.search
        return any(search(v[: saferegex.MAX_TEXT]) for v in hay.split(SEP))


def _fuzzy_pattern(word: str) -> re.Pattern[str]:
    # a[^\0b]*?b[^\0c]*?c : the letters in order inside one field, lazily.
    parts = [re.escape(word[0])]
    for ch in word[1:]:
        parts.append(f"[^{SEP}{re.escape(ch)}]*?{re.escape(ch)}")
    return re.compile("".join(parts))


def _keyword_term(negate: bool, kw: Keyword, value: str, errors: list[str]) -> Term:
    """``kw:value``; a ``/regex/`` value compiles, or stays a literal with its error noted."""
    if len(value) > 2 and value.startswith("/") and value.endswith("/"):
        try:
            return Term(negate, kw, value.lower(), saferegex.compile_pattern(value[1:-1]))
        except saferegex.RegexError as e:
            errors.append(f"{kw.code}:{value}: {e}")
    return Term(negate, kw, value.lower())


def parse(query: str, errors: list[str] | None = None) -> list[Term]:
    """Terms of a filter string; unknown ``x:y`` words are fuzzy words.

    A bad ``/regex/`` value matches as the literal text; its message goes to ``errors``.
    """
    if errors is None:
        errors = []
    terms: list[Term] = []
    for raw in query.split():
        negate = raw.startswith("!")
        word = raw[1:] if negate else raw
        if not word:
            continue
        code, colon, value = word.partition(":")
        kw = NAMES.get(code.lower()) if colon else None
        if kw is not None:
            terms.append(_keyword_term(negate, kw, value, errors))
        else:
            low = word.lower()
            terms.append(Term(negate, None, low, _fuzzy_pattern(low)))
    return terms


def fuzzy_score(word: str, pattern: re.Pattern[str], hay: str) -> int:
    """How well ``word`` matches ``hay`` (higher is better), or -1 for no match."""
    pos = hay.find(word)
    if pos >= 0:
        offset = pos - hay.rfind(SEP, 0, pos) - 1  # position inside its field
        score = 2000 - min(offset, 500)
        if pos == 0 or not hay[pos - 1].isalnum():
            score += 500  # at a word or field start
        return score
    m = pattern.search(hay)
    if m is None:
        return -1
    # Tighten the leftmost match from its end backwards (fzf's second pass).
    end = m.end() - 1
    start = end
    for ch in reversed(word[:-1]):
        start = hay.rfind(ch, m.start(), start)
    span = end - start + 1
    offset = start - hay.rfind(SEP, 0, start) - 1
    score = 1000 - min(span - len(word), 400) * 2 - min(offset, 100)
    if start == 0 or not hay[start - 1].isalnum():
        score += 200
    return score


class Filter:
    """A compiled filter string: ``match(row)`` and a rank for fuzzy words."""

    def __init__(self, query: str) -> None:
        self.query = query.strip()
        errors: list[str] = []
        self.terms = parse(self.query, errors)
        # One line for the status line: the first bad regex (it matches as a literal).
        self.error: str | None = f"bad regex {errors[0]}" if errors else None
        self.keyword_terms = [t for t in self.terms if t.keyword is not None]
        self.fuzzy_terms = [t for t in self.terms if t.keyword is None]
        self.ranked = any(not t.negate for t in self.fuzzy_terms)

    def __bool__(self) -> bool:
        return bool(self.terms)

    def score(self, row: Row) -> int:
        """-1 when the row is filtered out; else its rank (0 when there is nothing to rank)."""
        for t in self.keyword_terms:
            if t.keyword_match(row) == t.negate:
                return -1
        if not self.fuzzy_terms:
            return 0
        hay = haystack(row)
        total = 0
        for t in self.fuzzy_terms:
            assert t.pattern is not None
            s = fuzzy_score(t.value, t.pattern, hay)
            if t.negate:
                if s >= 0:
                    return -1
            elif s < 0:
                return -1
            else:
                total += s
        return total

    def select(self, rows: Iterable[Row]) -> list[tuple[int, Row]]:
        """(rank, row) for the rows that pass, in input order."""
        score = self.score
        out: list[tuple[int, Row]] = []
        for row in rows:
            s = score(row)
            if s >= 0:
                out.append((s, row))
        return out

    def rank(self, scored: list[tuple[int, Row]]) -> list[Row]:
        """Best fuzzy rank first; stable, so the input (sort) order breaks ties."""
        if self.ranked:
            scored = sorted(scored, key=lambda sr: -sr[0])
        return [r for _, r in scored]

    def apply(self, rows: Iterable[Row]) -> list[Row]:
        """Rows that pass, best fuzzy rank first (stable: the input order breaks ties)."""
        if not self.terms:
            return list(rows)
        return self.rank(self.select(rows))

    def narrows(self, older: Filter) -> bool:
        """True when every row this filter keeps also passed ``older`` (typing one more letter).

        Then only the rows ``older`` kept need testing: the common case while typing.
        """
        if not older.terms or len(self.terms) < len(older.terms):
            return False
        for new, old in zip(self.terms, older.terms, strict=False):
            if new == old:
                continue
            if (
                new.negate
                or old.negate
                or new.keyword is not old.keyword
                or (new.keyword is not None and (new.pattern is not None or old.pattern is not None))
                or not new.value.startswith(old.value)
            ):
                return False
        return True


def help_lines() -> list[tuple[str, str]]:
    """(syntax, meaning) pairs for the help screen, generated from :data:`KEYWORDS`."""
    out = [("word", "fuzzy match (letters in order) in any field, DPI data included; best first")]
    out += [
        (
            f"{k.code}:VALUE",
            k.help + (f" (also {', '.join(a + ':' for a in k.aliases)})" if k.aliases else ""),
        )
        for k in KEYWORDS.values()
    ]
    out += [
        ("kw:/regex/", "case-insensitive regular expression per field (port:/^443$/, sni:/^www\\./)"),
        ("!term", "negate a term (!state:time_wait, !dns, !sni:/google/)"),
        ("a b", "terms AND together"),
    ]
    return out
