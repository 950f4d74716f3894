"""The one error application-layer parsers raise for input that is not what they parse.

Parser contract (STYLE.md): a parser returns a result, or ``None`` when the bytes so far
are a valid prefix and more are needed, or raises :class:`DissectError` when the bytes
cannot be the protocol it parses. Nothing else escapes a parser; the fuzz tests in
``tests/fuzz`` hold every parser to exactly these three outcomes.
"""

from __future__ import annotations


class DissectError(ValueError):
    """Malformed or foreign input for this parser (counted by the caller, never fatal)."""
