"""GeoIP: country, city and autonomous system of an address, from local MaxMind-format databases.

Three databases, each optional: Country (``GeoLite2-Country.mmdb``), City
(``GeoLite2-City.mmdb``, which also gives the country when there is no Country database)
and ASN (``GeoLite2-ASN.mmdb``); DB-IP's free "lite" databases use the same format and
names (``dbip-country-lite.mmdb``, ...). They are read with the ``maxminddb`` package,
found in the usual directories (:data:`SEARCH_DIRS`) or given by path, and never
downloaded. Nothing looks in the working directory: a file planted there would be parsed
by a stage running with privileges.

Addresses no database places (private, loopback, link-local, CGNAT, documentation,
multicast, unspecified; RustNet's list) are not looked up. Answers are cached per
address, at most :data:`MAX_CACHE` of them, for an hour.
"""

from __future__ import annotations

import ipaddress
import os
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from rustnet.cli.common import EXIT_DAMAGED, EXIT_ERROR, StageError, warn
from rustnet.enrich.text import printable

COUNTRY: Final = "country"
CITY: Final = "city"
ASN: Final = "asn"
KINDS: Final = (COUNTRY, ASN, CITY)
# File names looked for, per database, in order.
FILE_NAMES: Final = {
    COUNTRY: ("GeoLite2-Country.mmdb", "GeoIP2-Country.mmdb", "dbip-country-lite.mmdb", "dbip-country.mmdb"),
    ASN: ("GeoLite2-ASN.mmdb", "GeoIP2-ASN.mmdb", "dbip-asn-lite.mmdb", "dbip-asn.mmdb"),
    CITY: ("GeoLite2-City.mmdb", "GeoIP2-City.mmdb", "dbip-city-lite.mmdb", "dbip-city.mmdb"),
}
MAX_CACHE: Final = 50_000
CACHE_SECONDS: Final = 3600.0
_MAX_TEXT: Final = 128
# The geo_* fields of a connection record (rustnet.stream.fields), in this order.
FIELDS: Final = ("geo_country", "geo_country_name", "geo_city", "geo_asn", "geo_as_org")
_CGNAT: Final = ipaddress.ip_network("100.64.0.0/10")
_ULA: Final = ipaddress.ip_network("fc00::/7")


def search_dirs() -> list[Path]:
    """Where databases are looked for, in order (RustNet's list, without the working directory)."""
    home = Path(os.path.expanduser("~"))
    xdg = os.environ.get("XDG_DATA_HOME")
    out: list[Path] = []
    if xdg and os.path.isabs(xdg):
        out += [Path(xdg) / "rustnet" / "geoip", Path(xdg) / "GeoIP"]
    out += [
        home / ".local/share/rustnet/geoip",
        home / ".local/share/GeoIP",
        Path("/usr/share/GeoIP"),
        Path("/usr/local/share/GeoIP"),
        Path("/opt/homebrew/share/GeoIP"),
        Path("/var/lib/GeoIP"),
    ]
    return out


def find(kind: str, dirs: list[Path] | None = None) -> Path | None:
    """The first database file of ``kind`` in the search directories, or None."""
    for d in search_dirs() if dirs is None else dirs:
        for name in FILE_NAMES[kind]:
            p = d / name
            try:
                if p.is_file():
                    return p
            except OSError:  # a directory we may not look into (root's home, seen by another user)
                break
    return None


