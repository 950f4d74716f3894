"""Theme presets and colours: what each semantic token is in each preset, as SGR sequences.

A colour is an ANSI name (``green``, ``lightblue``, ``darkgray``, ``reset``...) or ``#rrggbb``.
The truecolor presets fall back to the ``muted`` ANSI table when the terminal cannot show 24-bit
colour; a ``#rrggbb`` override then becomes the nearest of the 256-colour cube and grey ramp.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from rustnet.cli.themeopts import THEME_PRESETS

TOKENS = (
    "accent",
    "ok",
    "warn",
    "err",
    "info",
    "special",
    "muted",
    "faint",
    "text",
    "heading",
    "label",
    "key",
    "border",
    "rx",
    "tx",
    "rx_wave",
    "tx_wave",
    "selection_bg",
    "selection_fg",
    "status_bg",
)
BACKGROUND_TOKENS = frozenset({"selection_bg", "status_bg"})
GREY_TIERS = ("muted", "faint")
DEFAULT_PRESET = "muted"

# ANSI names -> index in the 16-colour table (0-7 normal, 8-15 bright), as terminals number them.
ANSI_INDEX = {
    "black": 0,
    "red": 1,
    "green": 2,
    "yellow": 3,
    "blue": 4,
    "magenta": 5,
    "cyan": 6,
    "gray": 7,
    "grey": 7,
    "darkgray": 8,
    "darkgrey": 8,
    "lightred": 9,
    "lightgreen": 10,
    "lightyellow": 11,
    "lightblue": 12,
    "lightmagenta": 13,
    "lightcyan": 14,
    "white": 15,
}
# xterm's default RGB for the 16 colours: only to judge contrast, never sent to the terminal.
ANSI_RGB = (
    (0, 0, 0),
    (205, 0, 0),
    (0, 205, 0),
    (205, 205, 0),
    (0, 0, 238),
    (205, 0, 205),
    (0, 205, 205),
    (229, 229, 229),
    (127, 127, 127),
    (255, 0, 0),
    (0, 255, 0),
    (255, 255, 0),
    (92, 92, 255),
    (255, 0, 255),
    (0, 255, 255),
    (255, 255, 255),
)
_HEX = re.compile(r"#[0-9a-fA-F]{6}")

# None for selection: reverse video (the ANSI presets); status fg is no token: each preset's own.
MUTED: dict[str, str | None] = {
    "accent": "cyan",
    "ok": "green",
    "warn": "yellow",
    "err": "red",
    "info": "blue",
    "special": "magenta",
    "muted": "gray",
    "faint": "darkgray",
    "text": "reset",
    "heading": "reset",
    "label": "reset",
    "key": "cyan",
    "border": "darkgray",
    "rx": "green",
    "tx": "blue",
    "rx_wave": "blue",
    "tx_wave": "green",
    "selection_bg": None,
    "selection_fg": None,
    "status_bg": "cyan",
}
VIVID = MUTED | {
    "heading": "yellow",
    "key": "yellow",
    "border": "magenta",
    "label": "lightcyan",
    "info": "lightblue",
    "special": "lightmagenta",
}


def _truecolor(
    text: str, muted: str, faint: str, surface: str, border: str, colours: dict[str, str]
) -> dict[str, str | None]:
    """A truecolor preset from its palette: ``colours`` names the accents by role."""
    c = colours
    return {
        "accent": c["accent"],
        "ok": c["green"],
        "warn": c["yellow"],
        "err": c["red"],
        "info": c["cyan"],
        "special": c["magenta"],
        "muted": muted,
        "faint": faint,
        "text": text,
        "heading": c["heading"],
        "label": muted,
        "key": c["orange"],
        "border": border,
        "rx": c["green"],
        "tx": c["blue"],
        "rx_wave": c["cyan"],
        "tx_wave": c["magenta"],
        "selection_bg": surface,
        "selection_fg": text,
        "status_bg": c["accent"],
    }


# Public palettes of each scheme (dark variants), by role.
PRESETS: dict[str, dict[str, str | None]] = {
    "muted": MUTED,
    "vivid": VIVID,
    "catppuccin-mocha": _truecolor(
        "#cdd6f4",
        "#a6adc8",
        "#7f849c",
        "#45475a",
        "#585b70",
        {
            "accent": "#89b4fa",
            "green": "#a6e3a1",
            "yellow": "#f9e2af",
            "red": "#f38ba8",
            "cyan": "#89dceb",
            "magenta": "#cba6f7",
            "blue": "#89b4fa",
            "orange": "#fab387",
            "heading": "#b4befe",
        },
    ),
    "tokyo-night": _truecolor(
        "#c0caf5",
        "#a9b1d6",
        "#737aa2",
        "#283457",
        "#3b4261",
        {
            "accent": "#7aa2f7",
            "green": "#9ece6a",
            "yellow": "#e0af68",
            "red": "#f7768e",
            "cyan": "#7dcfff",
            "magenta": "#bb9af7",
            "blue": "#7aa2f7",
            "orange": "#ff9e64",
            "heading": "#7dcfff",
        },
    ),
    "gruvbox": _truecolor(
        "#ebdbb2",
        "#a89984",
        "#928374",
        "#504945",
        "#665c54",
        {
            "accent": "#83a598",
            "green": "#b8bb26",
            "yellow": "#fabd2f",
            "red": "#fb4934",
            "cyan": "#8ec07c",
            "magenta": "#d3869b",
            "blue": "#83a598",
            "orange": "#fe8019",
            "heading": "#fabd2f",
        },
    ),
    "nord": _truecolor(
        "#eceff4",
        "#d8dee9",
        "#7b88a1",
        "#434c5e",
        "#4c566a",
        {
            "accent": "#88c0d0",
            "green": "#a3be8c",
            "yellow": "#ebcb8b",
            "red": "#bf616a",
            "cyan": "#8fbcbb",
            "magenta": "#b48ead",
            "blue": "#81a1c1",
            "orange": "#d08770",
            "heading": "#88c0d0",
        },
    ),
}
# Overview columns drawn in their own token's colour (vivid's "distinct colours per column").
COLUMN_TOKENS: dict[str, dict[str, str]] = {
    "vivid": {"process": "special", "remote": "accent", "service": "info", "app": "key"},
}
# The status bar's text over status_bg: black on the ANSI presets, the scheme's base elsewhere.
STATUS_FG = {
    "muted": "black",
    "vivid": "black",
    "catppuccin-mocha": "#1e1e2e",
    "tokyo-night": "#1a1b26",
    "gruvbox": "#282828",
    "nord": "#2e3440",
}
TRUECOLOR_PRESETS = frozenset(
    n for n, table in PRESETS.items() if any(_HEX.fullmatch(v or "") for v in table.values())
)
assert tuple(PRESETS) == THEME_PRESETS


def parse_colour(text: str) -> str | None:
    """The canonical form (lower case) of an ANSI name or ``#rrggbb``; None when it is neither."""
    value = text.strip().lower()
    if value in ANSI_INDEX or value == "reset" or _HEX.fullmatch(value):
        return value
    return None


