"""Compile rustnet's hot modules with mypyc into a tree of their own (the venv's ``rustnet-compiled``).

    .venv/bin/python scripts/build_compiled.py [--jobs N] [--check] [--remove]

The pure Python modules stay the reference: nothing is written into lib/. ``rustnet._compiled``
loads a module from this tree only while every source the build read (the compiled modules and
each rustnet module they import, transitively: mypyc inlines their constants and calls their
compiled functions directly) still has the content it had; one edited file and every compiled
module is skipped for its ``.py``. So a stale ``.so`` never shadows an edit, and ``make`` rebuilds
(this script does nothing when the recorded sources are unchanged).

Needs a C compiler, the Python headers and mypy (which ships mypyc): without the first two it
says so in one line and exits 0 (everything runs as pure Python); mypy is installed into the
venv when missing. Prints one line either way.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIB = ROOT / "lib"
# The modules that pay (bench/bench_compiled.py): all of track/; of dissect/, the per-packet path
# and the parsers of flow-heavy traffic (DNS, HTTP, TLS), not the rarer ones (each costs build time
# in CI); capture/walk.py, the header walk that proves a capture file's packets whole (0.20 s of CPU
# for 200k full-size frames pure, 0.08 compiled); stream/bounds.py, the record limits every record a
# viewer keeps passes (3.2 µs a record pure, 0.7 compiled); stream/pktbatch.py, the frames of a pkb
# record, and stream/frames.py, every record reader's check of each record in a frame; the viewer's
# connection table (view/model.py, graphstats.py, traffic.py, and nodes.py, whose class subclasses
# traffic's): rn-view --json took 0.78 s of CPU for 53k records, 0.55 compiled. Not
# dissect/errors.py and info.py: the rarer parsers' exceptions (quic.py's) subclass theirs, and a
# compiled class refuses interpreted subclasses. Not the rest of the stream reader and the stage
# loop: their time is msgpack's C code (compiled, reading 200k summaries took the same CPU). Not
# stream/writer.py: compiled, it blocked in writev and never ran the SIGTERM handler. Not
# rn-enrich's modules: compiled, 12% less CPU, not worth the surface (threads, sockets, the process
# table).
MODULES = [
    "rustnet/capture/walk.py",
    "rustnet/dissect/dns.py",
    "rustnet/dissect/dpi.py",
    "rustnet/dissect/engine.py",
    "rustnet/dissect/frag.py",
    "rustnet/dissect/http.py",
    "rustnet/dissect/ip.py",
    "rustnet/dissect/l4.py",
    "rustnet/dissect/link.py",
    "rustnet/dissect/quic_detect.py",
    "rustnet/dissect/safe_text.py",
    "rustnet/dissect/tls.py",
    "rustnet/stream/bounds.py",
    "rustnet/stream/frames.py",
    "rustnet/stream/pktbatch.py",
    "rustnet/track/conn.py",
    "rustnet/track/dpi.py",
    "rustnet/track/join.py",
    "rustnet/track/key.py",
    "rustnet/track/lifecycle.py",
    "rustnet/track/rates.py",
    "rustnet/track/record.py",
    "rustnet/track/states.py",
    "rustnet/track/table.py",
    "rustnet/track/tcp_state.py",
    "rustnet/view/graphstats.py",
    "rustnet/view/model.py",
    "rustnet/view/nodes.py",
    "rustnet/view/traffic.py",
]
TREE_NAME = "rustnet-compiled"
MANIFEST = "manifest.txt"  # read by rustnet._compiled at every start: plain lines, no json
GROUP = "rustnet_hot"  # the shared library every compiled module's shim loads: rustnet_hot__mypyc
MYPY_REQUIREMENT = "mypy>=1.10"


def say(msg: str) -> None:
    print(f"compiled modules: {msg}", flush=True)


def tree_dir() -> Path:
    return Path(sys.prefix) / TREE_NAME


def missing_toolchain() -> str | None:
    """Why nothing can be compiled here (None: a C compiler builds against the Python headers)."""
    cc = (sysconfig.get_config_var("CC") or "cc").split()
    if shutil.which(cc[0]) is None:
        return f"no C compiler ({cc[0]})"
    include = sysconfig.get_paths()["include"]
    if not (Path(include) / "Python.h").is_file():
        return f"no Python headers ({include}/Python.h)"
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "probe.c"
        src.write_text("#include <Python.h>\nint main(void) { return Py_IsInitialized(); }\n")
        probe = subprocess.run(
            [*cc, f"-I{include}", "-c", str(src), "-o", str(Path(tmp) / "probe.o")],
            capture_output=True,
            text=True,
        )
    if probe.returncode != 0:
        first = (probe.stderr.strip().splitlines() or ["failed"])[0]
        return f"the C compiler cannot build against the Python headers ({first})"
    return None


def module_name(rel: str) -> str:
    return rel.removesuffix(".py").replace("/", ".")


def _imports(path: Path) -> set[str]:
    """rustnet modules ``path`` imports anywhere (functions too), as module names."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_bytes())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return {n for n in names if n == "rustnet" or n.startswith("rustnet.")}


