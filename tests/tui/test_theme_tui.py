"""Themes in a real pty: the bytes rn-view and rustnet write carry each preset's SGR colours
(hand-written from the schemes' palettes), 24-bit only when the terminal says it can, none at
all with --no-color or NO_COLOR, and the config file's theme and its one-line complaints."""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tui.harness import PtyView
from tests.tui.records import conn, sample, write_stream

pytestmark = pytest.mark.tui

RUSTNET = str(Path(sys.executable).parent / "rustnet")
SGR = re.compile(rb"\x1b\[([0-9;]*)m")

# Per preset: sequences its screen must carry with the help open (status bar, an ESTABLISHED
# row's state, the help's keys and border).
EXPECTED = {
    "muted": [b"\x1b[46m\x1b[30m", b"\x1b[32m", b"\x1b[36m", b"\x1b[90m"],
    "vivid": [b"\x1b[46m\x1b[30m", b"\x1b[32m", b"\x1b[33m", b"\x1b[35m"],  # yellow keys, magenta border
    "catppuccin-mocha": [
        b"\x1b[48;2;137;180;250m\x1b[38;2;30;30;46m",  # blue bar, base text
        b"\x1b[38;2;166;227;161m",  # green
        b"\x1b[38;2;250;179;135m",  # peach keys
        b"\x1b[38;2;88;91;112m",  # surface2 border
    ],
    "tokyo-night": [
        b"\x1b[48;2;122;162;247m\x1b[38;2;26;27;38m",
        b"\x1b[38;2;158;206;106m",
        b"\x1b[38;2;255;158;100m",
        b"\x1b[38;2;59;66;97m",
    ],
    "gruvbox": [
        b"\x1b[48;2;131;165;152m\x1b[38;2;40;40;40m",
        b"\x1b[38;2;184;187;38m",
        b"\x1b[38;2;254;128;25m",
        b"\x1b[38;2;102;92;84m",
    ],
    "nord": [
        b"\x1b[48;2;136;192;208m\x1b[38;2;46;52;64m",
        b"\x1b[38;2;163;190;140m",
        b"\x1b[38;2;208;135;112m",
        b"\x1b[38;2;76;86;106m",
    ],
}


def colour_params(raw: bytes) -> list[str]:
    """Every SGR parameter that sets a colour (30-49, 90-107, and 38/48 extended forms)."""
    found = []
    for m in SGR.finditer(raw):
        params = m.group(1).split(b";")
        i = 0
        while i < len(params):
            p = int(params[i] or b"0")
            if 30 <= p <= 49 or 90 <= p <= 107:
                found.append(m.group(0).decode())
            if p in (38, 48):  # 38;5;n or 38;2;r;g;b: skip the arguments
                i += 2 if params[i + 1 : i + 2] == [b"5"] else 4
            i += 1
    return found


@pytest.fixture()
def recording(tmp_path: Path) -> str:
    path = str(tmp_path / "session.rn")
    write_stream(path, sample() + [conn(100 + i, bytes=10 + i, sni=f"filler{i}.test") for i in range(5)])
    return path


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    (h / ".config" / "rustnet").mkdir(parents=True)
    return h


@pytest.fixture()
def views() -> Iterator[list[PtyView]]:
    started: list[PtyView] = []
    yield started
    for v in started:
        v.close()


def run_view(
    views: list[PtyView], home: Path, args: list[str], env: dict[str, str], help_: bool = True
) -> bytes:
    full = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "COLORTERM": "", **env}
    v = PtyView(args, cols=160, rows=40, env=full)
    views.append(v)
    v.wait_for("github.com")
    if help_:
        v.send("h")
        v.wait_for("Help · Overview")
    v.send("q", "q")
    assert v.wait_exit() == 0
    return bytes(v.raw)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_preset_draws_its_colours(name: str, recording: str, home: Path, views: list[PtyView]) -> None:
    raw = run_view(views, home, ["--theme", name, recording], {"COLORTERM": "truecolor"})
    for seq in EXPECTED[name]:
        assert seq in raw, (name, seq)
    assert (b"38;2;" in raw) is (name not in ("muted", "vivid"))


@pytest.mark.parametrize("env", [{"TERM": "xterm-256color"}, {"TERM": "xterm-256color", "COLORTERM": "8bit"}])
def test_truecolor_themes_fall_back_to_ansi(
    env: dict[str, str], recording: str, home: Path, views: list[PtyView]
) -> None:
    raw = run_view(views, home, ["--theme", "nord", recording], env)
    assert b"38;2;" not in raw and b"48;2;" not in raw
    for seq in EXPECTED["muted"]:
        assert seq in raw


def test_a_direct_term_gets_truecolor(recording: str, home: Path, views: list[PtyView]) -> None:
    raw = run_view(views, home, ["--theme", "nord", recording], {"TERM": "xterm-direct"}, help_=False)
    assert EXPECTED["nord"][0] in raw