def rgb(colour: str) -> tuple[int, int, int] | None:
    """The colour's RGB (xterm's table for ANSI names); None for ``reset``."""
    if colour.startswith("#"):
        return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)
    index = ANSI_INDEX.get(colour)
    return ANSI_RGB[index] if index is not None else None


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """WCAG 2 contrast ratio of two colours (1 to 21)."""

    def luminance(c: tuple[int, int, int]) -> float:
        lin = [(v / 255) / 12.92 if v / 255 <= 0.03928 else ((v / 255 + 0.055) / 1.055) ** 2.4 for v in c]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _cube_index(r: int, g: int, b: int) -> int:
    """The nearest xterm 256-colour index (6x6x6 cube or the 24-step grey ramp)."""
    steps = (0, 95, 135, 175, 215, 255)

    def nearest(v: int) -> int:
        return min(range(6), key=lambda i: abs(steps[i] - v))

    ci = (nearest(r), nearest(g), nearest(b))
    cube = (steps[ci[0]], steps[ci[1]], steps[ci[2]])
    grey_i = min(23, max(0, round(((r + g + b) / 3 - 8) / 10)))
    grey = 8 + 10 * grey_i

    def dist(c: tuple[int, int, int]) -> int:
        return (c[0] - r) ** 2 + (c[1] - g) ** 2 + (c[2] - b) ** 2

    if dist((grey, grey, grey)) < dist(cube):
        return 232 + grey_i
    return 16 + 36 * ci[0] + 6 * ci[1] + ci[2]


