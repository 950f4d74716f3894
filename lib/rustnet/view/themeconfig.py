"""The config file's theme: ``[theme] name`` and ``[theme.overrides]`` of ``config.toml``.

Where it is, the first that applies: under sudo with a non-root invoker, the invoker's
``~/.config/rustnet/config.toml`` (owned by the invoker, or refused); ``$XDG_CONFIG_HOME/rustnet/
config.toml``; ``$HOME/.config/rustnet/config.toml``. A missing file says nothing; every other
problem is one line for stderr, and the defaults (or the rest of the file) are used.
"""

from __future__ import annotations

import errno
import os
import pwd
import stat
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from rustnet.view.palette import (
    BACKGROUND_TOKENS,
    DEFAULT_PRESET,
    PRESETS,
    TOKENS,
    Palette,
    contrast,
    parse_colour,
    rgb,
    terminal_has_truecolor,
)

MAX_CONFIG_BYTES = 64 * 1024  # a theme takes a few hundred bytes: more is not a config file
MIN_CONTRAST = 3.0
# Without asking the terminal, its background is taken as dark (black).
ASSUMED_BACKGROUND = (0, 0, 0)
RELATIVE = os.path.join("rustnet", "config.toml")


@dataclass
class ThemeConfig:
    """What the file says, checked: a preset name or None, and the valid overrides."""

    name: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)  # one line each, for stderr


def config_location(
    env: Mapping[str, str], euid: int, lookup: Callable[[str], pwd.struct_passwd] = pwd.getpwnam
) -> tuple[str | None, int | None]:
    """(path, uid that must own it or None) of the config file, or (None, None) when none applies."""
    sudo_user = env.get("SUDO_USER", "")
    if euid == 0 and sudo_user and sudo_user != "root":
        try:
            entry = lookup(sudo_user)
        except KeyError:
            entry = None
        if entry is not None and entry.pw_uid != 0:
            return os.path.join(entry.pw_dir, ".config", RELATIVE), entry.pw_uid
    xdg = env.get("XDG_CONFIG_HOME", "")
    if os.path.isabs(xdg):  # the XDG spec: a relative value is to be ignored
        return os.path.join(xdg, RELATIVE), None
    home = env.get("HOME", "")
    if home:
        return os.path.join(home, ".config", RELATIVE), None
    return None, None


def read_config(path: str, owner: int | None) -> tuple[bytes | None, str | None]:
    """(contents, None), (None, None) when there is no file, or (None, why it cannot be used)."""
    try:
        # O_NOFOLLOW: root must not be led to another file; O_NONBLOCK: a FIFO must not hang us.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None, None
        if exc.errno == errno.ELOOP:
            return None, f"{path}: is a symbolic link; not read"
        return None, f"{path}: {exc.strerror or exc}"
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None, f"{path}: not a regular file"
        if owner is not None and st.st_uid != owner:
            return None, f"{path}: not owned by the user who ran sudo; not read"
        if st.st_size > MAX_CONFIG_BYTES:
            return None, f"{path}: larger than {MAX_CONFIG_BYTES // 1024} KiB; not read"
        data = os.read(fd, MAX_CONFIG_BYTES + 1)
        if len(data) > MAX_CONFIG_BYTES:
            return None, f"{path}: larger than {MAX_CONFIG_BYTES // 1024} KiB; not read"
        return data, None
    except OSError as exc:
        return None, f"{path}: {exc.strerror or exc}"
    finally:
        os.close(fd)


def parse_config(path: str, data: bytes) -> ThemeConfig:
    """The ``[theme]`` table of the file's contents; other tables and unknown keys are ignored."""
    out = ThemeConfig()
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        out.messages.append(f"{path}: not UTF-8 text; using the default theme")
        return out
    except tomllib.TOMLDecodeError as exc:
        out.messages.append(f"{path}: invalid TOML ({exc}); using the default theme")
        return out
    theme = doc.get("theme")
    if theme is None:
        return out
    if not isinstance(theme, dict):
        out.messages.append(f"{path}: theme is not a table; using the default theme")
        return out
    name = theme.get("name")
    if name is not None:
        if isinstance(name, str) and name.lower() in PRESETS:
            out.name = name.lower()
        else:
            out.messages.append(
                f"{path}: unknown theme {name!r} (one of {', '.join(PRESETS)}); using {DEFAULT_PRESET}"
            )
    overrides = theme.get("overrides", {})
    if not isinstance(overrides, dict):
        out.messages.append(f"{path}: theme.overrides is not a table; no overrides used")
        return out
    for token, value in overrides.items():
        problem = _override_problem(token, value)
        if problem:
            out.messages.append(f"{path}: theme.overrides.{token}: {problem}; ignored")
        else:
            out.overrides[token] = parse_colour(value) or ""
    return out


def _override_problem(token: str, value: object) -> str | None:
    if token not in TOKENS:
        return "unknown token (one of " + ", ".join(TOKENS) + ")"
    colour = parse_colour(value) if isinstance(value, str) else None
    if colour is None:
        return f"{value!r} is not a colour (#rrggbb or an ANSI name such as lightblue)"
    if colour == "reset" and token in BACKGROUND_TOKENS:
        return "reset cannot be a background"
    return None


def contrast_warnings(palette: Palette, path: str) -> list[str]:
    """One line per override that stands out less than 3:1 from what it is drawn on."""
    colours = palette.colours()
    out: list[str] = []
    for token, colour in palette.overrides.items():
        if token == "selection_fg" or token == "selection_bg":
            fg, bg = colours["selection_fg"], colours["selection_bg"]
            if fg is None or bg is None:
                continue
            pair = rgb(fg), rgb(bg)
            against = "selection_bg" if token == "selection_fg" else "selection_fg"
        elif token == "status_bg":
            pair = rgb(colour), rgb(palette.status_fg())
            against = "the status bar's text"
        else:
            pair = rgb(colour), ASSUMED_BACKGROUND
            against = "a dark background"
        a, b = pair
        if a is None or b is None:
            continue
        ratio = contrast(a, b)
        if ratio < MIN_CONTRAST:
            out.append(
                f"{path}: warning: theme.overrides.{token} = {colour} has a contrast of "
                f"{ratio:.1f}:1 with {against} (under {MIN_CONTRAST:.0f}:1)"
            )
    return out


def load_theme_config(env: Mapping[str, str], euid: int) -> tuple[ThemeConfig, str | None]:
    """The config file's theme and its path (None when no location applies)."""
    path, owner = config_location(env, euid)
    if path is None:
        return ThemeConfig(), None
    data, problem = read_config(path, owner)
    if problem:
        return ThemeConfig(messages=[problem + "; using the default theme"]), path
    if data is None:
        return ThemeConfig(), path
    return parse_config(path, data), path


def resolve_palette(
    cli_theme: str | None, no_color: bool, env: Mapping[str, str] | None = None, euid: int | None = None
) -> tuple[Palette | None, list[str]]:
    """The palette to draw with (None: no colour at all) and the lines to print on stderr.

    ``--theme`` wins over the config file's name, which wins over ``muted``; the file's overrides
    apply to whichever preset that is. With --no-color or a non-empty NO_COLOR the file is not read.
    """
    env = os.environ if env is None else env
    if no_color or env.get("NO_COLOR", ""):
        return None, []
    config, path = load_theme_config(env, os.geteuid() if euid is None else euid)
    name = cli_theme or config.name or DEFAULT_PRESET
    palette = Palette(name, config.overrides, terminal_has_truecolor(env))
    return palette, config.messages + contrast_warnings(palette, path or "config")
