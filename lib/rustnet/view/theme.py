"""Terminal styles for the screen: escape sequences, or empty strings for plain text."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rustnet.view.model import CLOSING_STATES, ESTABLISHED_STATES, HALF_OPEN_STATES


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
    green: str = ""
    yellow: str = ""
    red: str = ""
    cyan: str = ""
    blue: str = ""
    grey: str = ""  # historic rows (dim without colour)
    bar: str = ""  # the status and tab bars
    clear_eol: str = "\x1b[K"
    move: Callable[[int, int], str] = field(default=_ansi_move)

    @classmethod
    def from_terminal(cls, term: Any, color: bool = True) -> Theme:
        """Styles from a blessed Terminal; without colour only bold/reverse/dim/underline."""
        t = cls(
            normal=str(term.normal),
            bold=str(term.bold),
            reverse=str(term.reverse),
            dim=str(term.dim),
            underline=str(term.underline),
            clear_eol=str(term.clear_eol) or "\x1b[K",
        )
        if color:
            t.green, t.yellow, t.red, t.cyan, t.blue = (
                str(term.green),
                str(term.yellow),
                str(term.red),
                str(term.cyan),
                str(term.blue),
            )
            t.bar = str(term.black_on_cyan)
            t.grey = str(term.bright_black)
        else:
            t.grey = t.dim
            t.bar = str(term.reverse)
        return t

    def state_style(self, state: str) -> str:
        if state in ESTABLISHED_STATES:
            return self.green
        if state in HALF_OPEN_STATES:
            return self.yellow
        if state in CLOSING_STATES:
            return self.red
        return ""
