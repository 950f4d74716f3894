"""The mypyc-compiled modules give exactly the pure Python modules' output, and never run stale.

The diff runs tests/builds_driver.py (the corpus, and hostile summary, byte, JSON and packet
streams from a seeded random) once pure (``RUSTNET_PURE=1``) and once compiled, and fails on
any difference. It needs the compiled modules: it builds them (a no-op when ``make`` did) and
fails when they do not load. It is skipped only where nothing can be compiled (no C compiler or
no Python headers), and says so in the skip reason; `make test` installs both.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from rustnet import _compiled

from tests.build_script import BUILD, build_script
from tests.corpus import PCAPS

ROOT = Path(__file__).resolve().parent.parent


def _first_difference(pure: list[str], compiled: list[str]) -> str:
    for i, (a, b) in enumerate(zip(pure, compiled, strict=False)):
        if a != b:
            return f"line {i + 1}:\n  pure:     {a[:600]}\n  compiled: {b[:600]}"
    return f"pure has {len(pure)} lines, compiled {len(compiled)}"


@pytest.mark.slow
def test_compiled_and_pure_builds_write_the_same_records(tmp_path: Path) -> None:
    why = build_script().missing_toolchain()
    if why is not None:
        pytest.skip(
            f"NOT CHECKED: the compiled build cannot be made here ({why}); apt install gcc python3-dev"
        )
    build = subprocess.run([sys.executable, str(BUILD), "--strict"], capture_output=True, text=True)
    assert build.returncode == 0, build.stdout + build.stderr
    status = subprocess.run([sys.executable, str(BUILD), "--status"], capture_output=True, text=True)
    assert status.returncode == 0, f"the compiled modules do not load: {status.stdout}"
    runs = {}
    for name, pure in (("pure", "1"), ("compiled", "")):
        env = {**os.environ, _compiled.ENV_PURE: pure}
        out = tmp_path / f"{name}.txt"
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.builds_driver", str(out), "--seed", "21", "--cases", "300"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        runs[name] = (proc, out)
    lines = {}
    for name, (proc, out) in runs.items():
        text, _ = proc.communicate(timeout=240)
        assert proc.returncode == 0, f"{name}: {text.decode(errors='replace')[-2000:]}"
        lines[name] = out.read_text().splitlines()
    assert lines["pure"][0] == "build\tpure Python"
    assert lines["compiled"][0] == "build\tcompiled"
    pure, compiled = lines["pure"][1:], lines["compiled"][1:]
    assert sum(1 for ln in pure if ln.startswith("corpus/")) > 10000  # the corpus went through
    assert pure == compiled, _first_difference(pure, compiled)


# Whole commands on captures: what the in-process driver cannot see (the sandbox's readable
# directories, classes subclassed outside the compiled modules, the writer and start-up paths).
COMMANDS = [
    "rn-capture -r {f} | rn-dissect | rn-track --format json",
    "rn-capture -r {f} | rn-track --dissect --format json --final-only",
    "rn-capture -r {f} | gzip > {tmp}/p.rn.gz; rn-view --json {tmp}/p.rn.gz",
    "rustnet --read {f} --json",
]
CAPTURES = ["zeek_wikipedia.pcap", "ndpi_quic_interop_V.pcapng", "dpkt_truncated_dns.pcap"]


def _steady(out: bytes) -> tuple[list[Any], dict[str, Any]]:
    """The records that do not depend on timing: the connection records and headers in order, and
    the last record of each other type without its wall-clock times (how many stats records a
    run writes, and where, follows the wall clock: a tick may even come before the header)."""
    recs = [json.loads(line) for line in out.splitlines()]
    last = {}
    for r in recs:
        if r.get("t") not in ("conn", "hdr"):
            r.pop("ts", None)
            last[r.get("t")] = r
    ordered = [r for r in recs if r.get("t") in ("conn", "hdr")]
    for r in ordered:
        r.pop("start", None)
    return ordered, last


@pytest.mark.slow
def test_compiled_and_pure_commands_write_the_same_output(tmp_path: Path) -> None:
    why = build_script().missing_toolchain()
    if why is not None:
        pytest.skip(
            f"NOT CHECKED: the compiled build cannot be made here ({why}); apt install gcc python3-dev"
        )
    build = subprocess.run([sys.executable, str(BUILD), "--strict"], capture_output=True, text=True)
    assert build.returncode == 0, build.stdout + build.stderr
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    for name in CAPTURES:
        for cmd in COMMANDS:
            line = cmd.format(f=PCAPS / name, tmp=tmp_path)
            got = {}
            for build_name, pure in (("pure", "1"), ("compiled", "")):
                p = subprocess.run(
                    ["bash", "-o", "pipefail", "-c", line],
                    env={**env, _compiled.ENV_PURE: pure},
                    capture_output=True,
                    timeout=120,
                )
                got[build_name] = (p.returncode, _steady(p.stdout), p.stderr)
            assert got["pure"][1], f"{line}: no output"
            assert got["pure"] == got["compiled"], f"{line}: the builds differ"


def test_mypy_finds_no_unreachable_code_in_the_compiled_modules() -> None:
    """pyproject.toml has mypy report unreachable code in exactly the modules the build compiles."""
    with open(ROOT / "pyproject.toml", "rb") as f:
        overrides = tomllib.load(f)["tool"]["mypy"]["overrides"]
    checked = {m for o in overrides if o.get("warn_unreachable") for m in o["module"]}
    build = build_script()
    assert checked == {build.module_name(m) for m in build.MODULES}


def test_no_interpreted_class_inherits_from_a_compiled_one() -> None:
    """Compiled classes refuse interpreted subclasses (TypeError on the first instance): a subclass
    must be compiled too. Found statically, as the failure only comes when the subclass is used."""
    build = build_script()
    compiled = {build.module_name(m) for m in build.MODULES}
    offenders = []
    for path in [*(ROOT / "lib").rglob("*.py"), *(ROOT / "cmds").rglob("*.py")]:
        name = ".".join(path.relative_to(ROOT / "lib").with_suffix("").parts) if "lib" in path.parts else ""
        if name in compiled:
            continue
        tree = ast.parse(path.read_bytes())
        names, modules = set(), set()  # what this file imports from compiled modules: names, module aliases
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in compiled:
                names.update(a.asname or a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules.update(
                    a.asname or a.name for a in node.names if f"{node.module}.{a.name}" in compiled
                )
            elif isinstance(node, ast.Import):
                modules.update(a.asname or a.name for a in node.names if a.name in compiled)
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                for base in node.bases:
                    if (isinstance(base, ast.Name) and base.id in names) or (
                        isinstance(base, ast.Attribute)
                        and isinstance(base.value, ast.Name)
                        and base.value.id in modules
                    ):
                        offenders.append(f"{path.relative_to(ROOT)}: {node.name}({ast.unparse(base)})")
    assert offenders == [], "compile these modules too (scripts/build_compiled.py MODULES)"


# --- the loader: a stale build is never used ------------------------------------------------------
def _tree(tmp_path: Path, lib: Path, files: dict[str, bytes]) -> Path:
    """A compiled tree whose manifest lists ``files`` (written into ``lib``) as its sources."""
    tree = tmp_path / "tree"
    tree.mkdir()
    lines = [f"lib {lib}", f"suffix {importlib.machinery.EXTENSION_SUFFIXES[0]}", "module rustnet.x x.so"]
    for rel, data in files.items():
        p = lib / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        st = p.stat()
        lines.append(f"source {hashlib.sha256(data).hexdigest()} {st.st_mtime_ns} {st.st_size} {rel}")
    (tree / _compiled.MANIFEST).write_text("\n".join(lines) + "\n")
    return tree


def test_loader_uses_a_tree_built_from_these_sources(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    tree = _tree(tmp_path, lib, {"rustnet/a.py": b"A = 1\n", "rustnet/b.py": b"B = 2\n"})
    why, paths = _compiled._check(str(tree), str(lib))
    assert why == "" and paths == {"rustnet.x": str(tree / "x.so")}
    os.utime(lib / "rustnet/a.py", ns=(1, 1))  # touched, same content: hashed, still current
    assert _compiled._check(str(tree), str(lib))[0] == ""


def test_loader_skips_the_tree_when_a_source_changed(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    tree = _tree(tmp_path, lib, {"rustnet/a.py": b"A = 1\n", "rustnet/b.py": b"B = 2\n"})
    st = (lib / "rustnet/b.py").stat()
    (lib / "rustnet/b.py").write_bytes(b"B = 3\n")  # the same size: the mtime, then the hash tell
    os.utime(lib / "rustnet/b.py", ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    why, paths = _compiled._check(str(tree), str(lib))
    assert "rustnet/b.py changed" in why and paths == {}
    (lib / "rustnet/b.py").unlink()
    assert "rustnet/b.py is gone" in _compiled._check(str(tree), str(lib))[0]


def test_loader_skips_a_tree_built_from_another_checkout(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    tree = _tree(tmp_path, lib, {"rustnet/a.py": b"A = 1\n"})
    why, paths = _compiled._check(str(tree), str(tmp_path / "other"))
    assert "built from" in why and paths == {}
    assert "no compiled modules" in _compiled._check(str(tmp_path / "none"), str(lib))[0]


def test_pure_python_when_asked(tmp_path: Path) -> None:
    env = {**os.environ, _compiled.ENV_PURE: "1"}
    code = "import rustnet.track.table as t, rustnet._compiled as c; print(c.state); print(c.in_use(t))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == [f"pure Python: {_compiled.ENV_PURE} is set", "False"]
