"""The one escaping rule for text that may reach a terminal, a log, JSON or an error message.

A character is kept as is when ``str.isprintable()`` accepts it (letters, digits, marks,
punctuation, symbols of any script, and the ASCII space). Every other character is written
as a visible escape: ``\\xNN`` below U+0100, ``\\uNNNN`` below U+10000, else ``\\UNNNNNNNN``.
That covers C0/C1 controls and DEL (``\\x1b``, ``\\x9b``), format characters that are invisible
or reorder text (U+00AD soft hyphen, U+200B-U+200F zero-width characters and direction marks,
U+202A-U+202E and U+2066-U+2069 bidi controls, U+2060 word joiner, U+FEFF, tag characters),
U+2028/U+2029 line and paragraph separators, spaces other than U+0020 (U+00A0, U+3000),
surrogates, private-use and unassigned code points: a ``paypal.com`` with a hidden
character reads ``pay\\u200bpal.com`` everywhere.

Record text fields are already escaped by the stage that made them from bytes (rn-dissect
also doubles backslashes there, :func:`rustnet.dissect.safe_text.escape_text`), so
:func:`escape_unsafe` leaves backslashes alone: applied to escaped text it changes nothing,
applied to a hostile record's raw text it makes it safe.
"""

from __future__ import annotations


def escape_char(ch: str) -> str:
    """The visible escape of one character the rule does not keep."""
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def escape_unsafe(text: str) -> str:
    """``text`` with every character the rule does not keep written as its escape."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else escape_char(ch) for ch in text)
