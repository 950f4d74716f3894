"""Mutation testing of the core modules: plant small bugs one at a time, see which the tests catch.

    python -m tests.mutation.run [MODULE ...] [--budget SECONDS] [--list]

Each mutant is one small change to one module's syntax tree: a comparison or arithmetic
operator swapped (``<`` for ``<=``, ``+`` for ``-``, ``and`` for ``or``), a ``not`` dropped, a
number moved by one or a flag flipped, or one statement removed (an assignment, a call, a
``raise``, a ``break``). It is written into a private copy of ``lib`` (never into the
worktree), and the tests that exercise that module run against it in a forked child
(``pytest -x``, the copy first on ``sys.path`` and on ``PYTHONPATH`` for the commands they
start). A failing test, an error or running past the per-mutant timeout kills the mutant;
a mutant the tests pass is a survivor.

Lines the module's tests never execute (traced in the unmutated run) are not run at all: their
mutants are survivors, listed as "not run". Modules whose tests start commands (their code
runs in another process) are always run.

A survivor the tests cannot kill because it changes nothing observable is listed, with the
reason, in ``tests/mutation/equivalent.txt``; the score leaves those out:
``killed / (mutants - equivalent)``. The aim is 95% on every module of ``MODULES``.
Within ``--budget`` seconds (per module) mutants are tried in source order; at the budget
the rest are counted as not tried and the score is over the tried ones.
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LIB = ROOT / "lib"
EQUIVALENT = Path(__file__).with_name("equivalent.txt")

# The core modules and the tests that hold them (beyond those that import the module, found
# by name). "process": tests that run the module in another process (then no line is skipped).
MODULES: dict[str, dict[str, Any]] = {
    "track/tcp_state.py": {"tests": ["tests/test_track_table.py", "tests/test_track_ended.py"]},
    "track/table.py": {"tests": []},
    "track/lifecycle.py": {"tests": []},
    "dissect/tls.py": {"tests": ["tests/test_dpi_corpus.py"]},
    "dissect/quic.py": {"tests": ["tests/test_dpi_corpus.py"]},
    "dissect/dns.py": {"tests": ["tests/test_dpi_corpus.py"]},
    "dissect/http.py": {"tests": ["tests/test_dpi_corpus.py"]},
    "dissect/ssh.py": {"tests": ["tests/test_dpi_corpus.py"]},
    "stream/reader.py": {"tests": []},
    "stream/frames.py": {"tests": ["tests/test_stream_frames.py", "tests/test_stream.py"]},
    "stream/pktbatch.py": {
        "tests": ["tests/test_packet_batches.py", "tests/test_capture_batched.py"],
        "process": True,
    },
    "view/filter.py": {"tests": []},
    "dissect/safe_text.py": {"tests": []},
    "stream/escape.py": {"tests": ["tests/robust/test_escaping.py"], "process": True},
    "view/text.py": {"tests": []},
    "capture/privdrop.py": {
        "tests": ["tests/test_capture_dropped_identity.py", "tests/test_capture_privdrop.py"],
        "process": True,
    },
    "track/join.py": {"tests": []},
}
# Test files never run here: real traffic, a terminal, timing, or minutes of fuzzing.
SKIP_TEST_DIRS = ("tests/live", "tests/tui", "tests/fuzz", "tests/robust", "tests/mutation")
SKIP_TESTS = {"tests/test_docs.py"}
# Tests that hold code to a copy of its older self (tests/*_reference*.py): they catch a change,
# not a wrong behaviour, so a mutant only they notice counts as a survivor.
# (tests/test_dpi_inspector_equiv.py is not one: it holds the Inspector's fast path to its own
# general path, two parts of the current code that must agree.)
REFERENCE_TESTS = {
    "tests/test_dpi_fastparse.py",
    "tests/test_track_fastpath.py",
}

CMP_SWAP: dict[Any, Any] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
BIN_SWAP: dict[Any, Any] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.FloorDiv,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult,
    ast.Mod: ast.FloorDiv,
    ast.BitAnd: ast.BitOr,
    ast.BitOr: ast.BitAnd,
    ast.BitXor: ast.BitOr,
    ast.LShift: ast.RShift,
    ast.RShift: ast.LShift,
    ast.Pow: ast.Mult,
}
OP_TEXT: dict[Any, str] = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.Pow: "**",
    ast.And: "and",
    ast.Or: "or",
}
DELETABLE = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.Raise, ast.Break, ast.Continue)


@dataclass(frozen=True)
class Mutant:
    index: int  # the index-th mutation point of the module, in walking order
    line: int
    what: str  # e.g. "< -> <="

    def key(self, module: str, source_lines: list[str]) -> str:
        """How equivalent.txt names it: the module, the line's text and the change (no line number)."""
        return f"{module} :: {source_lines[self.line - 1].strip()} :: {self.what}"