def _source(name: str) -> Path | None:
    base = LIB / name.replace(".", "/")
    for p in (base.with_suffix(".py"), base / "__init__.py"):
        if p.is_file():
            return p
    return None  # a name imported from a module, not a module


def sources() -> list[Path]:
    """The compiled modules and every rustnet module they import, transitively (with the packages)."""
    seen: dict[str, Path] = {}
    todo = [module_name(m) for m in MODULES]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _source(name)
        if path is None:
            continue
        seen[name] = path
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # the packages' __init__
        todo.extend(_imports(path))
    return sorted(set(seen.values()))


def digest(paths: list[Path]) -> dict[str, str]:
    return {str(p.relative_to(LIB)): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def manifest_text(tree: Path, srcs: list[Path], want: dict[str, str]) -> str:
    """What rustnet._compiled checks: the lib built from, the interpreter's extension suffix, each
    module's file, each source's hash (with its mtime and size, so only touched files are hashed)."""
    suffix = EXTENSION_SUFFIXES[0]
    lines = [f"lib {LIB}", f"suffix {suffix}"]
    for m in MODULES:
        so = m.removesuffix(".py") + suffix
        lines.append(f"module {module_name(m)} {so}")
    lines.append(f"module {GROUP}__mypyc {GROUP}__mypyc{suffix}")
    for p in srcs:
        rel = str(p.relative_to(LIB))
        st = p.stat()
        lines.append(f"source {want[rel]} {st.st_mtime_ns} {st.st_size} {rel}")
    return "\n".join(lines) + "\n"


def up_to_date(tree: Path, srcs: list[Path], want: dict[str, str]) -> bool:
    """The tree holds every module, built from these very sources."""
    try:
        lines = (tree / MANIFEST).read_text().splitlines()
    except OSError:
        return False
    had = [ln for ln in lines if not ln.startswith("source ")]
    hashes = {ln.split(" ", 4)[4]: ln.split(" ")[1] for ln in lines if ln.startswith("source ")}
    now = [ln for ln in manifest_text(tree, srcs, want).splitlines() if not ln.startswith("source ")]
    return (
        had == now
        and hashes == want
        and all((tree / ln.split(" ")[2]).is_file() for ln in had if ln.startswith("module "))
    )


def ensure_mypyc() -> str | None:
    """Install mypy (it ships mypyc) when missing; why not, when that failed."""
    try:
        import mypyc.build  # noqa: F401
    except ImportError:
        say(f"installing {MYPY_REQUIREMENT} (it ships mypyc) into {sys.prefix}")
        pip = subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", MYPY_REQUIREMENT],
            capture_output=True,
            text=True,
        )
        if pip.returncode != 0:
            return f"installing {MYPY_REQUIREMENT} failed ({(pip.stderr.strip().splitlines() or ['?'])[-1]})"
    return None


