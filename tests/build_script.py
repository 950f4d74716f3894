"""scripts/build_compiled.py as a module, for the tests that ask it what can be built here."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

BUILD = Path(__file__).resolve().parent.parent / "scripts" / "build_compiled.py"


def build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_compiled", BUILD)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
