"""Regular expressions a user types, searched in untrusted record text without hanging.

Python's ``re`` backtracks and cannot be interrupted, so the time a search takes is
bounded before it runs, by the shape of the pattern and the length of the text:

- the pattern is at most :data:`MAX_PATTERN` characters;
- no back-references, and no repeated group that itself repeats or has alternatives
  (``(a+)+``, ``(a|aa)*``: the exponential cases);
- at most :data:`MAX_REPEATS` open-ended repeats (``*``, ``+``, ``{n,}``, large ``{n,m}``):
  each one multiplies the backtracking by the text length;
- the text searched is cut to :data:`MAX_TEXT` characters (record values are bounded already).

So one search costs at most about MAX_TEXT ** (MAX_REPEATS + 1) steps: ~10 ms per field
worst case, microseconds for ordinary patterns.
"""

from __future__ import annotations

import re
from typing import Any, Final

try:  # the parser's module moved in Python 3.11
    from re import _constants as sre_constants  # type: ignore[attr-defined,unused-ignore]
    from re import _parser as sre_parse  # type: ignore[attr-defined,unused-ignore]
except ImportError:  # pragma: no cover
    import sre_constants  # type: ignore[no-redef,unused-ignore]
    import sre_parse  # type: ignore[no-redef,unused-ignore]

MAX_PATTERN: Final = 64
MAX_REPEATS: Final = 2
MAX_TEXT: Final = 128
_SMALL_REPEAT: Final = 8  # {n,m} up to this many is cheap enough not to count

_REPEATS: Final = (
    frozenset((sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, sre_constants.POSSESSIVE_REPEAT))
    if hasattr(sre_constants, "POSSESSIVE_REPEAT")
    else frozenset((sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT))
)


class RegexError(ValueError):
    """A pattern that does not compile, or that could backtrack for too long."""


def _check(items: Any, inside_repeat: bool, counts: list[int]) -> None:
    """Walk a parsed pattern; raise RegexError on a shape that can blow up."""
    for op, arg in items:
        if op in _REPEATS:
            low, high, sub = arg
            del low
            if high > 1:
                if inside_repeat:
                    raise RegexError("nested repeats like (a+)+ are not allowed")
                if high > _SMALL_REPEAT:
                    counts[0] += 1
                    if counts[0] > MAX_REPEATS:
                        raise RegexError(f"at most {MAX_REPEATS} open-ended repeats (* + {{n,}})")
            _check(sub, inside_repeat or high > 1, counts)
        elif op is sre_constants.BRANCH:
            if inside_repeat:
                raise RegexError("a repeated group cannot have alternatives, like (a|b)*")
            for alt in arg[1]:
                _check(alt, inside_repeat, counts)
        elif op is sre_constants.SUBPATTERN:
            _check(arg[-1], inside_repeat, counts)
        elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
            _check(arg[1], inside_repeat, counts)
        elif op is sre_constants.GROUPREF or op is sre_constants.GROUPREF_EXISTS:
            raise RegexError("back-references are not allowed")


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled case-insensitive, or RegexError with a one-line reason."""
    if len(pattern) > MAX_PATTERN:
        raise RegexError(f"longer than {MAX_PATTERN} characters")
    try:
        parsed = sre_parse.parse(pattern, re.IGNORECASE)
        _check(parsed, False, [0])
        return re.compile(pattern, re.IGNORECASE)
    except re.error as e:
        raise RegexError(str(e).splitlines()[0]) from None
    except RecursionError:
        raise RegexError("too deeply nested") from None
