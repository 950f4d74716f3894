"""man/ and completions/ are what the click definitions say (regenerated and compared).

When this fails after a change to a command's options: run ``make man completions``
and commit the result.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import click
import pytest
from rustnet import docs

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = list(docs.COMMANDS)


def _compare(committed: Path, fresh: Path) -> None:
    names = sorted(p.name for p in fresh.iterdir())
    have = sorted(p.name for p in committed.iterdir()) if committed.is_dir() else []
    assert have == names, f"{committed.name}/ differs in files; run make man completions"
    stale = [n for n in names if (committed / n).read_text() != (fresh / n).read_text()]
    assert not stale, f"out of date: {stale}; run make man completions"


def test_man_pages_match_the_cli(tmp_path: Path) -> None:
    docs.write_man(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"{c}.1" for c in COMMANDS] + ["rustnet-records.5"]
    )
    _compare(ROOT / "man", tmp_path)


def test_completions_match_the_cli(tmp_path: Path) -> None:
    docs.write_completions(tmp_path)
    assert len(list(tmp_path.iterdir())) == 3 * len(COMMANDS)
    _compare(ROOT / "completions", tmp_path)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_option_is_documented_and_completed(name: str) -> None:
    cmd = docs.load_command(name)
    page = (ROOT / "man" / f"{name}.1").read_text()
    bash = (ROOT / "completions" / f"{name}.bash").read_text()
    zsh = (ROOT / "completions" / f"{name}.zsh").read_text()
    fish = (ROOT / "completions" / f"{name}.fish").read_text()
    ctx = click.Context(cmd, info_name=name, **(cmd.context_settings or {}))
    for param in cmd.get_params(ctx):
        if not isinstance(param, click.Option) or param.hidden:
            continue
        for opt in param.opts + param.secondary_opts:
            assert docs.roff(opt) in page, (name, opt)
            assert opt in bash and opt in zsh, (name, opt)
            fish_word = f"-l {opt[2:]}" if opt.startswith("--") else f"-s {opt[1:]}"
            assert fish_word in fish, (name, opt)


@pytest.mark.skipif(shutil.which("groff") is None, reason="no groff")
def test_man_pages_render_without_warnings() -> None:
    pages = sorted(str(p) for p in (ROOT / "man").iterdir())
    p = subprocess.run(["groff", "-man", "-ww", "-z", *pages], capture_output=True, text=True)
    assert p.returncode == 0 and p.stderr == "", p.stderr


def test_records_page_documents_every_record_type() -> None:
    page = (ROOT / "man" / "rustnet-records.5").read_text()
    for tag in ("hdr", "pkt", "sum", "stats", "dstats", "warn", "sock", "conn"):
        assert f".SS {tag} (" in page, tag
    assert ".SH MERGE" in page and ".SH LIMITS" in page and "\\fBbytes_src\\fR (int, bytes)" in page


def _bash_complete(name: str, words: list[str]) -> list[str]:
    script = (ROOT / "completions" / f"{name}.bash").read_text()
    func = "_" + name.replace("-", "_")
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    prog = (
        f"{script}\nCOMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; {func}; "
        'printf "%s\\n" "${COMPREPLY[@]}"'
    )
    p = subprocess.run(["bash", "-c", prog], capture_output=True, text=True, check=True)
    return p.stdout.split()


def test_bash_completion_works() -> None:
    for name in COMMANDS:
        subprocess.run(["bash", "-n", str(ROOT / "completions" / f"{name}.bash")], check=True)
    assert {"--no-localhost", "--no-dpi"} <= set(_bash_complete("rustnet", ["rustnet", "--no"]))
    assert _bash_complete("rustnet", ["rustnet", "-l", ""]) == ["error", "warn", "info", "debug", "trace"]
    assert "lo" in _bash_complete("rustnet", ["rustnet", "-i", ""])
    assert "--list-interfaces" in _bash_complete("rn-capture", ["rn-capture", "--li"])


@pytest.mark.parametrize("shell,ext", [("zsh", "zsh"), ("fish", "fish")])
def test_other_shells_parse_their_completions(shell: str, ext: str) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    for name in COMMANDS:
        subprocess.run([shell, "-n", str(ROOT / "completions" / f"{name}.{ext}")], check=True)


# The scenarios rustnet promises, each command exactly as the README must show it.
SCENARIOS = (
    "sudo rustnet",
    "rustnet -i eth0 --no-dpi -r 500",
    "rustnet --read trace.pcap",
    "rustnet --read trace.pcap --json",
    "rn-capture -i eth0 | rn-dissect | rn-track > session.rn",
    "rn-view session.rn",
    "ssh host rn-capture | rn-view",
    "ssh host 'rn-capture | rn-enrich' | rn-view",
    "rn-capture -r t.pcap | rn-dissect | rn-track --format json | jq -r .sni",
)


# --- the README says what the code does ----------------------------------------------------
def test_readme_lists_every_rustnet_option_key_and_filter() -> None:
    readme = (ROOT / "README.md").read_text()
    cmd = docs.load_command("rustnet")
    ctx = click.Context(cmd, info_name="rustnet", **(cmd.context_settings or {}))
    for param in cmd.get_params(ctx):
        if isinstance(param, click.Option) and not param.hidden:
            for opt in param.opts:
                assert opt in readme, opt
    from rustnet.view import filter as view_filter
    from rustnet.view import keys

    for key_labels, _ in keys.help_lines():
        for label in key_labels.split():
            assert f"`{label}`" in readme, label
    for code in view_filter.KEYWORDS:
        assert f"{code}:VALUE" in readme, code
    from rustnet.track.states import State

    for state in State:
        if state is not State.NONE:
            assert f"`{state.name}`" in readme, state.name
    for command in SCENARIOS:
        assert command in readme, command


def _user_facing_files() -> list[Path]:
    """What a user reads: the README, man pages, completions, and the code whose docstrings,
    help texts and messages reach them."""
    files = [ROOT / "README.md", ROOT / "bench" / "README.md"]
    for folder, pattern in (("man", "*"), ("completions", "*"), ("lib", "*.py"), ("cmds", "*.py")):
        files += sorted(p for p in (ROOT / folder).rglob(pattern) if p.is_file() and "egg-info" not in str(p))
    return files


@pytest.mark.parametrize("word", [r"\bseed\b", r"SPEC\.md", r"\.\./shared", r"\bshared/corpus"])
def test_user_facing_text_names_only_what_users_have(word: str) -> None:
    """Users have rustnet, RustNet and the man pages; not the builders' notes or folders."""
    import re

    found = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in _user_facing_files()
        for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1)
        if re.search(word, line, re.IGNORECASE)
    ]
    assert not found, found
