"""Text that came from outside (process names, DNS names) made safe to show."""

from __future__ import annotations

from typing import Final

# C0 and C1 control characters (escape sequences start with them) are shown as \xNN.
_ESCAPES: Final = {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0xA0)]}


def printable(text: str, limit: int = 4096) -> str:
    """``text`` cut to ``limit`` characters, with control characters escaped visibly."""
    if len(text) > limit:
        text = text[:limit] + "..."
    return text if text.isprintable() else text.translate(_ESCAPES)
