"""Text that came from outside (process names, DNS names) made safe to show."""

from __future__ import annotations

from rustnet.stream.escape import escape_unsafe


def printable(text: str, limit: int = 4096) -> str:
    """``text`` with unprintable characters escaped visibly (the rule of
    :mod:`rustnet.stream.escape`), at most ``limit`` characters: a longer one is cut and
    ends in ``...``."""
    out = escape_unsafe(text[: limit + 1])
    if len(text) > limit or len(out) > limit:
        out = out[: max(limit - 3, 0)] + "..."
    return out
