"""Themes: each preset's colours as SGR sequences, the ANSI fallback, no colour, the config file.

Expected escape codes are written out by hand from each scheme's published palette and ECMA-48
(30-37/90-97 foreground, 40-47/100-107 background, 38;2;r;g;b truecolor, 38;5;n the 256 table).
"""

from __future__ import annotations

import io
import os
import pwd
from pathlib import Path

import blessed
import pytest
from rustnet.view.palette import Palette, sgr, terminal_has_truecolor
from rustnet.view.theme import Theme
from rustnet.view.themeconfig import (
    MAX_CONFIG_BYTES,
    config_location,
    load_theme_config,
    parse_config,
    read_config,
    resolve_palette,
)

TERM = blessed.Terminal(kind="xterm-256color", stream=io.StringIO(), force_styling=True)


def theme(palette: Palette | None, color: bool = True) -> Theme:
    return Theme.from_terminal(TERM, color=color, palette=palette)


# token -> expected SGR, per preset, with a 24-bit terminal (hand-written from the palettes).
EXPECTED_TRUECOLOR = {
    "muted": {
        "ok": "\x1b[32m",
        "warn": "\x1b[33m",
        "err": "\x1b[31m",
        "accent": "\x1b[36m",
        "faint": "\x1b[90m",
        "border": "\x1b[90m",
        "rx": "\x1b[32m",
        "tx": "\x1b[34m",
        "rx_wave": "\x1b[34m",
        "tx_wave": "\x1b[32m",
        "heading": "\x1b[39m",
        "key": "\x1b[36m",
        "selection": "\x1b[7m",
        "status": "\x1b[46m\x1b[30m",
    },
    "vivid": {
        "ok": "\x1b[32m",
        "heading": "\x1b[33m",
        "key": "\x1b[33m",
        "border": "\x1b[35m",
        "label": "\x1b[96m",
        "info": "\x1b[94m",
        "special": "\x1b[95m",
        "selection": "\x1b[7m",
    },
    "catppuccin-mocha": {
        "ok": "\x1b[38;2;166;227;161m",  # green #a6e3a1
        "err": "\x1b[38;2;243;139;168m",  # red #f38ba8
        "warn": "\x1b[38;2;249;226;175m",  # yellow #f9e2af
        "tx": "\x1b[38;2;137;180;250m",  # blue #89b4fa
        "selection": "\x1b[48;2;69;71;90m\x1b[38;2;205;214;244m",  # surface1 / text
        "status": "\x1b[48;2;137;180;250m\x1b[38;2;30;30;46m",  # blue / base
    },
    "tokyo-night": {
        "ok": "\x1b[38;2;158;206;106m",  # #9ece6a
        "err": "\x1b[38;2;247;118;142m",  # #f7768e
        "accent": "\x1b[38;2;122;162;247m",  # #7aa2f7
        "status": "\x1b[48;2;122;162;247m\x1b[38;2;26;27;38m",
    },
    "gruvbox": {
        "ok": "\x1b[38;2;184;187;38m",  # #b8bb26
        "err": "\x1b[38;2;251;73;52m",  # #fb4934
        "heading": "\x1b[38;2;250;189;47m",  # #fabd2f
        "status": "\x1b[48;2;131;165;152m\x1b[38;2;40;40;40m",
    },
    "nord": {
        "ok": "\x1b[38;2;163;190;140m",  # nord14 #a3be8c
        "err": "\x1b[38;2;191;97;106m",  # nord11 #bf616a
        "accent": "\x1b[38;2;136;192;208m",  # nord8 #88c0d0
        "status": "\x1b[48;2;136;192;208m\x1b[38;2;46;52;64m",  # nord8 / nord0
    },
}


@pytest.mark.parametrize("name", sorted(EXPECTED_TRUECOLOR))
def test_each_preset_has_its_colours(name: str) -> None:
    th = theme(Palette(name, truecolor=True))
    for token, expected in EXPECTED_TRUECOLOR[name].items():
        assert getattr(th, token) == expected, (name, token)


@pytest.mark.parametrize("name", ["catppuccin-mocha", "tokyo-night", "gruvbox", "nord"])
def test_truecolor_presets_fall_back_to_ansi_without_truecolor(name: str) -> None:
    th = theme(Palette(name, truecolor=False))
    styles = [getattr(th, t) for t in ("ok", "err", "warn", "accent", "tx", "rx", "selection", "status")]
    assert not any("38;2;" in s or "48;2;" in s for s in styles)
    assert (th.ok, th.err, th.accent, th.status) == ("\x1b[32m", "\x1b[31m", "\x1b[36m", "\x1b[46m\x1b[30m")


@pytest.mark.parametrize(
    ("env", "truecolor"),
    [
        ({"COLORTERM": "truecolor", "TERM": "xterm-256color"}, True),
        ({"COLORTERM": "24bit"}, True),
        ({"TERM": "xterm-direct"}, True),
        ({"TERM": "xterm-256color"}, False),
        ({"COLORTERM": "yes", "TERM": "screen"}, False),
    ],
)
def test_truecolor_is_what_colorterm_or_a_direct_term_says(env: dict[str, str], truecolor: bool) -> None:
    assert terminal_has_truecolor(env) is truecolor
    palette, _ = resolve_palette("nord", False, env | {"HOME": "/nonexistent"}, euid=1000)
    assert palette is not None and palette.truecolor is truecolor
    assert (theme(palette).ok == "\x1b[38;2;163;190;140m") is truecolor