def placeable(ip: str) -> bool:
    """False for the addresses a GeoIP database says nothing about (see the module doc)."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if addr.is_private or addr.is_loopback or addr.is_link_local or addr.is_multicast:
        return False
    if addr.is_unspecified or addr.is_reserved:
        return False
    if isinstance(addr, ipaddress.IPv4Address):
        return addr not in _CGNAT and ip != "255.255.255.255"
    return addr not in _ULA


class GeoIPError(Exception):
    """A database that cannot be used (missing, unreadable, not MaxMind DB); one line."""

    def __init__(self, message: str, damaged: bool = False) -> None:
        super().__init__(message)
        self.damaged = damaged  # the file is there but is not a usable MaxMind DB


@dataclass
class Loaded:
    kind: str
    path: Path
    reader: Any  # maxminddb.Reader
    database_type: str


def _open(kind: str, path: Path) -> Loaded:
    try:
        import maxminddb
    except ImportError:
        raise GeoIPError("the maxminddb package is not installed") from None
    try:
        reader = maxminddb.open_database(str(path))
    except FileNotFoundError:
        raise GeoIPError(f"{path}: no such file") from None
    except OSError as exc:
        raise GeoIPError(f"{path}: {exc.strerror or exc}") from None
    except Exception as exc:  # InvalidDatabaseError and whatever a damaged file raises
        raise GeoIPError(f"{path}: not a MaxMind DB file ({exc})", damaged=True) from None
    try:
        dbtype = str(reader.metadata().database_type)
    except Exception:
        dbtype = ""
    return Loaded(kind, path, reader, printable(dbtype, _MAX_TEXT))


def _text(v: Any) -> str | None:
    return printable(v, _MAX_TEXT) or None if isinstance(v, str) else None


def _english(node: Any) -> str | None:
    if not isinstance(node, dict):
        return None
    names = node.get("names")
    return _text(names.get("en")) if isinstance(names, dict) else None


class GeoIP:
    """The loaded databases and a bounded cache of what they say per address."""

    def __init__(self, paths: dict[str, Path]) -> None:
        """Open the databases in ``paths`` (kind -> file). Raises GeoIPError."""
        self.loaded: dict[str, Loaded] = {}
        try:
            for kind in KINDS:
                p = paths.get(kind)
                if p is not None:
                    self.loaded[kind] = _open(kind, p)
        except GeoIPError:
            self.close()
            raise
        self._cache: OrderedDict[str, tuple[dict[str, Any] | None, float]] = OrderedDict()
        self.lookups = 0  # database lookups made (the benchmark reads it)
        self.errors = 0  # lookups a damaged database failed

    @property
    def has_location(self) -> bool:
        """A Country or City database is loaded: there is a country to show (the Loc column)."""
        return COUNTRY in self.loaded or CITY in self.loaded

    def kinds(self) -> list[str]:
        return [k for k in KINDS if k in self.loaded]

    def close(self) -> None:
        for db in self.loaded.values():
            try:
                db.reader.close()
            except Exception:
                pass
        self.loaded.clear()

    def lookup(self, ip: Any) -> tuple[Any, ...] | None:
        """(country code, country name, city, ASN, AS organisation) for ``ip``, each None when
        unknown; None when nothing is known."""
        got = self._fields(ip)
        return None if got is None else tuple(got.get(k) for k in FIELDS)

    def annotate(self, rec: dict[str, Any], ip: Any) -> None:
        """Add the geo_* fields of ``ip`` to a connection record (only those known)."""
        got = self._fields(ip)
        if got is not None:
            rec.update(got)

    def _fields(self, ip: Any) -> dict[str, Any] | None:
        """The known geo_* fields of ``ip`` (cached), or None."""
        if type(ip) is not str or not ip:
            return None
        now = time.monotonic()
        hit = self._cache.get(ip)
        if hit is not None and hit[1] > now:
            return hit[0]
        found = self._lookup(ip) if placeable(ip) else None
        got = None if found is None else {k: v for k, v in zip(FIELDS, found, strict=True) if v is not None}
        self._cache[ip] = (got, now + CACHE_SECONDS)
        self._cache.move_to_end(ip)
        if len(self._cache) > MAX_CACHE:
            # Evict a quarter at once (as RustNet does) so a flood does not evict on every miss.
            for _ in range(MAX_CACHE // 4):
                self._cache.popitem(last=False)
        return got

    def _get(self, kind: str, ip: str) -> dict[str, Any] | None:
        db = self.loaded.get(kind)
        if db is None:
            return None
        self.lookups += 1
        try:
            rec = db.reader.get(ip)
        except Exception:  # a damaged database: no answer for this address, never a traceback
            self.errors += 1
            return None
        return rec if isinstance(rec, dict) else None

    def _lookup(self, ip: str) -> tuple[Any, ...] | None:
        cc = cname = city = asn = org = None
        country = self._get(COUNTRY, ip)
        city_rec = self._get(CITY, ip)
        for rec in (country, city_rec):
            if rec is not None and cc is None:
                node = rec.get("country") or rec.get("registered_country")
                if isinstance(node, dict):
                    code = _text(node.get("iso_code"))
                    cc = code.upper()[:3] if code else None
                    cname = _english(node)
        if city_rec is not None:
            city = _english(city_rec.get("city"))
        as_rec = self._get(ASN, ip)
        if as_rec is not None:
            n = as_rec.get("autonomous_system_number")
            asn = n if type(n) is int and 0 <= n <= 0xFFFFFFFF else None
            org = _text(as_rec.get("autonomous_system_organization"))
        got = (cc, cname, city, asn, org)
        return None if all(v is None for v in got) else got


def open_databases(
    given: dict[str, str | None], search: bool = True, dirs: list[Path] | None = None
) -> tuple[GeoIP | None, list[str]]:
    """GeoIP from the paths given (``--geoip-country`` ...) and, for the others, the search
    directories; returns it (None when no database was found) and the notes to show.

    A database given by path that cannot be opened is an error (GeoIPError); one found by
    searching that cannot be opened is skipped with a note.
    """
    geo = GeoIP({})
    notes: list[str] = []
    try:
        for kind in KINDS:
            p = given.get(kind)
            if p is not None:
                geo.loaded[kind] = _open(kind, Path(p))
                continue
            found = find(kind, dirs) if search else None
            if found is not None:
                try:
                    geo.loaded[kind] = _open(kind, found)
                except GeoIPError as exc:
                    notes.append(f"GeoIP {kind} database skipped: {exc}")
    except GeoIPError:
        geo.close()
        raise
    return (geo if geo.loaded else None), notes


def load(prog: str, off: bool, country: str | None, asn: str | None, city: str | None) -> GeoIP | None:
    """The databases ``--geoip-country/--geoip-asn/--geoip-city`` name or the search finds; None
    when ``off`` or none is found. A database named by path that cannot be used is an error
    (status 1, or 3 when it is not a MaxMind DB); one found by searching is skipped with a note."""
    if off:
        return None
    try:
        geo, notes = open_databases({COUNTRY: country, ASN: asn, CITY: city})
    except GeoIPError as exc:
        raise StageError(f"GeoIP: {exc}", EXIT_DAMAGED if exc.damaged else EXIT_ERROR) from None
    for note in notes:
        warn(prog, note)
    return geo
