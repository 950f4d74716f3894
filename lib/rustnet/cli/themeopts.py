"""``--theme PRESET`` and ``--no-color``, shared by ``rn-view`` and ``rustnet``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

# The preset names (their colours are in rustnet.view.palette, which checks it has these).
THEME_PRESETS = ("muted", "vivid", "catppuccin-mocha", "tokyo-night", "gruvbox", "nord")


def theme_options(f: F) -> F:
    """``--theme PRESET`` (over the config file's) and ``--no-color`` (as NO_COLOR)."""
    f = click.option(
        "--no-color",
        is_flag=True,
        help="No colours at all (as a non-empty NO_COLOR in the environment).",
    )(f)
    f = click.option(
        "--theme",
        type=click.Choice(THEME_PRESETS, case_sensitive=False),
        default=None,
        help="Colour theme; wins over the config file's [theme] name  [default: muted]. "
        "The truecolor ones fall back to muted's colours when the terminal lacks 24-bit colour "
        "(COLORTERM=truecolor or a TERM=*-direct says it has it).",
    )(f)
    return f