def test_hex_override_without_truecolor_is_the_nearest_of_256() -> None:
    assert sgr("#ff0000", False, False) == "\x1b[38;5;196m"  # the cube's pure red
    assert sgr("#808080", True, False) == "\x1b[48;5;244m"  # grey ramp: 8 + 10 * 12 = 128
    assert sgr("#ff0000", False, True) == "\x1b[38;2;255;0;0m"
    assert sgr("lightblue", True, False) == "\x1b[104m" and sgr("grey", False, False) == "\x1b[37m"


def test_no_color_has_no_colour_codes_only_attributes() -> None:
    for th in (theme(Palette("nord", truecolor=True), color=False), theme(None, color=False)):
        styles = {k: v for k, v in vars(th).items() if isinstance(v, str)}
        for name, value in styles.items():
            for code in value.replace("\x1b[", " ").replace("m", " ").split():
                for part in code.split(";"):
                    assert not (part.isdigit() and (30 <= int(part) <= 49 or 90 <= int(part) <= 107)), name
        assert th.selection == th.reverse != "" and th.faint == th.dim


def test_no_color_flag_and_non_empty_no_color_skip_colour_and_the_file(tmp_path: Path) -> None:
    conf = tmp_path / ".config" / "rustnet" / "config.toml"
    conf.parent.mkdir(parents=True)
    conf.write_text("[theme]\nname = 'neon'\n")
    env = {"HOME": str(tmp_path)}
    assert resolve_palette(None, True, env, euid=1000) == (None, [])
    assert resolve_palette("nord", False, env | {"NO_COLOR": "1"}, euid=1000) == (None, [])
    palette, messages = resolve_palette(None, False, env | {"NO_COLOR": ""}, euid=1000)  # empty: ignored
    assert palette is not None and len(messages) == 1


# --- the config file ---------------------------------------------------------------------------
def write(home: Path, text: str | bytes) -> Path:
    path = home / ".config" / "rustnet" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_precedence_cli_over_config_over_muted(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path)}
    assert resolve_palette(None, False, env, euid=1000) == (Palette("muted"), [])  # no file: silent
    write(tmp_path, '[theme]\nname = "gruvbox"\n[theme.overrides]\nrx = "#a3be8c"\n')
    palette, messages = resolve_palette(None, False, env, euid=1000)
    assert messages == [] and palette == Palette("gruvbox", {"rx": "#a3be8c"})
    palette, _ = resolve_palette("nord", False, env, euid=1000)
    assert palette == Palette("nord", {"rx": "#a3be8c"})  # --theme wins; the overrides stay


def test_location_xdg_then_home_then_the_sudo_invoker(tmp_path: Path) -> None:
    home = {"HOME": "/home/u"}
    assert config_location(home, 1000) == ("/home/u/.config/rustnet/config.toml", None)
    xdg = home | {"XDG_CONFIG_HOME": "/x/conf"}
    assert config_location(xdg, 1000) == ("/x/conf/rustnet/config.toml", None)
    assert (
        config_location(home | {"XDG_CONFIG_HOME": "rel"}, 1000)[0] == "/home/u/.config/rustnet/config.toml"
    )
    nobody = pwd.getpwnam("nobody")
    sudo = xdg | {"SUDO_USER": "nobody"}
    assert config_location(sudo, 0) == (
        os.path.join(nobody.pw_dir, ".config/rustnet/config.toml"),
        nobody.pw_uid,
    )
    assert config_location(sudo, 1000)[0] == "/x/conf/rustnet/config.toml"  # not root: no sudo rule
    assert config_location(xdg | {"SUDO_USER": "root"}, 0)[0] == "/x/conf/rustnet/config.toml"
    assert config_location({}, 1000) == (None, None)


def test_sudo_invoker_must_own_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[theme]\nname = "nord"\n')
    mine = os.stat(path).st_uid
    assert read_config(str(path), mine) == (path.read_bytes(), None)
    data, problem = read_config(str(path), mine + 1)
    assert data is None and problem == f"{path}: not owned by the user who ran sudo; not read"


def one_line(messages: list[str], *expected: str) -> str:
    assert len(messages) == 1 and "\n" not in messages[0], messages
    for part in expected:
        assert part in messages[0], messages
    return messages[0]


