"""The package layers: no module imports from a package above its own.

Every module under ``lib/`` and ``cmds/`` is parsed (not imported) and each import it
makes, at the top or inside a function, is placed in the declared order below. A
module may import from its own package and from any layer below; not from a layer
above, and not from a sibling on its own layer. A package that is not in the order
fails too: a new one must be placed.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Lowest first. Each entry is one layer; names on the same layer are independent siblings.
LAYERS: tuple[tuple[str, ...], ...] = (
    # The loader of the mypyc-compiled modules, which the top package runs first (no imports of ours).
    ("rustnet._compiled",),
    # The version and the process's capabilities.
    ("rustnet", "rustnet.caps"),
    # The Landlock system calls (sets no_new_privs through caps).
    ("rustnet.landlock",),
    # What a stage may still reach once restricted (Landlock rules per stage).
    ("rustnet.sandbox",),
    # The record stream: its format, reading, writing, bounds, escaping.
    ("rustnet.stream",),
    # The command base every command shares: exit statuses, errors, signals, options.
    ("rustnet.cli",),
    ("rustnet.dissect",),
    # Capture reads packets with dissect's link and IP parsers where it shards flows (capture/shard.py).
    ("rustnet.capture",),
    ("rustnet.track",),
    # Enrichment, and the exports (IPFIX, RustNet's logs and packet files) that read records.
    ("rustnet.enrich", "rustnet.export"),
    ("rustnet.view",),
    # The rustnet application: runs all of the above behind the TUI.
    ("rustnet.app",),
    # The click entry points of every command.
    ("rustnet_cmds",),
    # Man pages and completions, read from the click definitions of every command.
    ("rustnet.docs",),
)
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
# The top package itself holds only the version: it stands for ``rustnet/__init__.py`` alone,
# so a new package under it is in no layer until it is placed.
EXACT = {"rustnet"}


def module_name(path: Path) -> str:
    """``lib/rustnet/track/table.py`` -> ``rustnet.track.table``; ``cmds/view.py`` ->
    ``rustnet_cmds.view``; a package's ``__init__.py`` is the package."""
    if path.is_relative_to(ROOT / "cmds"):
        parts = ["rustnet_cmds", *path.relative_to(ROOT / "cmds").with_suffix("").parts]
    else:
        parts = list(path.relative_to(ROOT / "lib").with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources() -> dict[str, Path]:
    found = sorted((ROOT / "lib" / "rustnet").rglob("*.py")) + sorted((ROOT / "cmds").rglob("*.py"))
    return {module_name(p): p for p in found}


def layer_of(module: str) -> str | None:
    """The longest declared name that is ``module`` or a package holding it."""
    best = None
    for name in RANK:
        holds = module == name or (name not in EXACT and module.startswith(name + "."))
        if holds and (best is None or len(name) > len(best)):
            best = name
    return best


def imported_modules(module: str, path: Path, known: set[str]) -> list[tuple[int, str]]:
    """Every (line, module) that ``path`` imports, ours or not; relative imports resolved."""
    is_package = path.name == "__init__.py"
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, *([base] if base else [])])
            for alias in node.names:
                # ``from rustnet import caps`` imports the module rustnet.caps, not just rustnet.
                sub = f"{base}.{alias.name}"
                found.append((node.lineno, sub if sub in known else base))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
    return sorted(set(found))


def upward_imports() -> list[str]:
    modules = sources()
    known = set(modules)
    wrong: list[str] = []
    for module, path in modules.items():
        own = layer_of(module)
        if own is None:
            wrong.append(f"{module}: in no declared layer (place it in LAYERS)")
            continue
        for line, target in imported_modules(module, path, known):
            theirs = layer_of(target)
            if theirs is None or theirs == own or RANK[theirs] < RANK[own]:
                continue  # not ours (stdlib, third party), the same package, or below
            where = "a sibling on its own layer" if RANK[theirs] == RANK[own] else "a layer above"
            wrong.append(f"{path.relative_to(ROOT)}:{line}: {module} imports {target} ({where}: {theirs})")
    return wrong


def test_every_library_module_imports_only_from_layers_below() -> None:
    wrong = upward_imports()
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_the_check_sees_every_kind_of_import(tmp_path: Path) -> None:
    """A lazy import in a function, a relative import, ``from package import module`` and
    ``importlib.import_module`` with a literal name are all found and resolved."""
    source = tmp_path / "m.py"
    source.write_text(
        "import importlib\n"
        "from . import table\n"
        "from ..view import render\n"
        "from rustnet import caps\n"
        "def f():\n"
        "    from rustnet.enrich.join import SocketJoiner\n"
        "    return importlib.import_module('rustnet.view.keys')\n"
    )
    known = {"rustnet.track.table", "rustnet.view.render", "rustnet.caps"}
    assert imported_modules("rustnet.track.conn", source, known) == [
        (1, "importlib"),
        (2, "rustnet.track.table"),
        (3, "rustnet.view.render"),
        (4, "rustnet.caps"),
        (6, "rustnet.enrich.join"),
        (7, "rustnet.view.keys"),
    ]
    assert [layer_of(m) for m in ("rustnet", "rustnet.caps", "rustnet.cli.common", "rustnet_cmds.view")] == [
        "rustnet",
        "rustnet.caps",
        "rustnet.cli",
        "rustnet_cmds",
    ]
    assert layer_of("rustnet.newpackage.x") is None  # a new package must be placed in LAYERS
