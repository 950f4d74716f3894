"""SGR mouse reports (xterm modes 1000 + 1006) picked out of the keyboard input.

The terminal sends ``ESC [ < b ; x ; y M`` for a press (``m`` for a release), 1-based cells.
They are taken out of the input before the key decoder sees it, so a report never turns
into keys (``[`` would switch tabs, ``<`` narrow a column). Numbers are bounded: the
input is the terminal's, but a paste can carry anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

ENABLE: Final = "\x1b[?1000h\x1b[?1006h"  # report presses and releases, in SGR form
DISABLE: Final = "\x1b[?1006l\x1b[?1000l"

_REPORT: Final = re.compile(r"\x1b\[<(\d{1,5});(\d{1,5});(\d{1,5})([Mm])")
# An escape sequence cut off at the end of a read (a report's, or a key's: the rest follows at
# once), or a lone Esc (the key, unless more follows).
_PARTIAL: Final = re.compile(r"\x1b(?:\[[<?]?[\d;]{0,24}|O)?\Z")

WHEEL_UP: Final = 64
WHEEL_DOWN: Final = 65


@dataclass(frozen=True)
class MouseEvent:
    button: int  # 0 left, 1 middle, 2 right, 64/65 wheel up/down (modifier bits removed)
    x: int  # 0-based cell
    y: int
    pressed: bool  # False: a release
    motion: bool = False

    @property
    def click(self) -> bool:
        """A button press (not a release, a motion or the wheel)."""
        return self.pressed and not self.motion and self.button in (0, 1, 2)

    @property
    def wheel(self) -> int:
        """-1 up, 1 down, 0 not the wheel."""
        if self.motion or not self.pressed:
            return 0
        return -1 if self.button == WHEEL_UP else 1 if self.button == WHEEL_DOWN else 0


def _event(m: re.Match[str]) -> MouseEvent:
    code = int(m.group(1))
    return MouseEvent(
        button=code & ~(4 | 8 | 16 | 32),  # shift, meta, ctrl, motion
        x=max(int(m.group(2)) - 1, 0),
        y=max(int(m.group(3)) - 1, 0),
        pressed=m.group(4) == "M",
        motion=bool(code & 32),
    )


def split(text: str) -> tuple[list[str | MouseEvent], str]:
    """``text`` as key text and mouse events in the order they came, and an unfinished
    escape sequence at its end (to be completed by the next read), or ""."""
    out: list[str | MouseEvent] = []
    pos = 0
    for m in _REPORT.finditer(text):
        if m.start() > pos:
            out.append(text[pos : m.start()])
        out.append(_event(m))
        pos = m.end()
    rest = text[pos:]
    tail = _PARTIAL.search(rest)
    if tail is not None:
        if tail.start() > 0:
            out.append(rest[: tail.start()])
        return out, rest[tail.start() :]
    if rest:
        out.append(rest)
    return out, ""