def test_symlink_fifo_and_oversized_files_are_refused_in_one_line(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.toml"
    target.write_text('[theme]\nname = "nord"\n')
    link = tmp_path / ".config" / "rustnet" / "config.toml"
    link.parent.mkdir(parents=True)
    link.symlink_to(target)
    env = {"HOME": str(tmp_path)}
    palette, messages = resolve_palette(None, False, env, euid=1000)
    one_line(messages, "is a symbolic link", "using the default theme")
    assert palette == Palette("muted")
    link.unlink()
    os.mkfifo(link)  # nobody writes it: opening must not wait
    _, messages = resolve_palette(None, False, env, euid=1000)
    one_line(messages, "not a regular file")
    link.unlink()
    write(tmp_path, "#" * (MAX_CONFIG_BYTES + 1))
    _, messages = resolve_palette(None, False, env, euid=1000)
    one_line(messages, "larger than 64 KiB")


def test_unreadable_file_is_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    path.chmod(0)
    if os.access(path, os.R_OK):  # root reads anything: a directory stands in
        path.unlink()
        path.mkdir()
    config, _ = load_theme_config({"HOME": str(tmp_path)}, 1000)
    one_line(config.messages, str(path), "using the default theme")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b'[theme\nname = "nord"', "invalid TOML"),
        (b"[theme]\nname = '\xff'\n", "not UTF-8"),
        (b"theme = 3\n", "theme is not a table"),
        (b'[theme]\nname = "neon"\n', "unknown theme 'neon'"),
        (b"[theme]\nname = 7\n", "unknown theme 7"),
        (b'[theme]\noverrides = "x"\n', "theme.overrides is not a table"),
        (b'[theme.overrides]\nglow = "red"\n', "theme.overrides.glow: unknown token"),
        (b'[theme.overrides]\nrx = "#12345"\n', "theme.overrides.rx: '#12345' is not a colour"),
        (b'[theme.overrides]\nrx = "purple"\n', "theme.overrides.rx: 'purple' is not a colour"),
        (b"[theme.overrides]\nrx = 5\n", "theme.overrides.rx: 5 is not a colour"),
        (b'[theme.overrides]\nstatus_bg = "reset"\n', "status_bg: reset cannot be a background"),
    ],
)
def test_every_bad_file_is_one_line_and_the_defaults(text: bytes, expected: str) -> None:
    config = parse_config("/c.toml", text)
    one_line(config.messages, "/c.toml: ", expected)
    assert config.name is None and config.overrides == {}


def test_bad_override_leaves_the_good_ones_and_unknown_tables_are_ignored() -> None:
    config = parse_config(
        "/c.toml",
        b'[ui]\nsort = "x"\n[theme]\nname = "Nord"\nextra = 1\n'
        b'[theme.overrides]\nrx = "LightBlue"\ntx = "?"\n',
    )
    assert config.name == "nord" and config.overrides == {"rx": "lightblue"}
    one_line(config.messages, "theme.overrides.tx")


def test_low_contrast_override_is_a_warning_only(tmp_path: Path) -> None:
    write(tmp_path, '[theme.overrides]\nborder = "#101010"\nrx = "lightgreen"\nselection_fg = "black"\n')
    palette, messages = resolve_palette(None, False, {"HOME": str(tmp_path)}, euid=1000)
    assert palette is not None and palette.overrides["border"] == "#101010"  # still used
    one_line(messages, "warning: theme.overrides.border = #101010", "1.1:1", "under 3:1")
    assert theme(palette).border == "\x1b[38;5;233m"


def test_vivid_gives_columns_their_own_colours_muted_does_not() -> None:
    import pyte
    from rustnet.view.model import ConnTable
    from rustnet.view.render import render
    from rustnet.view.state import ViewState

    from tests.tui.records import header, sample

    table = ConnTable()
    table.ingest([header(), *sample()])
    state = ViewState(table)
    state.show_system = False
    colours = {}
    for name in ("muted", "vivid"):
        screen = pyte.Screen(160, 30)
        pyte.Stream(screen).feed(render(state, 160, 30, theme(Palette(name))))
        head = screen.display[2]
        y = next(i for i, line in enumerate(screen.display) if line.startswith("curl"))  # not selected
        assert not screen.buffer[y][0].reverse
        colours[name] = {
            col: screen.buffer[y][head.index(col)].fg for col in ("Process", "Remote", "Service", "App")
        }
    assert set(colours["muted"].values()) == {"default"}
    # pyte's names for SGR 95, 36, 94, 33 (vivid's special, accent, info, key)
    assert colours["vivid"] == {
        "Process": "brightmagenta",
        "Remote": "cyan",
        "Service": "brightblue",
        "App": "brown",
    }


def test_plain_text_is_in_the_themes_text_colour() -> None:
    import pyte
    from rustnet.view.model import ConnTable
    from rustnet.view.render import render
    from rustnet.view.state import ViewState

    from tests.tui.records import header, sample

    table = ConnTable()
    table.ingest([header(), *sample()])
    state = ViewState(table)
    found = {}
    for palette in (Palette("catppuccin-mocha", truecolor=True), Palette("muted"), Palette("nord")):
        screen = pyte.Screen(160, 30)
        pyte.Stream(screen).feed(render(state, 160, 30, theme(palette)))
        y = next(i for i, line in enumerate(screen.display) if line.startswith("curl"))
        found[palette.name] = screen.buffer[y][1].fg  # the process name: no colour of its own
    # catppuccin's text #cdd6f4; muted's text is the terminal's own; nord without truecolor: muted's
    assert found == {"catppuccin-mocha": "cdd6f4", "muted": "default", "nord": "default"}