def build(tree: Path, jobs: int) -> list[str]:
    """Compile MODULES into ``tree`` (a new directory); the files written, relative to it."""
    from mypyc.build import mypycify
    from setuptools import Distribution

    work = Path(tempfile.mkdtemp(prefix="rustnet-mypyc-"))
    cwd = os.getcwd()
    # mypy's notes and the compiler's lines go to a log, shown only when the build fails.
    log = open(work / "log", "w+")  # noqa: SIM115 - closed below
    saved = os.dup(1), os.dup(2)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    try:
        os.chdir(ROOT)  # mypy reads its options (strict, ...) from pyproject.toml here
        exts = mypycify(
            [str(LIB / m) for m in MODULES],
            opt_level="2",
            multi_file=True,  # a C file per module: gcc runs in parallel
            group_name=GROUP,
            target_dir=str(work / "c"),
        )
        dist = Distribution({"name": "rustnet-compiled", "ext_modules": exts})
        cmd = dist.get_command_obj("build_ext")
        cmd.build_lib = str(tree)  # type: ignore[attr-defined]
        cmd.build_temp = str(work / "o")  # type: ignore[attr-defined]
        cmd.parallel = jobs  # type: ignore[attr-defined]
        cmd.ensure_finalized()
        cmd.run()
    except BaseException:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        log.seek(0)
        sys.stderr.write(log.read()[-4000:])
        raise
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
        log.close()
        os.chdir(cwd)
        shutil.rmtree(work, ignore_errors=True)
    return sorted(str(p.relative_to(tree)) for p in tree.rglob("*") if p.is_file())


def status() -> int:
    """What this interpreter loads: the compiled modules, or pure Python and why."""
    sys.path.insert(0, str(LIB))
    from rustnet import _compiled

    sys.stdout.write("".join([f"{_compiled.state}\n", *(f"  {name}\n" for name in _compiled.compiled)]))
    return 0 if _compiled.compiled else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel C compilations")
    ap.add_argument("--remove", action="store_true", help="remove the compiled modules (the pure build)")
    ap.add_argument("--status", action="store_true", help="say which build runs (exit 1: pure Python)")
    ap.add_argument(
        "--strict", action="store_true", help="exit 1 when the build fails (not when it cannot run)"
    )
    args = ap.parse_args()
    if args.status:
        return status()
    tree = tree_dir()
    if args.remove:
        shutil.rmtree(tree, ignore_errors=True)
        say(f"none ({tree} removed): everything runs as pure Python")
        return 0
    srcs = sources()
    want = digest(srcs)
    if up_to_date(tree, srcs, want):
        say(f"{len(MODULES)} up to date in {tree}")
        return 0
    why = missing_toolchain() or ensure_mypyc()
    if why is not None:
        shutil.rmtree(tree, ignore_errors=True)
        say(f"none, {why}: everything runs as pure Python (apt install gcc python3-dev to compile)")
        return 0
    start = time.monotonic()
    try:
        build_tree(tree, srcs, want, args.jobs)
    except Exception as exc:  # noqa: BLE001 - a failed build leaves pure Python, said in one line
        shutil.rmtree(tree, ignore_errors=True)
        say(f"none, the build failed ({type(exc).__name__}: {exc}): everything runs as pure Python")
        return 1 if args.strict else 0
    say(f"{len(MODULES)} built in {time.monotonic() - start:.1f} s into {tree}")
    return 0


def build_tree(tree: Path, srcs: list[Path], want: dict[str, str], jobs: int) -> None:
    """Build into a new directory, then swap it in (processes running keep the files they mapped)."""
    new = Path(tempfile.mkdtemp(prefix=f".{TREE_NAME}-", dir=tree.parent))
    try:
        files = build(new, jobs)
        if digest(srcs) != want:
            raise RuntimeError("a source changed during the build")
        text = manifest_text(new, srcs, want)
        missing = [
            ln for ln in text.splitlines() if ln.startswith("module ") and ln.split(" ")[2] not in files
        ]
        if missing:
            raise RuntimeError(f"the build did not write {missing}")
        (new / MANIFEST).write_text(text)
        new.chmod(0o755)
        old = tree.with_name(f".{TREE_NAME}-old")
        shutil.rmtree(old, ignore_errors=True)
        if tree.exists():
            tree.rename(old)
        new.rename(tree)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise


if __name__ == "__main__":
    sys.exit(main())
