"""``make install`` puts every command on the PATH from a venv of its own; ``make uninstall`` removes it.

The commands are the ``[project.scripts]`` of pyproject.toml. They must run from ``/`` with a plain
PATH, from a copy that does not need the clone, readable by the unprivileged user the stages drop
to whatever the installing umask; a DESTDIR-staged tree must work once copied to its PREFIX; the
copy runs the hot modules compiled (built in the clone, copied). Each install builds a venv with
pip (about 30 s).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.build_script import build_script
from tests.corpus import PCAPS, TRUTH

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = sorted(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"])
PCAP = PCAPS / "tcpdump_dns_udp.pcap"
PLAIN_ENV = {"PATH": "/usr/bin:/bin"}


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A directory under /tmp that other users can reach (pytest's own tmp_path is 0700)."""
    path = Path(tempfile.mkdtemp(prefix="rn-install-", dir="/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def make(*args: str) -> None:
    """``make`` in the clone under a umask that hides everything from other users."""
    command = ["make", "-C", str(ROOT), "--no-print-directory", *args]
    # Not the flags or install directories of a `make test` this may run under.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "DESTDIR", "MANDIR"}
    }
    done = subprocess.run(
        ["sh", "-c", 'umask 077 && exec "$@"', "sh", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def run_plain(command: list[str], *, as_nobody: bool = False) -> subprocess.CompletedProcess[str]:
    """``command`` from ``/`` with only /usr/bin:/bin on the PATH (as ``nobody`` when asked)."""
    if as_nobody:
        command = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *command]
    return subprocess.run(command, cwd="/", env=PLAIN_ENV, capture_output=True, text=True, timeout=120)


def assert_commands_run(bindir: Path, *, as_nobody: bool = False, pcap: Path = PCAP) -> None:
    for name in COMMANDS:
        done = run_plain([str(bindir / name), "--help"], as_nobody=as_nobody)
        assert done.returncode == 0, f"{name}: {done.stderr}"
        assert "Usage:" in done.stdout
    done = run_plain([str(bindir / "rustnet"), "--read", str(pcap), "--json"], as_nobody=as_nobody)
    assert done.returncode == 0, done.stderr
    truth = json.loads((TRUTH / f"{PCAP.name}.json").read_text())["udp_conversations"]
    records = [json.loads(line) for line in done.stdout.splitlines()]
    got = [(r["src"], r["sport"], r["dst"], r["dport"], r["packets"], r["bytes"]) for r in records]
    want = [(c["a"], c["a_port"], c["b"], c["b_port"], c["frames"], c["bytes"]) for c in truth]
    assert got == want


def compiled_build_expected() -> bool:
    """Whether `make install` copies compiled modules: it builds them in the clone first wherever a
    C compiler and the Python headers are (as `make test` installs them)."""
    return build_script().missing_toolchain() is None


def assert_build_loads(venv: Path, *, as_nobody: bool = False) -> None:
    """The installed copy runs the compiled modules (copied from the clone's build) where they can be
    built, and says it runs pure Python where they cannot."""
    show = "from rustnet import _compiled; print(_compiled.state); print(len(_compiled.compiled))"
    done = run_plain([str(venv / "bin" / "python"), "-c", show], as_nobody=as_nobody)
    assert done.returncode == 0, done.stderr
    state, count = done.stdout.splitlines()
    if compiled_build_expected():
        assert state == f"compiled: {count} modules from {venv / 'rustnet-compiled'}"
        assert int(count) > 20
    else:
        assert state.startswith("pure Python"), state


def readable_by_others(path: Path) -> bool:
    mode = path.stat().st_mode
    want = 0o005 if path.is_dir() or mode & 0o100 else 0o004
    return mode & want == want


def files_in(top: Path) -> list[Path]:
    return sorted(p for p in top.rglob("*") if p.is_symlink() or not p.is_dir())


def test_destdir_stages_every_command_in_a_tree_that_runs_once_copied(scratch: Path) -> None:
    prefix, dest = scratch / "opt" / "rn", scratch / "stage"
    make("install", f"DESTDIR={dest}", f"PREFIX={prefix}")
    staged = dest / prefix.relative_to("/")
    assert sorted(p.name for p in (staged / "bin").iterdir()) == COMMANDS
    assert (staged / "share/man/man1/rustnet.1").is_file()
    assert (staged / "share/man/man5/rustnet-records.5").is_file()
    assert (dest / "usr/share/bash-completion/completions/rustnet").is_file()
    assert (dest / "usr/share/zsh/vendor-completions/_rustnet").is_file()
    assert (dest / "usr/share/fish/vendor_completions.d/rustnet.fish").is_file()
    # Nothing staged may name the staging directory: the tree must work from PREFIX alone.
    named = [p for p in files_in(staged) if not p.is_symlink() and str(dest).encode() in p.read_bytes()]
    assert named == []
    shutil.copytree(staged, prefix, symlinks=True)
    assert_commands_run(prefix / "bin")
    assert_build_loads(prefix / "lib" / "rustnet")

    make("uninstall", f"DESTDIR={dest}", f"PREFIX={prefix}")
    assert list(dest.iterdir()) == []


def test_prefix_install_runs_anywhere_without_the_clone_and_uninstalls(scratch: Path) -> None:
    prefix, share = scratch / "opt", scratch / "share"
    completion_dirs = [
        f"BASHCOMPDIR={share}/bash",
        f"ZSHCOMPDIR={share}/zsh",
        f"FISHCOMPDIR={share}/fish",
    ]
    make("install", f"PREFIX={prefix}", *completion_dirs)
    make("install", f"PREFIX={prefix}", *completion_dirs)  # again, as an upgrade would
    assert sorted(p.name for p in (prefix / "bin").iterdir()) == COMMANDS
    assert_commands_run(prefix / "bin")
    assert_build_loads(prefix / "lib" / "rustnet")
    # A copy, not an editable install: no file of it names the clone.
    named = [p for p in files_in(prefix) if not p.is_symlink() and str(ROOT).encode() in p.read_bytes()]
    assert named == []
    # The stages drop to nobody, so the tree is readable by others although installed under umask 077.
    hidden = [p for p in [prefix, *prefix.rglob("*")] if not p.is_symlink() and not readable_by_others(p)]
    assert hidden == []
    if os.geteuid() == 0:
        interpreter = (prefix / "lib/rustnet/bin/python").resolve()
        if run_plain([str(interpreter), "-c", "pass"], as_nobody=True).returncode != 0:
            pytest.skip(f"nobody cannot run the base interpreter {interpreter}")
        # A copy of the capture: nobody may not reach the clone (one in a private directory).
        pcap = scratch / PCAP.name
        shutil.copyfile(PCAP, pcap)
        pcap.chmod(0o644)
        try:
            assert_commands_run(prefix / "bin", as_nobody=True, pcap=pcap)
            assert_build_loads(prefix / "lib" / "rustnet", as_nobody=True)
        finally:
            pcap.unlink()

    make("uninstall", f"PREFIX={prefix}", *completion_dirs)
    assert list(scratch.iterdir()) == []
