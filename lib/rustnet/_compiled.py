"""Load the hot modules compiled by mypyc, when they were built from the sources present.

``make`` compiles them (scripts/build_compiled.py) into ``<venv>/rustnet-compiled``, a tree of
their own beside, never inside, lib/: the ``.py`` files stay the reference, and everything runs
without the tree. The tree's manifest lists every source the build read, with its content hash.
:func:`install` puts a finder for the compiled modules in front of the import system only when

* ``RUSTNET_PURE`` is unset or empty (set it to run pure Python),
* the manifest was built from this very lib directory (not another checkout), and
* every listed source still has that content (a file whose size and mtime are unchanged is taken
  as unchanged; any other is hashed),

so a stale build never shadows an edited file: it is skipped as a whole (compiled modules call
each other directly and inline the constants they import). ``scripts/build_compiled.py --status``
says which build runs and why.
"""

from __future__ import annotations

import os
import sys
from importlib.machinery import EXTENSION_SUFFIXES, ExtensionFileLoader, ModuleSpec
from types import ModuleType
from typing import Final

TREE_NAME: Final = "rustnet-compiled"
MANIFEST: Final = "manifest.txt"
ENV_PURE: Final = "RUSTNET_PURE"

# Why this process runs what it runs (for the status line and the tests).
state = "pure Python: not looked for yet"
compiled: tuple[str, ...] = ()  # the module names loaded from the tree when it is in use


class _Finder:
    """A meta path finder for exactly the modules of one compiled tree."""

    def __init__(self, paths: dict[str, str]) -> None:
        self.paths = paths

    def find_spec(
        self, fullname: str, path: object = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        so = self.paths.get(fullname)
        if so is None:
            return None
        spec = ModuleSpec(fullname, ExtensionFileLoader(fullname, so), origin=so)
        spec.has_location = True
        return spec


def tree_dir() -> str:
    return os.path.join(sys.prefix, TREE_NAME)


def _check(tree: str, lib: str) -> tuple[str, dict[str, str]]:
    """(why not, {}) or ("", module name -> shared object path)."""
    try:
        with open(os.path.join(tree, MANIFEST), encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return "pure Python: no compiled modules (built by make when a C compiler is present)", {}
    paths: dict[str, str] = {}
    changed: list[tuple[str, str]] = []
    built_from = ""
    for line in lines:
        kind, _, rest = line.partition(" ")
        if kind == "lib":
            built_from = rest
            if rest != lib:
                return f"pure Python: the compiled modules were built from {rest}, not {lib}", {}
        elif kind == "suffix" and rest != EXTENSION_SUFFIXES[0]:
            return f"pure Python: the compiled modules are for another interpreter ({rest})", {}
        elif kind == "module":
            name, _, so = rest.partition(" ")
            paths[name] = os.path.join(tree, so)
        elif kind == "source":
            sha, mtime, size, rel = rest.split(" ", 3)
            try:
                st = os.stat(os.path.join(lib, rel))
            except OSError:
                return f"pure Python: {rel} is gone since the modules were compiled", {}
            if st.st_mtime_ns != int(mtime) or st.st_size != int(size):
                changed.append((sha, rel))
    if not built_from or not paths:
        return "pure Python: the compiled modules' manifest is incomplete", {}
    if changed:
        import hashlib

        for sha, rel in changed:
            with open(os.path.join(lib, rel), "rb") as f:
                if hashlib.sha256(f.read()).hexdigest() != sha:
                    return f"pure Python: {rel} changed since the modules were compiled (make rebuilds)", {}
    return "", paths


def install() -> None:
    """Use the compiled modules when they match the sources (see the module's docstring)."""
    global state, compiled
    if os.environ.get(ENV_PURE):
        state = f"pure Python: {ENV_PURE} is set"
        return
    lib = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    why, paths = _check(tree_dir(), lib)
    if why:
        state = why
        return
    sys.meta_path.insert(0, _Finder(paths))
    compiled = tuple(sorted(n for n in paths if n.startswith("rustnet.")))
    state = f"compiled: {len(compiled)} modules from {tree_dir()}"


def in_use(module: ModuleType) -> bool:
    """Whether ``module`` was loaded from the compiled tree."""
    return any((getattr(module, "__file__", None) or "").endswith(s) for s in EXTENSION_SUFFIXES)
