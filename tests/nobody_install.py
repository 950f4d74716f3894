"""A rustnet installation the user ``nobody`` can run, for tests that run rustnet as nobody.

The test venv may sit where nobody cannot go: a clone inside a private directory, or a
Python installed under /root (pyenv). This builds a venv in a world-readable temporary
directory, from an interpreter nobody can run, with rustnet and its runtime dependencies
hard-linked (or copied) into its site-packages and the commands' scripts beside its
interpreter, as pip would write them. ``copies=True`` gives the venv its own interpreter
file (``python3 -m venv --copies``), the one to give capabilities with setcap.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = {
    "rn-capture": "capture",
    "rn-dissect": "dissect",
    "rn-track": "track",
    "rn-enrich": "enrich",
    "rn-view": "view",
    "rustnet": "rustnet",
}


def runs_as_nobody(argv: list[str]) -> bool:
    probe = subprocess.run(["runuser", "-u", "nobody", "--", *argv], capture_output=True, cwd="/", timeout=60)
    return probe.returncode == 0


def base_python() -> tuple[str | None, str]:
    """An interpreter of our Python version that nobody can run (None and why not)."""
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        return None, "needs root and runuser to run things as nobody"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [getattr(sys, "_base_executable", "")]
    candidates += [f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"]
    for cand in candidates:
        if cand and os.path.exists(cand) and runs_as_nobody([cand, "-c", "import encodings, venv"]):
            return cand, ""
    tried = ", ".join(c for c in candidates if c)
    return None, f"no Python {version} that the user nobody can run (tried {tried})"


def _runtime_distributions() -> list[importlib.metadata.Distribution]:
    """rustnet's runtime dependencies, transitively (no test extras)."""
    from packaging.requirements import Requirement

    out: dict[str, importlib.metadata.Distribution] = {}
    todo = [req for req in importlib.metadata.requires("rustnet") or []]
    while todo:
        req = Requirement(todo.pop())
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        key = re.sub(r"[-_.]+", "-", req.name).lower()
        if key in out:
            continue
        dist = importlib.metadata.distribution(req.name)
        out[key] = dist
        todo += dist.requires or []
    return list(out.values())


def _place(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _place_tree(src: Path, dst: Path) -> None:
    for path in src.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            _place(path, dst / path.relative_to(src))


def build(copies: bool = True, parent: str | None = None) -> Path:
    """A fresh venv nobody can run rustnet from; returns its directory (the caller removes it)."""
    base, why = base_python()
    if base is None:
        raise RuntimeError(why)
    top = Path(tempfile.mkdtemp(prefix="rustnet-nobody-", dir=parent))
    top.chmod(0o755)
    venv = top / "venv"
    subprocess.run(
        [base, "-m", "venv", "--without-pip", "--copies" if copies else "--symlinks", str(venv)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    purelib = sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)})
    site = Path(purelib)
    for dist in _runtime_distributions():
        for rel in dist.files or []:
            if rel.parts and rel.parts[0] == "..":
                continue  # scripts and data outside site-packages
            src = Path(str(dist.locate_file(rel)))
            if src.is_file() and "__pycache__" not in rel.parts:
                _place(src, site / rel)
    _place_tree(ROOT / "lib" / "rustnet", site / "rustnet")
    _place_tree(ROOT / "cmds", site / "rustnet_cmds")
    python = venv / "bin" / "python3"
    for name, module in SCRIPTS.items():
        script = venv / "bin" / name
        body = f"import sys\nfrom rustnet_cmds.{module} import main\nsys.exit(main())\n"
        script.write_text(f"#!{python}\n{body}", encoding="utf-8")
        script.chmod(0o755)
    for path in [top, *top.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    if not runs_as_nobody([str(python), "-c", "import rustnet.app.wrapper, pcapy, msgpack, blessed"]):
        shutil.rmtree(top, ignore_errors=True)
        raise RuntimeError(f"the venv built from {base} does not run rustnet as nobody")
    return venv


def remove(venv: Path) -> None:
    shutil.rmtree(venv.parent, ignore_errors=True)