class _Points(ast.NodeTransformer):
    """Walks a module in a fixed order; lists its mutation points, or applies one of them."""

    def __init__(self, apply: int = -1) -> None:
        self.apply = apply
        self.found: list[Mutant] = []
        self.done = False

    def _point(self, node: ast.AST, what: str) -> bool:
        """Records a mutation point; True when it is the one to apply."""
        index = len(self.found)
        self.found.append(Mutant(index, getattr(node, "lineno", 0), what))
        return index == self.apply

    # Not mutated: annotations, docstrings, f-strings, `if TYPE_CHECKING`, name tables.
    def visit_arg(self, node: ast.arg) -> ast.AST:
        return node

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.body = self._body(node.body)
        node.args = self.visit(node.args)
        return node

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        node.body = self._body(node.body)
        return node

    def visit_Module(self, node: ast.Module) -> ast.AST:
        body: list[ast.stmt] = []
        for stmt in node.body:
            if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and isinstance(
                stmt.value, (ast.Dict, ast.Set, ast.List, ast.Tuple, ast.Call)
            ):
                # Tables made once: a rule table (a dict whose values are not text, such as the
                # TCP transitions) or a set of names loses one entry at a time; tables of names
                # and other literals are left alone.
                self._table_entries(stmt.value)
                body.append(stmt)
            elif isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(stmt.test):
                body.append(stmt)
            else:
                body.append(self.visit(stmt))
        node.body = body
        return node

    def _table_entries(self, value: ast.expr) -> None:
        if isinstance(value, ast.Call) and len(value.args) == 1:
            value = value.args[0]  # frozenset({...})
        if isinstance(value, ast.Dict):
            texts = all(isinstance(v, ast.Constant) and isinstance(v.value, str) for v in value.values)
            if not texts:
                keep = []
                for k, v in zip(value.keys, value.values, strict=True):
                    if k is not None and self._point(k, f"delete entry {ast.unparse(k)}"):
                        continue
                    keep.append((k, v))
                value.keys = [k for k, _ in keep]
                value.values = [v for _, v in keep]
        elif isinstance(value, ast.Set) and all(isinstance(e, ast.Name) for e in value.elts):
            value.elts = [e for e in value.elts if not self._point(e, f"delete element {ast.unparse(e)}")]

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if node.value is not None:
            node.value = self.visit(node.value)
        return node

    def _body(self, stmts: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for i, stmt in enumerate(stmts):
            docstring = i == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
            if docstring:
                out.append(stmt)
                continue
            new = self.visit(stmt)
            if isinstance(stmt, DELETABLE) and self._point(stmt, f"delete {type(stmt).__name__.lower()}"):
                new = ast.Pass()
                ast.copy_location(new, stmt)
            out.append(new)
        return out

    def generic_visit(self, node: ast.AST) -> ast.AST:
        for field, old in ast.iter_fields(node):
            if isinstance(old, list) and old and isinstance(old[0], ast.stmt):
                setattr(node, field, self._body(old))
            elif isinstance(old, list):
                setattr(node, field, [self.visit(v) if isinstance(v, ast.AST) else v for v in old])
            elif isinstance(old, ast.AST):
                setattr(node, field, self.visit(old))
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        for i, op in enumerate(node.ops):
            new = CMP_SWAP.get(type(op))
            if new is not None and self._point(node, f"{OP_TEXT[type(op)]} -> {OP_TEXT[new]}"):
                node.ops[i] = new()
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        new = BIN_SWAP.get(type(node.op))
        text_format = isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant)
        if new is not None and not text_format:
            if self._point(node, f"{OP_TEXT[type(node.op)]} -> {OP_TEXT[new]}"):
                node.op = new()
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        self.generic_visit(node)
        new = BIN_SWAP.get(type(node.op))
        if new is not None and self._point(node, f"{OP_TEXT[type(node.op)]}= -> {OP_TEXT[new]}="):
            node.op = new()
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        self.generic_visit(node)
        new = ast.Or if isinstance(node.op, ast.And) else ast.And
        if self._point(node, f"{OP_TEXT[type(node.op)]} -> {OP_TEXT[new]}"):
            node.op = new()
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        number = node.operand.value if isinstance(node.operand, ast.Constant) else None
        if (
            isinstance(node.op, ast.USub)
            and isinstance(number, (int, float))
            and not isinstance(number, bool)
        ):
            value = -number  # a negative number is one constant: -1 -> 0
            if self._point(node, f"{value!r} -> {value + 1!r}"):
                return ast.copy_location(ast.Constant(value + 1), node)
            return node
        self.generic_visit(node)
        if isinstance(node.op, ast.Not) and self._point(node, "drop not"):
            return node.operand
        if isinstance(node.op, ast.USub) and not isinstance(node.operand, ast.Constant):
            if self._point(node, "drop unary -"):
                return node.operand
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        value = node.value
        if isinstance(value, bool):
            if self._point(node, f"{value} -> {not value}"):
                return ast.copy_location(ast.Constant(not value), node)
        elif isinstance(value, (int, float)):
            if self._point(node, f"{value!r} -> {value + 1!r}"):
                return ast.copy_location(ast.Constant(value + 1), node)
        return node


