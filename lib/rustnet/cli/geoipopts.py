"""The GeoIP options shared by ``rn-enrich`` and ``rustnet`` (opened by rustnet.enrich.geoip.load)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

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
