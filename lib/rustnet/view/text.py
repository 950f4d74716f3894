"""Make untrusted text safe and measurable for a terminal cell grid.

Every string that reaches the screen passes :func:`safe` first: field values come from
packets (HTTP Host, SNI, DNS names, SSH banners) and may carry control characters,
escape sequences, C1 controls, bidi overrides or invisible characters meant to rewrite
the screen or make a lookalike. They are shown visibly escaped (``\\x1b``, ``\\u202e``),
never written raw, by the one rule of :mod:`rustnet.stream.escape`: a backslash is left
as is on every path, since record text is already escaped where it was made.

Widths are measured in terminal cells with ``wcwidth`` so wide (CJK, emoji) text keeps
columns aligned; ASCII takes a fast path because it is nearly all of what we show.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from rustnet.stream.escape import escape_unsafe

ELLIPSIS = "…"


@lru_cache(maxsize=65536)
def _safe_slow(text: str) -> str:
    return escape_unsafe(text)


def safe(value: Any) -> str:
    """``value`` as text with every non-printable character shown as an escape."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if text.isascii() and text.isprintable():
        return text
    return _safe_slow(text)


@lru_cache(maxsize=65536)
def _width_slow(text: str) -> int:
    # wcwidth is imported only for text that is not ASCII: its import is 30 ms of CPU, which
    # rn-view --json and the ASCII-only screens never need.
    from wcwidth import wcswidth, wcwidth

    w = wcswidth(text)
    if w >= 0:
        return w
    return sum(max(wcwidth(ch), 0) for ch in text)


def width(text: str) -> int:
    """Cells that already-safe ``text`` occupies."""
    if text.isascii():
        return len(text)
    return _width_slow(text)


def fit(text: str, cells: int, right: bool = False) -> str:
    """Already-safe ``text`` cut (with an ellipsis) or padded to exactly ``cells`` cells."""
    if cells <= 0:
        return ""
    if text.isascii():
        n = len(text)
        if n > cells:
            return text[: cells - 1] + ELLIPSIS
        pad = " " * (cells - n)
        return pad + text if right else text + pad
    w = width(text)
    if w > cells:
        from wcwidth import wcwidth

        out = []
        used = 0
        for ch in text:
            cw = max(wcwidth(ch), 0)
            if used + cw > cells - 1:
                break
            out.append(ch)
            used += cw
        return "".join(out) + ELLIPSIS + " " * (cells - 1 - used)
    pad = " " * (cells - w)
    return pad + text if right else text + pad


def human_bytes(n: Any) -> str:
    """A byte count in 4-5 characters (``1.2K``, ``34M``)."""
    if not isinstance(n, (int, float)) or n < 0:
        return "-"
    value = float(n)
    for unit in ("B", "K", "M", "G", "T"):
        if value < 1024 or unit == "T":
            if unit == "B":
                return f"{int(value)}B"
            return f"{value:.1f}{unit}" if value < 10 else f"{value:.0f}{unit}"
        value /= 1024
    return "-"


def human_rate(n: Any) -> str:
    """A byte rate (``1.2K/s``); blank when zero or unknown so busy rows stand out."""
    if not isinstance(n, (int, float)) or n <= 0:
        return ""
    return human_bytes(n) + "/s"


def compact_rate(n: Any) -> str:
    """A rate for a table cell, RustNet's way: ``3.1M``, ``928K``, ``12B``; ``-`` when zero."""
    if not isinstance(n, (int, float)) or isinstance(n, bool) or not n > 0 or n != n:
        return "-"
    if n >= 1024**3:
        return f"{n / 1024**3:.1f}G"
    if n >= 1024**2:
        return f"{n / 1024**2:.1f}M"
    if n >= 1024:
        return f"{n / 1024:.0f}K"
    return f"{n:.0f}B"


def full_rate(n: Any) -> str:
    """A rate with its unit (``1.25 MB/s``, 1024-based); ``-`` when zero or unknown."""
    if not isinstance(n, (int, float)) or isinstance(n, bool) or not n > 0 or n != n:
        return "-"
    if n == float("inf"):
        return "-"
    for unit, size in (("GB/s", 1024**3), ("MB/s", 1024**2), ("KB/s", 1024)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n:.0f} B/s"


def full_bytes(n: Any) -> str:
    """A byte count with its unit (``1.25 MB``, 1024-based; ``512 B``); ``-`` when unknown."""
    if not isinstance(n, (int, float)) or isinstance(n, bool) or not n >= 0 or n == float("inf"):
        return "-"
    for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{int(n)} B"


def rtt_compact(ms: Any) -> str:
    """A round trip in milliseconds as RustNet's RTT column shows it: ``3.4ms``, ``234ms``, ``1.2s``."""
    if not isinstance(ms, (int, float)) or isinstance(ms, bool) or not ms >= 0 or ms == float("inf"):
        return "-"
    if ms < 10:
        return f"{ms:.1f}ms"
    if ms < 1000:
        return f"{ms:.0f}ms"
    return f"{ms / 1000:.1f}s"


def rtt_tone(ms: Any) -> str:
    """The colour a round trip is shown in: green under 50 ms, yellow under 150 ms, else red."""
    if not isinstance(ms, (int, float)) or isinstance(ms, bool) or not ms >= 0:
        return ""
    return "ok" if ms < 50 else "warn" if ms < 150 else "err"


def age(seconds: float) -> str:
    """``12s ago``, ``5m ago``, ``3h ago``."""
    s = max(0.0, seconds) if seconds == seconds else 0.0
    if s < 60:
        return f"{s:.0f}s ago"
    if s < 3600:
        return f"{s / 60:.0f}m ago"
    return f"{min(s / 3600, 1e9):.0f}h ago"
