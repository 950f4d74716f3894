"""Text that came from outside (process names, DNS names) made safe to show."""

from __future__ import annotations

from rustnet.stream.escape import escape_unsafe


def printable(text: str, limit: int = 4096) -> str:
    """``text`` cut to ``limit`` characters, with unprintable characters escaped visibly
    (the rule of :mod:`rustnet.stream.escape`)."""
    if len(text) > limit:
        text = text[:limit] + "..."
    return escape_unsafe(text)