@pytest.mark.parametrize(
    ("args", "env"),
    [(["--no-color"], {}), ([], {"NO_COLOR": "1"}), (["--no-color", "--theme", "gruvbox"], {})],
)
def test_no_color_writes_no_colour_code_at_all(
    args: list[str], env: dict[str, str], recording: str, home: Path, views: list[PtyView]
) -> None:
    (home / ".config" / "rustnet" / "config.toml").write_text('[theme]\nname = "nord"\n')
    raw = run_view(views, home, [*args, recording], {"COLORTERM": "truecolor", **env})
    assert colour_params(raw) == []
    assert b"\x1b[7m" in raw  # the selection and status bar still stand out (reverse video)


def test_empty_no_color_is_not_no_color(recording: str, home: Path, views: list[PtyView]) -> None:
    raw = run_view(views, home, [recording], {"NO_COLOR": ""}, help_=False)
    assert EXPECTED["muted"][0] in raw


def test_config_theme_and_the_option_over_it(recording: str, home: Path, views: list[PtyView]) -> None:
    conf = home / ".config" / "rustnet" / "config.toml"
    conf.write_text('[theme]\nname = "gruvbox"\n\n[theme.overrides]\nok = "#112233"\n')
    env = {"COLORTERM": "truecolor"}
    raw = run_view(views, home, [recording], env, help_=False)
    assert EXPECTED["gruvbox"][0] in raw and b"\x1b[38;2;17;34;51m" in raw  # its override of ok
    raw = run_view(views, home, ["--theme", "nord", recording], env, help_=False)
    assert EXPECTED["nord"][0] in raw and EXPECTED["gruvbox"][0] not in raw
    assert b"\x1b[38;2;17;34;51m" in raw  # the file's overrides apply to --theme's preset too
    # The low contrast of #112233 on a dark background is said, once, and the override kept.
    assert raw.count(b"rn-view: " + str(conf).encode() + b": warning: theme.overrides.ok = #112233") == 1


def test_bad_config_is_one_line_and_the_default(recording: str, home: Path, views: list[PtyView]) -> None:
    conf = home / ".config" / "rustnet" / "config.toml"
    conf.write_text('[theme]\nname = "neon"\n')
    raw = run_view(views, home, [recording], {"COLORTERM": "truecolor"}, help_=False)
    line = f"rn-view: {conf}: unknown theme 'neon' (one of muted, vivid, catppuccin-mocha, tokyo-night, "
    assert raw.count(line.encode()) == 1
    assert EXPECTED["muted"][0] in raw and b"38;2;" not in raw


def run_rustnet(views: list[PtyView], home: Path, args: list[str], env: dict[str, str]) -> bytes:
    full = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "COLORTERM": "", **env}
    v = PtyView(args, cols=160, rows=40, env=full, program=RUSTNET)
    views.append(v)
    v.wait_for("github.com", timeout=30)
    v.send("q", "q")
    assert v.wait_exit(20) == 0
    return bytes(v.raw)


def test_rustnet_takes_theme_and_no_color(recording: str, home: Path, views: list[PtyView]) -> None:
    raw = run_rustnet(
        views, home, ["--read", recording, "--theme", "tokyo-night"], {"COLORTERM": "truecolor"}
    )
    assert EXPECTED["tokyo-night"][0] in raw and EXPECTED["tokyo-night"][1] in raw
    raw = run_rustnet(
        views, home, ["--read", recording, "--no-color", "--theme", "nord"], {"COLORTERM": "truecolor"}
    )
    assert colour_params(raw) == []


def answer_background(v: PtyView, colour: bytes) -> None:
    """Be a terminal whose background is ``colour``: answer the viewer's OSC 11 query and the
    cursor report that follows it (blessed's boundary)."""
    deadline = time.monotonic() + 10
    while b"\x1b]11;?" not in v.raw:
        assert time.monotonic() < deadline, "no OSC 11 query"
        v.pump(0.05)
    os.write(v.fd, b"\x1b]11;rgb:" + colour + b"\x1b\\\x1b[5;1R")


@pytest.mark.parametrize(
    ("colour", "override", "grey"),
    [
        (b"ffff/ffff/ffff", "", b"\x1b[90m"),  # light: the grey tier darkened to dark grey
        (b"0000/0000/0000", "", b"\x1b[37m"),  # dark: as the preset has it
        (b"f0f0/f0f0/e0e0", 'muted = "gray"', b"\x1b[37m"),  # an override is never altered
    ],
)
def test_light_background_darkens_the_grey_tiers(
    colour: bytes, override: str, grey: bytes, recording: str, home: Path, views: list[PtyView]
) -> None:
    (home / ".config" / "rustnet" / "config.toml").write_text("[theme.overrides]\n" + override + "\n")
    full = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "COLORTERM": ""}
    v = PtyView([recording], cols=160, rows=40, env=full)
    views.append(v)
    answer_background(v, colour)
    v.wait_for("github.com")
    hints = bytes(v.raw).split(b"\x1b[40;1H")[-1]  # the hints line, the screen's last
    v.send("q", "q")
    assert v.wait_exit() == 0
    assert hints.startswith(grey + b"\x1b[2m"), hints[:40]