def mutants_of(source: str) -> list[Mutant]:
    finder = _Points()
    finder.visit(ast.parse(source))
    return finder.found


def mutated_source(source: str, index: int) -> str:
    applier = _Points(apply=index)
    tree = applier.visit(copy.deepcopy(ast.parse(source)))
    return ast.unparse(ast.fix_missing_locations(tree))


def tests_for(module: str) -> list[str]:
    """The fast test files that import the module (by its dotted name), and the configured ones."""
    dotted = "rustnet." + module.removesuffix(".py").replace("/", ".")
    package, _, name = dotted.rpartition(".")
    found = set(MODULES.get(module, {}).get("tests", []))
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(SKIP_TEST_DIRS) or rel in SKIP_TESTS or rel in REFERENCE_TESTS:
            continue
        text = path.read_text()
        if dotted in text or any(
            line.startswith(f"from {package} import") and name in line.replace(",", " ").split()
            for line in text.splitlines()
        ):
            found.add(rel)
    # Smallest files first: with -x, a mutant most tests catch is usually killed in seconds.
    return sorted(found, key=lambda rel: ((ROOT / rel).stat().st_size, rel))


# --- running ---------------------------------------------------------------------------------
def _preload() -> None:
    """Imports the tests need that are not ours, once, before the forks (each fork is then cheap)."""
    import pytest  # noqa: F401

    # (Not hypothesis: a pytest plugin, which pytest must import itself.)
    for name in ("dpkt", "msgpack", "ormsgpack", "click", "blessed", "cryptography"):
        try:
            __import__(name)
        except ImportError:
            pass


