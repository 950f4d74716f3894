"""MAC address vendors from the IEEE OUI registry a system package ships (Debian: ieee-data).

Read once, on first use, from the CSV (``Registry,Assignment,Organization Name,...``); no file
means no vendors. Only the 24-bit MA-L assignments: about 33,000 entries, about 5 MB of memory.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Final

OUI_PATHS: Final = ("/usr/share/ieee-data/oui.csv",)
LOCALLY_ADMINISTERED: Final = "locally administered"
_MAX_ENTRIES: Final = 200_000  # bounds memory on a damaged or hostile file
_MAX_NAME: Final = 80


def parse_oui_csv(text: str) -> dict[str, str]:
    """Map "AABBCC" (upper-case hex) to the organisation name, from the registry's CSV text."""
    return parse_oui_lines(io.StringIO(text))


def parse_oui_lines(lines: Iterable[str]) -> dict[str, str]:
    """:func:`parse_oui_csv` over lines, so the whole file is never held at once."""
    out: dict[str, str] = {}
    names: dict[str, str] = {}  # one string per organisation: many hold hundreds of prefixes
    for row in csv.reader(lines):
        if len(row) < 3 or len(row[1]) != 6:
            continue
        prefix = row[1].upper()
        try:
            int(prefix, 16)
        except ValueError:
            continue
        name = "".join(c for c in row[2].strip() if c.isprintable())[:_MAX_NAME]
        if name:
            out[prefix] = names.setdefault(name, name)
            if len(out) >= _MAX_ENTRIES:
                break
    return out


class Vendors:
    """MAC -> vendor name, loaded lazily from the first readable registry file."""

    def __init__(self, paths: tuple[str, ...] = OUI_PATHS) -> None:
        self.paths = paths
        self._table: dict[str, str] | None = None

    def _load(self) -> dict[str, str]:
        for path in self.paths:
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    return parse_oui_lines(f)
            except OSError:
                continue
        return {}

    def lookup(self, mac: object) -> str | None:
        """The vendor of "aa:bb:cc:dd:ee:ff", "locally administered", or None when unknown."""
        if not isinstance(mac, str) or len(mac) != 17:
            return None
        prefix = mac[0:2] + mac[3:5] + mac[6:8]
        try:
            first = int(mac[0:2], 16)
        except ValueError:
            return None
        if first & 0x02:
            return LOCALLY_ADMINISTERED
        if self._table is None:
            self._table = self._load()
        return self._table.get(prefix.upper())
