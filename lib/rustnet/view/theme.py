"""Terminal styles for the screen: escape sequences, or empty strings for plain text.

Renderers colour by meaning (``th.ok``, ``th.rx``, ``th.border``...), never by colour name: the
palette (rustnet.view.palette) says what each token is in the chosen preset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rustnet.view.model import CLOSING_STATES, ESTABLISHED_STATES, HALF_OPEN_STATES
from rustnet.view.palette import Palette


def _ansi_move(y: int, x: int) -> str:
    return f"\x1b[{y + 1};{x + 1}H"


@dataclass
class Theme:
    """Escape sequences for styles; empty strings mean plain text (NO_COLOR, tests)."""

    normal: str = ""
    bold: str = ""
    reverse: str = ""
    dim: str = ""
    underline: str = ""
    # The semantic tokens (what a theme's [theme.overrides] may set).
    accent: str = ""  # tabs, group headers, the highlighted item
    ok: str = ""  # established, good values
    warn: str = ""  # half-open, middling values, things to look at
    err: str = ""  # closing, bad values, errors
    info: str = ""
    special: str = ""
    muted: str = ""  # secondary text
    faint: str = ""  # historic rows, empty parts of bars
    text: str = ""
    heading: str = ""
    label: str = ""
    key: str = ""  # key names in the help
    border: str = ""
    rx: str = ""
    tx: str = ""
    rx_wave: str = ""
    tx_wave: str = ""
    selection: str = ""  # selection_bg + selection_fg (reverse video in the ANSI presets)
    status: str = ""  # the status bar: status_bg and the preset's text colour on it
    columns: dict[str, str] = field(default_factory=dict)  # Overview column code -> its own style
    clear_eol: str = "\x1b[K"
    move: Callable[[int, int], str] = field(default=_ansi_move)

    @classmethod
    def from_terminal(cls, term: Any, color: bool = True, palette: Palette | None = None) -> Theme:
        """Styles from a blessed Terminal; without colour only bold/reverse/dim/underline."""
        t = cls(
            normal=str(term.normal),
            bold=str(term.bold),
            reverse=str(term.reverse),
            dim=str(term.dim),
            underline=str(term.underline),
            clear_eol=str(term.clear_eol) or "\x1b[K",
        )
        if color and (term.number_of_colors or 0) >= 8:
            t.apply(palette or Palette())
        else:
            # No colour at all: attributes only, so history and the bars still stand apart.
            t.faint = t.muted = t.border = t.dim
            t.selection = t.status = t.reverse
        return t

    def apply(self, palette: Palette) -> None:
        """Set every token from ``palette``."""
        for token, style in palette.styles().items():
            if hasattr(self, token):
                setattr(self, token, style)
        self.columns = {code: getattr(self, token) for code, token in palette.column_tokens().items()}
        if palette.colours()["text"] != "reset":
            # Every style ends with normal: with the text colour in it, plain text keeps the theme's.
            self.normal += self.text

    def state_style(self, state: str) -> str:
        if state in ESTABLISHED_STATES:
            return self.ok
        if state in HALF_OPEN_STATES:
            return self.warn
        if state in CLOSING_STATES:
            return self.err
        return ""