def _run_child(lib: Path, tests: list[str], trace_file: str | None, target: Path, log: Path) -> int:
    """In the forked child: the private lib first, then pytest (quiet, stop at the first failure)."""
    os.setpgid(0, 0)
    sys.path.insert(0, str(lib))
    os.environ["PYTHONPATH"] = os.pathsep.join([str(lib), os.environ.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(out, 1)
    os.dup2(out, 2)
    import pytest

    lines: set[int] = set()
    if trace_file is not None:
        wanted = str(target)

        def local(frame: Any, event: str, arg: Any) -> Any:
            if event == "line":
                lines.add(frame.f_lineno)
            return local

        def global_trace(frame: Any, event: str, arg: Any) -> Any:
            if frame.f_code.co_filename == wanted:
                lines.add(frame.f_lineno)
                return local
            return None

        sys.settrace(global_trace)
        import threading

        threading.settrace(global_trace)
    args = ["-x", "-q", "-p", "no:cacheprovider", "-m", "not live and not slow", *tests]
    code = int(pytest.main(args))
    if trace_file is not None:
        sys.settrace(None)
        Path(trace_file).write_text(json.dumps(sorted(lines)))
    return code


def run_tests(
    lib: Path, tests: list[str], timeout: float, trace_file: str | None = None, target: Path = LIB
) -> str:
    """ "passed", "failed" or "timeout": the tests against the lib copy, in a forked child
    (its output in ``lib/../pytest.log``)."""
    pid = os.fork()
    if pid == 0:
        try:
            code = _run_child(lib, tests, trace_file, target, lib.parent / "pytest.log")
        except BaseException:
            traceback.print_exc()
            code = 99
        os._exit(code)
    deadline = time.monotonic() + timeout
    outcome = "timeout"
    while time.monotonic() < deadline:
        # WNOWAIT: the child stays a zombie, so its pid (and group id) cannot be reused yet.
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        if info is not None:
            outcome = "passed" if info.si_code == os.CLD_EXITED and info.si_status == 0 else "failed"
            break
        time.sleep(0.02)
    try:
        os.killpg(pid, signal.SIGKILL)  # the child past its time, or what it left running
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)
    return outcome


def equivalents() -> dict[str, str]:
    """equivalent.txt: ``module :: line text :: change :: reason`` per line (# comments)."""
    out: dict[str, str] = {}
    if EQUIVALENT.exists():
        for raw in EQUIVALENT.read_text().splitlines():
            if raw.strip() and not raw.lstrip().startswith("#"):
                parts = [p.strip() for p in raw.split(" :: ")]
                out[" :: ".join(parts[:3])] = parts[3] if len(parts) > 3 else ""
    return out


@dataclass
class Score:
    module: str
    total: int = 0
    killed: int = 0
    equivalent: int = 0
    not_tried: int = 0
    seconds: float = 0.0

    def percent(self) -> float:
        tried = self.total - self.not_tried - self.equivalent
        return 100.0 * self.killed / tried if tried > 0 else 100.0

    def line(self) -> str:
        extra = f", {self.not_tried} not tried (budget)" if self.not_tried else ""
        return (
            f"{self.module}: {self.percent():.1f}% killed ({self.killed} of {self.total} mutants, "
            f"{self.equivalent} equivalent{extra}) in {self.seconds:.0f} s"
        )


def mutate_module(module: str, budget: float, verbose: bool) -> tuple[Score, list[str]]:
    target_rel = Path(module)
    source = (LIB / "rustnet" / target_rel).read_text()
    lines = source.splitlines()
    points = mutants_of(source)
    tests = tests_for(module)
    if not tests:
        raise SystemExit(f"{module}: no test imports it; name its tests in MODULES")
    known = equivalents()
    keys = [m.key(module, lines) for m in points]
    for key in sorted({k for k in keys if k in known and keys.count(k) > 1}):
        print(f"{module}: note: {keys.count(key)} mutants share the equivalence entry {key!r}", flush=True)
    score = Score(module, total=len(points))
    survivors: list[str] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rustnet-mutate-") as tmp:
        lib = Path(tmp) / "lib"
        shutil.copytree(LIB, lib, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        target = lib / "rustnet" / target_rel
        trace = str(Path(tmp) / "lines.json")
        t0 = time.monotonic()
        base = run_tests(lib, tests, max(budget, 600.0), trace, target)
        baseline = time.monotonic() - t0
        if base != "passed":
            log = (Path(tmp) / "pytest.log").read_text(errors="replace")[-3000:]
            raise SystemExit(
                f"{module}: the tests fail without any mutant ({base}): {' '.join(tests)}\n{log}"
            )
        in_process = not MODULES.get(module, {}).get("process", False)
        covered = set(json.loads(Path(trace).read_text())) if in_process else None
        timeout = max(10.0, 3.0 * baseline)
        print(f"{module}: {len(points)} mutants, tests ({baseline:.1f} s): {' '.join(tests)}", flush=True)
        for m in points:
            key = m.key(module, lines)
            if key in known:
                score.equivalent += 1
                continue
            if time.monotonic() - started > budget:
                score.not_tried += 1
                continue
            if covered is not None and m.line not in covered:
                survivors.append(
                    f"{module}:{m.line}: {m.what}  (not run by the tests)  {lines[m.line - 1].strip()}"
                )
                continue
            target.write_text(mutated_source(source, m.index))
            outcome = run_tests(lib, tests, timeout)
            if outcome == "passed":
                survivors.append(f"{module}:{m.line}: {m.what}  {lines[m.line - 1].strip()}")
            else:
                score.killed += 1
            if verbose:
                print(f"  {m.line}: {m.what}: {outcome}", flush=True)
        target.write_text(source)
    score.seconds = time.monotonic() - started
    return score, survivors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "modules", nargs="*", help="under lib/rustnet, e.g. dissect/dns.py (default: all core modules)"
    )
    parser.add_argument("--budget", type=float, default=900.0, help="seconds per module (default 900)")
    parser.add_argument("--list", action="store_true", help="only list the mutants and the tests")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every mutant's outcome")
    args = parser.parse_args(argv)
    modules = args.modules or list(MODULES)
    if args.list:
        for module in modules:
            source = (LIB / "rustnet" / module).read_text()
            lines = source.splitlines()
            print(f"{module}: tests {' '.join(tests_for(module))}")
            for m in mutants_of(source):
                print(f"  {m.line}: {m.what}  {lines[m.line - 1].strip()}")
        return 0
    _preload()
    # Ended with SIGTERM: unwind, so the private copy of lib is removed.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    results = []
    for module in modules:
        score, survivors = mutate_module(module, args.budget, args.verbose)
        results.append(score)
        print(score.line(), flush=True)
        for s in survivors:
            print(f"  survived: {s}", flush=True)
    print("\nmutation score per module:")
    for score in results:
        print(f"  {score.line()}")
    return 0 if all(s.percent() >= 95.0 for s in results) else 1


if __name__ == "__main__":
    sys.exit(main())