def sgr(colour: str, background: bool, truecolor: bool) -> str:
    """The escape sequence that sets ``colour`` as the foreground (or background)."""
    if colour == "reset":
        return "\x1b[49m" if background else "\x1b[39m"
    index = ANSI_INDEX.get(colour)
    if index is not None:
        base = (40 if background else 30) if index < 8 else (100 if background else 90)
        return f"\x1b[{base + index % 8}m"
    r, g, b = int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)
    lead = 48 if background else 38
    if truecolor:
        return f"\x1b[{lead};2;{r};{g};{b}m"
    return f"\x1b[{lead};5;{_cube_index(r, g, b)}m"


def is_light(colour: tuple[int, int, int]) -> bool:
    """A background black text stands out on better than white text does."""
    return contrast(colour, (0, 0, 0)) > contrast(colour, (255, 255, 255))


def terminal_has_truecolor(env: Mapping[str, str]) -> bool:
    """24-bit colour, as terminals announce it: COLORTERM=truecolor/24bit or a TERM=*-direct."""
    return env.get("COLORTERM", "").lower() in ("truecolor", "24bit") or env.get("TERM", "").endswith(
        "-direct"
    )


@dataclass(frozen=True)
class Palette:
    """The colours in use: a preset, the user's overrides, and whether 24-bit colour is shown."""

    name: str = DEFAULT_PRESET
    overrides: Mapping[str, str] = field(default_factory=dict)
    truecolor: bool = False
    light_background: bool = False  # the terminal answered OSC 11 with a light colour

    def colours(self) -> dict[str, str | None]:
        """Token -> colour after the ANSI fallback and the overrides (overrides are never altered)."""
        table = dict(PRESETS[self.name])
        if self.name in TRUECOLOR_PRESETS and not self.truecolor:
            table = dict(MUTED)
        if self.light_background:
            # The grey tiers are made for a dark background: on a light one, dark grey reads.
            table |= {token: "darkgray" for token in GREY_TIERS}
        return table | dict(self.overrides)

    def column_tokens(self) -> dict[str, str]:
        """Overview column code -> the token it is drawn in (none: the row's own colours)."""
        return dict(COLUMN_TOKENS.get(self.name, {}))

    def status_fg(self) -> str:
        return (
            STATUS_FG["muted"]
            if self.name in TRUECOLOR_PRESETS and not self.truecolor
            else STATUS_FG[self.name]
        )

    def styles(self) -> dict[str, str]:
        """Token -> SGR sequence; selection and status are the background and foreground together."""
        colours = self.colours()
        out = {
            token: sgr(colour, token in BACKGROUND_TOKENS, self.truecolor)
            for token, colour in colours.items()
            if colour is not None
        }
        sel_bg, sel_fg = colours["selection_bg"], colours["selection_fg"]
        if sel_bg is None and sel_fg is None:
            out["selection"] = "\x1b[7m"  # reverse video: readable on any terminal's colours
        else:
            out["selection"] = out.get("selection_bg", "") + out.get("selection_fg", "")
        out["status"] = out.get("status_bg", "") + sgr(self.status_fg(), False, self.truecolor)
        return out


DEFAULT_PALETTE = Palette()  # muted, ANSI colours
