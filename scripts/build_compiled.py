"""Compile rustnet's hot modules with mypyc into a tree of their own (the venv's ``rustnet-compiled``).

    .venv/bin/python scripts/build_compiled.py [--jobs N] [--strict] [--remove] [--status]
                                               [--copy-for PYTHON]

The pure Python modules stay the reference: nothing is written into lib/. ``rustnet._compiled``
loads a module from this tree only while every source the build read (the compiled modules and
each rustnet module they import, transitively: mypyc inlines their constants and calls their
compiled functions directly) still has the content it had; one edited file and every compiled
module is skipped for its ``.py``. So a stale ``.so`` never shadows an edit, and ``make`` rebuilds
(this script does nothing when the recorded sources are unchanged).

Needs a C compiler, the Python headers and mypy (which ships mypyc): without the first two it
says so in one line and exits 0 (everything runs as pure Python); mypy is installed into the
venv when missing. Prints one line either way.

``--copy-for PYTHON`` is ``make install``'s: the venv of PYTHON holds a copy of these sources (pip
installed them), and gets this build's modules, with a manifest naming its own copy, when both
interpreters load the same kind of extension module (``.cpython-311-x86_64-linux-gnu.so``, say) and
every source is unchanged. The modules name their sources relative to the clone (``lib/...``), so
the copy names neither the clone nor a staging directory.
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
# "relative-sources": the modules were built from sources named relative to the clone (lib/...).
BUILD_FORMAT = "relative-sources"


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


def manifest_text(
    tree: Path, srcs: list[Path], want: dict[str, str], lib: Path = LIB, suffix: str = EXTENSION_SUFFIXES[0]
) -> str:
    """What rustnet._compiled checks: the lib the sources are in (``lib``: the clone's, or an
    installed copy's), the interpreter's extension suffix, each module's file, each source's hash
    (with its mtime and size in ``lib``, so only touched files are hashed). The ``build`` line names
    how the modules were built: a tree built another way is rebuilt."""
    lines = [f"lib {lib}", f"suffix {suffix}", f"build {BUILD_FORMAT}"]
    for m in MODULES:
        so = m.removesuffix(".py") + suffix
        lines.append(f"module {module_name(m)} {so}")
    lines.append(f"module {GROUP}__mypyc {GROUP}__mypyc{suffix}")
    for p in srcs:
        rel = str(p.relative_to(LIB))
        st = (lib / rel).stat()
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
            # Relative to the clone: the names the modules carry for tracebacks are then the same
            # wherever the tree is used (an installed copy must not name the clone).
            [str((LIB / m).relative_to(ROOT)) for m in MODULES],
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


def installed_interpreter(python: str) -> tuple[Path, Path, str]:
    """(sys.prefix, where its packages are, its extension suffix) of another interpreter's venv."""
    code = (
        "import sys, sysconfig; from importlib.machinery import EXTENSION_SUFFIXES as s; "
        "print(sys.prefix); print(sysconfig.get_paths()['purelib']); print(s[0])"
    )
    out = subprocess.run([python, "-I", "-c", code], capture_output=True, text=True, check=True)
    prefix, purelib, suffix = out.stdout.splitlines()
    return Path(prefix), Path(purelib), suffix


def copy_stripped(src: Path, dst: Path, strip: str | None) -> None:
    """Copy a compiled module without its debug information, which names the directories it was
    built in (and is half its size); binutils comes with the C compiler that built it."""
    if (
        strip is not None
        and subprocess.run([strip, "--strip-debug", "-o", str(dst), str(src)]).returncode == 0
    ):
        return
    shutil.copyfile(src, dst)


def copy_for(python: str) -> int:
    """Give the venv of ``python`` (``make install``'s, holding a copy of these very sources) this
    clone's compiled modules, with a manifest that names its own copy of the sources."""
    prefix, lib, suffix = installed_interpreter(python)
    target = prefix / TREE_NAME
    shutil.rmtree(target, ignore_errors=True)
    srcs = sources()
    want = digest(srcs)
    tree = tree_dir()
    pure = f"none for {prefix}, which runs pure Python"
    if not up_to_date(tree, srcs, want):
        say(f"{pure}: this clone's are not built from its sources (make compiled builds them)")
        return 0
    if suffix != EXTENSION_SUFFIXES[0]:
        say(f"{pure}: its Python loads modules ending {suffix}, these end {EXTENSION_SUFFIXES[0]}")
        return 0
    for rel, sha in want.items():
        copy = lib / rel
        if not copy.is_file() or hashlib.sha256(copy.read_bytes()).hexdigest() != sha:
            say(f"{pure}: its {rel} is not this clone's")
            return 0
    strip = shutil.which("strip")
    new = Path(tempfile.mkdtemp(prefix=f".{TREE_NAME}-", dir=prefix))
    try:
        for line in (tree / MANIFEST).read_text().splitlines():
            if line.startswith("module "):
                so = line.split(" ")[2]
                (new / so).parent.mkdir(parents=True, exist_ok=True)
                copy_stripped(tree / so, new / so, strip)
        (new / MANIFEST).write_text(manifest_text(new, srcs, want, lib, suffix))
        new.chmod(0o755)
        new.rename(target)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    say(f"{len(MODULES)} copied into {target}")
    return 0


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
    ap.add_argument(
        "--copy-for",
        metavar="PYTHON",
        help="copy the built modules into the venv of PYTHON, an installed copy of these sources",
    )
    args = ap.parse_args()
    if args.status:
        return status()
    if args.copy_for:
        return copy_for(args.copy_for)
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
