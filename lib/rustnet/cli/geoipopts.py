"""The GeoIP options shared by ``rn-enrich`` and ``rustnet``, and opening what they name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from rustnet.cli.common import EXIT_DAMAGED, EXIT_ERROR, StageError, warn

F = TypeVar("F", bound=Callable[..., Any])

_DB_PATH = click.Path(dir_okay=False)


def geoip_options(f: F) -> F:
    """``--geoip-country/--geoip-asn/--geoip-city PATH`` and ``--no-geoip``."""
    for name, what in (
        ("city", "GeoLite2-City.mmdb (city; also the country when there is no Country database)"),
        ("asn", "GeoLite2-ASN.mmdb (autonomous system number and organisation)"),
        ("country", "GeoLite2-Country.mmdb (country)"),
    ):
        f = click.option(
            f"--geoip-{name}",
            metavar="PATH",
            type=_DB_PATH,
            help=f"GeoIP database {what}  [default: found in ~/.local/share/GeoIP, "
            "/usr/share/GeoIP, /var/lib/GeoIP, ...].",
        )(f)
    f = click.option("--no-geoip", is_flag=True, help="No GeoIP (country, city, AS) at all.")(f)
    return f


def load_geoip(
    prog: str, off: bool, country: str | None, asn: str | None, city: str | None
) -> Any:  # rustnet.enrich.geoip.GeoIP | None (imported only when used)
    """The GeoIP databases named or found; None when off or none is found. A database named
    by path that cannot be used is an error (status 1, or 3 when it is not a MaxMind DB)."""
    if off:
        return None
    from rustnet.enrich.geoip import GeoIPError, open_databases

    try:
        geo, notes = open_databases({"country": country, "asn": asn, "city": city})
    except GeoIPError as exc:
        status = EXIT_DAMAGED if exc.damaged else EXIT_ERROR
        raise StageError(f"GeoIP: {exc}", status) from None
    for note in notes:
        warn(prog, note)
    return geo
